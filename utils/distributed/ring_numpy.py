"""Ring attention (Liu, Zaharia & Abbeel 2023), simulated in one process with NumPy.

P devices each own a shard of the queries, keys and values (the token positions in
`shard_positions`). In each of P steps every device folds the key/value block it holds into
its running (m, l, acc) with chapter 08a's `online_softmax_update`, then passes the block to its
right neighbour. After P steps every device has seen every block, and acc / l is exact
attention. With a causal mask a block that lies wholly in a device's future is skipped, so the
work per device depends on which positions it owns: contiguous shards are unbalanced, the
zig-zag layout (chunks i and 2P-1-i) is balanced exactly. Shapes: (..., n, d), float32.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from utils.efficient.tiled_numpy import online_softmax_update

LAYOUTS = ("contiguous", "zigzag")


def shard_positions(n: int, P: int, layout: str = "contiguous") -> list[np.ndarray]:
    """The token positions each of P devices owns: two of 2P equal chunks, (2i, 2i+1) or zig-zag (i, 2P-1-i)."""
    if layout not in LAYOUTS or P < 1 or n % (2 * P):
        raise ValueError(f"need layout in {LAYOUTS} and n divisible by 2P; got layout={layout!r}, n={n}, P={P}")
    chunks = np.arange(n).reshape(2 * P, n // (2 * P))
    pairs = [(2 * i, 2 * i + 1) if layout == "contiguous" else (i, 2 * P - 1 - i) for i in range(P)]
    return [np.concatenate([chunks[a], chunks[b]]) for a, b in pairs]


def ring_block_step(q: np.ndarray, k_blk: np.ndarray, v_blk: np.ndarray, m: np.ndarray, l: np.ndarray,
                    acc: np.ndarray, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fold one key/value block into a device's running max m, normaliser l and unnormalised output acc."""
    s = q @ np.swapaxes(k_blk, -1, -2) * q.shape[-1] ** -0.5       # (..., n_q, n_blk) scores
    if allowed is not None:
        s = np.where(allowed, s, -np.inf)                            # causal: masked pairs count for nothing
    m_new, l_new = online_softmax_update(m, l, s)                   # chapter 08a's update, unchanged
    shift = np.where(np.isfinite(m_new), m_new, 0.0)[..., None]
    alpha = np.exp(m[..., None] - shift)                             # rescales what was summed under the old max
    return m_new, l_new, acc * alpha + np.exp(s - shift) @ v_blk


@dataclass
class Device:
    """One device's query shard, the positions of its queries, and its running (m, l, acc)."""

    q: np.ndarray
    positions: np.ndarray
    m: np.ndarray
    l: np.ndarray
    acc: np.ndarray


def new_device(q: np.ndarray, positions: np.ndarray, d_v: int) -> Device:
    """A device that has seen no key yet: m = -inf, l = 0, acc = 0."""
    rows = q.shape[:-1]
    return Device(q, positions, np.full(rows, -np.inf, q.dtype), np.zeros(rows, q.dtype),
                  np.zeros(rows + (d_v,), q.dtype))


def compute_on_device(dev: Device, k_blk: np.ndarray, v_blk: np.ndarray, k_pos: np.ndarray, causal: bool) -> int:
    """One ring step on one device; returns the work done: score entries not masked (0 if the block is skipped)."""
    allowed = k_pos[None, :] <= dev.positions[:, None] if causal else None   # (n_q, n_blk), True = may attend
    if allowed is not None and not allowed.any():
        return 0                                                              # the whole block is in the future
    dev.m, dev.l, dev.acc = ring_block_step(dev.q, k_blk, v_blk, dev.m, dev.l, dev.acc, allowed)
    return int(allowed.sum()) if causal else dev.positions.size * k_pos.size


def finish(dev: Device) -> np.ndarray:
    """The device's attention output acc / l; a query that saw no key gets zeros."""
    l = dev.l[..., None]
    return np.divide(dev.acc, l, out=np.zeros_like(dev.acc), where=l > 0)


def ring_attention_simulated(q: np.ndarray, k: np.ndarray, v: np.ndarray, P: int, causal: bool = False,
                             layout: str = "contiguous") -> tuple[np.ndarray, np.ndarray]:
    """Ring attention over P simulated devices: (output (..., n, d_v) in token order, work per device (P,))."""
    q, k, v = (np.asarray(a, dtype=np.float32) for a in (q, k, v))
    if q.ndim < 2 or q.shape != k.shape or k.shape[:-1] != v.shape[:-1]:
        raise ValueError(f"need q, k of shape (..., n, d), v (..., n, d_v); got q {q.shape}, k {k.shape}, v {v.shape}")
    positions = shard_positions(q.shape[-2], P, layout)
    devices = [new_device(q[..., pos, :], pos, v.shape[-1]) for pos in positions]
    held = [(k[..., pos, :], v[..., pos, :], pos) for pos in positions]       # the block each device holds
    work = np.zeros(P, dtype=np.int64)
    for _ in range(P):
        for i, dev in enumerate(devices):
            work[i] += compute_on_device(dev, *held[i], causal)
        held = held[-1:] + held[:-1]                                          # pass every block to the right
    out = np.empty(q.shape[:-1] + (v.shape[-1],), np.float32)
    for dev in devices:
        out[..., dev.positions, :] = finish(dev)
    return out, work


def ring_bytes_per_process(n: int, P: int, d_head: int, kv_heads: int = 1, itemsize: int = 4, batch: int = 1) -> int:
    """Bytes one process sends in a ring pass: its K and V blocks of n/P tokens, passed on P - 1 times."""
    return (P - 1) * 2 * batch * kv_heads * (n // P) * d_head * itemsize

