"""Shape checks shared by the NumPy, TensorFlow and PyTorch attention functions.

Every function here raises a `ValueError` that names the argument and the shapes it got,
so a learner never meets a cryptic broadcasting error from deep inside a framework.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np


def _fmt(shape: Sequence[int]) -> str:
    return "(" + ", ".join(str(int(s)) for s in shape) + ")"


def check_attention_shapes(
    q_shape: Sequence[int],
    k_shape: Sequence[int],
    v_shape: Sequence[int],
    mask_shape: Sequence[int] | None = None,
) -> tuple[int, ...]:
    """Validate q (..., n_q, d_k), k (..., n_k, d_k), v (..., n_k, d_v); return the weights' shape."""
    got = f"got q {_fmt(q_shape)}, k {_fmt(k_shape)}, v {_fmt(v_shape)}"
    for name, shape in (("q", q_shape), ("k", k_shape), ("v", v_shape)):
        if len(shape) < 2:
            raise ValueError(f"{name} must have at least 2 dimensions (..., seq, features); {got}")
    if q_shape[-1] != k_shape[-1]:
        raise ValueError(f"q and k must have the same last dimension d_k; {got}")
    if k_shape[-2] != v_shape[-2]:
        raise ValueError(f"k and v must have the same sequence length (dimension -2); {got}")
    try:
        batch = np.broadcast_shapes(tuple(q_shape[:-2]), tuple(k_shape[:-2]), tuple(v_shape[:-2]))
    except ValueError:
        raise ValueError(f"the leading (batch, heads) dimensions of q, k and v do not broadcast; {got}") from None
    weights_shape = (*batch, int(q_shape[-2]), int(k_shape[-2]))
    if mask_shape is not None:
        try:
            full = np.broadcast_shapes(tuple(mask_shape), weights_shape)
        except ValueError:
            full = None
        if full != weights_shape:
            raise ValueError(
                f"mask of shape {_fmt(mask_shape)} does not broadcast to the attention weights' "
                f"shape {_fmt(weights_shape)} (..., n_q, n_k); {got}"
            )
    return weights_shape


def check_mask_dtype(dtype_name: str) -> None:
    """Refuse masks that are not boolean: 0/1 floats are ambiguous between conventions."""
    if dtype_name != "bool":
        raise ValueError(
            f"mask must be boolean (True = may attend), got dtype {dtype_name}; "
            "convert explicitly, e.g. mask.astype(bool), after checking its polarity"
        )


def check_positive(**values: int) -> None:
    """Raise ValueError naming the first argument that is not a positive int, e.g. check_positive(n=n, window=w)."""
    for name, val in values.items():
        if isinstance(val, bool) or not isinstance(val, int | np.integer) or val < 1:
            raise ValueError(f"{name} must be a positive int, got {val!r}")


def check_config(config: Any, may_be_zero: tuple[str, ...] = ()) -> None:
    """Validate a model's config dataclass; raise ValueError naming the config and the field.

    Every int field must be a positive int (or a non-negative one if it is named in `may_be_zero`,
    such as a layer count or a padding id), d_model must split evenly into n_heads, and n_heads into
    n_kv_heads, where the config has those fields. The course's four model configs call it from
    `__post_init__`, so a bad size fails when the config is made, not deep inside a forward pass.
    """
    name = type(config).__name__
    sizes = {f.name: getattr(config, f.name) for f in dataclasses.fields(config) if f.type in ("int", int)}
    for field, val in sizes.items():
        lowest = 0 if field in may_be_zero else 1
        if isinstance(val, bool) or not isinstance(val, int | np.integer) or val < lowest:
            kind = "a non-negative int" if lowest == 0 else "a positive int"
            raise ValueError(f"{name}: {field} must be {kind}, got {val!r}")
    if "d_model" in sizes and "n_heads" in sizes and sizes["d_model"] % sizes["n_heads"]:
        raise ValueError(f"{name}: d_model must be divisible by n_heads, got d_model={sizes['d_model']}, "
                         f"n_heads={sizes['n_heads']}")
    if "n_kv_heads" in sizes and sizes["n_heads"] % sizes["n_kv_heads"]:
        raise ValueError(f"{name}: n_kv_heads must divide n_heads, got n_heads={sizes['n_heads']}, "
                         f"n_kv_heads={sizes['n_kv_heads']}")
