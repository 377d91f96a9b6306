"""The small encoder–decoder Transformer in NumPy: config, weights, blocks, forward pass, greedy decoding.

`init_transformer_params(config, seed)` makes one dict of NumPy weights. The TensorFlow and PyTorch
models (`utils.models.transformer_tf`, `utils.models.transformer_torch`) load exactly this dict, so both start
from identical weights, and `transformer_logits` here is the reference they are tested against. The blocks,
`encode`, `decode`, `attention_maps` and `greedy_decode` have the same names and structure in all three.

Weight names (layer i, MHA = the eight names of `utils.layers.multihead_numpy`):
    src_embed (src_vocab, d_model), tgt_embed (tgt_vocab, d_model), out.W (d_model, tgt_vocab), out.b
    enc{i}.self_attn.MHA, enc{i}.norm1/norm2.{gamma,beta}, enc{i}.ffn.{W_1 (d_model, d_ff), b_1, W_2, b_2}
    dec{i}.self_attn.MHA, dec{i}.cross_attn.MHA, dec{i}.norm1/norm2/norm3.{gamma,beta}, dec{i}.ffn.*
Layers are post-norm ("Add & Norm"): x = LayerNorm(x + sublayer(x)).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from utils.core.validation import check_config
from utils.efficient.positions_numpy import sinusoidal_positions
from utils.layers.layer_norm_numpy import layer_norm
from utils.layers.multihead_numpy import init_mha_params, multi_head_attention


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
        check_config(self, may_be_zero=("n_enc_layers", "n_dec_layers", "pad_id"))
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")


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


def layer_params(p: dict[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    """The weights under `prefix.` with the prefix removed, e.g. layer_params(params, "enc0")["norm1.gamma"]."""
    return {k[len(prefix) + 1:]: v for k, v in p.items() if k.startswith(prefix + ".")}


def check_training_data(config: TransformerConfig, src: np.ndarray, tgt_in: np.ndarray,
                        tgt_out: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate a training set (src, tgt_in, tgt_out) against the config; return it as int64 arrays."""
    src = check_token_batch(src, "src", config.src_vocab, config.max_len)
    tgt_in = check_token_batch(tgt_in, "tgt_in", config.tgt_vocab, config.max_len)
    tgt_out = check_token_batch(tgt_out, "tgt_out", config.tgt_vocab, config.max_len)
    if len(src) != len(tgt_in) or tgt_in.shape != tgt_out.shape:
        raise ValueError(f"src {src.shape}, tgt_in {tgt_in.shape}, tgt_out {tgt_out.shape}: need equal batch and tgt shapes")
    return src, tgt_in, tgt_out


def check_decode_length(config: TransformerConfig, max_len: int) -> None:
    """Greedy decoding writes max_len tokens after <bos>: both must fit in config.max_len."""
    if max_len < 1 or max_len + 1 > config.max_len:
        raise ValueError(f"max_len must be in [1, config.max_len - 1 = {config.max_len - 1}], got {max_len}")


