"""The small encoder–decoder Transformer's shared parts: config, positional encoding, NumPy weights and forward pass.

`init_transformer_params(config, seed)` makes one dict of NumPy weights. The TensorFlow and PyTorch
models (`utils.models.transformer_tf`, `utils.models.transformer_torch`) load exactly this dict, so both start
from identical weights, and `transformer_logits_numpy` is the reference they are tested against.

Weight names (layer i, MHA = the eight names of `utils.layers.multihead_numpy`):
    src_embed (src_vocab, d_model), tgt_embed (tgt_vocab, d_model), out.W (d_model, tgt_vocab), out.b
    enc{i}.self_attn.MHA, enc{i}.norm1/norm2.{gamma,beta}, enc{i}.ffn.{W_1 (d_model, d_ff), b_1, W_2, b_2}
    dec{i}.self_attn.MHA, dec{i}.cross_attn.MHA, dec{i}.norm1/norm2/norm3.{gamma,beta}, dec{i}.ffn.*
Layers are post-norm ("Add & Norm"): x = LayerNorm(x + sublayer(x)).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from utils.core.attention_numpy import causal_mask
from utils.layers.multihead_numpy import check_heads, init_mha_params, multi_head_attention


@dataclass(frozen=True)
class TransformerConfig:
    """Sizes of the small encoder–decoder Transformer."""

    src_vocab: int
    tgt_vocab: int
    d_model: int = 64
    n_heads: int = 4
    d_ff: int = 128
    n_enc_layers: int = 2
    n_dec_layers: int = 2
    max_len: int = 64
    dropout: float = 0.0
    pad_id: int = 0
    ln_eps: float = 1e-5

    def __post_init__(self) -> None:
        for name in ("src_vocab", "tgt_vocab", "d_model", "n_heads", "d_ff", "max_len"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive int, got {getattr(self, name)!r}")
        for name in ("n_enc_layers", "n_dec_layers"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 0:
                raise ValueError(f"{name} must be a non-negative int, got {getattr(self, name)!r}")
        check_heads(self.d_model, self.n_heads)
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")


def sinusoidal_positional_encoding(max_len: int, d_model: int) -> np.ndarray:
    """(max_len, d_model) float32: PE[p, 2i] = sin(p / 10000^(2i/d)), PE[p, 2i+1] = cos(same)."""
    if max_len < 1 or d_model < 2 or d_model % 2:
        raise ValueError(f"need max_len >= 1 and an even d_model >= 2, got max_len={max_len}, d_model={d_model}")
    pos = np.arange(max_len)[:, None]
    freq = 10000.0 ** (-np.arange(0, d_model, 2) / d_model)  # (d_model / 2,)
    pe = np.zeros((max_len, d_model))
    pe[:, 0::2] = np.sin(pos * freq)
    pe[:, 1::2] = np.cos(pos * freq)
    return pe.astype(np.float32)


def _glorot(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    limit = np.sqrt(6.0 / sum(shape))
    return rng.uniform(-limit, limit, size=shape)


def init_transformer_params(config: TransformerConfig, seed: int = 0) -> dict[str, np.ndarray]:
    """All weights of the model as float32 NumPy arrays, from one seeded generator (names in the module doc)."""
    rng = np.random.default_rng(seed)
    d, f = config.d_model, config.d_ff
    p: dict[str, np.ndarray] = {
        "src_embed": rng.normal(0.0, d**-0.5, size=(config.src_vocab, d)),
        "tgt_embed": rng.normal(0.0, d**-0.5, size=(config.tgt_vocab, d)),
    }

    def block(prefix: str, attns: tuple[str, ...], norms: int) -> None:
        for a in attns:
            for k, v in init_mha_params(d, seed=int(rng.integers(2**31))).items():
                p[f"{prefix}.{a}.{k}"] = v
        for n in range(1, norms + 1):
            p[f"{prefix}.norm{n}.gamma"], p[f"{prefix}.norm{n}.beta"] = np.ones(d), np.zeros(d)
        p[f"{prefix}.ffn.W_1"], p[f"{prefix}.ffn.b_1"] = _glorot(rng, (d, f)), np.zeros(f)
        p[f"{prefix}.ffn.W_2"], p[f"{prefix}.ffn.b_2"] = _glorot(rng, (f, d)), np.zeros(d)

    for i in range(config.n_enc_layers):
        block(f"enc{i}", ("self_attn",), 2)
    for i in range(config.n_dec_layers):
        block(f"dec{i}", ("self_attn", "cross_attn"), 3)
    p["out.W"], p["out.b"] = _glorot(rng, (d, config.tgt_vocab)), np.zeros(config.tgt_vocab)
    return {k: v.astype(np.float32) for k, v in p.items()}


def check_token_batch(tokens: np.ndarray, name: str, vocab: int, max_len: int) -> np.ndarray:
    """Validate a (batch, seq) integer token array; return it as int64."""
    tokens = np.asarray(tokens)
    if tokens.ndim != 2 or not np.issubdtype(tokens.dtype, np.integer):
        raise ValueError(f"{name} must be a (batch, seq) integer array, got shape {tokens.shape} dtype {tokens.dtype}")
    if tokens.shape[1] > max_len:
        raise ValueError(f"{name} has seq length {tokens.shape[1]} > config.max_len={max_len}")
    if tokens.size and (tokens.min() < 0 or tokens.max() >= vocab):
        raise ValueError(f"{name} has token ids outside [0, {vocab}): min {tokens.min()}, max {tokens.max()}")
    return tokens.astype(np.int64)


def source_key_mask(src: np.ndarray, pad_id: int) -> np.ndarray:
    """(batch, 1, 1, src_len) boolean mask, True where the source token is not padding."""
    return (np.asarray(src) != pad_id)[:, None, None, :]


def _layer_norm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float) -> np.ndarray:
    mu = x.mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(x.var(-1, keepdims=True) + eps) * gamma + beta


def _sub(p: dict[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    return {k[len(prefix) + 1:]: v for k, v in p.items() if k.startswith(prefix + ".")}


def transformer_logits_numpy(
    params: dict[str, np.ndarray], config: TransformerConfig, src: np.ndarray, tgt_in: np.ndarray
) -> np.ndarray:
    """The reference forward pass (no dropout): logits (batch, tgt_len, tgt_vocab)."""
    src = check_token_batch(src, "src", config.src_vocab, config.max_len)
    tgt_in = check_token_batch(tgt_in, "tgt_in", config.tgt_vocab, config.max_len)
    d, h, eps = config.d_model, config.n_heads, config.ln_eps
    pe = sinusoidal_positional_encoding(config.max_len, d)

    def ffn(x: np.ndarray, q: dict[str, np.ndarray]) -> np.ndarray:
        return np.maximum(x @ q["W_1"] + q["b_1"], 0.0) @ q["W_2"] + q["b_2"]

    src_mask = source_key_mask(src, config.pad_id)
    x = params["src_embed"][src] * np.sqrt(d) + pe[: src.shape[1]]  # (batch, src_len, d_model)
    for i in range(config.n_enc_layers):
        q = _sub(params, f"enc{i}")
        x = _layer_norm(x + multi_head_attention(x, x, _sub(q, "self_attn"), h, src_mask)[0],
                        q["norm1.gamma"], q["norm1.beta"], eps)
        x = _layer_norm(x + ffn(x, _sub(q, "ffn")), q["norm2.gamma"], q["norm2.beta"], eps)
    y = params["tgt_embed"][tgt_in] * np.sqrt(d) + pe[: tgt_in.shape[1]]  # (batch, tgt_len, d_model)
    causal = causal_mask(tgt_in.shape[1])
    for i in range(config.n_dec_layers):
        q = _sub(params, f"dec{i}")
        y = _layer_norm(y + multi_head_attention(y, y, _sub(q, "self_attn"), h, causal)[0],
                        q["norm1.gamma"], q["norm1.beta"], eps)
        y = _layer_norm(y + multi_head_attention(y, x, _sub(q, "cross_attn"), h, src_mask)[0],
                        q["norm2.gamma"], q["norm2.beta"], eps)
        y = _layer_norm(y + ffn(y, _sub(q, "ffn")), q["norm3.gamma"], q["norm3.beta"], eps)
    return (y @ params["out.W"] + params["out.b"]).astype(np.float32)


def exact_match(pred: np.ndarray, target: np.ndarray) -> float:
    """Fraction of rows of `pred` equal to the same row of `target` in every position (both (batch, len))."""
    pred, target = np.asarray(pred), np.asarray(target)
    if pred.shape != target.shape or pred.ndim != 2:
        raise ValueError(f"pred and target must both be (batch, len) arrays of one shape, got {pred.shape} and {target.shape}")
    return float(np.mean(np.all(pred == target, axis=1)))


def mask_after_eos(tokens: np.ndarray, eos_id: int, pad_id: int) -> np.ndarray:
    """Replace every token after the first eos_id in each row by pad_id (the eos itself is kept)."""
    tokens = np.array(tokens)
    after = np.cumsum(tokens == eos_id, axis=1) - (tokens == eos_id) > 0
    tokens[after] = pad_id
    return tokens
