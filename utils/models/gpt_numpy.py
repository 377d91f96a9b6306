"""A small GPT in NumPy, the reference: assembled from the course's own parts.

Decoder-only Transformer (Radford et al. 2018, 2019) with the choices of today's open models:
- pre-LayerNorm blocks, x + Attn(LN(x)), x + MLP(LN(x)) (`utils.layers.layer_norm_numpy`);
- RoPE on queries and keys, no position table (Su et al. 2021; `utils.efficient.positions_numpy`);
- grouped-query attention, h query heads sharing g key/value heads (`utils.efficient.gqa_numpy`);
- causal attention by the plain reference or by the FlashAttention-style tiles (`utils.efficient.tiled_numpy`);
- a KV cache for generation (`utils.efficient.kv_cache_numpy.KVCache`);
- the output layer tied to the token embedding (logits = LN(x) · Eᵀ, Press & Wolf 2017).

Parameters are a dict of float32 arrays that the PyTorch and Keras twins load unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from utils.core.attention_numpy import causal_mask
from utils.core.validation import check_config
from utils.efficient.gqa_numpy import (
    grouped_query_attention,
    init_gqa_params,
    repeat_kv,
)
from utils.efficient.kv_cache_numpy import KVCache
from utils.efficient.positions_numpy import apply_rope
from utils.efficient.tiled_numpy import flash_attention
from utils.layers.layer_norm_numpy import layer_norm
from utils.layers.multihead_numpy import merge_heads, split_heads

ATTENTION_KINDS = ("reference", "flash")


@dataclass(frozen=True)
class GPTConfig:
    """Sizes of the small GPT. n_kv_heads = n_heads is multi-head attention; rope=False uses no positions at all."""

    vocab: int
    d_model: int = 64
    n_heads: int = 4
    n_kv_heads: int = 2
    n_layers: int = 2
    d_ff: int = 256
    context: int = 64
    rope: bool = True

    def __post_init__(self) -> None:
        check_config(self)  # positive sizes, n_heads divides d_model, n_kv_heads divides n_heads
        if (self.d_model // self.n_heads) % 2:
            raise ValueError(f"d_model / n_heads must be an even int (RoPE rotates pairs), got "
                             f"d_model={self.d_model}, n_heads={self.n_heads}")

    @property
    def d_head(self) -> int:
        return self.d_model // self.n_heads


def init_gpt_params(cfg: GPTConfig, seed: int = 0) -> dict:
    """Seeded float32 parameters: tok_emb (vocab, d_model), layers (list of dicts), ln_f_g, ln_f_b."""
    rng = np.random.default_rng(seed)

    def normal(*shape: int, scale: float) -> np.ndarray:
        return rng.normal(scale=scale, size=shape).astype(np.float32)

    d, ones, zeros = cfg.d_model, np.ones(cfg.d_model, np.float32), np.zeros(cfg.d_model, np.float32)
    layers = [{"attn": init_gqa_params(d, cfg.n_heads, cfg.n_kv_heads, seed=seed * 100 + i + 1),
               "ln1_g": ones.copy(), "ln1_b": zeros.copy(), "ln2_g": ones.copy(), "ln2_b": zeros.copy(),
               "W1": normal(d, cfg.d_ff, scale=d**-0.5), "b1": np.zeros(cfg.d_ff, np.float32),
               "W2": normal(cfg.d_ff, d, scale=(2 * cfg.n_layers * cfg.d_ff) ** -0.5), "b2": zeros.copy()}
              for i in range(cfg.n_layers)]
    return {"tok_emb": normal(cfg.vocab, d, scale=0.1), "layers": layers, "ln_f_g": ones, "ln_f_b": zeros}


def gelu(x: np.ndarray) -> np.ndarray:
    """GELU, tanh form (Hendrycks & Gimpel 2016), as GPT-2: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))."""
    return 0.5 * x * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * x**3)))


def window_mask(n_q: int, n_k: int, window: int | None = None) -> np.ndarray:
    """(n_q, n_k) bool, True = may attend: queries are the last n_q of n_k positions, causal, within `window`."""
    mask = causal_mask(n_q, n_k)
    if window is not None:
        distance = np.arange(n_q)[:, None] + (n_k - n_q) - np.arange(n_k)[None, :]  # i - j
        mask &= distance < window
    return mask


def causal_attention(q: np.ndarray, k: np.ndarray, v: np.ndarray, attention: str = "reference") -> np.ndarray:
    """Causal GQA of q (batch, h, t, d_head) over k, v (batch, g, m, d_head): the last t of m positions."""
    if attention == "flash":
        group = q.shape[1] // k.shape[1]
        return flash_attention(q, repeat_kv(k, group), repeat_kv(v, group), causal=True, n_threads=1)
    if attention != "reference":
        raise ValueError(f"attention must be one of {ATTENTION_KINDS}, got {attention!r}")
    out, _ = grouped_query_attention(q, k, v, window_mask(q.shape[-2], k.shape[-2]))
    return out


def project_qkv(x: np.ndarray, a: dict, cfg: GPTConfig, positions: np.ndarray) -> tuple:
    """q (batch, h, t, d_head) and k, v (batch, g, t, d_head) of x (batch, t, d_model); q and k rotated by RoPE."""
    q = split_heads(x @ a["W_q"] + a["b_q"], cfg.n_heads)        # (batch, h, t, d_head)
    k = split_heads(x @ a["W_k"] + a["b_k"], cfg.n_kv_heads)     # (batch, g, t, d_head)
    v = split_heads(x @ a["W_v"] + a["b_v"], cfg.n_kv_heads)     # (batch, g, t, d_head)
    if cfg.rope:
        q, k = apply_rope(q, positions), apply_rope(k, positions)
    return q, k, v


def self_attention(x: np.ndarray, a: dict, cfg: GPTConfig, positions: np.ndarray, cache: KVCache | None = None,
                   layer: int = 0, attention: str = "reference") -> np.ndarray:
    """Causal self-attention of x (batch, t, d_model) at `positions`, appending k and v to the cache if given."""
    q, k, v = project_qkv(x, a, cfg, positions)
    if cache is not None:
        k, v = cache.append(layer, k, v)                         # (batch, g, start + t, d_head)
    return merge_heads(causal_attention(q, k, v, attention)) @ a["W_o"] + a["b_o"]


def block(x: np.ndarray, layer: dict, cfg: GPTConfig, positions: np.ndarray, cache: KVCache | None = None,
          i: int = 0, attention: str = "reference") -> np.ndarray:
    """One pre-LN block: x + Attn(LN(x)), then x + MLP(LN(x))."""
    h = layer_norm(x, layer["ln1_g"], layer["ln1_b"])
    x = x + self_attention(h, layer["attn"], cfg, positions, cache, i, attention)
    h = layer_norm(x, layer["ln2_g"], layer["ln2_b"])
    return x + gelu(h @ layer["W1"] + layer["b1"]) @ layer["W2"] + layer["b2"]


def check_tokens(tokens: np.ndarray, cfg: GPTConfig) -> np.ndarray:
    """Validate an int array (batch, t) of ids in [0, vocab)."""
    tokens = np.asarray(tokens)
    if tokens.ndim != 2 or not np.issubdtype(tokens.dtype, np.integer):
        raise ValueError(f"tokens must be an int array (batch, t), got shape {tokens.shape} dtype {tokens.dtype}")
    if tokens.size and (tokens.min() < 0 or tokens.max() >= cfg.vocab):
        raise ValueError(f"token ids must lie in [0, vocab={cfg.vocab}), got min {tokens.min()}, max {tokens.max()}")
    return tokens


def gpt_logits(params: dict, tokens: np.ndarray, cfg: GPTConfig, cache: KVCache | None = None,
               attention: str = "reference") -> np.ndarray:
    """Logits (batch, t, vocab) of tokens (batch, t), placed after the cached positions if a cache is given."""
    tokens = check_tokens(tokens, cfg)
    start = 0 if cache is None else cache.length
    positions = np.arange(start, start + tokens.shape[1])
    x = params["tok_emb"][tokens]                                # (batch, t, d_model)
    for i, layer in enumerate(params["layers"]):
        x = block(x, layer, cfg, positions, cache, i, attention)
    x = layer_norm(x, params["ln_f_g"], params["ln_f_b"])
    return x @ params["tok_emb"].T                               # tied output layer


def cross_entropy(logits: np.ndarray, targets: np.ndarray) -> float:
    """Mean -log softmax(logits)[target] in nats, logits (..., vocab) and int targets (...)."""
    logits = np.asarray(logits, dtype=np.float64)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    return float(-np.take_along_axis(log_probs, np.asarray(targets)[..., None], axis=-1).mean())


def param_count(params: dict) -> int:
    """Number of scalars in a (nested) parameter dict."""
    if isinstance(params, dict):
        return sum(param_count(v) for v in params.values())
    if isinstance(params, list):
        return sum(param_count(v) for v in params)
    return int(np.asarray(params).size)


def weight_paths(model: Any, params: dict, scale: str, shift: str) -> list[tuple[Any, tuple]]:
    """(parameter of a Keras or PyTorch GPT, key path into the NumPy dict `params`) for every weight.

    The two frameworks' GPTs use the same attribute names except for a LayerNorm's scale and shift
    (Keras: "gamma", "beta"; PyTorch: "weight", "bias"). A path such as ("layers", 0, "attn", "W_q")
    is read with `at_path`.
    """
    def norm(layer: Any, where: tuple, name: str) -> list[tuple[Any, tuple]]:  # a LayerNorm's two weights
        return [(getattr(layer, scale), (*where, f"{name}_g")), (getattr(layer, shift), (*where, f"{name}_b"))]

    pairs = [(model.tok_emb, ("tok_emb",)), *norm(model.ln_f, (), "ln_f")]
    for i, (blk, p) in enumerate(zip(model.blocks, params["layers"], strict=True)):
        pairs += [*norm(blk.ln1, ("layers", i), "ln1"), *norm(blk.ln2, ("layers", i), "ln2")]
        pairs += [(getattr(blk, key), ("layers", i, key)) for key in ("W1", "b1", "W2", "b2")]
        pairs += [(getattr(blk.attn, key), ("layers", i, "attn", key)) for key in p["attn"]]
    return pairs


def at_path(params: dict, path: tuple) -> Any:
    """The entry of a nested parameter dict at a key path, e.g. ("layers", 0, "W1")."""
    for key in path:
        params = params[key]
    return params


def attention_maps(params: dict, tokens: np.ndarray, cfg: GPTConfig) -> list[np.ndarray]:
    """Per layer, the attention weights (batch, h, t, t) of the reference forward pass."""
    tokens = check_tokens(tokens, cfg)
    positions = np.arange(tokens.shape[1])
    x, maps = params["tok_emb"][tokens], []
    for layer in params["layers"]:
        q, k, v = project_qkv(layer_norm(x, layer["ln1_g"], layer["ln1_b"]), layer["attn"], cfg, positions)
        maps.append(grouped_query_attention(q, k, v, window_mask(len(positions), len(positions)))[1])
        x = block(x, layer, cfg, positions)
    return maps


def sample_windows(ids: np.ndarray, batch: int, context: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """x (batch, context) at random starts of the stream ids, and y = x shifted by one: the next characters."""
    if len(ids) < context + 1:
        raise ValueError(f"ids holds {len(ids)} tokens, fewer than context + 1 = {context + 1}")
    starts = rng.integers(0, len(ids) - context, size=batch)
    x = np.stack([ids[s:s + context] for s in starts])
    y = np.stack([ids[s + 1:s + context + 1] for s in starts])
    return x, y


def bigram_log_probs(train_ids: np.ndarray, vocab: int, alpha: float) -> np.ndarray:
    """(vocab, vocab) log P(next | previous) from training counts, add-alpha smoothed."""
    counts = np.full((vocab, vocab), alpha)
    np.add.at(counts, (train_ids[:-1], train_ids[1:]), 1.0)
    return np.log(counts / counts.sum(axis=1, keepdims=True))


def bigram_loss(train_ids: np.ndarray, ids: np.ndarray, vocab: int, alpha: float) -> float:
    """Nats per character of the add-alpha bigram model of train_ids on the stream ids."""
    return float(-bigram_log_probs(train_ids, vocab, alpha)[ids[:-1], ids[1:]].mean())


def offset_profile(weights: np.ndarray, max_offset: int) -> np.ndarray:
    """(heads, max_offset + 1): mean weight a query at position i gives position i - o, over queries i >= max_offset."""
    weights = np.asarray(weights)                                # (heads, t, t)
    t = weights.shape[-1]
    rows = np.arange(max_offset, t)
    return np.stack([weights[:, rows, rows - o].mean(axis=-1) for o in range(max_offset + 1)], axis=-1)
