"""TensorFlow versions of `utils.efficient.linear_attention_numpy`: same names and meaning."""

from __future__ import annotations

from typing import Any

from utils.core.frameworks import import_tensorflow

tf = import_tensorflow()


def elu_feature_map(x: Any) -> Any:
    """elu(x) + 1, always positive."""
    return tf.nn.elu(x) + 1.0


def performer_features(x: Any, omega: Any, is_query: bool) -> Any:
    """Positive random features φ(x) = exp(ω·x' - |x'|²/2) / √m with x' = x / d^¼ (FAVOR+)."""
    x = tf.convert_to_tensor(x)
    if x.shape[-1] != omega.shape[1]:
        raise ValueError(f"x (..., n, d) and omega (m, d) must share d; got x {tuple(x.shape)}, omega {tuple(omega.shape)}")
    x = x / x.shape[-1] ** 0.25
    proj = tf.matmul(x, tf.cast(omega, x.dtype), transpose_b=True) - 0.5 * tf.reduce_sum(x**2, -1, keepdims=True)
    shift = tf.reduce_max(proj, axis=-1 if is_query else (-1, -2), keepdims=True)
    return tf.exp(proj - shift) / omega.shape[0] ** 0.5


def linear_attention(phi_q: Any, phi_k: Any, v: Any) -> Any:
    """Non-causal: φ(Q) (φ(K)ᵀ V) / φ(Q) (φ(K)ᵀ 1)."""
    kv = tf.matmul(phi_k, v, transpose_a=True)            # (..., m, d_v)
    z = tf.reduce_sum(phi_k, axis=-2)[..., None]          # (..., m, 1)
    return tf.matmul(phi_q, kv) / tf.matmul(phi_q, z)


def causal_linear_attention(phi_q: Any, phi_k: Any, v: Any) -> Any:
    """Causal, parallel form with an (n, n) lower-triangular matrix; the O(n²) reference."""
    a = tf.linalg.band_part(tf.matmul(phi_q, phi_k, transpose_b=True), -1, 0)
    return tf.matmul(a, v) / tf.reduce_sum(a, axis=-1, keepdims=True)


def causal_linear_attention_chunked(phi_q: Any, phi_k: Any, v: Any, chunk: int = 64) -> Any:
    """Causal, chunked form: quadratic inside each chunk, the recurrent state across chunks."""
    phi_q, phi_k, v = (tf.convert_to_tensor(a) for a in (phi_q, phi_k, v))
    n = phi_q.shape[-2]
    state = tf.zeros([*phi_q.shape[:-2], phi_q.shape[-1], v.shape[-1]], phi_q.dtype)   # S: (..., m, d_v)
    z = tf.zeros([*phi_q.shape[:-2], phi_q.shape[-1], 1], phi_q.dtype)                 # z: (..., m, 1)
    outs = []
    for s in range(0, n, chunk):
        fq, fk, vc = phi_q[..., s:s + chunk, :], phi_k[..., s:s + chunk, :], v[..., s:s + chunk, :]
        a = tf.linalg.band_part(tf.matmul(fq, fk, transpose_b=True), -1, 0)             # (..., c, c)
        outs.append((fq @ state + a @ vc) / (fq @ z + tf.reduce_sum(a, axis=-1, keepdims=True)))
        state = state + tf.matmul(fk, vc, transpose_a=True)
        z = z + tf.reduce_sum(fk, axis=-2)[..., None]
    return tf.concat(outs, axis=-2)
