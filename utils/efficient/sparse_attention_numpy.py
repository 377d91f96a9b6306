"""Sliding-window and block-sparse attention in NumPy: masks, an O(n·w) banded version, and a rolling buffer.

Sliding window (Beltagy et al. 2020, Longformer; Jiang et al. 2023, Mistral 7B): causal
query i sees the `window` keys i - window + 1 .. i. `banded_attention` computes that without
ever forming the (n, n) score matrix: it cuts the sequence into chunks of `window` queries,
and each chunk scores only its own chunk and the one before (2·window keys, about half of
them masked), so it computes about 2·n·window scores: linear in n.
`rolling_buffer_attention` decodes one token at a time with a cache of `window` slots.
"""

from __future__ import annotations

import numpy as np

from utils.core.attention_numpy import scaled_dot_product_attention, softmax
from utils.core.validation import check_positive


def sliding_window_mask(n: int, window: int, causal: bool = True) -> np.ndarray:
    """(n, n) bool, True = may attend: causal 0 <= i - j < window, else |i - j| <= window // 2."""
    check_positive(n=n, window=window)
    offset = np.arange(n)[:, None] - np.arange(n)[None, :]  # i - j
    if causal:
        return (offset >= 0) & (offset < window)
    return np.abs(offset) <= window // 2


def block_sparse_mask(n: int, block: int, n_global: int = 0, causal: bool = True) -> np.ndarray:
    """(n, n) bool: each token sees its own block and the previous one, plus n_global global tokens."""
    check_positive(n=n, block=block)
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
    check_positive(n=n, window=window)
    return -(-n // window) * window * 2 * window


def band_allowed(window: int, chunks: int) -> np.ndarray:
    """(chunks, window, 2·window) bool: query a of a chunk may see key b of [previous chunk, own chunk]."""
    a = np.arange(window)[:, None]
    b = np.arange(2 * window)[None, :]
    offset = a + window - b                                    # i - j
    allowed = np.repeat(((offset >= 0) & (offset < window))[None], chunks, axis=0)
    allowed[0, :, :window] = False                             # chunk 0 has no previous chunk
    return allowed


def chunks_with_previous(x: np.ndarray, window: int) -> np.ndarray:
    """(..., n, d) -> (..., C, 2·window, d): chunk c of `window` rows, preceded by chunk c - 1 (zeros for c = 0)."""
    n, d = x.shape[-2:]
    chunks = -(-n // window)
    widths = [(0, 0)] * (x.ndim - 2) + [(window, chunks * window - n), (0, 0)]
    x_c = np.pad(x, widths).reshape(*x.shape[:-2], chunks + 1, window, d)          # chunk -1 is zeros
    return np.concatenate([x_c[..., :-1, :, :], x_c[..., 1:, :, :]], axis=-2)


def banded_attention(q: np.ndarray, k: np.ndarray, v: np.ndarray, window: int) -> np.ndarray:
    """Causal sliding-window attention of q, k, v (..., n, d) in O(n·window) time and memory."""
    q, k, v = (np.asarray(a, dtype=np.result_type(a, np.float32)) for a in (q, k, v))
    if q.ndim < 2 or q.shape != k.shape or k.shape[:-1] != v.shape[:-1]:
        raise ValueError(f"q and k must have equal shapes (..., n, d), v (..., n, d_v); got q {q.shape}, k {k.shape}, v {v.shape}")
    check_positive(window=window)
    n, d = q.shape[-2:]
    chunks = -(-n // window)
    q_c = chunks_with_previous(q, window)[..., window:, :]             # (..., C, w, d): own chunk only
    k_w, v_w = chunks_with_previous(k, window), chunks_with_previous(v, window)  # (..., C, 2w, d)
    scores = q_c @ np.swapaxes(k_w, -1, -2) / np.sqrt(d)                # (..., C, w, 2w)
    weights = softmax(np.where(band_allowed(window, chunks), scores, -np.inf), axis=-1)
    out = (weights @ v_w).reshape(*q.shape[:-2], chunks * window, v.shape[-1])
    return out[..., :n, :]


def rolling_buffer_attention(q: np.ndarray, k: np.ndarray, v: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Decode q, k, v (n, d) one token at a time with Mistral's rolling buffer of `window` slots.

    Token t is written to slot t % window, overwriting token t - window. Returns (outputs
    (n, d_v), final buffer of keys (window, d)); outputs equal causal sliding-window attention.
    """
    q, k, v = (np.asarray(a) for a in (q, k, v))
    if q.ndim != 2 or q.shape != k.shape or k.shape[0] != v.shape[0]:
        raise ValueError(f"q, k must be (n, d) and v (n, d_v); got q {q.shape}, k {k.shape}, v {v.shape}")
    check_positive(window=window)
    buf_k, buf_v = np.zeros((window, k.shape[1]), k.dtype), np.zeros((window, v.shape[1]), v.dtype)
    out = np.empty((q.shape[0], v.shape[1]), np.result_type(q, v))
    for t in range(q.shape[0]):
        buf_k[t % window], buf_v[t % window] = k[t], v[t]
        filled = min(t + 1, window)                       # slots in use; their order does not matter
        o, _ = scaled_dot_product_attention(q[t:t + 1], buf_k[:filled], buf_v[:filled])
        out[t] = o[0]
    return out, buf_k
