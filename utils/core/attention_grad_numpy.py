"""The backward pass of scaled dot-product attention, by hand in NumPy, and a finite-difference check.

Forward (chapter 04), with s = 1/√d_k and masked scores set to -inf:

    S = s · Q Kᵀ      P = softmax(S)      O = P V

Backward, given dO = ∂L/∂O:

    dV = Pᵀ dO        dP = dO Vᵀ          dS = P ⊙ (dP − rowsum(dP ⊙ P))
    dQ = s · dS K     dK = s · dSᵀ Q

Masked entries have P = 0, so dS = 0 there; a fully masked row gives zero gradients.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from utils.core.attention_numpy import scaled_dot_product_attention
from utils.core.validation import check_attention_shapes


def softmax_backward(weights: np.ndarray, d_weights: np.ndarray, axis: int = -1) -> np.ndarray:
    """∂L/∂scores from the softmax output P and ∂L/∂P: P ⊙ (dP − Σ_axis dP ⊙ P)."""
    weights, d_weights = np.asarray(weights), np.asarray(d_weights)
    if weights.shape != d_weights.shape:
        raise ValueError(f"weights and d_weights must have the same shape, got {weights.shape} and {d_weights.shape}")
    inner = np.sum(d_weights * weights, axis=axis, keepdims=True)
    return weights * (d_weights - inner)


def _sum_to_shape(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum a broadcast gradient back down to the shape of the input it belongs to."""
    extra = grad.ndim - len(shape)
    grad = grad.sum(axis=tuple(range(extra))) if extra > 0 else grad
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    return grad.sum(axis=axes, keepdims=True) if axes else grad


def attention_backward(
    d_output: np.ndarray, q: np.ndarray, k: np.ndarray, v: np.ndarray, mask: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (dQ, dK, dV) of softmax(Q Kᵀ/√d_k) V for the upstream gradient d_output; mask True = may attend."""
    output, weights = scaled_dot_product_attention(q, k, v, mask)  # validates shapes, dtypes and mask
    d_output = np.asarray(d_output)
    if d_output.shape != output.shape:
        raise ValueError(f"d_output must have the output's shape {output.shape}, got {d_output.shape}")
    q, k, v = (np.asarray(a, dtype=output.dtype) for a in (q, k, v))
    d_output = d_output.astype(output.dtype, copy=False)
    scale = 1.0 / np.sqrt(q.shape[-1])
    d_v = np.swapaxes(weights, -1, -2) @ d_output  # (..., n_k, d_v)
    d_weights = d_output @ np.swapaxes(v, -1, -2)  # (..., n_q, n_k)
    d_scores = softmax_backward(weights, d_weights) * scale  # (..., n_q, n_k); includes ∂S/∂(QKᵀ) = s
    d_q = d_scores @ k  # (..., n_q, d_k)
    d_k = np.swapaxes(d_scores, -1, -2) @ q  # (..., n_k, d_k)
    return (
        _sum_to_shape(d_q, q.shape).astype(output.dtype, copy=False),
        _sum_to_shape(d_k, k.shape).astype(output.dtype, copy=False),
        _sum_to_shape(d_v, v.shape).astype(output.dtype, copy=False),
    )


def numerical_gradient(f: Callable[[np.ndarray], float], x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central finite differences (f(x + ε e_i) − f(x − ε e_i)) / 2ε of a scalar function, in float64."""
    x = np.array(x, dtype=np.float64)
    if not eps > 0:
        raise ValueError(f"eps must be positive, got {eps!r}")
    grad = np.zeros_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        saved = flat[i]
        flat[i] = saved + eps
        plus = float(f(x))
        flat[i] = saved - eps
        minus = float(f(x))
        flat[i] = saved
        gflat[i] = (plus - minus) / (2 * eps)
    return grad


def attention_gradient_check(
    q: np.ndarray, k: np.ndarray, v: np.ndarray, mask: np.ndarray | None = None, seed: int = 0, eps: float = 1e-6
) -> dict[str, float]:
    """Max relative error of attention_backward against finite differences, for dQ, dK and dV (float64)."""
    q, k, v = (np.asarray(a, dtype=np.float64) for a in (q, k, v))
    check_attention_shapes(q.shape, k.shape, v.shape, None if mask is None else np.shape(mask))
    d_output = np.random.default_rng(seed).normal(size=scaled_dot_product_attention(q, k, v, mask)[0].shape)

    def loss(qq: np.ndarray, kk: np.ndarray, vv: np.ndarray) -> float:
        return float(np.sum(scaled_dot_product_attention(qq, kk, vv, mask)[0] * d_output))

    analytic = attention_backward(d_output, q, k, v, mask)
    numeric = (
        numerical_gradient(lambda x: loss(x, k, v), q, eps),
        numerical_gradient(lambda x: loss(q, x, v), k, eps),
        numerical_gradient(lambda x: loss(q, k, x), v, eps),
    )
    errors = {}
    for name, a, n in zip(("dQ", "dK", "dV"), analytic, numeric):
        errors[name] = float(np.max(np.abs(a - n)) / max(1.0, float(np.max(np.abs(n)))))
    return errors
