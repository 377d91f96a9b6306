"""TensorFlow versions of `utils.efficient.positions_numpy`: same names and meaning."""

from __future__ import annotations

from typing import Any

from utils.core.frameworks import import_tensorflow
from utils.efficient import positions_numpy as ref

tf = import_tensorflow()


def sinusoidal_positions(n: int, d_model: int, base: float = 10000.0) -> Any:
    """(n, d_model) float32 table: sin in even columns, cos in odd columns."""
    return tf.constant(ref.sinusoidal_positions(n, d_model, base), dtype=tf.float32)


def apply_rope(x: Any, positions: Any = None, base: float = 10000.0) -> Any:
    """Rotate pairs (2i, 2i+1) of x (..., n, d) by positions · θ_i; positions default to 0..n-1."""
    x = tf.convert_to_tensor(x)
    if x.shape.rank < 2 or x.shape[-1] % 2:
        raise ValueError(f"x must have shape (..., n, d) with d even, got {tuple(x.shape)}")
    n, d = x.shape[-2], x.shape[-1]
    pos = tf.range(n) if positions is None else tf.convert_to_tensor(positions)
    if tuple(pos.shape) != (n,):
        raise ValueError(f"positions must have shape (n,) = ({n},), got {tuple(pos.shape)}")
    theta = tf.constant(ref.rope_frequencies(d, base), dtype=tf.float64)
    angles = tf.cast(pos, tf.float64)[:, None] * theta[None, :]          # (n, d/2)
    cos, sin = tf.cast(tf.cos(angles), x.dtype), tf.cast(tf.sin(angles), x.dtype)
    x_even, x_odd = x[..., 0::2], x[..., 1::2]
    rotated = tf.stack((x_even * cos - x_odd * sin, x_even * sin + x_odd * cos), axis=-1)
    return tf.reshape(rotated, tf.shape(x))                              # interleave back to (..., n, d)


def alibi_bias(n_heads: int, n: int, m: int | None = None) -> Any:
    """(heads, n, m) float32 bias -slope_h · |i + (m - n) - j|."""
    return tf.constant(ref.alibi_bias(n_heads, n, m), dtype=tf.float32)
