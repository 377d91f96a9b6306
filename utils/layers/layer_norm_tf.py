"""Layer normalisation in TensorFlow: the twin of `utils.layers.layer_norm_numpy` (same formula, same default eps)."""

from __future__ import annotations

from typing import Any

from utils.core.frameworks import import_tensorflow

tf = import_tensorflow()


def layer_norm(x: Any, gamma: Any, beta: Any, eps: float = 1e-5) -> Any:
    """Normalise x (..., d) over its last axis, then scale by gamma (d,) and shift by beta (d,)."""
    mean = tf.reduce_mean(x, axis=-1, keepdims=True)
    var = tf.reduce_mean(tf.square(x - mean), axis=-1, keepdims=True)  # the biased variance
    return (x - mean) / tf.sqrt(var + eps) * gamma + beta
