"""Multi-head attention in NumPy: the reference that the TF, PyTorch and library layers are checked against.

Parameters are a dict of NumPy arrays (the same layout in every framework of the course):

    W_q, W_k, W_v, W_o : (d_model, d_model), applied as x @ W
    b_q, b_k, b_v, b_o : (d_model,)

Head h uses columns h*d_head:(h+1)*d_head of W_q, W_k, W_v, and rows h*d_head:(h+1)*d_head of W_o.
"""

from __future__ import annotations

import numpy as np

from utils.core.attention_numpy import causal_mask, scaled_dot_product_attention

PARAM_NAMES = ("W_q", "W_k", "W_v", "W_o", "b_q", "b_k", "b_v", "b_o")


def init_mha_params(d_model: int, seed: int = 0, dtype: type = np.float32) -> dict[str, np.ndarray]:
    """Glorot-uniform weights and small non-zero biases, {"W_q", ..., "b_o"}, from a seeded generator."""
    if not isinstance(d_model, int | np.integer) or d_model < 1:
        raise ValueError(f"d_model must be a positive int, got {d_model!r}")
    rng = np.random.default_rng(seed)
    limit = np.sqrt(6.0 / (2 * d_model))
    params = {name: rng.uniform(-limit, limit, size=(d_model, d_model)) for name in PARAM_NAMES[:4]}
    # Biases are not zero, so a test catches a layer that forgets (or misplaces) them.
    params |= {name: rng.normal(0.0, 0.1, size=(d_model,)) for name in PARAM_NAMES[4:]}
    return {name: params[name].astype(dtype) for name in PARAM_NAMES}


def check_mha_params(params: dict, d_model: int | None = None) -> int:
    """Validate the parameter dict's names and shapes; return d_model."""
    missing = [n for n in PARAM_NAMES if n not in params]
    if missing:
        raise ValueError(f"params is missing {missing}; expected keys {list(PARAM_NAMES)}")
    d = int(np.shape(params["W_q"])[0]) if d_model is None else d_model
    for name in PARAM_NAMES:
        want = (d, d) if name.startswith("W") else (d,)
        if tuple(np.shape(params[name])) != want:
            raise ValueError(f"params[{name!r}] must have shape {want} for d_model={d}, got {tuple(np.shape(params[name]))}")
    return d


def check_heads(d_model: int, n_heads: int) -> int:
    """Validate n_heads against d_model and return d_head = d_model // n_heads."""
    if not isinstance(n_heads, int | np.integer) or n_heads < 1:
        raise ValueError(f"n_heads must be a positive int, got {n_heads!r}")
    if d_model % n_heads:
        raise ValueError(f"d_model={d_model} is not divisible by n_heads={n_heads}")
    return d_model // n_heads


def split_heads(x: np.ndarray, n_heads: int) -> np.ndarray:
    """(batch, seq, d_model) -> (batch, heads, seq, d_head): reshape, then move heads before seq."""
    x = np.asarray(x)
    if x.ndim != 3:
        raise ValueError(f"x must have shape (batch, seq, d_model), got {x.shape}")
    batch, seq, d_model = x.shape
    d_head = check_heads(d_model, n_heads)
    return x.reshape(batch, seq, n_heads, d_head).transpose(0, 2, 1, 3)


def merge_heads(x: np.ndarray) -> np.ndarray:
    """(batch, heads, seq, d_head) -> (batch, seq, heads * d_head): the inverse of split_heads."""
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"x must have shape (batch, heads, seq, d_head), got {x.shape}")
    batch, heads, seq, d_head = x.shape
    return x.transpose(0, 2, 1, 3).reshape(batch, seq, heads * d_head)


