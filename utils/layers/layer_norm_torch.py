"""Layer normalisation in PyTorch: the twin of `utils.layers.layer_norm_numpy` (same formula, same default eps).

`torch.nn.functional.layer_norm` computes the same thing; this one is written out so that the three
frameworks' models read alike, and `tests/test_layer_norm.py` checks it against both.
"""

from __future__ import annotations

import torch


def layer_norm(x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Normalise x (..., d) over its last axis, then scale by gamma (d,) and shift by beta (d,)."""
    mean = x.mean(dim=-1, keepdim=True)
    var = ((x - mean) ** 2).mean(dim=-1, keepdim=True)  # the biased variance
    return (x - mean) / torch.sqrt(var + eps) * gamma + beta