def training_batches(n: int, batch_size: int, epochs: int, seed: int,
                     max_seconds: float | None = None) -> Iterator[np.ndarray]:
    """Yield the index array of each training batch: a seeded shuffle per epoch, the last partial batch dropped.

    Both frameworks draw the same batches in the same order. Stops after the epoch in which max_seconds passed.
    """
    rng = np.random.default_rng(seed)
    n_batches = max(n // batch_size, 1)
    start = time.perf_counter()
    for _ in range(epochs):
        order = rng.permutation(n)
        for b in range(n_batches):
            yield order[b * batch_size:(b + 1) * batch_size]
        if max_seconds is not None and time.perf_counter() - start > max_seconds:
            return


def feed_forward(x: np.ndarray, p: dict[str, np.ndarray]) -> np.ndarray:
    """Position-wise feed-forward network: ReLU(x W_1 + b_1) W_2 + b_2, (batch, seq, d_model) -> same."""
    return np.maximum(x @ p["W_1"] + p["b_1"], 0.0) @ p["W_2"] + p["b_2"]


def embed_tokens(table: np.ndarray, tokens: np.ndarray) -> np.ndarray:
    """Token embeddings times √d_model plus the sinusoidal positions: (batch, seq) ids -> (batch, seq, d_model)."""
    d_model = table.shape[1]
    positions = sinusoidal_positions(tokens.shape[1], d_model).astype(np.float32)  # (seq, d_model)
    return table[tokens] * math.sqrt(d_model) + positions


def encoder_block(x: np.ndarray, p: dict[str, np.ndarray], config: TransformerConfig,
                  src_mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Post-norm encoder layer: self-attention, then feed-forward, each as x = LayerNorm(x + sublayer(x)).

    Returns x (batch, src_len, d_model) and the self-attention weights (batch, heads, src_len, src_len).
    """
    eps = config.ln_eps
    a, w_self = multi_head_attention(x, None, layer_params(p, "self_attn"), config.n_heads, mask=src_mask)
    x = layer_norm(x + a, p["norm1.gamma"], p["norm1.beta"], eps)
    x = layer_norm(x + feed_forward(x, layer_params(p, "ffn")), p["norm2.gamma"], p["norm2.beta"], eps)
    return x, w_self


def decoder_block(y: np.ndarray, memory: np.ndarray, p: dict[str, np.ndarray], config: TransformerConfig,
                  src_mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Post-norm decoder layer: causal self-attention, cross-attention to the encoder's memory, feed-forward.

    Returns y (batch, tgt_len, d_model), the self-attention and the cross-attention weights.
    """
    eps = config.ln_eps
    a, w_self = multi_head_attention(y, None, layer_params(p, "self_attn"), config.n_heads, causal=True)
    y = layer_norm(y + a, p["norm1.gamma"], p["norm1.beta"], eps)
    a, w_cross = multi_head_attention(y, memory, layer_params(p, "cross_attn"), config.n_heads, mask=src_mask)
    y = layer_norm(y + a, p["norm2.gamma"], p["norm2.beta"], eps)
    y = layer_norm(y + feed_forward(y, layer_params(p, "ffn")), p["norm3.gamma"], p["norm3.beta"], eps)
    return y, w_self, w_cross


def encode(params: dict[str, np.ndarray], config: TransformerConfig, src: np.ndarray,
           weights: list | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Return (memory (batch, src_len, d_model), src_mask (batch, 1, 1, src_len)); append each layer's weights."""
    src_mask = (src != config.pad_id)[:, None, None, :]  # True = a real token, may be attended to
    x = embed_tokens(params["src_embed"], src)
    for i in range(config.n_enc_layers):
        x, w_self = encoder_block(x, layer_params(params, f"enc{i}"), config, src_mask)
        if weights is not None:
            weights.append(w_self)
    return x, src_mask


def decode(params: dict[str, np.ndarray], config: TransformerConfig, tgt_in: np.ndarray, memory: np.ndarray,
           src_mask: np.ndarray, weights: tuple[list, list] | None = None) -> np.ndarray:
    """Return logits (batch, tgt_len, tgt_vocab) for the decoder input given the encoder memory."""
    y = embed_tokens(params["tgt_embed"], tgt_in)
    for i in range(config.n_dec_layers):
        y, w_self, w_cross = decoder_block(y, memory, layer_params(params, f"dec{i}"), config, src_mask)
        if weights is not None:
            weights[0].append(w_self)
            weights[1].append(w_cross)
    return y @ params["out.W"] + params["out.b"]


def transformer_logits(params: dict[str, np.ndarray], config: TransformerConfig, src: np.ndarray,
                       tgt_in: np.ndarray) -> np.ndarray:
    """The reference forward pass (no dropout): logits (batch, tgt_len, tgt_vocab), float32."""
    src = check_token_batch(src, "src", config.src_vocab, config.max_len)
    tgt_in = check_token_batch(tgt_in, "tgt_in", config.tgt_vocab, config.max_len)
    memory, src_mask = encode(params, config, src)
    return decode(params, config, tgt_in, memory, src_mask).astype(np.float32)


def attention_maps(params: dict[str, np.ndarray], config: TransformerConfig, src: np.ndarray,
                   tgt_in: np.ndarray) -> dict[str, list[np.ndarray]]:
    """Per-layer (batch, heads, n_q, n_k) weights: {"encoder_self", "decoder_self", "decoder_cross"}."""
    src = check_token_batch(src, "src", config.src_vocab, config.max_len)
    tgt_in = check_token_batch(tgt_in, "tgt_in", config.tgt_vocab, config.max_len)
    encoder_self, decoder_self, decoder_cross = [], [], []
    memory, src_mask = encode(params, config, src, encoder_self)
    decode(params, config, tgt_in, memory, src_mask, (decoder_self, decoder_cross))
    return {"encoder_self": encoder_self, "decoder_self": decoder_self, "decoder_cross": decoder_cross}


def masked_cross_entropy(logits: np.ndarray, targets: np.ndarray, pad_id: int) -> float:
    """Mean cross-entropy over the target tokens that are not padding (logits (batch, len, vocab))."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    picked = np.take_along_axis(log_probs, targets[..., None], axis=-1)[..., 0]  # (batch, len)
    keep = targets != pad_id
    return float(-(picked * keep).sum() / max(keep.sum(), 1))


def greedy_decode(params: dict[str, np.ndarray], config: TransformerConfig, src: np.ndarray, max_len: int,
                  bos_id: int, eos_id: int) -> np.ndarray:
    """(batch, max_len) int64 tokens, BOS excluded; each row stops at its EOS, padded after it with pad_id."""
    src = check_token_batch(src, "src", config.src_vocab, config.max_len)
    check_decode_length(config, max_len)
    memory, src_mask = encode(params, config, src)
    tokens = np.full((src.shape[0], 1), bos_id, dtype=np.int64)  # (batch, 1): <bos>
    for _ in range(max_len):
        logits = decode(params, config, tokens, memory, src_mask)  # (batch, len, tgt_vocab)
        next_token = logits[:, -1].argmax(axis=-1)  # (batch,): the most likely next token
        tokens = np.concatenate([tokens, next_token[:, None]], axis=1)
        if np.all(np.any(tokens[:, 1:] == eos_id, axis=1)):  # every row has ended
            break
    return finish_decoding(tokens, max_len, eos_id, config.pad_id)


def finish_decoding(tokens: np.ndarray, max_len: int, eos_id: int, pad_id: int) -> np.ndarray:
    """Drop the leading <bos>, pad to (batch, max_len), and blank out everything after each row's first EOS."""
    tokens = np.asarray(tokens)
    out = np.full((tokens.shape[0], max_len), pad_id, dtype=np.int64)
    out[:, : tokens.shape[1] - 1] = tokens[:, 1:]
    return mask_after_eos(out, eos_id, pad_id)


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
