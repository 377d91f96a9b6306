"""TensorFlow versions of `utils.efficient.gqa_numpy`: same names and meaning."""

from __future__ import annotations

from typing import Any

from utils.core.attention_tf import scaled_dot_product_attention
from utils.core.frameworks import import_tensorflow
from utils.efficient.gqa_numpy import group_size
from utils.layers.multihead_tf import merge_heads, split_heads

tf = import_tensorflow()


def kv_head_index(n_heads: int, n_kv_heads: int) -> Any:
    """Int tensor (n_heads,): the key/value head each query head reads, i // (h // g)."""
    return tf.range(n_heads) // group_size(n_heads, n_kv_heads)


def repeat_kv(x: Any, n_rep: int) -> Any:
    """(batch, g, seq, d_head) -> (batch, g * n_rep, seq, d_head), each head repeated n_rep times."""
    x = tf.convert_to_tensor(x)
    if x.shape.rank != 4:
        raise ValueError(f"x must have shape (batch, kv_heads, seq, d_head), got {tuple(x.shape)}")
    return tf.repeat(x, n_rep, axis=1)  # heads 0,0,..,1,1,..: query head i reads kv head i // n_rep


def grouped_query_attention(q: Any, k: Any, v: Any, mask: Any = None) -> tuple[Any, Any]:
    """(output, weights) for q (batch, h, n_q, d), k and v (batch, g, n_k, d); mask True = may attend."""
    q, k, v = (tf.convert_to_tensor(a) for a in (q, k, v))
    if q.shape.rank != 4 or k.shape.rank != 4 or v.shape.rank != 4 or k.shape[1] != v.shape[1]:
        raise ValueError(f"q must be (batch, h, n_q, d), k and v (batch, g, n_k, d); got q {tuple(q.shape)}, "
                         f"k {tuple(k.shape)}, v {tuple(v.shape)}")
    group = group_size(int(q.shape[1]), int(k.shape[1]))
    return scaled_dot_product_attention(q, repeat_kv(k, group), repeat_kv(v, group), mask)


def gqa_forward(x: Any, params: dict[str, Any], n_heads: int, n_kv_heads: int, mask: Any = None) -> Any:
    """Self-attention of x (batch, seq, d_model) with h query heads and g key/value heads."""
    x = tf.convert_to_tensor(x)
    if x.shape.rank != 3 or x.shape[-1] != params["W_q"].shape[0]:
        raise ValueError(f"x must be (batch, seq, d_model={params['W_q'].shape[0]}), got {tuple(x.shape)}")
    q = split_heads(x @ params["W_q"] + params["b_q"], n_heads)      # (batch, h, seq, d_head)
    k = split_heads(x @ params["W_k"] + params["b_k"], n_kv_heads)   # (batch, g, seq, d_head)
    v = split_heads(x @ params["W_v"] + params["b_v"], n_kv_heads)   # (batch, g, seq, d_head)
    out, _ = grouped_query_attention(q, k, v, mask)                  # (batch, h, seq, d_head)
    return merge_heads(out) @ params["W_o"] + params["b_o"]
