"""TensorFlow versions of `utils.efficient.tiled_numpy`: same names, same meaning, forward pass only.

Plain eager ops in Python loops over the blocks, vectorised over the batch/head dimensions;
TensorFlow's own intra-op threads parallelise each op (TensorFlow fixes its thread pool once per
process, so `n_threads` accepts only None). Float16/bfloat16 input is computed in float32,
float64 stays float64. The differentiable version is `utils.efficient.flash_backward_tf`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from utils.core.frameworks import import_tensorflow
from utils.core.validation import check_attention_shapes, check_mask_dtype
from utils.efficient.tiled_numpy import FULL, PARTIAL, SKIPPED, _check_block, causal_block_schedule

tf = import_tensorflow()

__all__ = ["FULL", "PARTIAL", "SKIPPED", "causal_block_schedule", "chunked_attention", "flash_attention",
           "online_softmax", "online_softmax_update"]


def _prepare(q: Any, k: Any, v: Any, mask: Any) -> tuple[Any, Any, Any, Any, tuple]:
    """Validate; return float q, k, v broadcast over the batch dims, the broadcast mask and the batch shape."""
    q, k, v = (tf.convert_to_tensor(a) for a in (q, k, v))
    mask_shape = None if mask is None else tuple(tf.convert_to_tensor(mask).shape)
    weights_shape = check_attention_shapes(tuple(q.shape), tuple(k.shape), tuple(v.shape), mask_shape)
    compute = tf.float64 if tf.float64 in (q.dtype, k.dtype, v.dtype) else tf.float32
    out = []
    for name, a in (("q", q), ("k", k), ("v", v)):
        if a.dtype.is_complex or a.dtype == tf.string:
            raise ValueError(f"{name} must be real, got dtype {a.dtype.name} with shape {tuple(a.shape)}")
        a = tf.cast(a, compute)
        if not bool(tf.reduce_all(tf.math.is_finite(a))):
            raise ValueError(f"{name} contains NaN or inf (shape {tuple(a.shape)}); attention would return NaN")
        out.append(a)
    if mask is not None:
        mask = tf.convert_to_tensor(mask)
        check_mask_dtype(mask.dtype.name)
        mask = tf.broadcast_to(mask, weights_shape)
    batch = tuple(weights_shape[:-2])
    q, k, v = (tf.broadcast_to(a, batch + tuple(a.shape[-2:])) for a in out)
    return q, k, v, mask, batch


def _safe(m: Any) -> Any:
    """Replace -inf (nothing seen yet) by 0, so exp(-inf - shift) is 0 and never NaN."""
    return tf.where(tf.math.is_finite(m), m, tf.zeros_like(m))


def online_softmax_update(m: Any, l: Any, scores: Any) -> tuple[Any, Any]:
    """Fold a block of scores (..., b) into the running max m (...) and normaliser l (...)."""
    m, l, scores = (tf.convert_to_tensor(a) for a in (m, l, scores))
    if m.shape != l.shape or scores.shape[:-1] != m.shape:
        raise ValueError(f"m and l must have shape scores.shape[:-1]; got m {tuple(m.shape)}, "
                         f"l {tuple(l.shape)}, scores {tuple(scores.shape)}")
    m_new = tf.maximum(m, tf.reduce_max(scores, axis=-1)) if scores.shape[-1] else m
    shift = _safe(m_new)
    l_new = l * tf.exp(m - shift) + tf.reduce_sum(tf.exp(scores - shift[..., None]), axis=-1)
    return m_new, l_new


def online_softmax(x: Any, block_size: int = 4, axis: int = -1) -> Any:
    """Softmax along `axis`, with (m, l) computed in ONE streaming pass over blocks of `block_size`."""
    x = tf.convert_to_tensor(x)
    block_size = _check_block("block_size", block_size)
    if not x.dtype.is_floating:
        x = tf.cast(x, tf.float64)
    if bool(tf.reduce_any(tf.math.is_nan(x))) or bool(tf.reduce_any(x == math.inf)):
        raise ValueError(f"online_softmax input x contains NaN or +inf (shape {tuple(x.shape)})")
    x = tf.experimental.numpy.moveaxis(x, axis, -1)
    m = tf.fill(x.shape[:-1], tf.constant(-math.inf, x.dtype))
    l = tf.zeros(x.shape[:-1], dtype=x.dtype)
    for start in range(0, x.shape[-1], block_size):
        m, l = online_softmax_update(m, l, x[..., start:start + block_size])
    e = tf.exp(x - _safe(m)[..., None])
    return tf.experimental.numpy.moveaxis(tf.math.divide_no_nan(e, l[..., None]), -1, axis)


def block_mask(mask: Any, causal: bool, i0: int, i1: int, j0: int, j1: int, offset: int) -> Any:
    """Boolean 'may attend' tile (..., i1-i0, j1-j0), or None when every entry may attend."""
    tile = None if mask is None else mask[..., i0:i1, j0:j1]
    if causal and j1 - 1 > i0 + offset:  # the tile crosses the diagonal
        diag = tf.constant(np.arange(j0, j1)[None, :] <= np.arange(i0, i1)[:, None] + offset)
        tile = diag if tile is None else tf.logical_and(tile, diag)
    return tile


def flash_query_block(q: Any, k: Any, v: Any, mask: Any, causal: bool, i0: int, i1: int,
                      block_k: int) -> tuple[Any, Any]:
    """FlashAttention-2 inner loop for queries i0:i1 (all leading dims at once): output and log-sum-exp L."""
    n_q, n_k = q.shape[-2], k.shape[-2]
    offset = n_k - n_q  # query i may see keys j <= i + offset when causal
    q_blk = q[..., i0:i1, :] * tf.cast(1 / math.sqrt(q.shape[-1]), q.dtype)  # fold 1/sqrt(d_k) into q
    m = tf.fill(q_blk.shape[:-1], tf.constant(-math.inf, q.dtype))  # running max of each row
    l = tf.zeros_like(m)  # running normaliser
    acc = tf.zeros(q_blk.shape[:-1] + v.shape[-1:], dtype=q.dtype)  # unnormalised output
    k_end = min(n_k, i1 + offset) if causal else n_k  # causal: skip the blocks above the diagonal
    for j0 in range(0, max(k_end, 0), block_k):
        j1 = min(j0 + block_k, n_k)
        s = tf.matmul(q_blk, k[..., j0:j1, :], transpose_b=True)  # (..., rows, bk) tile of scores
        tile = block_mask(mask, causal, i0, i1, j0, j1, offset)
        if tile is not None:
            s = tf.where(tile, s, tf.constant(-math.inf, q.dtype))
        m_new = tf.maximum(m, tf.reduce_max(s, axis=-1))
        shift = _safe(m_new)  # rows with no key yet: exp(-inf) = 0
        p = tf.exp(s - shift[..., None])
        alpha = tf.exp(m - shift)  # rescales what was accumulated under the old max
        l = alpha * l + tf.reduce_sum(p, axis=-1)
        acc = alpha[..., None] * acc + tf.matmul(p, v[..., j0:j1, :])
        m = m_new
    seen = l > 0  # rows that saw no key (fully masked) get output 0 and L = -inf
    out = tf.math.divide_no_nan(acc, l[..., None])  # divide once, at the end
    lse = tf.where(seen, m + tf.math.log(tf.where(seen, l, tf.ones_like(l))), tf.constant(-math.inf, q.dtype))
    return out, lse


def flash_attention(q: Any, k: Any, v: Any, mask: Any = None, causal: bool = False, block_q: int = 128,
                    block_k: int = 512, n_threads: int | None = None) -> Any:
    """Tiled exact attention (FlashAttention-2 loop order), (..., n_q, d_v); mask True = may attend."""
    block_q, block_k = _check_block("block_q", block_q), _check_block("block_k", block_k)
    if n_threads is not None:
        raise ValueError(f"n_threads must be None in TensorFlow (its thread pool is set per process), got {n_threads!r}")
    q, k, v, mask, _ = _prepare(q, k, v, mask)
    n_q = q.shape[-2]
    blocks = [flash_query_block(q, k, v, mask, causal, i0, min(i0 + block_q, n_q), block_k)[0]
              for i0 in range(0, n_q, block_q)]
    return tf.concat(blocks, axis=-2)


def chunked_attention(q: Any, k: Any, v: Any, mask: Any = None, causal: bool = False, chunk: int = 128) -> Any:
    """Exact attention by query chunks (Rabe & Staats 2021): O(chunk · n_k) scores at a time."""
    chunk = _check_block("chunk", chunk)
    q, k, v, mask, _ = _prepare(q, k, v, mask)
    n_q, d_k = q.shape[-2:]
    n_k = k.shape[-2]
    outputs = []
    for i0 in range(0, n_q, chunk):
        i1 = min(i0 + chunk, n_q)
        s = tf.matmul(q[..., i0:i1, :], k, transpose_b=True) / tf.cast(math.sqrt(d_k), q.dtype)
        tile = block_mask(mask, causal, i0, i1, 0, n_k, n_k - n_q)
        if tile is not None:
            s = tf.where(tile, s, tf.constant(-math.inf, q.dtype))
        e = tf.exp(s - _safe(tf.reduce_max(s, axis=-1, keepdims=True)))
        outputs.append(tf.math.divide_no_nan(tf.matmul(e, v), tf.reduce_sum(e, axis=-1, keepdims=True)))
    return tf.concat(outputs, axis=-2)
