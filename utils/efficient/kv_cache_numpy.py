"""A small causal decoder in NumPy that generates with and without a KV cache (the reference).

The attention layers use chapter 05's parameter layout (W_q, W_k, W_v, W_o applied as
x @ W, with biases), generalised to g key/value heads (`utils.efficient.gqa_numpy`); g = h is
chapter 05's multi-head attention exactly. Pre-LayerNorm blocks, learned positions
and an output projection W_out.

Without a cache every new token re-runs the whole prefix: O(n) work per token, O(n²)
for n tokens. With a cache each layer stores the keys and values of the tokens seen so
far, (batch, g, n, d_head) each, so a step only computes the new token's q, k, v:
cache bytes = 2 · layers · batch · n · g · d_head · bytes per value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from utils.core.attention_numpy import causal_mask, scaled_dot_product_attention
from utils.efficient.gqa_numpy import (
    check_heads,
    gqa_forward,
    init_gqa_params,
    merge_heads,
    repeat_kv,
    split_heads,
)


@dataclass(frozen=True)
class DecoderConfig:
    """Sizes of the toy decoder."""

    vocab: int = 64
    d_model: int = 32
    n_heads: int = 4
    n_kv_heads: int = 4
    n_layers: int = 2
    d_ff: int = 64
    max_len: int = 128

    @property
    def d_head(self) -> int:
        return self.d_model // self.n_heads


def init_decoder_params(cfg: DecoderConfig, seed: int = 0) -> dict:
    """Seeded float32 parameters: tok_emb, pos_emb, layers (list of dicts), ln_f_g/ln_f_b, W_out."""
    check_heads(cfg.n_heads, cfg.n_kv_heads)
    rng = np.random.default_rng(seed)

    def normal(*shape: int, scale: float) -> np.ndarray:
        return rng.normal(scale=scale, size=shape).astype(np.float32)

    layers = []
    for i in range(cfg.n_layers):
        layer = {"attn": init_gqa_params(cfg.d_model, cfg.n_heads, cfg.n_kv_heads, seed=seed * 100 + i + 1)}
        layer |= {"ln1_g": 1 + normal(cfg.d_model, scale=0.1), "ln1_b": normal(cfg.d_model, scale=0.1),
                  "ln2_g": 1 + normal(cfg.d_model, scale=0.1), "ln2_b": normal(cfg.d_model, scale=0.1),
                  "W1": normal(cfg.d_model, cfg.d_ff, scale=cfg.d_model**-0.5), "b1": normal(cfg.d_ff, scale=0.1),
                  "W2": normal(cfg.d_ff, cfg.d_model, scale=cfg.d_ff**-0.5), "b2": normal(cfg.d_model, scale=0.1)}
        layers.append(layer)
    return {"tok_emb": normal(cfg.vocab, cfg.d_model, scale=1.0), "pos_emb": normal(cfg.max_len, cfg.d_model, scale=0.5),
            "layers": layers, "ln_f_g": np.ones(cfg.d_model, np.float32), "ln_f_b": np.zeros(cfg.d_model, np.float32),
            "W_out": normal(cfg.d_model, cfg.vocab, scale=cfg.d_model**-0.5)}


def layer_norm(x: np.ndarray, g: np.ndarray, b: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    """LayerNorm over the last axis."""
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * g + b


def _mlp(x: np.ndarray, layer: dict) -> np.ndarray:
    return np.maximum(x @ layer["W1"] + layer["b1"], 0.0) @ layer["W2"] + layer["b2"]


def _check_tokens(tokens: np.ndarray, cfg: DecoderConfig, start: int = 0) -> np.ndarray:
    tokens = np.asarray(tokens)
    if tokens.ndim != 2 or not np.issubdtype(tokens.dtype, np.integer):
        raise ValueError(f"tokens must be an int array (batch, n), got shape {tokens.shape} dtype {tokens.dtype}")
    if start + tokens.shape[1] > cfg.max_len:
        raise ValueError(f"positions up to {start + tokens.shape[1]} exceed max_len={cfg.max_len} (tokens {tokens.shape})")
    return tokens


def decoder_logits(params: dict, tokens: np.ndarray, cfg: DecoderConfig) -> np.ndarray:
    """Logits (batch, n, vocab) for every position, recomputing the whole prefix (no cache)."""
    tokens = _check_tokens(tokens, cfg)
    n = tokens.shape[1]
    x = params["tok_emb"][tokens] + params["pos_emb"][:n]               # (batch, n, d_model)
    for layer in params["layers"]:
        h = layer_norm(x, layer["ln1_g"], layer["ln1_b"])
        x = x + gqa_forward(h, layer["attn"], cfg.n_heads, cfg.n_kv_heads, causal_mask(n))
        x = x + _mlp(layer_norm(x, layer["ln2_g"], layer["ln2_b"]), layer)
    return layer_norm(x, params["ln_f_g"], params["ln_f_b"]) @ params["W_out"]


class KVCache:
    """Per-layer keys and values (batch, g, n, d_head), grown by one step at a time."""

    def __init__(self, n_layers: int):
        self.k: list[np.ndarray | None] = [None] * n_layers
        self.v: list[np.ndarray | None] = [None] * n_layers

    @property
    def length(self) -> int:
        """Number of cached positions."""
        return 0 if self.k[0] is None else self.k[0].shape[-2]

    def append(self, layer: int, k_new: np.ndarray, v_new: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Add (batch, g, t, d_head) keys/values at the end of the sequence axis; return the full ones."""
        if self.k[layer] is None:
            self.k[layer], self.v[layer] = k_new, v_new
        else:
            self.k[layer] = np.concatenate([self.k[layer], k_new], axis=-2)
            self.v[layer] = np.concatenate([self.v[layer], v_new], axis=-2)
        return self.k[layer], self.v[layer]

    @property
    def nbytes(self) -> int:
        """Bytes held by all cached key and value arrays."""
        return sum(a.nbytes for a in self.k + self.v if a is not None)


