"""The NumPy reference implementation of attention. Every other version is checked against it."""

from __future__ import annotations

import numpy as np

from utils.core.validation import check_attention_shapes, check_mask_dtype


def _as_float(x: np.ndarray, name: str) -> np.ndarray:
    """Return x as float32 (float16/float32 input) or float64; refuse NaN and inf."""
    x = np.asarray(x)
    if x.dtype == np.float16 or x.dtype == np.float32:
        x = x.astype(np.float32, copy=False)
    elif x.dtype != np.float64:
        if not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
            raise ValueError(f"{name} must be numeric, got dtype {x.dtype} with shape {x.shape}")
        x = x.astype(np.float64)
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} contains NaN or inf (shape {x.shape}); attention would return NaN")
    return x


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Numerically stable softmax along `axis`; a slice that is all -inf gives all zeros."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    if np.isnan(x).any() or np.isposinf(x).any():
        raise ValueError(f"softmax input x contains NaN or +inf (shape {x.shape})")
    if x.ndim and x.shape[axis] == 0:  # nothing to normalise over (no keys): an empty slice of weights
        return np.zeros_like(x)
    x_max = np.max(x, axis=axis, keepdims=True)
    # Slices that are entirely -inf (fully masked) have no finite max: use 0 so exp gives 0.
    x_max = np.where(np.isfinite(x_max), x_max, 0.0)
    e = np.exp(x - x_max)
    total = np.sum(e, axis=axis, keepdims=True)
    return np.divide(e, total, out=np.zeros_like(e), where=total > 0)


def scaled_dot_product_attention(
    q: np.ndarray, k: np.ndarray, v: np.ndarray, mask: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Return (output, weights) of softmax(q kᵀ / √d_k) v; mask True = may attend.

    Shapes: q (..., n_q, d_k), k (..., n_k, d_k), v (..., n_k, d_v), mask broadcastable
    to (..., n_q, n_k). Output (..., n_q, d_v), weights (..., n_q, n_k). Float16 input is
    computed in float32. A query row that may attend to nothing gets zero weights and a
    zero output, never NaN. Empty sequences are allowed: n_q = 0 gives an empty output, and
    n_k = 0 (no keys at all) gives every query a zero output, like a fully masked row.
    """
    q, k, v = (np.asarray(a) for a in (q, k, v))
    check_attention_shapes(q.shape, k.shape, v.shape, None if mask is None else np.shape(mask))
    q, k, v = _as_float(q, "q"), _as_float(k, "k"), _as_float(v, "v")
    dtype = np.result_type(q, k, v)
    d_k = q.shape[-1]
    scores = np.matmul(q, np.swapaxes(k, -1, -2)).astype(dtype) / np.sqrt(dtype.type(d_k))
    if mask is not None:
        mask = np.asarray(mask)
        check_mask_dtype(mask.dtype.name)
        scores = np.where(mask, scores, -np.inf)
    weights = softmax(scores, axis=-1).astype(dtype, copy=False)
    output = np.matmul(weights, v).astype(dtype, copy=False)
    return output, weights


def causal_mask(n: int, m: int | None = None) -> np.ndarray:
    """Boolean (n, m) mask, True = may attend: query i sees keys 0..i (+ m - n cached keys)."""
    m = n if m is None else m
    for name, val in (("n", n), ("m", m)):
        if not isinstance(val, int | np.integer) or val < 1:
            raise ValueError(f"{name} must be a positive int, got {val!r}")
    if m < n:
        raise ValueError(f"m (number of keys) must be >= n (number of queries), got n={n}, m={m}")
    return np.tril(np.ones((n, m), dtype=bool), k=m - n)


def padding_mask(lengths: np.ndarray, n: int) -> np.ndarray:
    """Boolean (batch, n) key mask, True where position < length; broadcast as mask[:, None, None, :]."""
    lengths = np.asarray(lengths)
    if lengths.ndim != 1 or not np.issubdtype(lengths.dtype, np.integer):
        raise ValueError(f"lengths must be a 1-D integer array, got shape {lengths.shape} dtype {lengths.dtype}")
    if np.any(lengths < 0) or np.any(lengths > n):
        raise ValueError(f"lengths must lie in [0, n={n}], got {lengths.tolist()}")
    return np.arange(n)[None, :] < lengths[:, None]
