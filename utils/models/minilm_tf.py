"""all-MiniLM-L6-v2's forward pass in TensorFlow: the same functions as `utils.models.minilm_numpy`.

Shapes: x (batch, seq, d_model); Q, K, V (batch, heads, seq, d_head); weights (batch, heads, seq, seq).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from utils.core.attention_tf import scaled_dot_product_attention
from utils.core.frameworks import import_tensorflow
from utils.layers.layer_norm_tf import layer_norm
from utils.layers.multihead_tf import merge_heads, split_heads
from utils.models.minilm_numpy import LAYER_NORM_EPS, encode_and_pool

tf = import_tensorflow()


def params_to_tensors(params: dict[str, Any]) -> dict[str, Any]:
    """The NumPy parameter dictionary as TF constants (convert once, reuse for every batch)."""
    out = {k: tf.constant(v) for k, v in params.items() if k != "layers"}
    out["layers"] = [{k: tf.constant(v) for k, v in layer.items()} for layer in params["layers"]]
    return out


def gelu(x: Any) -> Any:
    """Exact GELU, x (1 + erf(x/√2)) / 2, as BERT uses."""
    return 0.5 * x * (1.0 + tf.math.erf(x / math.sqrt(2.0)))


def embed(params: dict[str, Any], input_ids: Any, token_type_ids: Any = None, eps: float = LAYER_NORM_EPS) -> Any:
    """Word + position + token-type embeddings, then LayerNorm: (batch, seq) → (batch, seq, d_model)."""
    input_ids = tf.convert_to_tensor(input_ids)
    if token_type_ids is None:
        token_type_ids = tf.zeros_like(input_ids)
    seq = input_ids.shape[1]
    x = (tf.gather(params["word"], input_ids) + params["pos"][:seq][None]
         + tf.gather(params["type"], token_type_ids))
    return layer_norm(x, params["ln_g"], params["ln_b"], eps)


def encoder_layer(x: Any, p: dict[str, Any], mask: Any, n_heads: int, head_keep: Any = None,
                  eps: float = LAYER_NORM_EPS,
                  activation: Callable | None = None) -> tuple[Any, Any]:
    """One post-LN BERT layer: LN(x + MHA(x)), then LN(h + W2 GELU(W1 h)); returns (x, weights)."""
    Q = split_heads(x @ p["Wq"] + p["bq"], n_heads)  # (batch, heads, seq, d_head)
    K = split_heads(x @ p["Wk"] + p["bk"], n_heads)
    V = split_heads(x @ p["Wv"] + p["bv"], n_heads)
    context, weights = scaled_dot_product_attention(Q, K, V, mask)  # weights (batch, heads, seq, seq)
    if head_keep is not None:
        context = context * tf.cast(tf.convert_to_tensor(head_keep), context.dtype)[None, :, None, None]
    h = layer_norm(x + merge_heads(context) @ p["Wo"] + p["bo"], p["ln1_g"], p["ln1_b"], eps)
    activation = gelu if activation is None else activation  # GELU in BERT and MiniLM
    ffn = activation(h @ p["W1"] + p["b1"]) @ p["W2"] + p["b2"]
    return layer_norm(h + ffn, p["ln2_g"], p["ln2_b"], eps), weights


def mean_pool(hidden: Any, attention_mask: Any) -> Any:
    """Average of the real tokens' vectors: (batch, seq, d) and (batch, seq) → (batch, d)."""
    m = tf.cast(attention_mask, hidden.dtype)[..., None]
    return tf.reduce_sum(hidden * m, axis=1) / tf.maximum(tf.reduce_sum(m, axis=1), 1e-9)


def l2_normalize(x: Any) -> Any:
    """Rows scaled to unit L2 norm (a zero row stays zero)."""
    return x / tf.maximum(tf.norm(x, axis=-1, keepdims=True), 1e-12)


def sentence_embeddings(params: dict[str, Any], input_ids: Any, attention_mask: Any,
                        token_type_ids: Any = None, n_heads: int = 12,
                        head_keep: Any = None,
                        activation: Callable | None = None) -> tuple[Any, list[Any]]:
    """(embeddings (batch, d_model), per-layer attention weights [(batch, heads, seq, seq)] * n_layers)."""
    if isinstance(params["word"], np.ndarray):
        params = params_to_tensors(params)
    input_ids = tf.convert_to_tensor(input_ids)
    attention_mask = tf.cast(tf.convert_to_tensor(attention_mask), tf.bool)
    if tuple(attention_mask.shape) != tuple(input_ids.shape):
        raise ValueError(f"attention_mask {tuple(attention_mask.shape)} must match input_ids {tuple(input_ids.shape)}")
    return encode_and_pool(sys.modules[__name__], params, input_ids, attention_mask, attention_mask[:, None, None, :],
                           token_type_ids, n_heads, head_keep, activation)
