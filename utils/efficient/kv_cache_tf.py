"""TensorFlow version of `utils.efficient.kv_cache_numpy`: the same decoder, generating with and without a KV cache (eager)."""

from __future__ import annotations

from typing import Any

import numpy as np

from utils.core.attention_tf import causal_mask
from utils.core.frameworks import import_tensorflow
from utils.efficient.gqa_tf import grouped_query_attention, merge_heads, split_heads
from utils.efficient.kv_cache_numpy import DecoderConfig

tf = import_tensorflow()


def params_to_tf(params: dict) -> dict:
    """Convert a NumPy decoder parameter dict (nested) to float32 TF tensors."""
    if isinstance(params, dict):
        return {key: params_to_tf(val) for key, val in params.items()}
    if isinstance(params, list):
        return [params_to_tf(val) for val in params]
    return tf.constant(np.asarray(params, dtype=np.float32))


def _layer_norm(x: Any, g: Any, b: Any, eps: float = 1e-5) -> Any:
    mu, var = tf.nn.moments(x, axes=[-1], keepdims=True)
    return (x - mu) * tf.math.rsqrt(var + eps) * g + b


def _block(x: Any, layer: dict, cfg: DecoderConfig, cache: KVCache | None, i: int) -> Any:
    a = layer["attn"]
    h = _layer_norm(x, layer["ln1_g"], layer["ln1_b"])
    q = split_heads(h @ a["W_q"] + a["b_q"], cfg.n_heads)              # (batch, h, t, d_head)
    k = split_heads(h @ a["W_k"] + a["b_k"], cfg.n_kv_heads)           # (batch, g, t, d_head)
    v = split_heads(h @ a["W_v"] + a["b_v"], cfg.n_kv_heads)
    if cache is not None:
        k, v = cache.append(i, k, v)                                   # (batch, g, start + t, d_head)
    mask = causal_mask(q.shape[-2], k.shape[-2])                       # True = may attend
    out, _ = grouped_query_attention(q, k, v, mask)                    # (batch, h, t, d_head)
    x = x + merge_heads(out) @ a["W_o"] + a["b_o"]
    h = _layer_norm(x, layer["ln2_g"], layer["ln2_b"])
    return x + tf.nn.relu(h @ layer["W1"] + layer["b1"]) @ layer["W2"] + layer["b2"]


class KVCache:
    """Per-layer keys and values (batch, g, n, d_head), grown by one step at a time."""

    def __init__(self, n_layers: int):
        self.k: list[Any | None] = [None] * n_layers
        self.v: list[Any | None] = [None] * n_layers

    @property
    def length(self) -> int:
        """Number of cached positions."""
        return 0 if self.k[0] is None else self.k[0].shape[-2]

    def append(self, layer: int, k_new: Any, v_new: Any) -> tuple[Any, Any]:
        """Add (batch, g, t, d_head) keys/values at the end of the sequence axis; return the full ones."""
        if self.k[layer] is None:
            self.k[layer], self.v[layer] = k_new, v_new
        else:
            self.k[layer] = tf.concat([self.k[layer], k_new], axis=-2)
            self.v[layer] = tf.concat([self.v[layer], v_new], axis=-2)
        return self.k[layer], self.v[layer]

    @property
    def nbytes(self) -> int:
        """Bytes held by all cached key and value tensors."""
        return sum(int(tf.size(a)) * a.dtype.size for a in self.k + self.v if a is not None)


def _check_tokens(tokens: Any) -> Any:
    tokens = tf.convert_to_tensor(tokens)
    if tokens.shape.rank != 2 or not tokens.dtype.is_integer:
        raise ValueError(f"tokens must be an int tensor (batch, n), got shape {tuple(tokens.shape)} "
                         f"dtype {tokens.dtype.name}")
    return tokens


def _forward(params: dict, tokens: Any, cfg: DecoderConfig, cache: KVCache | None) -> Any:
    tokens = _check_tokens(tokens)
    start = 0 if cache is None else cache.length
    if start + tokens.shape[1] > cfg.max_len:
        raise ValueError(f"positions up to {start + tokens.shape[1]} exceed max_len={cfg.max_len} "
                         f"(tokens {tuple(tokens.shape)})")
    x = tf.gather(params["tok_emb"], tokens) + params["pos_emb"][start:start + tokens.shape[1]]
    for i, layer in enumerate(params["layers"]):
        x = _block(x, layer, cfg, cache, i)
    x = _layer_norm(x, params["ln_f_g"], params["ln_f_b"])
    return x @ params["W_out"]                                         # (batch, t, vocab)


def decoder_logits(params: dict, tokens: Any, cfg: DecoderConfig) -> Any:
    """Logits (batch, n, vocab) for every position, recomputing the whole prefix (no cache)."""
    return _forward(params, tokens, cfg, None)


def decode_step(params: dict, tokens_new: Any, cache: KVCache, cfg: DecoderConfig) -> Any:
    """Logits (batch, t, vocab) for t new tokens placed after the cached ones; the cache grows by t."""
    return _forward(params, tokens_new, cfg, cache)


def generate_greedy(params: dict, prompt: Any, n_new: int, cfg: DecoderConfig, use_cache: bool = True,
                    cache: KVCache | None = None) -> Any:
    """Prompt (batch, n0) followed by n_new greedily chosen tokens; pass `cache` to inspect it afterwards."""
    tokens = _check_tokens(prompt)
    cache = (cache if cache is not None else KVCache(cfg.n_layers)) if use_cache else None
    logits = _forward(params, tokens, cfg, cache)
    for step in range(n_new):
        nxt = tf.cast(tf.argmax(logits[:, -1], axis=-1), tokens.dtype)[:, None]
        tokens = tf.concat([tokens, nxt], axis=1)
        if step + 1 < n_new:
            logits = _forward(params, nxt, cfg, cache) if use_cache else _forward(params, tokens, cfg, None)
    return tokens
