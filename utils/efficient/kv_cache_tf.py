"""TensorFlow version of `utils.efficient.kv_cache_numpy`: the same decoder, generating with and without a KV cache (eager).

Same public names and meaning as the NumPy reference; only `params_to_tf` is new.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from utils.core.attention_tf import causal_mask
from utils.core.frameworks import import_tensorflow
from utils.efficient import kv_cache_numpy
from utils.efficient.gqa_tf import grouped_query_attention
from utils.efficient.kv_cache_numpy import DecoderConfig
from utils.layers.layer_norm_tf import layer_norm
from utils.layers.multihead_tf import merge_heads, split_heads

tf = import_tensorflow()


def params_to_tf(params: dict) -> dict:
    """Convert a NumPy decoder parameter dict (nested) to float32 TF tensors."""
    if isinstance(params, dict):
        return {key: params_to_tf(val) for key, val in params.items()}
    if isinstance(params, list):
        return [params_to_tf(val) for val in params]
    return tf.constant(np.asarray(params, dtype=np.float32))


def mlp(x: Any, layer: dict) -> Any:
    """The block's feed-forward network: relu(x W1 + b1) W2 + b2, position by position."""
    return tf.nn.relu(x @ layer["W1"] + layer["b1"]) @ layer["W2"] + layer["b2"]


class KVCache(kv_cache_numpy.KVCache):
    """The NumPy cache above, joining and sizing TensorFlow tensors."""

    @staticmethod
    def concat(cached: Any, new: Any) -> Any:
        return tf.concat([cached, new], axis=-2)

    @staticmethod
    def bytes_of(a: Any) -> int:
        return int(tf.size(a)) * a.dtype.size


def decoder_block(x: Any, layer: dict, cfg: DecoderConfig, cache: KVCache | None = None, i: int = 0) -> Any:
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


def check_tokens(tokens: Any, cfg: DecoderConfig, start: int = 0) -> Any:
    """Validate int tokens (batch, n) whose positions start + n fit in max_len; return them as an array."""
    tokens = tf.convert_to_tensor(tokens)
    if tokens.shape.rank != 2 or not tokens.dtype.is_integer:
        raise ValueError(f"tokens must be an int tensor (batch, n), got shape {tuple(tokens.shape)} "
                         f"dtype {tokens.dtype.name}")
    if start + tokens.shape[1] > cfg.max_len:
        raise ValueError(f"positions up to {start + tokens.shape[1]} exceed max_len={cfg.max_len} "
                         f"(tokens {tuple(tokens.shape)})")
    return tokens


def decoder_forward(params: dict, tokens: Any, cfg: DecoderConfig, cache: KVCache | None = None) -> Any:
    """Logits (batch, t, vocab) for tokens (batch, t) placed after the cache's positions (if any)."""
    start = 0 if cache is None else cache.length
    tokens = check_tokens(tokens, cfg, start)
    x = tf.gather(params["tok_emb"], tokens) + params["pos_emb"][start:start + tokens.shape[1]]
    for i, layer in enumerate(params["layers"]):
        x = decoder_block(x, layer, cfg, cache, i)
    return layer_norm(x, params["ln_f_g"], params["ln_f_b"]) @ params["W_out"]


def decoder_logits(params: dict, tokens: Any, cfg: DecoderConfig) -> Any:
    """Logits (batch, n, vocab) for every position, recomputing the whole prefix (no cache)."""
    return decoder_forward(params, tokens, cfg)


def decode_step(params: dict, tokens_new: Any, cache: KVCache, cfg: DecoderConfig) -> Any:
    """Logits (batch, t, vocab) for t new tokens placed after the cached ones; the cache grows by t."""
    return decoder_forward(params, tokens_new, cfg, cache)


def generate_greedy(params: dict, prompt: Any, n_new: int, cfg: DecoderConfig, use_cache: bool = True,
                    cache: KVCache | None = None) -> Any:
    """Prompt (batch, n0) followed by n_new greedily chosen tokens; pass `cache` to inspect it afterwards."""
    tokens = check_tokens(prompt, cfg)
    cache = (cache if cache is not None else KVCache(cfg.n_layers)) if use_cache else None
    logits = decoder_forward(params, tokens, cfg, cache)
    for step in range(n_new):
        nxt = tf.cast(tf.argmax(logits[:, -1], axis=-1), tokens.dtype)[:, None]
        tokens = tf.concat([tokens, nxt], axis=1)
        if step + 1 < n_new:
            logits = decoder_forward(params, nxt, cfg, cache) if use_cache else decoder_forward(params, tokens, cfg)
    return tokens
