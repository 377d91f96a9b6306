"""Load the course's multi-head attention parameters into the libraries' own layers (mask converters: `utils.layers.library_apis`).

How the libraries store the same four projections (our W: (d_model, d_model), used as x @ W):

- `keras.layers.MultiHeadAttention(num_heads=h, key_dim=d_head)` keeps the heads as an axis:
  query/key/value kernels (d_model, h, d_head) = W.reshape(d_model, h, d_head), biases (h, d_head),
  output kernel (h, d_head, d_model) = W_o.reshape(h, d_head, d_model), output bias (d_model,).
- `torch.nn.MultiheadAttention(d_model, h, batch_first=True)` packs Q, K, V into one matrix in
  nn.Linear's (out, in) layout: in_proj_weight (3·d_model, d_model) = [W_qᵀ; W_kᵀ; W_vᵀ],
  in_proj_bias (3·d_model,), out_proj.weight = W_oᵀ, out_proj.bias = b_o.

Mask polarity: the course uses True = may attend. Keras `attention_mask` uses 1/True = attend
(same polarity, shape (batch, n_q, n_k)); torch.nn.MultiheadAttention's `attn_mask` uses
True = blocked (the opposite).

Modules for TensorFlow and PyTorch are imported inside the functions that need them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from utils.layers.multihead_numpy import check_heads, check_mha_params


def keras_mha_weights(params: dict[str, np.ndarray], n_heads: int) -> list[np.ndarray]:
    """Our params reshaped into keras.layers.MultiHeadAttention's weight list, in its order."""
    d_model = check_mha_params(params)
    d_head = check_heads(d_model, n_heads)
    out = []
    for p in ("q", "k", "v"):
        out += [params[f"W_{p}"].reshape(d_model, n_heads, d_head), params[f"b_{p}"].reshape(n_heads, d_head)]
    out += [params["W_o"].reshape(n_heads, d_head, d_model), params["b_o"]]
    return [np.asarray(w, dtype=np.float32) for w in out]


def load_into_keras_mha(layer: Any, params: dict[str, np.ndarray], n_heads: int) -> Any:
    """Build `layer` (a keras.layers.MultiHeadAttention with key_dim = d_head) if needed, load params, return it."""
    d_model = check_mha_params(params)
    d_head = check_heads(d_model, n_heads)
    if layer.num_heads != n_heads or layer.key_dim != d_head:
        raise ValueError(f"layer has num_heads={layer.num_heads}, key_dim={layer.key_dim}; "
                         f"params need num_heads={n_heads}, key_dim={d_head} (key_dim is per head)")
    if not layer.built:
        layer.build((None, None, d_model), (None, None, d_model))
    layer.set_weights(keras_mha_weights(params, n_heads))
    return layer


def make_keras_mha(params: dict[str, np.ndarray], n_heads: int) -> Any:
    """A new keras.layers.MultiHeadAttention holding our params."""
    from utils.core.frameworks import import_tensorflow

    import_tensorflow()
    import keras

    d_head = check_heads(check_mha_params(params), n_heads)
    return load_into_keras_mha(keras.layers.MultiHeadAttention(num_heads=n_heads, key_dim=d_head), params, n_heads)


def torch_mha_state(params: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Our params as torch.nn.MultiheadAttention's state dict (NumPy arrays): packed and transposed."""
    check_mha_params(params)
    return {
        "in_proj_weight": np.concatenate([params["W_q"].T, params["W_k"].T, params["W_v"].T], axis=0),
        "in_proj_bias": np.concatenate([params["b_q"], params["b_k"], params["b_v"]]),
        "out_proj.weight": np.ascontiguousarray(params["W_o"].T),
        "out_proj.bias": np.asarray(params["b_o"]),
    }


def load_into_torch_mha(module: Any, params: dict[str, np.ndarray]) -> Any:
    """Copy our params into a torch.nn.MultiheadAttention (batch_first recommended); return it."""
    import torch

    d_model = check_mha_params(params)
    if module.embed_dim != d_model or not module._qkv_same_embed_dim:
        raise ValueError(f"module has embed_dim={module.embed_dim}; params have d_model={d_model} "
                         "(and kdim = vdim = embed_dim is required)")
    state = {k: torch.as_tensor(np.asarray(v, dtype=np.float32)) for k, v in torch_mha_state(params).items()}
    module.load_state_dict(state)
    return module


def make_torch_mha(params: dict[str, np.ndarray], n_heads: int) -> Any:
    """A new torch.nn.MultiheadAttention(batch_first=True) holding our params."""
    import torch

    d_model = check_mha_params(params)
    check_heads(d_model, n_heads)
    return load_into_torch_mha(torch.nn.MultiheadAttention(d_model, n_heads, batch_first=True), params)
