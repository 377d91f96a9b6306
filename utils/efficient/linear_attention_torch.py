"""PyTorch versions of `utils.efficient.linear_attention_numpy`: same names and meaning."""

from __future__ import annotations

import torch


def elu_feature_map(x: torch.Tensor) -> torch.Tensor:
    """elu(x) + 1, always positive."""
    return torch.nn.functional.elu(x) + 1.0


def performer_features(x: torch.Tensor, omega: torch.Tensor, is_query: bool) -> torch.Tensor:
    """Positive random features φ(x) = exp(ω·x' - |x'|²/2) / √m with x' = x / d^¼ (FAVOR+)."""
    if x.shape[-1] != omega.shape[1]:
        raise ValueError(f"x (..., n, d) and omega (m, d) must share d; got x {tuple(x.shape)}, omega {tuple(omega.shape)}")
    x = x / x.shape[-1] ** 0.25
    proj = x @ omega.T.to(x.dtype) - 0.5 * (x**2).sum(-1, keepdim=True)
    shift = proj.amax(dim=-1, keepdim=True) if is_query else proj.amax(dim=(-1, -2), keepdim=True)
    return torch.exp(proj - shift) / omega.shape[0] ** 0.5


def linear_attention(phi_q: torch.Tensor, phi_k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Non-causal: φ(Q) (φ(K)ᵀ V) / φ(Q) (φ(K)ᵀ 1)."""
    kv = phi_k.transpose(-1, -2) @ v                      # (..., m, d_v)
    z = phi_k.sum(dim=-2)                                 # (..., m)
    return (phi_q @ kv) / (phi_q @ z[..., None])


def causal_linear_attention(phi_q: torch.Tensor, phi_k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Causal, parallel form with an (n, n) lower-triangular matrix; the O(n²) reference."""
    a = torch.tril(phi_q @ phi_k.transpose(-1, -2))
    return (a @ v) / a.sum(dim=-1, keepdim=True)


def causal_linear_attention_chunked(
    phi_q: torch.Tensor, phi_k: torch.Tensor, v: torch.Tensor, chunk: int = 64
) -> torch.Tensor:
    """Causal, chunked form: quadratic inside each chunk, the recurrent state across chunks."""
    lead, (n, m), d_v = phi_q.shape[:-2], phi_q.shape[-2:], v.shape[-1]
    state = phi_q.new_zeros((*lead, m, d_v))
    z = phi_q.new_zeros((*lead, m, 1))
    outs = []
    for s in range(0, n, chunk):
        fq, fk, vc = phi_q[..., s:s + chunk, :], phi_k[..., s:s + chunk, :], v[..., s:s + chunk, :]
        a = torch.tril(fq @ fk.transpose(-1, -2))          # (..., c, c)
        outs.append((fq @ state + a @ vc) / (fq @ z + a.sum(dim=-1, keepdim=True)))
        state = state + fk.transpose(-1, -2) @ vc
        z = z + fk.sum(dim=-2)[..., None]
    return torch.cat(outs, dim=-2)
