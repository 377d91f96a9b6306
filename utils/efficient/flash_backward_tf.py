"""TensorFlow twin of `utils.efficient.flash_backward_numpy`: FlashAttention forward and backward with tf.custom_gradient.

The forward keeps only O and the log-sum-exp L (its gradient function closes over Q, K, V, O, L,
never over an n×n tensor); the backward recomputes P tile by tile (FlashAttention-2, Algorithm 2).
All leading (batch, head) dimensions are handled at once; mask True = may attend.
"""

from __future__ import annotations

import math
from typing import Any

from utils.core.frameworks import import_tensorflow
from utils.efficient.flash_backward_numpy import backward_tiles
from utils.efficient.tiled_numpy import _check_block
from utils.efficient.tiled_tf import _safe, block_mask, flash_query_block

tf = import_tensorflow()


def flash_forward(q: Any, k: Any, v: Any, mask: Any = None, causal: bool = False, block_q: int = 128,
                  block_k: int = 512) -> tuple[Any, Any]:
    """Tiled forward: the output O (..., n_q, d_v) and the log-sum-exp L (..., n_q) of each score row."""
    n_q = q.shape[-2]
    blocks = [flash_query_block(q, k, v, mask, causal, i0, min(i0 + block_q, n_q), block_k)
              for i0 in range(0, n_q, block_q)]
    return tf.concat([o for o, _ in blocks], axis=-2), tf.concat([lse for _, lse in blocks], axis=-1)


def recompute_probs(s: Any, lse: Any) -> Any:
    """One tile of P = exp(S − L) from its scores and the saved log-sum-exp of its rows (0 where masked)."""
    return tf.exp(s - _safe(lse)[..., None])  # a fully masked row has L = -inf and S = -inf: P = 0


def flash_backward_tile(q_i: Any, k_j: Any, v_j: Any, do_i: Any, lse_i: Any, d_i: Any, tile: Any) -> tuple:
    """The contributions of one (query block i, key block j) tile to dQ_i, dK_j and dV_j."""
    scale = tf.cast(1 / math.sqrt(q_i.shape[-1]), q_i.dtype)
    s = tf.matmul(q_i, k_j, transpose_b=True) * scale  # recompute the tile of scores
    if tile is not None:
        s = tf.where(tile, s, tf.constant(-math.inf, s.dtype))
    p = recompute_probs(s, lse_i)  # (..., rows, cols), never stored beyond this tile
    dv_j = tf.matmul(p, do_i, transpose_a=True)
    dp = tf.matmul(do_i, v_j, transpose_b=True)
    ds = p * (dp - d_i[..., None])  # the softmax backward, with D from O instead of from P
    return tf.matmul(ds, k_j) * scale, tf.matmul(ds, q_i, transpose_a=True) * scale, dv_j


def flash_backward(q: Any, k: Any, v: Any, o: Any, lse: Any, do: Any, mask: Any = None, causal: bool = False,
                   block_q: int = 128, block_k: int = 512) -> tuple[Any, Any, Any]:
    """dQ, dK, dV from Q, K, V, O, L and dO, tile by tile: key blocks outside, query blocks inside."""
    n_q, n_k = q.shape[-2], k.shape[-2]
    d = tf.reduce_sum(do * o, axis=-1)  # D = rowsum(dO ∘ O): one number per query
    # tensors are immutable: one running sum per block, concatenated at the end
    dq = {i0: tf.zeros_like(q[..., i0:i0 + block_q, :]) for i0 in range(0, n_q, block_q)}
    dk = {j0: tf.zeros_like(k[..., j0:j0 + block_k, :]) for j0 in range(0, n_k, block_k)}
    dv = {j0: tf.zeros_like(v[..., j0:j0 + block_k, :]) for j0 in range(0, n_k, block_k)}
    for i0, i1, j0, j1 in backward_tiles(n_q, n_k, block_q, block_k, causal):
        tile = block_mask(mask, causal, i0, i1, j0, j1, n_k - n_q)
        dq_t, dk_t, dv_t = flash_backward_tile(q[..., i0:i1, :], k[..., j0:j1, :], v[..., j0:j1, :],
                                               do[..., i0:i1, :], lse[..., i0:i1], d[..., i0:i1], tile)
        dq[i0], dk[j0], dv[j0] = dq[i0] + dq_t, dk[j0] + dk_t, dv[j0] + dv_t
    return tuple(tf.concat(list(blocks.values()), axis=-2) for blocks in (dq, dk, dv))


def flash_attention_autograd(q: Any, k: Any, v: Any, mask: Any = None, causal: bool = False, block_q: int = 128,
                             block_k: int = 512) -> Any:
    """Differentiable tiled attention, (..., n_q, d_v); mask True = may attend; same result as naive attention."""
    block_q, block_k = _check_block("block_q", block_q), _check_block("block_k", block_k)
    q, k, v = (tf.convert_to_tensor(a) for a in (q, k, v))
    if mask is not None:
        mask = tf.broadcast_to(tf.convert_to_tensor(mask, tf.bool), q.shape[:-1] + k.shape[-2:-1])

    @tf.custom_gradient
    def attend(q: Any, k: Any, v: Any) -> tuple[Any, Any]:
        o, lse = flash_forward(q, k, v, mask, causal, block_q, block_k)

        def grad(do: Any) -> tuple[Any, Any, Any]:
            return flash_backward(q, k, v, o, lse, do, mask, causal, block_q, block_k)

        return o, grad

    return attend(q, k, v)
