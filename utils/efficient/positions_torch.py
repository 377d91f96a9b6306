"""PyTorch versions of `utils.efficient.positions_numpy`: same names and meaning."""

from __future__ import annotations

import torch

from utils.efficient import positions_numpy as ref


def sinusoidal_positions(n: int, d_model: int, base: float = 10000.0) -> torch.Tensor:
    """(n, d_model) float32 table: sin in even columns, cos in odd columns."""
    return torch.from_numpy(ref.sinusoidal_positions(n, d_model, base)).float()


def apply_rope(x: torch.Tensor, positions: torch.Tensor | None = None, base: float = 10000.0) -> torch.Tensor:
    """Rotate pairs (2i, 2i+1) of x (..., n, d) by positions · θ_i; positions default to 0..n-1."""
    if x.ndim < 2 or x.shape[-1] % 2:
        raise ValueError(f"x must have shape (..., n, d) with d even, got {tuple(x.shape)}")
    n, d = x.shape[-2:]
    pos = torch.arange(n) if positions is None else torch.as_tensor(positions)
    if tuple(pos.shape) != (n,):
        raise ValueError(f"positions must have shape (n,) = ({n},), got {tuple(pos.shape)}")
    theta = torch.from_numpy(ref.rope_frequencies(d, base))
    angles = pos.to(torch.float64)[:, None] * theta[None, :]            # (n, d/2)
    cos, sin = torch.cos(angles).to(x.dtype), torch.sin(angles).to(x.dtype)
    x_even, x_odd = x[..., 0::2], x[..., 1::2]
    rotated = torch.stack((x_even * cos - x_odd * sin, x_even * sin + x_odd * cos), dim=-1)
    return rotated.flatten(-2)                                           # interleave back to (..., n, d)


def alibi_bias(n_heads: int, n: int, m: int | None = None) -> torch.Tensor:
    """(heads, n, m) float32 bias -slope_h · |i + (m - n) - j|."""
    return torch.from_numpy(ref.alibi_bias(n_heads, n, m)).float()
