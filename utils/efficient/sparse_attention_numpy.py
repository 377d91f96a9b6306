"""Sliding-window and block-sparse attention in NumPy: masks, and an O(n·w) banded version.

Sliding window (Beltagy et al. 2020, Longformer; Jiang et al. 2023, Mistral 7B): causal
query i sees the `window` keys i - window + 1 .. i. `banded_attention` computes exactly
that without ever forming the (n, n) score matrix: it cuts the sequence into chunks of
`window` queries, and each chunk only scores its own chunk and the one before (2·window keys).
"""

from __future__ import annotations

import numpy as np

from utils.core.attention_numpy import softmax


def _check_positive(**values: int) -> None:
    for name, val in values.items():
        if not isinstance(val, int | np.integer) or val < 1:
            raise ValueError(f"{name} must be a positive int, got {val!r}")


def sliding_window_mask(n: int, window: int, causal: bool = True) -> np.ndarray:
    """(n, n) bool, True = may attend: causal 0 <= i - j < window, else |i - j| <= window // 2."""
    _check_positive(n=n, window=window)
    offset = np.arange(n)[:, None] - np.arange(n)[None, :]  # i - j
    if causal:
        return (offset >= 0) & (offset < window)
    return np.abs(offset) <= window // 2


def block_sparse_mask(n: int, block: int, n_global: int = 0, causal: bool = True) -> np.ndarray:
    """(n, n) bool: each token sees its own block and the previous one, plus n_global global tokens."""
    _check_positive(n=n, block=block)
    if not 0 <= n_global <= n:
        raise ValueError(f"n_global must lie in [0, n={n}], got {n_global}")
    blocks = np.arange(n) // block
    gap = blocks[:, None] - blocks[None, :]
    mask = (gap == 0) | (gap == 1) if causal else np.abs(gap) <= 1
    mask[:, :n_global] = True  # every token reads the global tokens ...
    mask[:n_global, :] = True  # ... and the global tokens read every token
    if causal:
        mask &= np.tril(np.ones((n, n), dtype=bool))
    return mask


def banded_score_count(n: int, window: int) -> int:
    """Scores `banded_attention` computes: ceil(n / window) chunks × window × 2·window (linear in n)."""
    _check_positive(n=n, window=window)
    return -(-n // window) * window * 2 * window


def _band_allowed(window: int) -> np.ndarray:
    """(window, 2·window) bool: query a of a chunk may see key b of [previous chunk, own chunk]."""
    a = np.arange(window)[:, None]
    b = np.arange(2 * window)[None, :]
    offset = a + window - b  # i - j
    return (offset >= 0) & (offset < window)


def banded_attention(q: np.ndarray, k: np.ndarray, v: np.ndarray, window: int) -> np.ndarray:
    """Causal sliding-window attention of q, k, v (..., n, d) in O(n·window) time and memory."""
    q, k, v = (np.asarray(a, dtype=np.result_type(a, np.float32)) for a in (q, k, v))
    if q.ndim < 2 or q.shape != k.shape or k.shape[:-1] != v.shape[:-1]:
        raise ValueError(f"q and k must have equal shapes (..., n, d), v (..., n, d_v); got q {q.shape}, k {k.shape}, v {v.shape}")
    _check_positive(window=window)
    n, d = q.shape[-2:]
    chunks = -(-n // window)
    pad_end = chunks * window - n

    def pad(x: np.ndarray, front: int) -> np.ndarray:
        widths = [(0, 0)] * (x.ndim - 2) + [(front, pad_end), (0, 0)]
        return np.pad(x, widths)

    lead = q.shape[:-2]
    q_c = pad(q, 0).reshape(*lead, chunks, window, d)                  # (..., C, w, d)
    k_c = pad(k, window).reshape(*lead, chunks + 1, window, d)         # (..., C+1, w, d), chunk -1 is zeros
    v_c = pad(v, window).reshape(*lead, chunks + 1, window, v.shape[-1])
    k_w = np.concatenate([k_c[..., :-1, :, :], k_c[..., 1:, :, :]], axis=-2)  # (..., C, 2w, d)
    v_w = np.concatenate([v_c[..., :-1, :, :], v_c[..., 1:, :, :]], axis=-2)
    scores = q_c @ np.swapaxes(k_w, -1, -2) / np.sqrt(d)                # (..., C, w, 2w)
    allowed = np.broadcast_to(_band_allowed(window), scores.shape).copy()
    allowed[..., 0, :, :window] = False                                 # chunk 0 has no previous chunk
    weights = softmax(np.where(allowed, scores, -np.inf), axis=-1)
    out = (weights @ v_w).reshape(*lead, chunks * window, v.shape[-1])
    return out[..., :n, :]
