"""Exact attention without the n×n matrix: online softmax, query-chunked and FlashAttention-style tiling.

All three functions return the same output as `utils.core.attention_numpy.scaled_dot_product_attention`
(mask True = may attend; a query row that may attend to nothing gets a zero output), but never
hold more than a (block_q, block_k) tile of scores per worker thread. Everything is float32.

- `online_softmax_update` / `online_softmax`: Milakov & Gimelshein (2018), running max m and
  running normaliser l in one pass.
- `chunked_attention`: Rabe & Staats (2021), queries in chunks, O(chunk · n_k) memory.
- `flash_attention`: Dao et al. (2022) tiling with FlashAttention-2's loop order: for each query
  block, stream the key/value blocks, keep (m, l) and an unnormalised accumulator that is
  rescaled by exp(m_old - m_new), divide once at the end; causal blocks above the diagonal are
  skipped. Query blocks run in threads (NumPy releases the GIL inside matmul and ufuncs).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import Any

import numpy as np

from utils.core.validation import check_attention_shapes, check_mask_dtype

SKIPPED, FULL, PARTIAL = 0, 1, 2  # codes in causal_block_schedule


def _check_block(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def _prepare(q: Any, k: Any, v: Any, mask: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None, tuple]:
    """Validate shapes and dtypes; return float32 q, k, v (batch-broadcast), the mask and the batch shape."""
    q, k, v = (np.asarray(a) for a in (q, k, v))
    mask_shape = None if mask is None else np.shape(mask)
    weights_shape = check_attention_shapes(q.shape, k.shape, v.shape, mask_shape)
    arrays = []
    for name, a in (("q", q), ("k", k), ("v", v)):
        if not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
            raise ValueError(f"{name} must be numeric, got dtype {a.dtype} with shape {a.shape}")
        a = a.astype(np.float32, copy=False)
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{name} contains NaN or inf (shape {a.shape}); attention would return NaN")
        arrays.append(a)
    if mask is not None:
        mask = np.asarray(mask)
        check_mask_dtype(mask.dtype.name)
        mask = np.broadcast_to(mask, weights_shape)  # a view: no n×n copy is made
    batch = weights_shape[:-2]
    q, k, v = (np.broadcast_to(a, batch + a.shape[-2:]) for a in arrays)
    return q, k, v, mask, batch


def online_softmax_update(m: np.ndarray, l: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fold a block of scores (..., b) into the running max m (...) and normaliser l (...)."""
    m, l, scores = np.asarray(m), np.asarray(l), np.asarray(scores)
    if m.shape != l.shape or scores.shape[:-1] != m.shape:
        raise ValueError(f"m and l must have shape scores.shape[:-1]; got m {m.shape}, l {l.shape}, scores {scores.shape}")
    m_new = np.maximum(m, scores.max(axis=-1)) if scores.shape[-1] else m
    shift = np.where(np.isfinite(m_new), m_new, 0.0)  # rows with nothing seen yet: exp(-inf) = 0
    l_new = l * np.exp(m - shift) + np.exp(scores - shift[..., None]).sum(axis=-1)
    return m_new, l_new


def online_softmax(x: np.ndarray, block_size: int = 4, axis: int = -1) -> np.ndarray:
    """Softmax along `axis`, with (m, l) computed in ONE streaming pass over blocks of `block_size`."""
    x = np.asarray(x)
    block_size = _check_block("block_size", block_size)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    if np.isnan(x).any() or np.isposinf(x).any():
        raise ValueError(f"online_softmax input x contains NaN or +inf (shape {x.shape})")
    x = np.moveaxis(x, axis, -1)
    m = np.full(x.shape[:-1], -np.inf, dtype=x.dtype)
    l = np.zeros(x.shape[:-1], dtype=x.dtype)
    for start in range(0, x.shape[-1], block_size):
        m, l = online_softmax_update(m, l, x[..., start:start + block_size])
    shift = np.where(np.isfinite(m), m, 0.0)[..., None]
    e = np.exp(x - shift)
    out = np.divide(e, l[..., None], out=np.zeros_like(e), where=l[..., None] > 0)
    return np.moveaxis(out, -1, axis)


def causal_block_schedule(n_q: int, n_k: int, block_q: int, block_k: int) -> np.ndarray:
    """(query blocks, key blocks) int array: 0 = skipped (above the diagonal), 1 = full, 2 = partial."""
    n_q, n_k = _check_block("n_q", n_q), _check_block("n_k", n_k)
    block_q, block_k = _check_block("block_q", block_q), _check_block("block_k", block_k)
    offset = n_k - n_q  # query i may see keys j <= i + offset (the course's causal_mask convention)
    q_first = np.arange(0, n_q, block_q)
    q_last = np.minimum(q_first + block_q, n_q) - 1
    k_first = np.arange(0, n_k, block_k)
    k_last = np.minimum(k_first + block_k, n_k) - 1
    sees_any = k_first[None, :] <= q_last[:, None] + offset
    sees_all = k_last[None, :] <= q_first[:, None] + offset
    return np.where(sees_all, FULL, np.where(sees_any, PARTIAL, SKIPPED)).astype(np.int8)


def block_mask(mask: np.ndarray | None, causal: bool, i0: int, i1: int, j0: int, j1: int,
               offset: int) -> np.ndarray | None:
    """Boolean (i1-i0, j1-j0) 'may attend' tile, or None when every entry may attend."""
    tile = None if mask is None else mask[..., i0:i1, j0:j1]
    if causal and j1 - 1 > i0 + offset:  # the tile crosses the diagonal
        diag = np.arange(j0, j1)[None, :] <= np.arange(i0, i1)[:, None] + offset
        tile = diag if tile is None else tile & diag
    return tile


