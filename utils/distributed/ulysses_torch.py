"""DeepSpeed-Ulysses sequence parallelism (Jacobs et al. 2023) with `torch.distributed.all_to_all_single`.

Each of P processes holds a contiguous shard of n/P tokens of Q, K and V, all heads:
(batch, heads, n/P, d_head). One all-to-all turns that into all n tokens of heads/P heads; each
process runs ordinary attention (PyTorch's SDPA) on its heads; a second all-to-all turns the
output back into sequence shards. Heads (and key/value heads) must be divisible by P.
`ulysses_worker` runs inside a process started by `utils.distributed.launch.launch`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F

from utils.bench.measure import peak_rss_mib
from utils.distributed.launch import Job, bytes_since, bytes_written


def seq_to_heads(x: torch.Tensor) -> torch.Tensor:
    """(batch, h, n/P, d) tokens of this process, all heads -> (batch, h/P, n, d): all tokens, its heads."""
    world = dist.get_world_size()
    b, h, s, d = x.shape
    send = x.reshape(b, world, h // world, s, d).transpose(0, 1).contiguous()   # block j: head group j
    recv = torch.empty_like(send)
    dist.all_to_all_single(recv, send)                                        # block j: rank j's tokens
    return recv.permute(1, 2, 0, 3, 4).reshape(b, h // world, world * s, d)


def heads_to_seq(y: torch.Tensor) -> torch.Tensor:
    """(batch, h/P, n, d) all tokens of this process's heads -> (batch, h, n/P, d): its tokens, all heads."""
    world = dist.get_world_size()
    b, hp, n, d = y.shape
    send = y.reshape(b, hp, world, n // world, d).permute(2, 0, 1, 3, 4).contiguous()  # block j: rank j's tokens
    recv = torch.empty_like(send)
    dist.all_to_all_single(recv, send)                                        # block j: head group j
    return recv.transpose(0, 1).reshape(b, world * hp, n // world, d)


def ulysses_attention_process(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool) -> torch.Tensor:
    """Ulysses attention as one process runs it: sequence shards in, the same shard of the output out."""
    qh, kh, vh = (seq_to_heads(t) for t in (q, k, v))                          # (batch, heads/P, n, d)
    out = F.scaled_dot_product_attention(qh, kh, vh, is_causal=causal, enable_gqa=qh.shape[1] != kh.shape[1])
    return heads_to_seq(out)                                                   # (batch, heads, n/P, d)


def ulysses_bytes_per_process(n: int, P: int, d_head: int, heads: int, kv_heads: int | None = None,
                              itemsize: int = 4, batch: int = 1) -> int:
    """Bytes one process sends: Q, K, V to the head shards and O back; it keeps 1/P of each for itself."""
    kv_heads = heads if kv_heads is None else kv_heads
    per_token = (2 * heads + 2 * kv_heads) * d_head * itemsize                 # Q and O, then K and V
    return batch * (n // P) * per_token * (P - 1) // P


def ulysses_worker(q: np.ndarray, k: np.ndarray, v: np.ndarray, causal: bool) -> dict:
    """One process's job: Ulysses attention on its shard, its peak memory (MiB) and the bytes it sent."""
    box: dict[str, Any] = {}
    tensors = [torch.from_numpy(a) for a in (q, k, v)]
    dist.barrier()                                                             # start together
    sent = bytes_written()
    peak = peak_rss_mib(lambda: box.setdefault("out", ulysses_attention_process(*tensors, causal)))
    return {"out": box["out"].numpy(), "peak_mib": peak, "bytes_sent": bytes_since(sent)}


def ulysses_job(q: np.ndarray, k: np.ndarray, v: np.ndarray, P: int, causal: bool = False) -> Job:
    """The job for `launch`: (batch, heads, n, d) inputs cut into P contiguous sequence shards."""
    q, k, v = (np.asarray(a, dtype=np.float32) for a in (q, k, v))
    n = q.shape[-2]
    if q.ndim != 4 or k.shape != v.shape or n % P or q.shape[1] % P or k.shape[1] % P:
        raise ValueError(f"need (batch, heads, n, d) q, k, v with n, heads and kv heads divisible by P={P}; "
                         f"got q {q.shape}, k {k.shape}, v {v.shape}")
    s = n // P
    return ulysses_worker, [tuple(a[..., r * s:(r + 1) * s, :].copy() for a in (q, k, v)) + (causal,)
                            for r in range(P)]
