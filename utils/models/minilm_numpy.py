"""all-MiniLM-L6-v2's forward pass in NumPy, built from the course's own attention function.

Shapes: x (batch, seq, d_model); Q, K, V (batch, heads, seq, d_head); weights (batch, heads, seq, seq).
`params` is the dictionary made by `utils.models.minilm_weights.model_params` (linear weights stored (in, out)).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np

from utils.core.attention_numpy import padding_mask, scaled_dot_product_attention
from utils.layers.layer_norm_numpy import layer_norm
from utils.layers.multihead_numpy import merge_heads, split_heads

LAYER_NORM_EPS = 1e-12  # BERT's (and MiniLM's) LayerNorm epsilon

_erf = np.frompyfunc(math.erf, 1, 1)


def gelu(x: np.ndarray) -> np.ndarray:
    """Exact GELU, x Φ(x) = x (1 + erf(x/√2)) / 2, as BERT uses (not the tanh approximation)."""
    x = np.asarray(x)
    return (0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)).astype(np.float64))).astype(x.dtype)


def key_mask(attention_mask: np.ndarray) -> np.ndarray:
    """Boolean (batch, 1, 1, seq) mask, True = may attend, from a (batch, seq) 0/1 or bool mask."""
    attention_mask = np.asarray(attention_mask)
    if attention_mask.ndim != 2:
        raise ValueError(f"attention_mask must have shape (batch, seq), got {attention_mask.shape}")
    real = attention_mask.astype(bool)
    mask = padding_mask(real.sum(axis=1), real.shape[1])  # padding at the end: the course's helper
    if not np.array_equal(mask, real):  # a token masked inside a sentence (ablation): use it as given
        mask = real
    return mask[:, None, None, :]


def embed(params: dict[str, Any], input_ids: np.ndarray, token_type_ids: np.ndarray | None = None,
          eps: float = LAYER_NORM_EPS) -> np.ndarray:
    """Word + position + token-type embeddings, then LayerNorm: (batch, seq) ids → (batch, seq, d_model)."""
    input_ids = np.asarray(input_ids)
    if input_ids.ndim != 2:
        raise ValueError(f"input_ids must have shape (batch, seq), got {input_ids.shape}")
    if token_type_ids is None:
        token_type_ids = np.zeros_like(input_ids)
    seq = input_ids.shape[1]
    x = params["word"][input_ids] + params["pos"][:seq][None] + params["type"][token_type_ids]
    return layer_norm(x, params["ln_g"], params["ln_b"], eps)


def encoder_layer(x: np.ndarray, p: dict[str, np.ndarray], mask: np.ndarray, n_heads: int,
                  head_keep: np.ndarray | None = None, eps: float = LAYER_NORM_EPS,
                  activation: Callable | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One post-LN BERT layer: LN(x + MHA(x)), then LN(h + W2 GELU(W1 h)); returns (x, weights)."""
    Q = split_heads(x @ p["Wq"] + p["bq"], n_heads)  # (batch, heads, seq, d_head)
    K = split_heads(x @ p["Wk"] + p["bk"], n_heads)
    V = split_heads(x @ p["Wv"] + p["bv"], n_heads)
    context, weights = scaled_dot_product_attention(Q, K, V, mask)  # weights (batch, heads, seq, seq)
    if head_keep is not None:  # ablation: 0 removes a head's contribution
        context = context * np.asarray(head_keep, dtype=context.dtype)[None, :, None, None]
    h = layer_norm(x + merge_heads(context) @ p["Wo"] + p["bo"], p["ln1_g"], p["ln1_b"], eps)
    activation = gelu if activation is None else activation  # GELU in BERT and MiniLM
    ffn = activation(h @ p["W1"] + p["b1"]) @ p["W2"] + p["b2"]
    return layer_norm(h + ffn, p["ln2_g"], p["ln2_b"], eps), weights


def mean_pool(hidden: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
    """Average of the real tokens' vectors: (batch, seq, d) and (batch, seq) → (batch, d)."""
    m = np.asarray(attention_mask).astype(hidden.dtype)[..., None]
    return (hidden * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)


def l2_normalize(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (a zero row stays zero)."""
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def sentence_embeddings(params: dict[str, Any], input_ids: np.ndarray, attention_mask: np.ndarray,
                        token_type_ids: np.ndarray | None = None, n_heads: int = 12,
                        head_keep: np.ndarray | None = None,
                        activation: Callable | None = None) -> tuple[np.ndarray, list[np.ndarray]]:
    """(embeddings (batch, d_model), per-layer attention weights [(batch, heads, seq, seq)] * n_layers).

    `head_keep` (n_layers, heads) of 0/1 switches heads off for ablations; `activation` (None: GELU) replaces GELU
    in the feed-forward blocks (to measure what the exact GELU matters).
    """
    input_ids = np.asarray(input_ids)
    if np.shape(attention_mask) != input_ids.shape:
        raise ValueError(f"attention_mask {np.shape(attention_mask)} must match input_ids {input_ids.shape}")
    return encode_and_pool(sys.modules[__name__], params, input_ids, attention_mask, key_mask(attention_mask),
                           token_type_ids, n_heads, head_keep, activation)


def encode_and_pool(ops: ModuleType, params: dict[str, Any], input_ids: Any, attention_mask: Any, mask: Any,
                    token_type_ids: Any, n_heads: int, head_keep: Any,
                    activation: Callable | None) -> tuple[Any, list[Any]]:
    """Embed, run the encoder layers, mean-pool and normalise: the same lines for the three frameworks.

    `ops` is the framework's MiniLM module (this one, `minilm_tf` or `minilm_torch`): its `embed`,
    `encoder_layer`, `mean_pool` and `l2_normalize` do the arithmetic. `mask` is (batch, 1, 1, seq), True = may attend.
    """
    x = ops.embed(params, input_ids, token_type_ids)  # (batch, seq, d_model)
    attentions = []
    for i, p in enumerate(params["layers"]):
        x, weights = ops.encoder_layer(x, p, mask, n_heads, None if head_keep is None else head_keep[i],
                                       activation=activation)
        attentions.append(weights)
    return ops.l2_normalize(ops.mean_pool(x, attention_mask)), attentions