def check_mha_inputs(x_q_shape: tuple, x_kv_shape: tuple, d_model: int, mask_shape: tuple | None) -> None:
    """Validate shapes for multi-head attention (shared by the NumPy, TF and PyTorch versions)."""
    got = f"got x_q {tuple(x_q_shape)}, x_kv {tuple(x_kv_shape)}"
    for name, shape in (("x_q", x_q_shape), ("x_kv", x_kv_shape)):
        if len(shape) != 3:
            raise ValueError(f"{name} must have shape (batch, seq, d_model={d_model}); {got}")
        if shape[-1] != d_model:
            raise ValueError(f"{name} must have last dimension d_model={d_model}; {got}")
    if x_q_shape[0] != x_kv_shape[0]:
        raise ValueError(f"x_q and x_kv must have the same batch size; {got}")
    if mask_shape is not None:
        if len(mask_shape) not in (2, 4):
            raise ValueError(
                f"mask must have shape (n_q, n_k) or (batch or 1, heads or 1, n_q, n_k), got {tuple(mask_shape)}; "
                "for a (batch, n_k) padding mask use mask[:, None, None, :]"
            )
        full = (x_q_shape[0], 1, x_q_shape[1], x_kv_shape[1])
        try:
            ok = np.broadcast_shapes(tuple(mask_shape), full)[-2:] == full[-2:]
        except ValueError:
            ok = False
        if not ok or (len(mask_shape) == 4 and mask_shape[0] not in (1, full[0])):
            raise ValueError(f"mask of shape {tuple(mask_shape)} does not broadcast to (batch, heads, n_q, n_k); {got}")


def multi_head_attention(
    x_q: np.ndarray,
    x_kv: np.ndarray | None,
    params: dict[str, np.ndarray],
    n_heads: int,
    mask: np.ndarray | None = None,
    causal: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Return (output (batch, n_q, d_model), weights (batch, heads, n_q, n_k)); x_kv=None means self-attention.

    mask: boolean, True = may attend, shape (n_q, n_k) or broadcastable (batch, heads, n_q, n_k).
    causal=True also blocks keys after each query (combined with `mask` by logical and).
    """
    x_q = np.asarray(x_q)
    x_kv = x_q if x_kv is None else np.asarray(x_kv)
    d_model = check_mha_params(params)
    check_heads(d_model, n_heads)
    check_mha_inputs(x_q.shape, x_kv.shape, d_model, None if mask is None else np.shape(mask))
    if causal:
        cm = causal_mask(x_q.shape[1], x_kv.shape[1])
        mask = cm if mask is None else np.logical_and(mask, cm)
    Q = split_heads(x_q @ params["W_q"] + params["b_q"], n_heads)  # (batch, heads, n_q, d_head)
    K = split_heads(x_kv @ params["W_k"] + params["b_k"], n_heads)  # (batch, heads, n_k, d_head)
    V = split_heads(x_kv @ params["W_v"] + params["b_v"], n_heads)  # (batch, heads, n_k, d_head)
    heads, weights = scaled_dot_product_attention(Q, K, V, mask)  # (batch, heads, n_q, d_head)
    output = merge_heads(heads) @ params["W_o"] + params["b_o"]  # (batch, n_q, d_model)
    return output.astype(heads.dtype, copy=False), weights


def attention_dropout(weights: np.ndarray, rate: float, rng: np.random.Generator) -> np.ndarray:
    """Inverted dropout on attention weights: zero each with probability `rate`, scale the rest by 1/(1-rate)."""
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"rate must be in [0, 1), got {rate}")
    keep = rng.random(np.shape(weights)) >= rate
    return np.where(keep, weights / (1.0 - rate), 0.0).astype(np.asarray(weights).dtype)


def mha_param_count(d_model: int, n_heads: int, key_dim: int | None = None) -> int:
    """Parameters of a multi-head attention layer with per-head size key_dim (default d_model // n_heads)."""
    key_dim = check_heads(d_model, n_heads) if key_dim is None else key_dim
    inner = n_heads * key_dim
    return 3 * (d_model * inner + inner) + (inner * d_model + d_model)
