"""The tiled forward of `utils.efficient.flash_backward_torch`, fused by `torch.compile` (TorchInductor).

Eager PyTorch runs each tile as ~10 separate operators, and each one streams the whole
(block_q, block_k) tile through memory. `torch.compile` traces the same Python loop (mask=None,
fixed shapes) into one graph: the matrix products stay library calls, and the element-wise work
of a tile (max, subtract, exp, row sum, rescale) becomes a few generated C++ loops. Its CPU
backend needs a C++ compiler; `compiler_available()` says whether one is on PATH.
"""

from __future__ import annotations

import shutil
from functools import lru_cache
from typing import Any

import torch

from utils.efficient.flash_backward_torch import flash_forward


def compiler_available() -> bool:
    """True when a C++ compiler that TorchInductor's CPU backend can use is on PATH."""
    return any(shutil.which(name) for name in ("g++", "c++", "clang++"))


@lru_cache(maxsize=1)
def _compiled_forward() -> Any:
    return torch.compile(flash_forward, dynamic=False)


@torch.no_grad()
def flash_attention_compiled(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool = False,
                             block_q: int = 512, block_k: int = 512) -> torch.Tensor:
    """flash_forward's output, compiled (one compilation per shape and block size; the first call is slow)."""
    if not compiler_available():
        raise RuntimeError("torch.compile's CPU backend needs a C++ compiler (g++ or clang++) on PATH; none found")
    if q.dim() < 2 or q.shape[-1] != k.shape[-1] or k.shape[:-1] != v.shape[:-1]:
        raise ValueError(f"q, k, v must be (..., n_q, d), (..., n_k, d), (..., n_k, d_v), got "
                         f"{tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}")
    out, _ = _compiled_forward()(q, k, v, None, causal, block_q, block_k)
    return out
