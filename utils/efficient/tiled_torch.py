"""PyTorch versions of `utils.efficient.tiled_numpy`: same names, same defaults, the same loop.

Float16/bfloat16 input is computed in float32, float64 stays float64. The loops run one query
block after another, vectorised over the batch and head dimensions; each op uses torch's
intra-op threads (`n_threads=None`, as in NumPy "all cores"). `n_threads=k > 1` runs the query
blocks in k Python threads instead, with torch's pool set to one thread meanwhile.
The autograd-aware version (forward and backward) is `utils.efficient.flash_backward_torch`.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import torch

from utils.core.validation import check_attention_shapes, check_mask_dtype
from utils.efficient.tiled_numpy import FULL, PARTIAL, SKIPPED, _check_block, causal_block_schedule

__all__ = ["FULL", "PARTIAL", "SKIPPED", "causal_block_schedule", "chunked_attention", "flash_attention",
           "online_softmax", "online_softmax_update"]


def _prepare(q: Any, k: Any, v: Any, mask: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, Any, tuple]:
    """Validate; return float q, k, v broadcast over the batch dims, the mask (a view) and the batch shape."""
    q, k, v = (torch.as_tensor(a) for a in (q, k, v))
    mask_shape = None if mask is None else tuple(torch.as_tensor(mask).shape)
    weights_shape = check_attention_shapes(tuple(q.shape), tuple(k.shape), tuple(v.shape), mask_shape)
    compute = torch.float64 if torch.float64 in (q.dtype, k.dtype, v.dtype) else torch.float32
    out = []
    for name, a in (("q", q), ("k", k), ("v", v)):
        if a.is_complex():
            raise ValueError(f"{name} must be real, got dtype {a.dtype} with shape {tuple(a.shape)}")
        a = a.detach().to(compute)
        if not bool(torch.isfinite(a).all()):
            raise ValueError(f"{name} contains NaN or inf (shape {tuple(a.shape)}); attention would return NaN")
        out.append(a)
    if mask is not None:
        mask = torch.as_tensor(mask)
        check_mask_dtype(str(mask.dtype).removeprefix("torch."))
        mask = mask.broadcast_to(weights_shape)  # a view: no n×n copy
    batch = tuple(weights_shape[:-2])
    q, k, v = (a.broadcast_to(batch + tuple(a.shape[-2:])) for a in out)
    return q, k, v, mask, batch


def online_softmax_update(m: torch.Tensor, l: torch.Tensor, scores: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Fold a block of scores (..., b) into the running max m (...) and normaliser l (...)."""
    m, l, scores = (torch.as_tensor(a) for a in (m, l, scores))
    if m.shape != l.shape or scores.shape[:-1] != m.shape:
        raise ValueError(f"m and l must have shape scores.shape[:-1]; got m {tuple(m.shape)}, "
                         f"l {tuple(l.shape)}, scores {tuple(scores.shape)}")
    m_new = torch.maximum(m, scores.amax(dim=-1)) if scores.shape[-1] else m
    shift = torch.where(torch.isfinite(m_new), m_new, torch.zeros_like(m_new))
    l_new = l * torch.exp(m - shift) + torch.exp(scores - shift[..., None]).sum(dim=-1)
    return m_new, l_new


def online_softmax(x: torch.Tensor, block_size: int = 4, axis: int = -1) -> torch.Tensor:
    """Softmax along `axis`, with (m, l) computed in ONE streaming pass over blocks of `block_size`."""
    x = torch.as_tensor(x)
    block_size = _check_block("block_size", block_size)
    if not x.is_floating_point():
        x = x.to(torch.float64)
    if bool(torch.isnan(x).any()) or bool(torch.isposinf(x).any()):
        raise ValueError(f"online_softmax input x contains NaN or +inf (shape {tuple(x.shape)})")
    x = x.movedim(axis, -1)
    m = torch.full(x.shape[:-1], -math.inf, dtype=x.dtype)
    l = torch.zeros(x.shape[:-1], dtype=x.dtype)
    for start in range(0, x.shape[-1], block_size):
        m, l = online_softmax_update(m, l, x[..., start:start + block_size])
    shift = torch.where(torch.isfinite(m), m, torch.zeros_like(m))[..., None]
    e = torch.exp(x - shift)
    out = torch.where(l[..., None] > 0, e / l[..., None].clamp_min(torch.finfo(x.dtype).tiny), torch.zeros_like(e))
    return out.movedim(-1, axis)


def block_mask(mask: Any, causal: bool, i0: int, i1: int, j0: int, j1: int, offset: int) -> Any:
    """Boolean (..., i1-i0, j1-j0) 'may attend' tile, or None when every entry may attend."""
    tile = None if mask is None else mask[..., i0:i1, j0:j1]
    if causal and j1 - 1 > i0 + offset:  # the tile crosses the diagonal
        diag = torch.arange(j0, j1)[None, :] <= torch.arange(i0, i1)[:, None] + offset
        tile = diag if tile is None else tile & diag
    return tile


