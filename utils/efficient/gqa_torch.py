"""PyTorch versions of `utils.efficient.gqa_numpy`: same names and meaning."""

from __future__ import annotations

import torch

from utils.core.attention_torch import scaled_dot_product_attention
from utils.efficient.gqa_numpy import group_size
from utils.layers.multihead_torch import merge_heads, split_heads


def kv_head_index(n_heads: int, n_kv_heads: int) -> torch.Tensor:
    """Long tensor (n_heads,): the key/value head each query head reads, i // (h // g)."""
    return torch.arange(n_heads) // group_size(n_heads, n_kv_heads)


def repeat_kv(x: torch.Tensor, n_rep: int) -> torch.Tensor:
    """(batch, g, seq, d_head) -> (batch, g * n_rep, seq, d_head), each head repeated n_rep times."""
    if x.ndim != 4:
        raise ValueError(f"x must have shape (batch, kv_heads, seq, d_head), got {tuple(x.shape)}")
    return torch.repeat_interleave(x, n_rep, dim=1)  # heads 0,0,..,1,1,..: query head i reads kv head i // n_rep


def grouped_query_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """(output, weights) for q (batch, h, n_q, d), k and v (batch, g, n_k, d); mask True = may attend."""
    if q.ndim != 4 or k.ndim != 4 or v.ndim != 4 or k.shape[1] != v.shape[1]:
        raise ValueError(f"q must be (batch, h, n_q, d), k and v (batch, g, n_k, d); got q {tuple(q.shape)}, "
                         f"k {tuple(k.shape)}, v {tuple(v.shape)}")
    group = group_size(q.shape[1], k.shape[1])
    return scaled_dot_product_attention(q, repeat_kv(k, group), repeat_kv(v, group), mask)


def gqa_forward(
    x: torch.Tensor, params: dict[str, torch.Tensor], n_heads: int, n_kv_heads: int,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Self-attention of x (batch, seq, d_model) with h query heads and g key/value heads.

    Unlike the NumPy and TensorFlow twins, it projects Q, K and V with one fused matrix
    [W_q | W_k | W_v] (d_model, (h + 2g) d_head), as GPT-2's `c_attn` and most LLM code do: one
    matmul instead of three, and the test against NumPy then checks a different code path.
    """
    if x.ndim != 3 or x.shape[-1] != params["W_q"].shape[0]:
        raise ValueError(f"x must be (batch, seq, d_model={params['W_q'].shape[0]}), got {tuple(x.shape)}")
    widths = [params[name].shape[1] for name in ("W_q", "W_k", "W_v")]  # h·d_head, g·d_head, g·d_head
    w_qkv = torch.cat([params["W_q"], params["W_k"], params["W_v"]], dim=1)
    b_qkv = torch.cat([params["b_q"], params["b_k"], params["b_v"]])
    q, k, v = torch.split(x @ w_qkv + b_qkv, widths, dim=-1)
    out, _ = grouped_query_attention(split_heads(q, n_heads), split_heads(k, n_kv_heads), split_heads(v, n_kv_heads),
                                     mask)                           # (batch, h, seq, d_head)
    return merge_heads(out) @ params["W_o"] + params["b_o"]
