"""TensorFlow version of `utils.efficient.sparse_attention_numpy.banded_attention`: same name and meaning."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from utils.core.frameworks import import_tensorflow
from utils.efficient.sparse_attention_numpy import _band_allowed, _check_positive

tf = import_tensorflow()


def _band_bias(chunks: int, window: int, dtype: Any) -> Any:
    """(chunks, w, 2w) additive bias: 0 where a query of a chunk may see a key, -inf elsewhere."""
    allowed = np.broadcast_to(_band_allowed(window), (chunks, window, 2 * window)).copy()
    allowed[0, :, :window] = False                                    # chunk 0 has no previous chunk
    return tf.constant(np.where(allowed, 0.0, -np.inf), dtype=dtype)


def banded_attention(q: Any, k: Any, v: Any, window: int) -> Any:
    """Causal sliding-window attention of q, k, v (..., n, d) in O(n·window) time and memory."""
    q, k, v = (tf.convert_to_tensor(a) for a in (q, k, v))
    if q.shape.rank < 2 or q.shape != k.shape or k.shape[:-1] != v.shape[:-1]:
        raise ValueError(f"q and k must have equal shapes (..., n, d), v (..., n, d_v); got q {tuple(q.shape)}, "
                         f"k {tuple(k.shape)}, v {tuple(v.shape)}")
    _check_positive(window=window)
    n, d = q.shape[-2:]
    chunks = -(-n // window)
    pad_end = chunks * window - n
    lead = q.shape[:-2].as_list()

    def pad(x: Any, front: int) -> Any:
        return tf.pad(x, [[0, 0]] * len(lead) + [[front, pad_end], [0, 0]])

    q_c = tf.reshape(pad(q, 0), [*lead, chunks, window, d])                     # (..., C, w, d)
    k_c = tf.reshape(pad(k, window), [*lead, chunks + 1, window, d])            # (..., C+1, w, d), chunk -1 is zeros
    v_c = tf.reshape(pad(v, window), [*lead, chunks + 1, window, v.shape[-1]])
    k_w = tf.concat([k_c[..., :-1, :, :], k_c[..., 1:, :, :]], axis=-2)         # (..., C, 2w, d)
    v_w = tf.concat([v_c[..., :-1, :, :], v_c[..., 1:, :, :]], axis=-2)
    scores = tf.matmul(q_c, k_w, transpose_b=True) / math.sqrt(d)               # (..., C, w, 2w)
    weights = tf.nn.softmax(scores + _band_bias(chunks, window, scores.dtype), axis=-1)
    out = tf.reshape(tf.matmul(weights, v_w), [*lead, chunks * window, v.shape[-1]])
    return out[..., :n, :]
