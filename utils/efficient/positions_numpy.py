"""Position schemes in NumPy, the reference: sinusoidal, RoPE (two layouts) and ALiBi.

- Sinusoidal (Vaswani et al. 2017): a fixed (n, d_model) table added to the token embeddings.
- RoPE (Su et al. 2021): rotate pairs of features of q and k by the angle position · θ_i,
  θ_i = base^(-2i/d). Then q_m · k_n depends only on m - n. Two layouts pair the features
  differently: `apply_rope` rotates adjacent pairs (2i, 2i+1), as the RoFormer paper and GPT-J do;
  `apply_rope_half` rotates (i, i + d/2), as Llama, Mistral, GPT-NeoX and Hugging Face's
  `rotate_half` do. They are the same rotation up to the fixed permutation `rope_permutation`.
- ALiBi (Press et al. 2022): no embedding at all; add -slope_h · distance to the scores.
"""

from __future__ import annotations

import math

import numpy as np

from utils.core.validation import check_positive


def sinusoidal_positions(n: int, d_model: int, base: float = 10000.0) -> np.ndarray:
    """(n, d_model) table: sin(p / base^(2i/d)) in even columns, cos(...) in odd columns."""
    check_positive(n=n, d_model=d_model)
    if d_model % 2:
        raise ValueError(f"d_model must be even, got {d_model}")
    angles = np.arange(n)[:, None] * rope_frequencies(d_model, base)[None, :]  # (n, d/2)
    table = np.empty((n, d_model))
    table[:, 0::2], table[:, 1::2] = np.sin(angles), np.cos(angles)
    return table


def rope_frequencies(d: int, base: float = 10000.0) -> np.ndarray:
    """θ_i = base^(-2i/d) for i = 0 .. d/2 - 1, the rotation speed of each feature pair."""
    check_positive(d=d)
    if d % 2:
        raise ValueError(f"d must be even (features are rotated in pairs), got {d}")
    return base ** (-np.arange(0, d, 2) / d)


def rope_angles(n: int, d: int, positions: np.ndarray | None = None, base: float = 10000.0) -> np.ndarray:
    """(n, d/2) float64 angles p · θ_i for the positions p (default 0 .. n-1) of n rows."""
    pos = np.arange(n) if positions is None else np.asarray(positions)
    if pos.shape != (n,):
        raise ValueError(f"positions must have shape (n,) = ({n},), got {pos.shape}")
    return pos[:, None].astype(np.float64) * rope_frequencies(d, base)[None, :]


def check_rope_input(x: np.ndarray) -> np.ndarray:
    """Raise ValueError unless x has shape (..., n, d) with d even."""
    x = np.asarray(x)
    if x.ndim < 2 or x.shape[-1] % 2:
        raise ValueError(f"x must have shape (..., n, d) with d even, got {x.shape}")
    return x


def apply_rope(x: np.ndarray, positions: np.ndarray | None = None, base: float = 10000.0) -> np.ndarray:
    """Rotate pairs (2i, 2i+1) of x (..., n, d) by positions · θ_i; positions default to 0..n-1."""
    x = check_rope_input(x)
    angles = rope_angles(*x.shape[-2:], positions, base)                        # (n, d/2)
    cos, sin = np.cos(angles).astype(x.dtype), np.sin(angles).astype(x.dtype)
    x_even, x_odd = x[..., 0::2], x[..., 1::2]                                  # pair i = (2i, 2i+1)
    out = np.empty_like(x)
    out[..., 0::2] = x_even * cos - x_odd * sin
    out[..., 1::2] = x_even * sin + x_odd * cos
    return out


def rotate_half(x: np.ndarray) -> np.ndarray:
    """(x1, x2) -> (-x2, x1), where x1 and x2 are the two halves of the last axis."""
    x1, x2 = np.split(x, 2, axis=-1)
    return np.concatenate([-x2, x1], axis=-1)


def apply_rope_half(x: np.ndarray, positions: np.ndarray | None = None, base: float = 10000.0) -> np.ndarray:
    """Rotate pairs (i, i + d/2) of x (..., n, d) by positions · θ_i: the Llama / GPT-NeoX layout."""
    x = check_rope_input(x)
    angles = rope_angles(*x.shape[-2:], positions, base)
    angles = np.concatenate([angles, angles], axis=-1)                         # (n, d): θ_i twice
    return x * np.cos(angles).astype(x.dtype) + rotate_half(x) * np.sin(angles).astype(x.dtype)


def rope_permutation(d: int) -> np.ndarray:
    """Feature order p with apply_rope_half(x[..., p]) == apply_rope(x)[..., p]: even features, then odd."""
    rope_frequencies(d)                                                         # d must be a positive even int
    return np.concatenate([np.arange(0, d, 2), np.arange(1, d, 2)])


def alibi_slopes(n_heads: int) -> np.ndarray:
    """Press et al.'s head slopes: 2^(-8/h), 2^(-16/h), ... (interleaved when h is not a power of 2)."""
    check_positive(n_heads=n_heads)
    closest = 2 ** math.floor(math.log2(n_heads))
    slopes = [2.0 ** (-8.0 * (i + 1) / closest) for i in range(closest)]
    if closest < n_heads:  # the paper's recipe: take every other slope of the 2·closest sequence
        extra = [2.0 ** (-8.0 * (i + 1) / (2 * closest)) for i in range(2 * closest)]
        slopes += extra[0::2][: n_heads - closest]
    return np.array(slopes)


def alibi_bias(n_heads: int, n: int, m: int | None = None) -> np.ndarray:
    """(heads, n, m) bias -slope_h · |i + (m - n) - j| added to the scores (queries are the last n of m)."""
    m = n if m is None else m
    check_positive(n=n, m=m)
    if m < n:
        raise ValueError(f"m (keys) must be >= n (queries), got n={n}, m={m}")
    query_pos = np.arange(n) + (m - n)
    distance = np.abs(query_pos[:, None] - np.arange(m)[None, :])  # (n, m)
    return -alibi_slopes(n_heads)[:, None, None] * distance[None]
