"""TensorFlow versions of `utils.efficient.positions_numpy`: same names and meaning."""

from __future__ import annotations

from typing import Any

from utils.core.frameworks import import_tensorflow
from utils.efficient import positions_numpy as ref
from utils.efficient.positions_numpy import rope_frequencies

tf = import_tensorflow()


def sinusoidal_positions(n: int, d_model: int, base: float = 10000.0) -> Any:
    """(n, d_model) float32 table: sin in even columns, cos in odd columns."""
    return tf.constant(ref.sinusoidal_positions(n, d_model, base), dtype=tf.float32)


def rope_angles(n: int, d: int, positions: Any = None, base: float = 10000.0) -> Any:
    """(n, d/2) float64 angles p · θ_i for the positions p (default 0 .. n-1) of n rows."""
    pos = tf.range(n) if positions is None else tf.convert_to_tensor(positions)
    if tuple(pos.shape) != (n,):
        raise ValueError(f"positions must have shape (n,) = ({n},), got {tuple(pos.shape)}")
    return tf.cast(pos, tf.float64)[:, None] * tf.constant(rope_frequencies(d, base))[None, :]


def check_rope_input(x: Any) -> Any:
    """Raise ValueError unless x has shape (..., n, d) with d even."""
    x = tf.convert_to_tensor(x)
    if x.shape.rank < 2 or x.shape[-1] % 2:
        raise ValueError(f"x must have shape (..., n, d) with d even, got {tuple(x.shape)}")
    return x


def apply_rope(x: Any, positions: Any = None, base: float = 10000.0) -> Any:
    """Rotate pairs (2i, 2i+1) of x (..., n, d) by positions · θ_i; positions default to 0..n-1."""
    x = check_rope_input(x)
    angles = rope_angles(x.shape[-2], x.shape[-1], positions, base)             # (n, d/2)
    cos, sin = tf.cast(tf.cos(angles), x.dtype), tf.cast(tf.sin(angles), x.dtype)
    x_even, x_odd = x[..., 0::2], x[..., 1::2]                                  # pair i = (2i, 2i+1)
    rotated = tf.stack((x_even * cos - x_odd * sin, x_even * sin + x_odd * cos), axis=-1)
    return tf.reshape(rotated, tf.shape(x))                                      # interleave back to (..., n, d)


def rotate_half(x: Any) -> Any:
    """(x1, x2) -> (-x2, x1), where x1 and x2 are the two halves of the last axis."""
    x1, x2 = tf.split(x, 2, axis=-1)
    return tf.concat((-x2, x1), axis=-1)


def apply_rope_half(x: Any, positions: Any = None, base: float = 10000.0) -> Any:
    """Rotate pairs (i, i + d/2) of x (..., n, d) by positions · θ_i: the Llama / GPT-NeoX layout."""
    x = check_rope_input(x)
    angles = rope_angles(x.shape[-2], x.shape[-1], positions, base)
    angles = tf.concat((angles, angles), axis=-1)                               # (n, d): θ_i twice
    return x * tf.cast(tf.cos(angles), x.dtype) + rotate_half(x) * tf.cast(tf.sin(angles), x.dtype)


def alibi_bias(n_heads: int, n: int, m: int | None = None) -> Any:
    """(heads, n, m) float32 bias -slope_h · |i + (m - n) - j|."""
    return tf.constant(ref.alibi_bias(n_heads, n, m), dtype=tf.float32)
