"""TensorFlow versions of `utils.efficient.linear_attention_numpy`: same names and meaning."""

from __future__ import annotations

from typing import Any

from utils.core.frameworks import import_tensorflow

tf = import_tensorflow()


def elu_feature_map(x: Any) -> Any:
    """elu(x) + 1, always positive."""
    return tf.nn.elu(x) + 1.0


def linear_attention(phi_q: Any, phi_k: Any, v: Any) -> Any:
    """Non-causal: φ(Q) (φ(K)ᵀ V) / φ(Q) (φ(K)ᵀ 1)."""
    kv = tf.matmul(phi_k, v, transpose_a=True)            # (..., m, d_v)
    z = tf.reduce_sum(phi_k, axis=-2)[..., None]          # (..., m, 1)
    return tf.matmul(phi_q, kv) / tf.matmul(phi_q, z)


def causal_linear_attention(phi_q: Any, phi_k: Any, v: Any) -> Any:
    """Causal, parallel form with an (n, n) lower-triangular matrix; the O(n²) reference."""
    a = tf.linalg.band_part(tf.matmul(phi_q, phi_k, transpose_b=True), -1, 0)
    return tf.matmul(a, v) / tf.reduce_sum(a, axis=-1, keepdims=True)
