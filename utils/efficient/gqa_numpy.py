"""Grouped-query attention (GQA) and multi-query attention (MQA) in NumPy, the reference.

h query heads share g key/value heads (g divides h). g = h is ordinary multi-head
attention, g = 1 is multi-query attention (Shazeer 2019), 1 < g < h is GQA (Ainslie
et al. 2023). Query head i reads key/value head i // (h // g): consecutive query heads
form a group, the same convention as `torch.repeat_interleave` and PyTorch SDPA's
`enable_gqa=True`. The heads are split and merged by chapter 05's `split_heads` and
`merge_heads` (`utils.layers.multihead_numpy`).
"""

from __future__ import annotations

import numpy as np

from utils.core.attention_numpy import scaled_dot_product_attention
from utils.core.validation import check_positive
from utils.layers.multihead_numpy import merge_heads, split_heads


def group_size(n_heads: int, n_kv_heads: int) -> int:
    """Query heads per key/value head, h // g; raise ValueError unless g divides h."""
    check_positive(n_heads=n_heads, n_kv_heads=n_kv_heads)
    if n_heads % n_kv_heads:
        raise ValueError(f"n_kv_heads must divide n_heads, got n_heads={n_heads}, n_kv_heads={n_kv_heads}")
    return n_heads // n_kv_heads


def kv_head_index(n_heads: int, n_kv_heads: int) -> np.ndarray:
    """Int array (n_heads,): the key/value head each query head reads, i // (h // g)."""
    return np.arange(n_heads) // group_size(n_heads, n_kv_heads)


def repeat_kv(x: np.ndarray, n_rep: int) -> np.ndarray:
    """(batch, g, seq, d_head) -> (batch, g * n_rep, seq, d_head), each head repeated n_rep times."""
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"x must have shape (batch, kv_heads, seq, d_head), got {x.shape}")
    return np.repeat(x, n_rep, axis=1)  # heads 0,0,..,1,1,..: query head i reads kv head i // n_rep


def grouped_query_attention(
    q: np.ndarray, k: np.ndarray, v: np.ndarray, mask: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(output, weights) for q (batch, h, n_q, d), k and v (batch, g, n_k, d); mask True = may attend."""
    q, k, v = (np.asarray(a) for a in (q, k, v))
    if q.ndim != 4 or k.ndim != 4 or v.ndim != 4 or k.shape[1] != v.shape[1]:
        raise ValueError(f"q must be (batch, h, n_q, d), k and v (batch, g, n_k, d); got q {q.shape}, k {k.shape}, v {v.shape}")
    group = group_size(q.shape[1], k.shape[1])
    return scaled_dot_product_attention(q, repeat_kv(k, group), repeat_kv(v, group), mask)


def init_gqa_params(
    d_model: int, n_heads: int, n_kv_heads: int, seed: int = 0, dtype: type = np.float32
) -> dict[str, np.ndarray]:
    """Weights W_q (d_model, h·d_head), W_k and W_v (d_model, g·d_head), W_o (h·d_head, d_model), and biases."""
    group_size(n_heads, n_kv_heads)
    if d_model % n_heads:
        raise ValueError(f"d_model must be divisible by n_heads, got d_model={d_model}, n_heads={n_heads}")
    d_head = d_model // n_heads
    rng = np.random.default_rng(seed)
    scale = 1.0 / np.sqrt(d_model)
    shapes = {"W_q": (d_model, n_heads * d_head), "W_k": (d_model, n_kv_heads * d_head),
              "W_v": (d_model, n_kv_heads * d_head), "W_o": (n_heads * d_head, d_model)}
    params = {name: rng.normal(scale=scale, size=shape).astype(dtype) for name, shape in shapes.items()}
    for name, shape in shapes.items():
        params["b" + name[1:]] = rng.normal(scale=0.02, size=shape[1]).astype(dtype)
    return params


def gqa_forward(
    x: np.ndarray, params: dict[str, np.ndarray], n_heads: int, n_kv_heads: int, mask: np.ndarray | None = None
) -> np.ndarray:
    """Self-attention of x (batch, seq, d_model) with h query heads and g key/value heads."""
    x = np.asarray(x)
    if x.ndim != 3 or x.shape[-1] != params["W_q"].shape[0]:
        raise ValueError(f"x must be (batch, seq, d_model={params['W_q'].shape[0]}), got {x.shape}")
    q = split_heads(x @ params["W_q"] + params["b_q"], n_heads)      # (batch, h, seq, d_head)
    k = split_heads(x @ params["W_k"] + params["b_k"], n_kv_heads)   # (batch, g, seq, d_head)
    v = split_heads(x @ params["W_v"] + params["b_v"], n_kv_heads)   # (batch, g, seq, d_head)
    out, _ = grouped_query_attention(q, k, v, mask)                  # (batch, h, seq, d_head)
    return merge_heads(out) @ params["W_o"] + params["b_o"]


def attention_param_count(d_model: int, n_heads: int, n_kv_heads: int | None = None, bias: bool = True) -> int:
    """Parameters of one attention layer: d_model·(2·h + 2·g)·d_head weights (+ biases), d_head = d_model // h."""
    g = n_heads if n_kv_heads is None else n_kv_heads
    group_size(n_heads, g)
    d_head = d_model // n_heads
    weights = d_model * n_heads * d_head * 2 + d_model * g * d_head * 2     # W_q, W_o + W_k, W_v
    biases = (n_heads * d_head + 2 * g * d_head + d_model) if bias else 0   # b_q, b_k, b_v, b_o
    return weights + biases
