"""PyTorch version of `utils.efficient.sparse_attention_numpy.banded_attention`: same name and meaning."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from utils.core.validation import check_positive
from utils.efficient.sparse_attention_numpy import band_allowed

CHUNKS_PER_STEP = 8


def chunks_with_previous(x: torch.Tensor, window: int) -> torch.Tensor:
    """(..., n, d) -> (..., C, 2·window, d): chunk c of `window` rows, preceded by chunk c - 1 (zeros for c = 0)."""
    n, d = x.shape[-2:]
    chunks = -(-n // window)
    x_c = F.pad(x, (0, 0, window, chunks * window - n)).reshape(*x.shape[:-2], chunks + 1, window, d)
    return torch.cat([x_c[..., :-1, :, :], x_c[..., 1:, :, :]], dim=-2)


def banded_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, window: int) -> torch.Tensor:
    """Causal sliding-window attention of q, k, v (..., n, d) in O(n·window) time and memory."""
    if q.ndim < 2 or q.shape != k.shape or k.shape[:-1] != v.shape[:-1]:
        raise ValueError(f"q and k must have equal shapes (..., n, d), v (..., n, d_v); got q {tuple(q.shape)}, "
                         f"k {tuple(k.shape)}, v {tuple(v.shape)}")
    check_positive(window=window)
    n, d = q.shape[-2:]
    chunks = -(-n // window)
    q_c = chunks_with_previous(q, window)[..., window:, :]                       # (..., C, w, d): own chunk only
    k_w, v_w = chunks_with_previous(k, window), chunks_with_previous(v, window)  # (..., C, 2w, d)
    bias = torch.zeros(chunks, window, 2 * window, dtype=q.dtype).masked_fill(
        ~torch.from_numpy(band_allowed(window, chunks)), float("-inf"))          # (C, w, 2w)
    outs = []
    for c in range(0, chunks, CHUNKS_PER_STEP):  # a few chunks at a time: the scores stay in cache
        sl = slice(c, c + CHUNKS_PER_STEP)
        scores = q_c[..., sl, :, :] @ k_w[..., sl, :, :].transpose(-1, -2) / math.sqrt(d) + bias[sl]
        outs.append(torch.softmax(scores, dim=-1) @ v_w[..., sl, :, :])        # (..., c, w, d_v)
    out = torch.cat(outs, dim=-3).reshape(*q.shape[:-2], chunks * window, v.shape[-1])
    return out[..., :n, :]
