"""A small causal decoder in NumPy that generates with and without a KV cache (the reference).

The attention layers use chapter 05's parameter layout (W_q, W_k, W_v, W_o applied as
x @ W, with biases), generalised to g key/value heads (`utils.efficient.gqa_numpy`); g = h is
chapter 05's multi-head attention exactly. Pre-LayerNorm blocks, x + attn(LN(x)) then
x + mlp(LN(x)), as in GPT-2; learned positions and an output projection W_out.

Without a cache every new token re-runs the whole prefix. With a cache each layer stores the
keys and values of the tokens seen so far, (batch, g, n, d_head) each, so a step only computes
the new token's q, k, v and one row of attention:
cache bytes = 2 · layers · batch · n · g · d_head · bytes per value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from utils.core.attention_numpy import causal_mask
from utils.core.validation import check_config
from utils.efficient.gqa_numpy import group_size, grouped_query_attention, init_gqa_params
from utils.layers.layer_norm_numpy import layer_norm
from utils.layers.multihead_numpy import merge_heads, split_heads


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

    def __post_init__(self) -> None:
        check_config(self)

    @property
    def d_head(self) -> int:
        return self.d_model // self.n_heads


def init_decoder_params(cfg: DecoderConfig, seed: int = 0) -> dict:
    """Seeded float32 parameters: tok_emb, pos_emb, layers (list of dicts), ln_f_g/ln_f_b, W_out."""
    group_size(cfg.n_heads, cfg.n_kv_heads)
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


def mlp(x: np.ndarray, layer: dict) -> np.ndarray:
    """The block's feed-forward network: relu(x W1 + b1) W2 + b2, position by position."""
    return np.maximum(x @ layer["W1"] + layer["b1"], 0.0) @ layer["W2"] + layer["b2"]


def check_tokens(tokens: np.ndarray, cfg: DecoderConfig, start: int = 0) -> np.ndarray:
    """Validate int tokens (batch, n) whose positions start + n fit in max_len; return them as an array."""
    tokens = np.asarray(tokens)
    if tokens.ndim != 2 or not np.issubdtype(tokens.dtype, np.integer):
        raise ValueError(f"tokens must be an int array (batch, n), got shape {tokens.shape} dtype {tokens.dtype}")
    if start + tokens.shape[1] > cfg.max_len:
        raise ValueError(f"positions up to {start + tokens.shape[1]} exceed max_len={cfg.max_len} (tokens {tokens.shape})")
    return tokens


class KVCache:
    """Per-layer keys and values (batch, g, n, d_head), grown by one step at a time.

    Only `concat` and `bytes_of` touch the arrays: the TensorFlow and PyTorch caches override those two.
    """

    def __init__(self, n_layers: int):
        self.k: list = [None] * n_layers
        self.v: list = [None] * n_layers

    @staticmethod
    def concat(cached: np.ndarray, new: np.ndarray) -> np.ndarray:
        """Join cached and new keys (or values) along the sequence axis."""
        return np.concatenate([cached, new], axis=-2)

    @staticmethod
    def bytes_of(a: np.ndarray) -> int:
        return a.nbytes

    @property
    def length(self) -> int:
        """Number of cached positions."""
        return 0 if self.k[0] is None else self.k[0].shape[-2]

    def append(self, layer: int, k_new, v_new) -> tuple:
        """Add (batch, g, t, d_head) keys/values at the end of the sequence axis; return the full ones."""
        if self.k[layer] is None:
            self.k[layer], self.v[layer] = k_new, v_new
        else:
            self.k[layer] = self.concat(self.k[layer], k_new)
            self.v[layer] = self.concat(self.v[layer], v_new)
        return self.k[layer], self.v[layer]

    def __repr__(self) -> str:
        return f"KVCache(layers={len(self.k)}, length={self.length})"

    @property
    def nbytes(self) -> int:
        """Bytes held by all cached keys and values."""
        return sum(self.bytes_of(a) for a in self.k + self.v if a is not None)


def decoder_block(x: np.ndarray, layer: dict, cfg: DecoderConfig, cache: KVCache | None = None, i: int = 0) -> np.ndarray:
    """One pre-LN block on x (batch, t, d_model); with a cache, x holds only the t new positions."""
    a = layer["attn"]
    h = layer_norm(x, layer["ln1_g"], layer["ln1_b"])
    q = split_heads(h @ a["W_q"] + a["b_q"], cfg.n_heads)              # (batch, h, t, d_head)
    k = split_heads(h @ a["W_k"] + a["b_k"], cfg.n_kv_heads)           # (batch, g, t, d_head)
    v = split_heads(h @ a["W_v"] + a["b_v"], cfg.n_kv_heads)
    if cache is not None:
        k, v = cache.append(i, k, v)                                   # (batch, g, start + t, d_head)
    mask = causal_mask(q.shape[-2], k.shape[-2])                       # the t new rows of the causal mask
    out, _ = grouped_query_attention(q, k, v, mask)                    # (batch, h, t, d_head)
    x = x + merge_heads(out) @ a["W_o"] + a["b_o"]
    return x + mlp(layer_norm(x, layer["ln2_g"], layer["ln2_b"]), layer)


def decoder_forward(params: dict, tokens: np.ndarray, cfg: DecoderConfig, cache: KVCache | None = None) -> np.ndarray:
    """Logits (batch, t, vocab) for tokens (batch, t) placed after the cache's positions (if any)."""
    start = 0 if cache is None else cache.length
    tokens = check_tokens(tokens, cfg, start)
    x = params["tok_emb"][tokens] + params["pos_emb"][start:start + tokens.shape[1]]   # (batch, t, d_model)
    for i, layer in enumerate(params["layers"]):
        x = decoder_block(x, layer, cfg, cache, i)
    return layer_norm(x, params["ln_f_g"], params["ln_f_b"]) @ params["W_out"]


def decoder_logits(params: dict, tokens: np.ndarray, cfg: DecoderConfig) -> np.ndarray:
    """Logits (batch, n, vocab) for every position, recomputing the whole prefix (no cache)."""
    return decoder_forward(params, tokens, cfg)


def decode_step(params: dict, tokens_new: np.ndarray, cache: KVCache, cfg: DecoderConfig) -> np.ndarray:
    """Logits (batch, t, vocab) for t new tokens placed after the cached ones; the cache grows by t."""
    return decoder_forward(params, tokens_new, cfg, cache)


def kv_cache_bytes(n_layers: int, batch: int, n: int, n_kv_heads: int, d_head: int, bytes_per_value: int) -> int:
    """2 (K and V) · layers · batch · n · g · d_head · bytes per value."""
    return 2 * n_layers * batch * n * n_kv_heads * d_head * bytes_per_value


def generate_greedy(params: dict, prompt: np.ndarray, n_new: int, cfg: DecoderConfig, use_cache: bool = True,
                    cache: KVCache | None = None) -> np.ndarray:
    """Prompt (batch, n0) followed by n_new greedily chosen tokens; pass `cache` to inspect it afterwards."""
    tokens = check_tokens(prompt, cfg)
    cache = (cache if cache is not None else KVCache(cfg.n_layers)) if use_cache else None
    logits = decoder_forward(params, tokens, cfg, cache)                # the prefill: the whole prompt at once
    for step in range(n_new):
        nxt = logits[:, -1].argmax(-1)[:, None]                         # (batch, 1)
        tokens = np.concatenate([tokens, nxt], axis=1)
        if step + 1 < n_new:                                            # the last token needs no logits
            logits = decoder_forward(params, nxt, cfg, cache) if use_cache else decoder_forward(params, tokens, cfg)
    return tokens