def flash_query_block(q: np.ndarray, k: np.ndarray, v: np.ndarray, mask: np.ndarray | None, causal: bool,
                      i0: int, i1: int, block_k: int) -> tuple[np.ndarray, np.ndarray]:
    """FlashAttention-2 inner loop for queries i0:i1 of one head: their output and log-sum-exp L."""
    n_q, n_k = q.shape[0], k.shape[0]
    offset = n_k - n_q  # query i may see keys j <= i + offset when causal
    q_blk = q[i0:i1] * q.shape[1] ** -0.5  # fold 1/sqrt(d_k) into the query block
    m = np.full(i1 - i0, -np.inf, dtype=q.dtype)  # running max of each row
    l = np.zeros(i1 - i0, dtype=q.dtype)  # running normaliser
    acc = np.zeros((i1 - i0, v.shape[1]), dtype=q.dtype)  # unnormalised output
    k_end = min(n_k, i1 + offset) if causal else n_k  # causal: skip the blocks above the diagonal
    for j0 in range(0, max(k_end, 0), block_k):
        j1 = min(j0 + block_k, n_k)
        s = q_blk @ k[j0:j1].T  # (rows, bk) tile of scores
        tile = block_mask(mask, causal, i0, i1, j0, j1, offset)
        if tile is not None:
            s[~tile] = -np.inf
        m_new = np.maximum(m, s.max(axis=1))
        shift = np.where(np.isfinite(m_new), m_new, 0.0)  # rows with no key yet: exp(-inf) = 0
        p = np.exp(s - shift[:, None])
        alpha = np.exp(m - shift)  # rescales what was accumulated under the old max
        l = alpha * l + p.sum(axis=1)
        acc = alpha[:, None] * acc + p @ v[j0:j1]
        m = m_new
    seen = l > 0  # rows that saw no key (fully masked) get output 0 and L = -inf
    out = np.divide(acc, l[:, None], out=np.zeros_like(acc), where=seen[:, None])  # divide once, at the end
    lse = np.where(seen, m + np.log(np.where(seen, l, 1)), -np.inf)
    return out, lse


@lru_cache(maxsize=1)
def _blas_controller() -> Any:
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def _run_blocks(fn: Any, tasks: list, n_threads: int | None) -> None:
    """Run fn(task) for every task, over threads with single-threaded BLAS when n_threads > 1."""
    n_threads = n_threads or os.cpu_count() or 1
    if n_threads <= 1 or len(tasks) <= 1:
        for task in tasks:
            fn(task)
        return
    with _blas_controller().limit(limits=1, user_api="blas"), ThreadPoolExecutor(n_threads) as pool:
        for _ in pool.map(fn, tasks):
            pass


def flash_attention(q: Any, k: Any, v: Any, mask: Any = None, causal: bool = False, block_q: int = 128,
                    block_k: int = 512, n_threads: int | None = None) -> np.ndarray:
    """Tiled exact attention (FlashAttention-2 loop order), float32, (..., n_q, d_v); mask True = may attend."""
    block_q, block_k = _check_block("block_q", block_q), _check_block("block_k", block_k)
    q, k, v, mask, batch = _prepare(q, k, v, mask)
    n_q = q.shape[-2]
    out = np.empty(batch + (n_q, v.shape[-1]), dtype=np.float32)
    tasks = [(b, i0) for b in np.ndindex(*batch) for i0 in range(0, n_q, block_q)]

    def work(task: tuple) -> None:  # one query block of one (batch, head)
        b, i0 = task
        i1 = min(i0 + block_q, n_q)
        out[b][i0:i1], _ = flash_query_block(q[b], k[b], v[b], None if mask is None else mask[b], causal,
                                             i0, i1, block_k)

    _run_blocks(work, tasks, n_threads)
    return out


def attend_query_chunk(q_blk: np.ndarray, k: np.ndarray, v: np.ndarray, tile: np.ndarray | None) -> np.ndarray:
    """Exact attention output of a chunk of queries (c, d) against ALL keys: one (c, n_k) block of scores."""
    s = (q_blk @ k.T) * q_blk.shape[1] ** -0.5  # (c, n_k): the only large array
    if tile is not None:
        s[~tile] = -np.inf
    m = s.max(axis=1, keepdims=True)
    p = np.exp(s - np.where(np.isfinite(m), m, 0.0))  # stable softmax, numerator
    l = p.sum(axis=1, keepdims=True)
    return np.divide(p @ v, l, out=np.zeros((len(q_blk), v.shape[1]), q_blk.dtype), where=l > 0)


def chunked_attention(q: Any, k: Any, v: Any, mask: Any = None, causal: bool = False, chunk: int = 128,
                      n_threads: int | None = None) -> np.ndarray:
    """Exact attention by query chunks (Rabe & Staats 2021): O(chunk · n_k) scores at a time."""
    chunk = _check_block("chunk", chunk)
    q, k, v, mask, batch = _prepare(q, k, v, mask)
    n_q, n_k = q.shape[-2], k.shape[-2]
    out = np.empty(batch + (n_q, v.shape[-1]), dtype=np.float32)
    tasks = [(b, i0) for b in np.ndindex(*batch) for i0 in range(0, n_q, chunk)]

    def work(task: tuple) -> None:  # one chunk of queries of one (batch, head)
        b, i0 = task
        i1 = min(i0 + chunk, n_q)
        tile = block_mask(None if mask is None else mask[b], causal, i0, i1, 0, n_k, n_k - n_q)
        out[b][i0:i1] = attend_query_chunk(q[b][i0:i1], k[b], v[b], tile)

    _run_blocks(work, tasks, n_threads)
    return out
