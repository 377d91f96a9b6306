"""TensorFlow version of `utils.efficient.sparse_attention_numpy.banded_attention`: same name and meaning."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from utils.core.frameworks import import_tensorflow
from utils.core.validation import check_positive
from utils.efficient.sparse_attention_numpy import band_allowed

tf = import_tensorflow()


def chunks_with_previous(x: Any, window: int) -> Any:
    """(..., n, d) -> (..., C, 2·window, d): chunk c of `window` rows, preceded by chunk c - 1 (zeros for c = 0)."""
    n, d = x.shape[-2], x.shape[-1]
    chunks = -(-n // window)
    lead = x.shape[:-2].as_list()
    x_c = tf.reshape(tf.pad(x, [[0, 0]] * len(lead) + [[window, chunks * window - n], [0, 0]]),
                     [*lead, chunks + 1, window, d])                               # chunk -1 is zeros
    return tf.concat([x_c[..., :-1, :, :], x_c[..., 1:, :, :]], axis=-2)


def banded_attention(q: Any, k: Any, v: Any, window: int) -> Any:
    """Causal sliding-window attention of q, k, v (..., n, d) in O(n·window) time and memory."""
    q, k, v = (tf.convert_to_tensor(a) for a in (q, k, v))
    if q.shape.rank < 2 or q.shape != k.shape or k.shape[:-1] != v.shape[:-1]:
        raise ValueError(f"q and k must have equal shapes (..., n, d), v (..., n, d_v); got q {tuple(q.shape)}, "
                         f"k {tuple(k.shape)}, v {tuple(v.shape)}")
    check_positive(window=window)
    n, d = q.shape[-2], q.shape[-1]
    chunks = -(-n // window)
    q_c = chunks_with_previous(q, window)[..., window:, :]                       # (..., C, w, d): own chunk only
    k_w, v_w = chunks_with_previous(k, window), chunks_with_previous(v, window)  # (..., C, 2w, d)
    scores = tf.matmul(q_c, k_w, transpose_b=True) / math.sqrt(d)               # (..., C, w, 2w)
    bias = tf.constant(np.where(band_allowed(window, chunks), 0.0, -np.inf), dtype=scores.dtype)
    weights = tf.nn.softmax(scores + bias, axis=-1)
    out = tf.reshape(tf.matmul(weights, v_w), [*q.shape[:-2].as_list(), chunks * window, v.shape[-1]])
    return out[..., :n, :]
