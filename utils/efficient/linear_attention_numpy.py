"""Linear attention in NumPy, the reference (Katharopoulos et al. 2020; Choromanski et al. 2021).

Replace exp(q·k/√d) by a product of features φ(q)·φ(k). Then
    out_i = φ(q_i) Σ_j φ(k_j) v_jᵀ / φ(q_i) Σ_j φ(k_j),
and the sums over j are computed once: O(n·m·d) instead of O(n²·d). Causally, the sums
are a running state S_t = S_{t-1} + φ(k_t) v_tᵀ, z_t = z_{t-1} + φ(k_t): an RNN.

Feature maps: `elu_feature_map` (elu(x) + 1, a different kernel, not an approximation of
softmax) and `performer_features` (positive random features whose dot products estimate
exp(q·k/√d), so they approximate softmax attention as the number of features m grows).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

FeatureMap = Callable[[np.ndarray], np.ndarray]


def elu_feature_map(x: np.ndarray) -> np.ndarray:
    """elu(x) + 1: x + 1 for x > 0, exp(x) otherwise; always positive."""
    x = np.asarray(x)
    return np.where(x > 0, x + 1.0, np.exp(np.minimum(x, 0.0)))


def random_features(d: int, m: int, seed: int = 0, orthogonal: bool = True) -> np.ndarray:
    """(m, d) Gaussian projections ω; orthogonal blocks (with chi-distributed norms) reduce variance."""
    rng = np.random.default_rng(seed)
    if not orthogonal:
        return rng.normal(size=(m, d))
    blocks = []
    for _ in range(-(-m // d)):
        q, _ = np.linalg.qr(rng.normal(size=(d, d)))
        blocks.append(q.T * np.linalg.norm(rng.normal(size=(d, d)), axis=1)[:, None])
    return np.concatenate(blocks)[:m]


def performer_features(x: np.ndarray, omega: np.ndarray, is_query: bool) -> np.ndarray:
    """Positive random features φ(x) = exp(ω·x' - |x'|²/2) / √m with x' = x / d^¼ (FAVOR+)."""
    x = np.asarray(x, dtype=np.float64)
    if x.shape[-1] != omega.shape[1]:
        raise ValueError(f"x (..., n, d) and omega (m, d) must share d; got x {x.shape}, omega {omega.shape}")
    x = x / x.shape[-1] ** 0.25
    proj = x @ omega.T - 0.5 * np.sum(x**2, axis=-1, keepdims=True)  # (..., n, m)
    # A constant factor cancels in the normalisation: per query row, or one for all keys.
    shift = proj.max(axis=-1, keepdims=True) if is_query else proj.max(axis=(-1, -2), keepdims=True)
    return np.exp(proj - shift) / np.sqrt(omega.shape[0])


def check_features(q: np.ndarray, k: np.ndarray, v: np.ndarray) -> None:
    """Raise ValueError unless features φ(q), φ(k) (..., n, m) and v (..., n, d_v) share (..., n)."""
    if q.ndim < 2 or q.shape[:-1] != k.shape[:-1] or k.shape[:-1] != v.shape[:-1]:
        raise ValueError(f"q, k (..., n, m) and v (..., n, d_v) must share (..., n); got q {q.shape}, k {k.shape}, v {v.shape}")


def linear_attention(phi_q: np.ndarray, phi_k: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Non-causal: φ(Q) (φ(K)ᵀ V) / φ(Q) (φ(K)ᵀ 1), given features φ(Q), φ(K) (..., n, m)."""
    phi_q, phi_k, v = (np.asarray(a) for a in (phi_q, phi_k, v))
    check_features(phi_q, phi_k, v)
    kv = np.swapaxes(phi_k, -1, -2) @ v                   # (..., m, d_v): computed once
    z = phi_k.sum(axis=-2)                                # (..., m)
    return (phi_q @ kv) / (phi_q @ z[..., None])          # (..., n, d_v)


def causal_linear_attention(phi_q: np.ndarray, phi_k: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Causal, parallel form: (φ(Q) φ(K)ᵀ ⊙ lower-triangle) V / row sums; O(n²), the reference."""
    phi_q, phi_k, v = (np.asarray(a) for a in (phi_q, phi_k, v))
    check_features(phi_q, phi_k, v)
    a = np.tril(phi_q @ np.swapaxes(phi_k, -1, -2))       # (..., n, n)
    return (a @ v) / a.sum(axis=-1, keepdims=True)


def causal_linear_attention_recurrent(phi_q: np.ndarray, phi_k: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Causal, recurrent form: S_t = S_{t-1} + φ(k_t) v_tᵀ, z_t = z_{t-1} + φ(k_t); O(n) steps, O(1) state."""
    phi_q, phi_k, v = (np.asarray(a) for a in (phi_q, phi_k, v))
    check_features(phi_q, phi_k, v)
    lead, (n, m), d_v = phi_q.shape[:-2], phi_q.shape[-2:], v.shape[-1]
    state = np.zeros((*lead, m, d_v))                     # S: (..., m, d_v)
    z = np.zeros((*lead, m))                              # z: (..., m)
    out = np.empty((*lead, n, d_v))
    for t in range(n):
        state += phi_k[..., t, :, None] * v[..., t, None, :]
        z += phi_k[..., t, :]
        out[..., t, :] = (phi_q[..., t, None, :] @ state)[..., 0, :] / (phi_q[..., t, :] * z).sum(-1, keepdims=True)
    return out


def causal_linear_attention_chunked(phi_q: np.ndarray, phi_k: np.ndarray, v: np.ndarray, chunk: int = 64) -> np.ndarray:
    """Causal, chunked form: quadratic inside each chunk, the recurrent state across chunks; O(n·(chunk + m))."""
    phi_q, phi_k, v = (np.asarray(a) for a in (phi_q, phi_k, v))
    check_features(phi_q, phi_k, v)
    lead, (n, m), d_v = phi_q.shape[:-2], phi_q.shape[-2:], v.shape[-1]
    state, z = np.zeros((*lead, m, d_v)), np.zeros((*lead, m))
    out = np.empty((*lead, n, d_v))
    for s in range(0, n, chunk):
        fq, fk, vc = phi_q[..., s:s + chunk, :], phi_k[..., s:s + chunk, :], v[..., s:s + chunk, :]
        a = np.tril(fq @ np.swapaxes(fk, -1, -2))         # (..., c, c) inside the chunk
        num = fq @ state + a @ vc
        den = fq @ z[..., None] + a.sum(axis=-1, keepdims=True)
        out[..., s:s + chunk, :] = num / den
        state = state + np.swapaxes(fk, -1, -2) @ vc
        z = z + fk.sum(axis=-2)
    return out