def flash_query_block(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: Any, causal: bool,
                      i0: int, i1: int, block_k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """FlashAttention-2 inner loop for queries i0:i1 (all leading dims at once): output and log-sum-exp L."""
    n_q, n_k = q.shape[-2], k.shape[-2]
    offset = n_k - n_q  # query i may see keys j <= i + offset when causal
    q_blk = q[..., i0:i1, :] * (1 / math.sqrt(q.shape[-1]))  # fold 1/sqrt(d_k) into the query block
    m = torch.full(q_blk.shape[:-1], -math.inf, dtype=q.dtype)  # running max of each row
    l = torch.zeros_like(m)  # running normaliser
    acc = torch.zeros(q_blk.shape[:-1] + v.shape[-1:], dtype=q.dtype)  # unnormalised output
    k_end = min(n_k, i1 + offset) if causal else n_k  # causal: skip the blocks above the diagonal
    for j0 in range(0, max(k_end, 0), block_k):
        j1 = min(j0 + block_k, n_k)
        s = q_blk @ k[..., j0:j1, :].transpose(-2, -1)  # (..., rows, bk) tile of scores
        tile = block_mask(mask, causal, i0, i1, j0, j1, offset)
        if tile is not None:
            s = s.masked_fill(~tile, -math.inf)
        m_new = torch.maximum(m, s.amax(dim=-1))
        shift = torch.where(torch.isfinite(m_new), m_new, 0.0)  # rows with no key yet: exp(-inf) = 0
        p = torch.exp(s - shift[..., None])
        alpha = torch.exp(m - shift)  # rescales what was accumulated under the old max
        l = alpha * l + p.sum(dim=-1)
        acc = alpha[..., None] * acc + p @ v[..., j0:j1, :]
        m = m_new
    seen = l > 0  # rows that saw no key (fully masked) get output 0 and L = -inf
    out = torch.where(seen[..., None], acc / torch.where(seen, l, 1.0)[..., None], 0.0)  # divide once
    lse = torch.where(seen, m + torch.log(torch.where(seen, l, 1.0)), -math.inf)
    return out, lse


def _run_blocks(fn: Any, tasks: list, n_threads: int | None) -> None:
    """Run fn(task) for every task over Python threads, torch's intra-op pool set to 1 meanwhile."""
    if n_threads is None or n_threads <= 1 or len(tasks) <= 1:  # torch's own intra-op threads
        for task in tasks:
            fn(task)
        return
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with ThreadPoolExecutor(n_threads) as pool:
            for _ in pool.map(fn, tasks):
                pass
    finally:
        torch.set_num_threads(saved)


@torch.no_grad()
def flash_attention(q: Any, k: Any, v: Any, mask: Any = None, causal: bool = False, block_q: int = 128,
                    block_k: int = 512, n_threads: int | None = None) -> torch.Tensor:
    """Tiled exact attention (FlashAttention-2 loop order), (..., n_q, d_v); mask True = may attend."""
    block_q, block_k = _check_block("block_q", block_q), _check_block("block_k", block_k)
    q, k, v, mask, batch = _prepare(q, k, v, mask)
    n_q = q.shape[-2]
    out = torch.empty(batch + (n_q, v.shape[-1]), dtype=q.dtype)

    def work(i0: int) -> None:  # one query block, all (batch, head) at once
        i1 = min(i0 + block_q, n_q)
        out[..., i0:i1, :], _ = flash_query_block(q, k, v, mask, causal, i0, i1, block_k)

    _run_blocks(work, list(range(0, n_q, block_q)), n_threads)
    return out


@torch.no_grad()
def chunked_attention(q: Any, k: Any, v: Any, mask: Any = None, causal: bool = False,
                      chunk: int = 128) -> torch.Tensor:
    """Exact attention by query chunks (Rabe & Staats 2021): O(chunk · n_k) scores at a time."""
    chunk = _check_block("chunk", chunk)
    q, k, v, mask, batch = _prepare(q, k, v, mask)
    n_q, d_k = q.shape[-2:]
    n_k = k.shape[-2]
    out = torch.empty(batch + (n_q, v.shape[-1]), dtype=q.dtype)
    for i0 in range(0, n_q, chunk):
        i1 = min(i0 + chunk, n_q)
        s = (q[..., i0:i1, :] * (1.0 / math.sqrt(d_k))) @ k.transpose(-2, -1)  # (..., chunk, n_k)
        tile = block_mask(mask, causal, i0, i1, 0, n_k, n_k - n_q)
        if tile is not None:
            s = s.masked_fill(~tile, -math.inf)
        m = s.amax(dim=-1, keepdim=True)
        e = torch.exp(s - torch.where(torch.isfinite(m), m, torch.zeros_like(m)))
        l = e.sum(dim=-1, keepdim=True)
        res = e @ v
        out[..., i0:i1, :] = torch.where(l > 0, res / l.clamp_min(torch.finfo(res.dtype).tiny), torch.zeros_like(res))
    return out