def kv_cache_bytes(n_layers: int, batch: int, n: int, n_kv_heads: int, d_head: int, bytes_per_value: int) -> int:
    """2 (K and V) · layers · batch · n · g · d_head · bytes per value."""
    return 2 * n_layers * batch * n * n_kv_heads * d_head * bytes_per_value


def decode_step(params: dict, tokens_new: np.ndarray, cache: KVCache, cfg: DecoderConfig) -> np.ndarray:
    """Logits (batch, t, vocab) for t new tokens placed after the cached ones; the cache grows by t."""
    start = cache.length
    tokens_new = _check_tokens(tokens_new, cfg, start)
    t = tokens_new.shape[1]
    x = params["tok_emb"][tokens_new] + params["pos_emb"][start:start + t]   # (batch, t, d_model)
    group = cfg.n_heads // cfg.n_kv_heads
    for i, layer in enumerate(params["layers"]):
        a = layer["attn"]
        h = layer_norm(x, layer["ln1_g"], layer["ln1_b"])
        q = split_heads(h @ a["W_q"] + a["b_q"], cfg.n_heads)                 # (batch, h, t, d_head)
        k_new = split_heads(h @ a["W_k"] + a["b_k"], cfg.n_kv_heads)          # (batch, g, t, d_head)
        v_new = split_heads(h @ a["W_v"] + a["b_v"], cfg.n_kv_heads)
        k, v = cache.append(i, k_new, v_new)                                  # (batch, g, start + t, d_head)
        out, _ = scaled_dot_product_attention(q, repeat_kv(k, group), repeat_kv(v, group), causal_mask(t, start + t))
        x = x + merge_heads(out) @ a["W_o"] + a["b_o"]
        x = x + _mlp(layer_norm(x, layer["ln2_g"], layer["ln2_b"]), layer)
    return layer_norm(x, params["ln_f_g"], params["ln_f_b"]) @ params["W_out"]


def generate_greedy(params: dict, prompt: np.ndarray, n_new: int, cfg: DecoderConfig, use_cache: bool = True) -> np.ndarray:
    """Prompt (batch, n0) followed by n_new greedily chosen tokens, (batch, n0 + n_new)."""
    tokens = _check_tokens(prompt, cfg)
    if use_cache:
        cache = KVCache(cfg.n_layers)
        logits = decode_step(params, tokens, cache, cfg)                      # prefill the prompt
        for _ in range(n_new):
            nxt = logits[:, -1].argmax(-1)[:, None]
            tokens = np.concatenate([tokens, nxt], axis=1)
            if tokens.shape[1] < prompt.shape[1] + n_new:
                logits = decode_step(params, nxt, cache, cfg)
        return tokens
    for _ in range(n_new):
        nxt = decoder_logits(params, tokens, cfg)[:, -1].argmax(-1)[:, None]
        tokens = np.concatenate([tokens, nxt], axis=1)
    return tokens


def rolling_buffer_attention(q: np.ndarray, k: np.ndarray, v: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Decode q, k, v (n, d) one token at a time with Mistral's rolling buffer of `window` slots.

    Token t is written to slot t % window, overwriting token t - window. Returns (outputs
    (n, d_v), final buffer of keys (window, d)); outputs equal causal sliding-window attention.
    """
    q, k, v = (np.asarray(a) for a in (q, k, v))
    if q.ndim != 2 or q.shape != k.shape or k.shape[0] != v.shape[0]:
        raise ValueError(f"q, k must be (n, d) and v (n, d_v); got q {q.shape}, k {k.shape}, v {v.shape}")
    buf_k, buf_v = np.zeros((window, k.shape[1]), k.dtype), np.zeros((window, v.shape[1]), v.dtype)
    out = np.empty((q.shape[0], v.shape[1]), np.result_type(q, v))
    for t in range(q.shape[0]):
        buf_k[t % window], buf_v[t % window] = k[t], v[t]
        filled = min(t + 1, window)                       # slots in use; their order does not matter
        o, _ = scaled_dot_product_attention(q[t:t + 1], buf_k[:filled], buf_v[:filled])
        out[t] = o[0]
    return out, buf_k
