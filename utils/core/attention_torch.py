"""PyTorch versions of the reference functions in `utils.core.attention_numpy`, same names and meaning."""

from __future__ import annotations

import math

import numpy as np
import torch

from utils.core.validation import check_attention_shapes, check_mask_dtype


def softmax(x: torch.Tensor, axis: int = -1) -> torch.Tensor:
    """Numerically stable softmax along `axis`; a slice that is all -inf gives all zeros."""
    x = torch.as_tensor(x)
    if x.ndim and x.shape[axis] == 0:  # nothing to normalise over (no keys): an empty slice of weights
        return torch.zeros_like(x)
    x_max = x.amax(dim=axis, keepdim=True)
    x_max = torch.where(torch.isfinite(x_max), x_max, torch.zeros_like(x_max))
    e = torch.exp(x - x_max)
    total = e.sum(dim=axis, keepdim=True)
    return torch.where(total > 0, e / total.clamp_min(torch.finfo(e.dtype).tiny), torch.zeros_like(e))


def scaled_dot_product_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (output, weights) of softmax(q kᵀ / √d_k) v; mask True = may attend."""
    q, k, v = (torch.as_tensor(a) for a in (q, k, v))
    check_attention_shapes(q.shape, k.shape, v.shape, None if mask is None else tuple(mask.shape))
    compute = torch.float32 if q.dtype in (torch.float16, torch.bfloat16) else q.dtype
    q, k, v = (a.to(compute) for a in (q, k, v))
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (..., n_q, n_k)
    if mask is not None:
        mask = torch.as_tensor(mask)
        check_mask_dtype(str(mask.dtype).removeprefix("torch."))
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = softmax(scores, axis=-1)
    return weights @ v, weights


def causal_mask(n: int, m: int | None = None) -> torch.Tensor:
    """Boolean (n, m) mask, True = may attend: query i sees keys 0..i (+ m - n cached keys)."""
    from utils.core.attention_numpy import causal_mask as np_causal_mask

    return torch.from_numpy(np_causal_mask(n, m))


def padding_mask(lengths: torch.Tensor, n: int) -> torch.Tensor:
    """Boolean (batch, n) key mask, True where position < length."""
    from utils.core.attention_numpy import padding_mask as np_padding_mask

    lengths = lengths.numpy() if isinstance(lengths, torch.Tensor) else np.asarray(lengths)
    return torch.from_numpy(np_padding_mask(lengths, n))
