"""PyTorch version of `utils.efficient.kv_cache_numpy`: the same decoder, generating with and without a KV cache."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from utils.efficient.kv_cache_numpy import DecoderConfig


def params_to_torch(params: dict) -> dict:
    """Convert a NumPy decoder parameter dict (nested) to float32 torch tensors."""
    if isinstance(params, dict):
        return {key: params_to_torch(val) for key, val in params.items()}
    if isinstance(params, list):
        return [params_to_torch(val) for val in params]
    return torch.from_numpy(np.asarray(params, dtype=np.float32).copy())


def _heads(x: torch.Tensor, n: int) -> torch.Tensor:
    b, t, width = x.shape
    return x.reshape(b, t, n, width // n).transpose(1, 2)             # (batch, heads, t, d_head)


def _block(x: torch.Tensor, layer: dict, cfg: DecoderConfig, cache: KVCache | None, i: int) -> torch.Tensor:
    a = layer["attn"]
    h = F.layer_norm(x, (cfg.d_model,), layer["ln1_g"], layer["ln1_b"])
    q = _heads(h @ a["W_q"] + a["b_q"], cfg.n_heads)                   # (batch, h, t, d_head)
    k = _heads(h @ a["W_k"] + a["b_k"], cfg.n_kv_heads)                # (batch, g, t, d_head)
    v = _heads(h @ a["W_v"] + a["b_v"], cfg.n_kv_heads)
    if cache is not None:
        k, v = cache.append(i, k, v)                                   # (batch, g, start + t, d_head)
    t, m = q.shape[-2], k.shape[-2]
    mask = torch.ones(t, m, dtype=torch.bool).tril(m - t)              # True = may attend
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, enable_gqa=True)
    x = x + out.transpose(1, 2).reshape(x.shape) @ a["W_o"] + a["b_o"]
    h = F.layer_norm(x, (cfg.d_model,), layer["ln2_g"], layer["ln2_b"])
    return x + torch.relu(h @ layer["W1"] + layer["b1"]) @ layer["W2"] + layer["b2"]


class KVCache:
    """Per-layer keys and values (batch, g, n, d_head), grown by one step at a time."""

    def __init__(self, n_layers: int):
        self.k: list[torch.Tensor | None] = [None] * n_layers
        self.v: list[torch.Tensor | None] = [None] * n_layers

    @property
    def length(self) -> int:
        """Number of cached positions."""
        return 0 if self.k[0] is None else self.k[0].shape[-2]

    def append(self, layer: int, k_new: torch.Tensor, v_new: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Add (batch, g, t, d_head) keys/values at the end of the sequence axis; return the full ones."""
        if self.k[layer] is None:
            self.k[layer], self.v[layer] = k_new, v_new
        else:
            self.k[layer] = torch.cat([self.k[layer], k_new], dim=-2)
            self.v[layer] = torch.cat([self.v[layer], v_new], dim=-2)
        return self.k[layer], self.v[layer]

    @property
    def nbytes(self) -> int:
        """Bytes held by all cached key and value tensors."""
        return sum(a.numel() * a.element_size() for a in self.k + self.v if a is not None)


def _forward(params: dict, tokens: torch.Tensor, cfg: DecoderConfig, cache: KVCache | None) -> torch.Tensor:
    start = 0 if cache is None else cache.length
    if start + tokens.shape[1] > cfg.max_len:
        raise ValueError(f"positions up to {start + tokens.shape[1]} exceed max_len={cfg.max_len}")
    x = params["tok_emb"][tokens] + params["pos_emb"][start:start + tokens.shape[1]]
    for i, layer in enumerate(params["layers"]):
        x = _block(x, layer, cfg, cache, i)
    x = F.layer_norm(x, (cfg.d_model,), params["ln_f_g"], params["ln_f_b"])
    return x @ params["W_out"]                                         # (batch, t, vocab)


@torch.no_grad()
def decoder_logits(params: dict, tokens: torch.Tensor, cfg: DecoderConfig) -> torch.Tensor:
    """Logits (batch, n, vocab) for every position, recomputing the whole prefix (no cache)."""
    return _forward(params, torch.as_tensor(tokens), cfg, None)


@torch.no_grad()
def decode_step(params: dict, tokens_new: torch.Tensor, cache: KVCache, cfg: DecoderConfig) -> torch.Tensor:
    """Logits (batch, t, vocab) for t new tokens placed after the cached ones; the cache grows by t."""
    return _forward(params, torch.as_tensor(tokens_new), cfg, cache)


@torch.no_grad()
def generate_greedy(params: dict, prompt: torch.Tensor, n_new: int, cfg: DecoderConfig, use_cache: bool = True,
                    cache: KVCache | None = None) -> torch.Tensor:
    """Prompt (batch, n0) followed by n_new greedily chosen tokens; pass `cache` to inspect it afterwards."""
    tokens = torch.as_tensor(prompt)
    cache = (cache if cache is not None else KVCache(cfg.n_layers)) if use_cache else None
    logits = _forward(params, tokens, cfg, cache)
    for step in range(n_new):
        nxt = logits[:, -1].argmax(-1, keepdim=True)
        tokens = torch.cat([tokens, nxt], dim=1)
        if step + 1 < n_new:
            logits = _forward(params, nxt, cfg, cache) if use_cache else _forward(params, tokens, cfg, None)
    return tokens
