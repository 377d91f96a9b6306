"""PyTorch version of `utils.efficient.kv_cache_numpy`: the same decoder, generating with and without a KV cache.

Same public names and meaning as the NumPy reference; only `params_to_torch` is new. The attention
itself is PyTorch's `F.scaled_dot_product_attention` with `enable_gqa=True` (the same head mapping).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from utils.core.attention_torch import causal_mask
from utils.efficient import kv_cache_numpy
from utils.efficient.kv_cache_numpy import DecoderConfig
from utils.layers.multihead_torch import merge_heads, split_heads


def params_to_torch(params: dict) -> dict:
    """Convert a NumPy decoder parameter dict (nested) to float32 torch tensors."""
    if isinstance(params, dict):
        return {key: params_to_torch(val) for key, val in params.items()}
    if isinstance(params, list):
        return [params_to_torch(val) for val in params]
    return torch.from_numpy(np.asarray(params, dtype=np.float32).copy())


def mlp(x: torch.Tensor, layer: dict) -> torch.Tensor:
    """The block's feed-forward network: relu(x W1 + b1) W2 + b2, position by position."""
    return torch.relu(x @ layer["W1"] + layer["b1"]) @ layer["W2"] + layer["b2"]


class KVCache(kv_cache_numpy.KVCache):
    """The NumPy cache above, joining and sizing PyTorch tensors."""

    @staticmethod
    def concat(cached: torch.Tensor, new: torch.Tensor) -> torch.Tensor:
        return torch.cat([cached, new], dim=-2)

    @staticmethod
    def bytes_of(a: torch.Tensor) -> int:
        return a.numel() * a.element_size()


def decoder_block(x: torch.Tensor, layer: dict, cfg: DecoderConfig, cache: KVCache | None = None,
                  i: int = 0) -> torch.Tensor:
    """One pre-LN block on x (batch, t, d_model); with a cache, x holds only the t new positions."""
    a = layer["attn"]
    h = F.layer_norm(x, (cfg.d_model,), layer["ln1_g"], layer["ln1_b"])
    q = split_heads(h @ a["W_q"] + a["b_q"], cfg.n_heads)              # (batch, h, t, d_head)
    k = split_heads(h @ a["W_k"] + a["b_k"], cfg.n_kv_heads)           # (batch, g, t, d_head)
    v = split_heads(h @ a["W_v"] + a["b_v"], cfg.n_kv_heads)
    if cache is not None:
        k, v = cache.append(i, k, v)                                   # (batch, g, start + t, d_head)
    mask = causal_mask(q.shape[-2], k.shape[-2])                       # the t new rows of the causal mask
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, enable_gqa=True)  # (batch, h, t, d_head)
    x = x + merge_heads(out) @ a["W_o"] + a["b_o"]
    return x + mlp(F.layer_norm(x, (cfg.d_model,), layer["ln2_g"], layer["ln2_b"]), layer)


def check_tokens(tokens: torch.Tensor, cfg: DecoderConfig, start: int = 0) -> torch.Tensor:
    """Validate int tokens (batch, n) whose positions start + n fit in max_len; return them as an array."""
    tokens = torch.as_tensor(tokens)
    if tokens.ndim != 2 or tokens.dtype.is_floating_point or tokens.dtype == torch.bool:
        raise ValueError(f"tokens must be an int tensor (batch, n), got shape {tuple(tokens.shape)} dtype {tokens.dtype}")
    if start + tokens.shape[1] > cfg.max_len:
        raise ValueError(f"positions up to {start + tokens.shape[1]} exceed max_len={cfg.max_len} "
                         f"(tokens {tuple(tokens.shape)})")
    return tokens


@torch.no_grad()
def decoder_forward(params: dict, tokens: torch.Tensor, cfg: DecoderConfig, cache: KVCache | None = None) -> torch.Tensor:
    """Logits (batch, t, vocab) for tokens (batch, t) placed after the cache's positions (if any)."""
    start = 0 if cache is None else cache.length
    tokens = check_tokens(tokens, cfg, start)
    x = params["tok_emb"][tokens] + params["pos_emb"][start:start + tokens.shape[1]]
    for i, layer in enumerate(params["layers"]):
        x = decoder_block(x, layer, cfg, cache, i)
    return F.layer_norm(x, (cfg.d_model,), params["ln_f_g"], params["ln_f_b"]) @ params["W_out"]


def decoder_logits(params: dict, tokens: torch.Tensor, cfg: DecoderConfig) -> torch.Tensor:
    """Logits (batch, n, vocab) for every position, recomputing the whole prefix (no cache)."""
    return decoder_forward(params, tokens, cfg)


def decode_step(params: dict, tokens_new: torch.Tensor, cache: KVCache, cfg: DecoderConfig) -> torch.Tensor:
    """Logits (batch, t, vocab) for t new tokens placed after the cached ones; the cache grows by t."""
    return decoder_forward(params, tokens_new, cfg, cache)


def generate_greedy(params: dict, prompt: torch.Tensor, n_new: int, cfg: DecoderConfig, use_cache: bool = True,
                    cache: KVCache | None = None) -> torch.Tensor:
    """Prompt (batch, n0) followed by n_new greedily chosen tokens; pass `cache` to inspect it afterwards."""
    tokens = check_tokens(prompt, cfg)
    cache = (cache if cache is not None else KVCache(cfg.n_layers)) if use_cache else None
    logits = decoder_forward(params, tokens, cfg, cache)
    for step in range(n_new):
        nxt = logits[:, -1].argmax(-1, keepdim=True)
        tokens = torch.cat([tokens, nxt], dim=1)
        if step + 1 < n_new:
            logits = decoder_forward(params, nxt, cfg, cache) if use_cache else decoder_forward(params, tokens, cfg)
    return tokens
