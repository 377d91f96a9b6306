"""PyTorch versions of `utils.efficient.positions_numpy`: same names and meaning."""

from __future__ import annotations

import torch

from utils.efficient import positions_numpy as ref
from utils.efficient.positions_numpy import rope_frequencies


def sinusoidal_positions(n: int, d_model: int, base: float = 10000.0) -> torch.Tensor:
    """(n, d_model) float32 table: sin in even columns, cos in odd columns."""
    return torch.from_numpy(ref.sinusoidal_positions(n, d_model, base)).float()


def rope_angles(n: int, d: int, positions: torch.Tensor | None = None, base: float = 10000.0) -> torch.Tensor:
    """(n, d/2) float64 angles p · θ_i for the positions p (default 0 .. n-1) of n rows."""
    pos = torch.arange(n) if positions is None else torch.as_tensor(positions)
    if tuple(pos.shape) != (n,):
        raise ValueError(f"positions must have shape (n,) = ({n},), got {tuple(pos.shape)}")
    return pos.to(torch.float64)[:, None] * torch.from_numpy(rope_frequencies(d, base))[None, :]


def check_rope_input(x: torch.Tensor) -> torch.Tensor:
    """Raise ValueError unless x has shape (..., n, d) with d even."""
    if x.ndim < 2 or x.shape[-1] % 2:
        raise ValueError(f"x must have shape (..., n, d) with d even, got {tuple(x.shape)}")
    return x


def apply_rope(x: torch.Tensor, positions: torch.Tensor | None = None, base: float = 10000.0) -> torch.Tensor:
    """Rotate pairs (2i, 2i+1) of x (..., n, d) by positions · θ_i; positions default to 0..n-1."""
    angles = rope_angles(*check_rope_input(x).shape[-2:], positions, base)    # (n, d/2)
    cos, sin = torch.cos(angles).to(x.dtype), torch.sin(angles).to(x.dtype)
    x_even, x_odd = x[..., 0::2], x[..., 1::2]                                  # pair i = (2i, 2i+1)
    rotated = torch.stack((x_even * cos - x_odd * sin, x_even * sin + x_odd * cos), dim=-1)
    return rotated.flatten(-2)                                                   # interleave back to (..., n, d)


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """(x1, x2) -> (-x2, x1), where x1 and x2 are the two halves of the last axis."""
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def apply_rope_half(x: torch.Tensor, positions: torch.Tensor | None = None, base: float = 10000.0) -> torch.Tensor:
    """Rotate pairs (i, i + d/2) of x (..., n, d) by positions · θ_i: the Llama / GPT-NeoX layout."""
    angles = rope_angles(*check_rope_input(x).shape[-2:], positions, base)
    angles = torch.cat((angles, angles), dim=-1)                                # (n, d): θ_i twice
    return x * torch.cos(angles).to(x.dtype) + rotate_half(x) * torch.sin(angles).to(x.dtype)


def alibi_bias(n_heads: int, n: int, m: int | None = None) -> torch.Tensor:
    """(heads, n, m) float32 bias -slope_h · |i + (m - n) - j|."""
    return torch.from_numpy(ref.alibi_bias(n_heads, n, m)).float()
