"""Multi-head attention as a PyTorch nn.Module, with the same parameters and meaning as `utils.layers.multihead_numpy`."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from utils.core.attention_torch import causal_mask, scaled_dot_product_attention
from utils.layers.multihead_numpy import (
    PARAM_NAMES,
    check_heads,
    check_mha_inputs,
    check_mha_params,
)


def split_heads(x: torch.Tensor, n_heads: int) -> torch.Tensor:
    """(batch, seq, d_model) -> (batch, heads, seq, d_head): reshape, then move heads before seq."""
    x = torch.as_tensor(x)
    if x.ndim != 3:
        raise ValueError(f"x must have shape (batch, seq, d_model), got {tuple(x.shape)}")
    batch, seq, d_model = x.shape
    d_head = check_heads(d_model, n_heads)
    return x.reshape(batch, seq, n_heads, d_head).transpose(1, 2)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """(batch, heads, seq, d_head) -> (batch, seq, heads * d_head): the inverse of split_heads."""
    x = torch.as_tensor(x)
    if x.ndim != 4:
        raise ValueError(f"x must have shape (batch, heads, seq, d_head), got {tuple(x.shape)}")
    batch, heads, seq, d_head = x.shape
    return x.transpose(1, 2).reshape(batch, seq, heads * d_head)


class MultiHeadAttention(nn.Module):
    """Multi-head attention; forward(x_q, x_kv=None, mask=None, return_weights=False).

    Weights W_q, W_k, W_v, W_o (d_model, d_model) are used as x @ W, like the NumPy reference
    (not nn.Linear's (out, in) layout). mask is boolean, True = may attend, (n_q, n_k) or
    broadcastable (batch, heads, n_q, n_k). Dropout on the attention weights acts in train()
    mode only; the returned weights are the ones before dropout.
    """

    def __init__(self, d_model: int, n_heads: int, causal: bool = False, dropout: float = 0.0):
        super().__init__()
        self.d_model, self.n_heads, self.causal = int(d_model), int(n_heads), bool(causal)
        self.d_head = check_heads(self.d_model, self.n_heads)
        self.dropout = nn.Dropout(dropout)
        limit = math.sqrt(6.0 / (2 * self.d_model))  # glorot uniform, as Keras
        for name in PARAM_NAMES:
            if name.startswith("W"):
                value = torch.empty(self.d_model, self.d_model).uniform_(-limit, limit)
            else:
                value = torch.zeros(self.d_model)
            setattr(self, name, nn.Parameter(value))

    def load_numpy_params(self, params: dict[str, np.ndarray]) -> None:
        """Copy a NumPy parameter dict {"W_q", ..., "b_o"} into this module."""
        check_mha_params(params, self.d_model)
        with torch.no_grad():
            for name in PARAM_NAMES:
                getattr(self, name).copy_(torch.as_tensor(np.asarray(params[name], dtype=np.float32)))

    def numpy_params(self) -> dict[str, np.ndarray]:
        """This module's parameters as a NumPy dict {"W_q", ..., "b_o"}."""
        return {name: getattr(self, name).detach().cpu().numpy().copy() for name in PARAM_NAMES}

    def forward(self, x_q: torch.Tensor, x_kv: torch.Tensor | None = None, mask: torch.Tensor | None = None,
                return_weights: bool = False) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        x_q = torch.as_tensor(x_q, dtype=self.W_q.dtype)
        x_kv = x_q if x_kv is None else torch.as_tensor(x_kv, dtype=self.W_q.dtype)
        check_mha_inputs(tuple(x_q.shape), tuple(x_kv.shape), self.d_model,
                         None if mask is None else tuple(mask.shape))
        if mask is not None:
            mask = torch.as_tensor(mask, device=x_q.device)
        if self.causal:
            cm = causal_mask(x_q.shape[1], x_kv.shape[1]).to(x_q.device)
            mask = cm if mask is None else mask & cm
        Q = split_heads(x_q @ self.W_q + self.b_q, self.n_heads)  # (batch, heads, n_q, d_head)
        K = split_heads(x_kv @ self.W_k + self.b_k, self.n_heads)  # (batch, heads, n_k, d_head)
        V = split_heads(x_kv @ self.W_v + self.b_v, self.n_heads)  # (batch, heads, n_k, d_head)
        _, weights = scaled_dot_product_attention(Q, K, V, mask)  # (batch, heads, n_q, n_k)
        heads = self.dropout(weights) @ V  # (batch, heads, n_q, d_head)
        output = merge_heads(heads) @ self.W_o + self.b_o  # (batch, n_q, d_model)
        return (output, weights) if return_weights else output
