"""PyTorch twin of `utils.efficient.flash_backward_numpy`: FlashAttention forward and backward as an autograd.Function.

`FlashAttentionFunction.forward` saves only Q, K, V, O and the log-sum-exp L (no n×n tensor);
`backward` recomputes P tile by tile (FlashAttention-2, Algorithm 2). All leading (batch, head)
dimensions are handled at once; mask True = may attend (kept as an input, like Q, not saved as an
activation). `flash_attention_autograd(q, k, v, mask=None, causal=False, block_q=128, block_k=512)` is the call.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from utils.efficient.flash_backward_numpy import backward_tiles
from utils.efficient.tiled_numpy import _check_block
from utils.efficient.tiled_torch import block_mask, flash_query_block


def flash_forward(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: Any = None, causal: bool = False,
                  block_q: int = 128, block_k: int = 512) -> tuple[torch.Tensor, torch.Tensor]:
    """Tiled forward: the output O (..., n_q, d_v) and the log-sum-exp L (..., n_q) of each score row."""
    n_q = q.shape[-2]
    blocks = [flash_query_block(q, k, v, mask, causal, i0, min(i0 + block_q, n_q), block_k)
              for i0 in range(0, n_q, block_q)]
    return torch.cat([o for o, _ in blocks], dim=-2), torch.cat([lse for _, lse in blocks], dim=-1)


def recompute_probs(s: torch.Tensor, lse: torch.Tensor) -> torch.Tensor:
    """One tile of P = exp(S − L) from its scores and the saved log-sum-exp of its rows (0 where masked)."""
    shift = torch.where(torch.isfinite(lse), lse, 0.0)  # a fully masked row has L = -inf and S = -inf: P = 0
    return torch.exp(s - shift[..., None])


def flash_backward_tile(q_i: torch.Tensor, k_j: torch.Tensor, v_j: torch.Tensor, do_i: torch.Tensor,
                        lse_i: torch.Tensor, d_i: torch.Tensor, tile: Any) -> tuple[torch.Tensor, ...]:
    """The contributions of one (query block i, key block j) tile to dQ_i, dK_j and dV_j."""
    scale = 1 / math.sqrt(q_i.shape[-1])
    s = q_i @ k_j.transpose(-2, -1) * scale  # recompute the tile of scores
    if tile is not None:
        s = s.masked_fill(~tile, -math.inf)
    p = recompute_probs(s, lse_i)  # (..., rows, cols), never stored beyond this tile
    dv_j = p.transpose(-2, -1) @ do_i
    dp = do_i @ v_j.transpose(-2, -1)
    ds = p * (dp - d_i[..., None])  # the softmax backward, with D from O instead of from P
    return ds @ k_j * scale, ds.transpose(-2, -1) @ q_i * scale, dv_j


def flash_backward(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, o: torch.Tensor, lse: torch.Tensor,
                   do: torch.Tensor, mask: Any = None, causal: bool = False, block_q: int = 128,
                   block_k: int = 512) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """dQ, dK, dV from Q, K, V, O, L and dO, tile by tile: key blocks outside, query blocks inside."""
    n_q, n_k = q.shape[-2], k.shape[-2]
    d = (do * o).sum(dim=-1)  # D = rowsum(dO ∘ O): one number per query
    dq, dk, dv = torch.zeros_like(q), torch.zeros_like(k), torch.zeros_like(v)
    for i0, i1, j0, j1 in backward_tiles(n_q, n_k, block_q, block_k, causal):
        tile = block_mask(mask, causal, i0, i1, j0, j1, n_k - n_q)
        dq_i, dk_j, dv_j = flash_backward_tile(q[..., i0:i1, :], k[..., j0:j1, :], v[..., j0:j1, :],
                                               do[..., i0:i1, :], lse[..., i0:i1], d[..., i0:i1], tile)
        dq[..., i0:i1, :] += dq_i
        dk[..., j0:j1, :] += dk_j
        dv[..., j0:j1, :] += dv_j
    return dq, dk, dv


class FlashAttentionFunction(torch.autograd.Function):
    """Exact attention whose backward recomputes P from the saved log-sum-exp: O(n) saved activations."""

    @staticmethod
    def forward(ctx: Any, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: Any, causal: bool,
                block_q: int, block_k: int) -> torch.Tensor:
        o, lse = flash_forward(q, k, v, mask, causal, block_q, block_k)
        ctx.save_for_backward(q, k, v, o, lse)  # n·d and n numbers: no n×n tensor
        ctx.mask, ctx.causal, ctx.blocks = mask, causal, (block_q, block_k)
        return o

    @staticmethod
    def backward(ctx: Any, do: torch.Tensor) -> tuple:
        q, k, v, o, lse = ctx.saved_tensors
        dq, dk, dv = flash_backward(q, k, v, o, lse, do.contiguous(), ctx.mask, ctx.causal, *ctx.blocks)
        return dq, dk, dv, None, None, None, None  # no gradient for mask, causal and the block sizes


def flash_attention_autograd(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: Any = None,
                             causal: bool = False, block_q: int = 128, block_k: int = 512) -> torch.Tensor:
    """Differentiable tiled attention, (..., n_q, d_v); mask True = may attend; same result as naive attention."""
    block_q, block_k = _check_block("block_q", block_q), _check_block("block_k", block_k)
    shapes = [tuple(t.shape) for t in (q, k, v)]
    if q.dim() < 2 or q.shape[:-2] != k.shape[:-2] or k.shape[:-1] != v.shape[:-1] or q.shape[-1] != k.shape[-1]:
        raise ValueError(f"q, k, v must be (..., n_q, d), (..., n_k, d), (..., n_k, d_v) with equal leading dims, "
                         f"got {shapes}")
    if mask is not None:
        mask = torch.as_tensor(mask)
        if mask.dtype != torch.bool:
            raise ValueError(f"mask must be boolean (True = may attend), got {mask.dtype}")
        mask = mask.broadcast_to(q.shape[:-1] + k.shape[-2:-1])
    return FlashAttentionFunction.apply(q, k, v, mask, causal, block_q, block_k)
