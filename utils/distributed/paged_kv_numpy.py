"""A paged KV cache (Kwon et al. 2023, vLLM's PagedAttention) and a seeded simulation of a serving loop.

The keys and values of all sequences live in one pool of fixed-size blocks, (num_blocks,
block_size, kv_heads, d_head) each for K and V. A sequence owns a *block table*: the list of
its blocks, in order, so token t of it lives in block table[t // block_size] at offset
t % block_size, like a page table in virtual memory. A sequence only ever holds
ceil(length / block_size) blocks, so at most block_size - 1 slots are wasted per sequence.
Blocks are reference-counted: `fork` shares a prefix between sequences, and the first write
into a shared block copies it (copy-on-write).
"""

from __future__ import annotations

import numpy as np

from utils.core.attention_numpy import causal_mask, scaled_dot_product_attention


class PagedKVCache:
    """Keys and values of many sequences in one pool of fixed-size blocks, found through block tables."""

    def __init__(self, num_blocks: int, block_size: int, n_kv_heads: int, d_head: int):
        shape = (num_blocks, block_size, n_kv_heads, d_head)
        self.k, self.v = np.zeros(shape, np.float32), np.zeros(shape, np.float32)
        self.block_size = block_size
        self.free = list(range(num_blocks - 1, -1, -1))            # a stack: block 0 is handed out first
        self.refs = np.zeros(num_blocks, dtype=np.int64)           # how many sequences use each block
        self.tables: dict[str, list[int]] = {}                     # sequence -> its blocks, in order
        self.lengths: dict[str, int] = {}

    def allocate(self) -> int:
        """Take a free block from the pool."""
        if not self.free:
            raise MemoryError(f"the pool's {self.refs.size} blocks are all in use")
        block = self.free.pop()
        self.refs[block] = 1
        return block

    def append(self, seq: str, k_new: np.ndarray, v_new: np.ndarray) -> None:
        """Write t new tokens' keys and values, (t, kv_heads, d_head) each, at the end of sequence `seq`."""
        table = self.tables.setdefault(seq, [])
        for k_t, v_t in zip(k_new, v_new):
            pos = self.lengths.get(seq, 0)
            if pos % self.block_size == 0:
                table.append(self.allocate())                      # the last block is full: take a new one
            elif self.refs[table[-1]] > 1:                         # shared with another sequence: copy it first
                self.refs[table[-1]] -= 1
                table[-1] = self.copy_block(table[-1])
            self.k[table[-1], pos % self.block_size] = k_t
            self.v[table[-1], pos % self.block_size] = v_t
            self.lengths[seq] = pos + 1

    def copy_block(self, block: int) -> int:
        """A new block holding a copy of `block` (copy-on-write)."""
        new = self.allocate()
        self.k[new], self.v[new] = self.k[block], self.v[block]
        return new

    def fork(self, parent: str, child: str) -> None:
        """Start `child` as a copy of `parent` that shares all its blocks (no K/V is copied)."""
        self.tables[child] = list(self.tables[parent])
        self.lengths[child] = self.lengths[parent]
        self.refs[self.tables[child]] += 1

    def release(self, seq: str) -> None:
        """The sequence is finished: blocks no other sequence uses go back to the pool."""
        for block in self.tables.pop(seq):
            self.refs[block] -= 1
            if self.refs[block] == 0:
                self.free.append(block)
        del self.lengths[seq]

    def gather(self, seq: str) -> tuple[np.ndarray, np.ndarray]:
        """The sequence's keys and values, (kv_heads, length, d_head) each, read through its block table."""
        table, n = self.tables[seq], self.lengths[seq]
        k = self.k[table].reshape(-1, *self.k.shape[2:])[:n]          # (length, kv_heads, d_head)
        v = self.v[table].reshape(-1, *self.v.shape[2:])[:n]
        return k.transpose(1, 0, 2), v.transpose(1, 0, 2)

    @property
    def blocks_in_use(self) -> int:
        """Blocks that at least one sequence holds."""
        return int(np.count_nonzero(self.refs))


def paged_attention(q: np.ndarray, cache: PagedKVCache, seq: str) -> np.ndarray:
    """Causal attention of q (heads, t, d_head), the last t tokens of `seq`, over K/V read through its table."""
    k, v = cache.gather(seq)                                          # (kv_heads, length, d_head)
    group = q.shape[0] // k.shape[0]                                  # query heads per key/value head (GQA)
    k, v = np.repeat(k, group, axis=0), np.repeat(v, group, axis=0)
    out, _ = scaled_dot_product_attention(q, k, v, causal_mask(q.shape[-2], k.shape[-2]))
    return out


def simulate_server(steps: int = 3000, arrival_rate: float = 0.2, max_len: int = 2048, block_size: int = 16,
                    prompt_range: tuple[int, int] = (8, 512), output_range: tuple[int, int] = (8, 512),
                    seed: int = 0) -> dict[str, int]:
    """Token slots used, and reserved by max-length contiguous allocation and by paging, summed over steps."""
    rng = np.random.default_rng(seed)
    lengths, finals = np.zeros(0, np.int64), np.zeros(0, np.int64)
    totals = {"used": 0, "contiguous": 0, "paged": 0, "requests": 0}
    for _ in range(steps):
        arrivals = rng.poisson(arrival_rate)                          # new requests: prefill their prompts
        prompts = rng.integers(*prompt_range, size=arrivals, endpoint=True)
        outputs = rng.integers(*output_range, size=arrivals, endpoint=True)
        lengths = np.concatenate([lengths, prompts])
        finals = np.concatenate([finals, np.minimum(prompts + outputs, max_len)])
        totals["requests"] += arrivals
        totals["used"] += int(lengths.sum())
        totals["contiguous"] += max_len * lengths.size                # a max_len slab per running request
        totals["paged"] += int((-(-lengths // block_size) * block_size).sum())  # whole blocks only
        lengths += 1                                                  # every running request decodes a token
        keep = lengths <= finals
        lengths, finals = lengths[keep], finals[keep]
    return totals


def wasted_percent(reserved: int, used: int) -> float:
    """Percentage of the reserved slots that hold no token (fragmentation)."""
    return 100.0 * (1.0 - used / reserved) if reserved else 0.0
