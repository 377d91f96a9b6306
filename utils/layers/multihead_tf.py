"""Multi-head attention as a Keras 3 layer, with the same parameters and meaning as `utils.layers.multihead_numpy`."""

from __future__ import annotations

from typing import Any

import numpy as np

from utils.core.attention_tf import causal_mask, scaled_dot_product_attention
from utils.core.frameworks import import_tensorflow
from utils.layers.multihead_numpy import (
    PARAM_NAMES,
    check_heads,
    check_mha_inputs,
    check_mha_params,
)

tf = import_tensorflow()
import keras  # noqa: E402  (after TensorFlow, so Keras uses its backend quietly)


def split_heads(x: Any, n_heads: int) -> Any:
    """(batch, seq, d_model) -> (batch, heads, seq, d_head): reshape, then move heads before seq."""
    x = tf.convert_to_tensor(x)
    if x.shape.rank != 3:
        raise ValueError(f"x must have shape (batch, seq, d_model), got {tuple(x.shape)}")
    d_head = check_heads(int(x.shape[-1]), n_heads)
    batch, seq = tf.shape(x)[0], tf.shape(x)[1]
    return tf.transpose(tf.reshape(x, (batch, seq, n_heads, d_head)), (0, 2, 1, 3))


def merge_heads(x: Any) -> Any:
    """(batch, heads, seq, d_head) -> (batch, seq, heads * d_head): the inverse of split_heads."""
    x = tf.convert_to_tensor(x)
    if x.shape.rank != 4:
        raise ValueError(f"x must have shape (batch, heads, seq, d_head), got {tuple(x.shape)}")
    heads, d_head = int(x.shape[1]), int(x.shape[3])
    x = tf.transpose(x, (0, 2, 1, 3))  # (batch, seq, heads, d_head)
    return tf.reshape(x, (tf.shape(x)[0], tf.shape(x)[1], heads * d_head))


class MultiHeadAttention(keras.layers.Layer):
    """Multi-head attention; call(x_q, x_kv=None, mask=None, return_weights=False, training=None).

    Weights W_q, W_k, W_v, W_o (d_model, d_model) are used as x @ W, like the NumPy reference.
    mask is boolean, True = may attend, (n_q, n_k) or broadcastable (batch, heads, n_q, n_k).
    Dropout (rate `dropout`) is applied to the attention weights in training only; the returned
    weights are the ones before dropout.
    """

    def __init__(self, d_model: int, n_heads: int, causal: bool = False, dropout: float = 0.0, **kwargs: Any):
        super().__init__(**kwargs)
        self.d_model, self.n_heads, self.causal = int(d_model), int(n_heads), bool(causal)
        self.d_head = check_heads(self.d_model, self.n_heads)
        self.dropout_layer = keras.layers.Dropout(dropout)
        for name in PARAM_NAMES:
            shape = (self.d_model, self.d_model) if name.startswith("W") else (self.d_model,)
            init = "glorot_uniform" if name.startswith("W") else "zeros"
            setattr(self, name, self.add_weight(shape=shape, initializer=init, name=name))
        self.supports_masking = True  # our `mask` is an attention mask, not a Keras sequence mask:
        self.built = True

    def compute_mask(self, inputs: Any, previous_mask: Any = None) -> None:
        """No Keras sequence mask flows out of this layer (and Keras does not warn about `mask`)."""
        return None

    def load_numpy_params(self, params: dict[str, np.ndarray]) -> None:
        """Copy a NumPy parameter dict {"W_q", ..., "b_o"} into this layer."""
        check_mha_params(params, self.d_model)
        for name in PARAM_NAMES:
            getattr(self, name).assign(np.asarray(params[name], dtype=np.float32))

    def numpy_params(self) -> dict[str, np.ndarray]:
        """This layer's parameters as a NumPy dict {"W_q", ..., "b_o"}."""
        return {name: getattr(self, name).numpy() for name in PARAM_NAMES}

    def call(self, x_q: Any, x_kv: Any = None, mask: Any = None, return_weights: bool = False,
             training: bool | None = None) -> Any:
        x_q = tf.convert_to_tensor(x_q, dtype=self.compute_dtype)
        x_kv = x_q if x_kv is None else tf.convert_to_tensor(x_kv, dtype=self.compute_dtype)
        check_mha_inputs(tuple(x_q.shape), tuple(x_kv.shape), self.d_model,
                         None if mask is None else tuple(mask.shape))
        if mask is not None:
            mask = tf.convert_to_tensor(mask)
        if self.causal:
            cm = causal_mask(int(x_q.shape[1]), int(x_kv.shape[1]))
            mask = cm if mask is None else tf.logical_and(mask, cm)
        Q = split_heads(tf.matmul(x_q, self.W_q) + self.b_q, self.n_heads)  # (batch, heads, n_q, d_head)
        K = split_heads(tf.matmul(x_kv, self.W_k) + self.b_k, self.n_heads)  # (batch, heads, n_k, d_head)
        V = split_heads(tf.matmul(x_kv, self.W_v) + self.b_v, self.n_heads)  # (batch, heads, n_k, d_head)
        _, weights = scaled_dot_product_attention(Q, K, V, mask)  # (batch, heads, n_q, n_k)
        heads = tf.matmul(self.dropout_layer(weights, training=training), V)  # (batch, heads, n_q, d_head)
        output = tf.matmul(merge_heads(heads), self.W_o) + self.b_o  # (batch, n_q, d_model)
        return (output, weights) if return_weights else output
