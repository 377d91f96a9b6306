"""all-MiniLM-L6-v2's forward pass in PyTorch: the same functions as `utils.models.minilm_numpy`.

Shapes: x (batch, seq, d_model); Q, K, V (batch, heads, seq, d_head); weights (batch, heads, seq, seq).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from utils.core.attention_torch import scaled_dot_product_attention
from utils.layers.layer_norm_torch import layer_norm
from utils.layers.multihead_torch import merge_heads, split_heads
from utils.models.minilm_numpy import LAYER_NORM_EPS, encode_and_pool


def params_to_tensors(params: dict[str, Any]) -> dict[str, Any]:
    """The NumPy parameter dictionary as torch tensors (zero-copy views)."""
    out = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in params.items() if k != "layers"}
    out["layers"] = [{k: torch.from_numpy(v) for k, v in layer.items()} for layer in params["layers"]]
    return out


def gelu(x: torch.Tensor) -> torch.Tensor:
    """Exact GELU, x (1 + erf(x/√2)) / 2, as BERT uses."""
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


def embed(params: dict[str, Any], input_ids: torch.Tensor, token_type_ids: torch.Tensor | None = None,
          eps: float = LAYER_NORM_EPS) -> torch.Tensor:
    """Word + position + token-type embeddings, then LayerNorm: (batch, seq) → (batch, seq, d_model)."""
    input_ids = torch.as_tensor(input_ids)
    if token_type_ids is None:
        token_type_ids = torch.zeros_like(input_ids)
    seq = input_ids.shape[1]
    x = params["word"][input_ids] + params["pos"][:seq][None] + params["type"][torch.as_tensor(token_type_ids)]
    return layer_norm(x, params["ln_g"], params["ln_b"], eps)


def encoder_layer(x: torch.Tensor, p: dict[str, torch.Tensor], mask: torch.Tensor, n_heads: int,
                  head_keep: Any = None, eps: float = LAYER_NORM_EPS,
                  activation: Callable | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """One post-LN BERT layer: LN(x + MHA(x)), then LN(h + W2 GELU(W1 h)); returns (x, weights)."""
    Q = split_heads(x @ p["Wq"] + p["bq"], n_heads)  # (batch, heads, seq, d_head)
    K = split_heads(x @ p["Wk"] + p["bk"], n_heads)
    V = split_heads(x @ p["Wv"] + p["bv"], n_heads)
    context, weights = scaled_dot_product_attention(Q, K, V, mask)  # weights (batch, heads, seq, seq)
    if head_keep is not None:
        context = context * torch.as_tensor(head_keep, dtype=context.dtype)[None, :, None, None]
    h = layer_norm(x + merge_heads(context) @ p["Wo"] + p["bo"], p["ln1_g"], p["ln1_b"], eps)
    activation = gelu if activation is None else activation  # GELU in BERT and MiniLM
    ffn = activation(h @ p["W1"] + p["b1"]) @ p["W2"] + p["b2"]
    return layer_norm(h + ffn, p["ln2_g"], p["ln2_b"], eps), weights


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Average of the real tokens' vectors: (batch, seq, d) and (batch, seq) → (batch, d)."""
    m = torch.as_tensor(attention_mask).to(hidden.dtype)[..., None]
    return (hidden * m).sum(dim=1) / m.sum(dim=1).clamp_min(1e-9)


def l2_normalize(x: torch.Tensor) -> torch.Tensor:
    """Rows scaled to unit L2 norm (a zero row stays zero)."""
    return x / torch.linalg.vector_norm(x, dim=-1, keepdim=True).clamp_min(1e-12)


@torch.no_grad()
def sentence_embeddings(params: dict[str, Any], input_ids: Any, attention_mask: Any,
                        token_type_ids: Any = None, n_heads: int = 12,
                        head_keep: Any = None,
                        activation: Callable | None = None) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """(embeddings (batch, d_model), per-layer attention weights [(batch, heads, seq, seq)] * n_layers)."""
    if "layers" in params and isinstance(params["word"], np.ndarray):
        params = params_to_tensors(params)
    input_ids = torch.as_tensor(input_ids)
    attention_mask = torch.as_tensor(attention_mask).to(torch.bool)
    if attention_mask.shape != input_ids.shape:
        raise ValueError(f"attention_mask {tuple(attention_mask.shape)} must match input_ids {tuple(input_ids.shape)}")
    return encode_and_pool(sys.modules[__name__], params, input_ids, attention_mask, attention_mask[:, None, None, :],
                           token_type_ids, n_heads, head_keep, activation)
