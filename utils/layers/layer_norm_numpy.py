"""Layer normalisation in NumPy: the one definition every NumPy model in the course uses.

LayerNorm(x) = (x - mean) / √(var + eps) · γ + β over the last axis, with the biased variance
(Ba, Kiros & Hinton 2016, "Layer Normalization", arXiv:1607.06450). `eps` differs between models
(the Transformer and GPT-2 use 1e-5, BERT and MiniLM 1e-12), so it is a parameter.
"""

from __future__ import annotations

import numpy as np


def layer_norm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    """Normalise x (..., d) over its last axis, then scale by gamma (d,) and shift by beta (d,)."""
    x, gamma, beta = np.asarray(x), np.asarray(gamma), np.asarray(beta)
    if x.ndim < 1 or gamma.shape != x.shape[-1:] or beta.shape != x.shape[-1:]:
        raise ValueError(f"layer_norm: x (..., d) and gamma, beta (d,) must agree; got x {x.shape}, "
                         f"gamma {gamma.shape}, beta {beta.shape}")
    if not eps >= 0:
        raise ValueError(f"layer_norm: eps must be >= 0, got {eps}")
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gamma + beta
