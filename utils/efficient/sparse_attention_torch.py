"""PyTorch version of `utils.efficient.sparse_attention_numpy.banded_attention`: same name and meaning."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from utils.efficient.sparse_attention_numpy import _band_allowed, _check_positive

CHUNKS_PER_STEP = 8


def banded_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, window: int) -> torch.Tensor:
    """Causal sliding-window attention of q, k, v (..., n, d) in O(n·window) time and memory."""
    if q.ndim < 2 or q.shape != k.shape or k.shape[:-1] != v.shape[:-1]:
        raise ValueError(f"q and k must have equal shapes (..., n, d), v (..., n, d_v); got q {tuple(q.shape)}, "
                         f"k {tuple(k.shape)}, v {tuple(v.shape)}")
    _check_positive(window=window)
    n, d = q.shape[-2:]
    chunks = -(-n // window)
    pad_end = chunks * window - n
    lead = q.shape[:-2]
    q_c = F.pad(q, (0, 0, 0, pad_end)).reshape(*lead, chunks, window, d)              # (..., C, w, d)
    k_c = F.pad(k, (0, 0, window, pad_end)).reshape(*lead, chunks + 1, window, d)     # chunk -1 is zeros
    v_c = F.pad(v, (0, 0, window, pad_end)).reshape(*lead, chunks + 1, window, v.shape[-1])
    k_w = torch.cat([k_c[..., :-1, :, :], k_c[..., 1:, :, :]], dim=-2)                # (..., C, 2w, d)
    v_w = torch.cat([v_c[..., :-1, :, :], v_c[..., 1:, :, :]], dim=-2)
    band_bias = torch.zeros(window, 2 * window, dtype=q.dtype).masked_fill(
        ~torch.from_numpy(_band_allowed(window)), float("-inf"))                     # (w, 2w), broadcast
    outs = []
    for c in range(0, chunks, CHUNKS_PER_STEP):  # a few chunks at a time: the scores stay in cache
        sl = slice(c, c + CHUNKS_PER_STEP)
        scores = (q_c[..., sl, :, :] / math.sqrt(d)) @ k_w[..., sl, :, :].transpose(-1, -2)  # (..., c, w, 2w)
        scores += band_bias
        if c == 0:
            scores[..., 0, :, :window] = float("-inf")                                # no chunk before 0
        outs.append(torch.softmax(scores, dim=-1) @ v_w[..., sl, :, :])
    out = torch.cat(outs, dim=-3).reshape(*lead, chunks * window, v.shape[-1])
    return out[..., :n, :]
