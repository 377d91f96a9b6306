"""FlashAttention's backward pass by recomputation (FlashAttention-2, Dao 2023, Algorithm 2), NumPy, one head.

The forward pass (`flash_forward`) keeps only the output O and the log-sum-exp L of every row of
scores: O(n) numbers besides the inputs. The backward pass recomputes each tile of probabilities
P = exp(S - L) from Q, K and L instead of reading a stored n×n matrix, and uses

    dV = Pᵀ dO     dP = dO Vᵀ     D = rowsum(dO ∘ O)     dS = P ∘ (dP − D)
    dQ = s · dS K  dK = s · dSᵀ Q                         (s = 1/√d_k)

D equals rowsum(dP ∘ P) of chapter 04's softmax backward (because O = P V), but needs only O and dO.
Arrays are (n_q, d), (n_k, d), (n_k, d_v); mask True = may attend; float64 in, float64 out.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from utils.efficient.tiled_numpy import _check_block, block_mask, flash_query_block


def _one_head(name: str, a: Any) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    if a.ndim != 2:
        raise ValueError(f"{name} must be 2-D (seq, d) for one head, got shape {a.shape}")
    return a


def flash_forward(q: Any, k: Any, v: Any, mask: Any = None, causal: bool = False, block_q: int = 128,
                  block_k: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """Tiled forward of one head: the output O (n_q, d_v) and the log-sum-exp L (n_q,) of each score row."""
    q, k, v = (_one_head(n, a) for n, a in (("q", q), ("k", k), ("v", v)))
    block_q, block_k = _check_block("block_q", block_q), _check_block("block_k", block_k)
    n_q = len(q)
    blocks = [flash_query_block(q, k, v, mask, causal, i0, min(i0 + block_q, n_q), block_k)
              for i0 in range(0, n_q, block_q)]
    return np.concatenate([o for o, _ in blocks]), np.concatenate([lse for _, lse in blocks])


def recompute_probs(s: np.ndarray, lse: np.ndarray) -> np.ndarray:
    """One tile of P = exp(S − L) from its scores and the saved log-sum-exp of its rows (0 where masked)."""
    shift = np.where(np.isfinite(lse), lse, 0.0)  # a fully masked row has L = -inf and S = -inf: P = 0
    return np.exp(s - shift[:, None])


def flash_backward_tile(q_i: np.ndarray, k_j: np.ndarray, v_j: np.ndarray, do_i: np.ndarray, lse_i: np.ndarray,
                        d_i: np.ndarray, tile: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The contributions of one (query block i, key block j) tile to dQ_i, dK_j and dV_j."""
    scale = 1 / np.sqrt(q_i.shape[1])
    s = q_i @ k_j.T * scale  # recompute the tile of scores
    if tile is not None:
        s = np.where(tile, s, -np.inf)
    p = recompute_probs(s, lse_i)  # (rows, cols), never stored beyond this tile
    dv_j = p.T @ do_i
    dp = do_i @ v_j.T
    ds = p * (dp - d_i[:, None])  # the softmax backward, with D from O instead of from P
    return ds @ k_j * scale, ds.T @ q_i * scale, dv_j


def backward_tiles(n_q: int, n_k: int, block_q: int, block_k: int, causal: bool) -> Iterator[tuple[int, int, int, int]]:
    """(i0, i1, j0, j1) of every tile the backward pass computes: key blocks outside, query blocks inside.

    The order matters: all the tiles of key block j come together, so dK_j and dV_j are finished, and
    can be written out, before the next key block starts. With causal=True the tiles above the
    diagonal are skipped: their P is 0, so they add no gradient. The TensorFlow and PyTorch backward
    passes walk the same tiles.
    """
    offset = n_k - n_q  # query i sits at key position i + offset (the last query sees the last key)
    for j0 in range(0, n_k, block_k):
        j1 = min(j0 + block_k, n_k)
        for i0 in range(0, n_q, block_q):
            i1 = min(i0 + block_q, n_q)
            if not (causal and j0 > i1 - 1 + offset):
                yield i0, i1, j0, j1


def flash_backward(q: Any, k: Any, v: Any, o: Any, lse: Any, do: Any, mask: Any = None, causal: bool = False,
                   block_q: int = 128, block_k: int = 512) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """dQ, dK, dV of one head from Q, K, V, O, L and dO, tile by tile: key blocks outside, query blocks inside."""
    q, k, v, o, do = (_one_head(n, a) for n, a in (("q", q), ("k", k), ("v", v), ("o", o), ("do", do)))
    lse = np.asarray(lse, dtype=np.float64)
    n_q, n_k = len(q), len(k)
    d = (do * o).sum(axis=1)  # D = rowsum(dO ∘ O): one number per query
    dq, dk, dv = np.zeros_like(q), np.zeros_like(k), np.zeros_like(v)
    for i0, i1, j0, j1 in backward_tiles(n_q, n_k, block_q, block_k, causal):
        tile = block_mask(mask, causal, i0, i1, j0, j1, n_k - n_q)
        dq_i, dk_j, dv_j = flash_backward_tile(q[i0:i1], k[j0:j1], v[j0:j1], do[i0:i1], lse[i0:i1],
                                               d[i0:i1], tile)
        dq[i0:i1] += dq_i
        dk[j0:j1] += dk_j
        dv[j0:j1] += dv_j
    return dq, dk, dv
