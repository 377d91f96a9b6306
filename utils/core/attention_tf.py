"""TensorFlow versions of the reference functions in `utils.core.attention_numpy`, same names and meaning."""

from __future__ import annotations

from typing import Any

import numpy as np

from utils.core.frameworks import import_tensorflow
from utils.core.validation import check_attention_shapes, check_mask_dtype

tf = import_tensorflow()


def softmax(x: Any, axis: int = -1) -> Any:
    """Numerically stable softmax along `axis`; a slice that is all -inf gives all zeros."""
    x = tf.convert_to_tensor(x)
    x_max = tf.reduce_max(x, axis=axis, keepdims=True)
    x_max = tf.where(tf.math.is_finite(x_max), x_max, tf.zeros_like(x_max))
    e = tf.exp(x - x_max)
    return tf.math.divide_no_nan(e, tf.reduce_sum(e, axis=axis, keepdims=True))


def scaled_dot_product_attention(q: Any, k: Any, v: Any, mask: Any = None) -> tuple[Any, Any]:
    """Return (output, weights) of softmax(q kᵀ / √d_k) v; mask True = may attend."""
    q, k, v = (tf.convert_to_tensor(a) for a in (q, k, v))
    check_attention_shapes(q.shape, k.shape, v.shape, None if mask is None else tuple(mask.shape))
    compute = tf.float32 if q.dtype in (tf.float16, tf.bfloat16) else q.dtype
    q, k, v = (tf.cast(a, compute) for a in (q, k, v))
    d_k = tf.cast(tf.shape(q)[-1], compute)
    scores = tf.matmul(q, k, transpose_b=True) / tf.sqrt(d_k)  # (..., n_q, n_k)
    if mask is not None:
        mask = tf.convert_to_tensor(mask)
        check_mask_dtype(mask.dtype.name)
        scores = tf.where(mask, scores, tf.constant(-np.inf, dtype=compute))
    weights = softmax(scores, axis=-1)
    return tf.matmul(weights, v), weights


def causal_mask(n: int, m: int | None = None) -> Any:
    """Boolean (n, m) mask, True = may attend: query i sees keys 0..i (+ m - n cached keys)."""
    from utils.core.attention_numpy import causal_mask as np_causal_mask

    return tf.constant(np_causal_mask(n, m))


def padding_mask(lengths: Any, n: int) -> Any:
    """Boolean (batch, n) key mask, True where position < length."""
    from utils.core.attention_numpy import padding_mask as np_padding_mask

    return tf.constant(np_padding_mask(np.asarray(lengths), n))
