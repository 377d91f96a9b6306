"""The small encoder–decoder Transformer in TensorFlow/Keras 3, built on `utils.layers.multihead_tf.MultiHeadAttention`.

Same weights, names and meaning as `utils.models.transformer_numpy` (the NumPy reference) and
`utils.models.transformer_torch`; `train_seq2seq` and `greedy_decode` have the same signatures in both.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
from tqdm import tqdm

from utils.core.frameworks import import_tensorflow
from utils.layers.multihead_numpy import PARAM_NAMES
from utils.layers.multihead_tf import MultiHeadAttention
from utils.models.transformer_numpy import (
    TransformerConfig,
    check_token_batch,
    init_transformer_params,
    mask_after_eos,
    sinusoidal_positional_encoding,
)

tf = import_tensorflow()
import keras  # noqa: E402


def _norm(config: TransformerConfig) -> Any:
    layer = keras.layers.LayerNormalization(epsilon=config.ln_eps)
    layer.build((None, None, config.d_model))
    return layer


def _dense(n_in: int, n_out: int, activation: str | None = None) -> Any:
    layer = keras.layers.Dense(n_out, activation=activation)
    layer.build((None, None, n_in))
    return layer


class _Block(keras.layers.Layer):
    """An encoder layer (cross=False) or a decoder layer (cross=True), post-norm."""

    def __init__(self, config: TransformerConfig, decoder: bool, **kwargs: Any):
        super().__init__(**kwargs)
        d, h, rate = config.d_model, config.n_heads, config.dropout
        self.decoder = decoder
        self.self_attn = MultiHeadAttention(d, h, causal=decoder, dropout=rate)
        self.cross_attn = MultiHeadAttention(d, h, dropout=rate) if decoder else None
        self.norms = [_norm(config) for _ in range(3 if decoder else 2)]
        self.ffn_1, self.ffn_2 = _dense(d, config.d_ff, "relu"), _dense(config.d_ff, d)
        self.drop = keras.layers.Dropout(rate)
        self.built = True

    def call(self, x: Any, memory: Any = None, src_mask: Any = None, training: bool | None = None) -> Any:
        """Return (x, self-attention weights, cross-attention weights or None)."""
        a, w_self = self.self_attn(x, mask=None if self.decoder else src_mask, return_weights=True, training=training)
        x = self.norms[0](x + self.drop(a, training=training))
        w_cross = None
        if self.decoder:
            a, w_cross = self.cross_attn(x, memory, mask=src_mask, return_weights=True, training=training)
            x = self.norms[1](x + self.drop(a, training=training))
        x = self.norms[-1](x + self.drop(self.ffn_2(self.ffn_1(x)), training=training))
        return x, w_self, w_cross


class Seq2SeqTransformer(keras.Model):
    """Encoder–decoder Transformer; model(src, tgt_in, training=None) -> logits (batch, tgt_len, tgt_vocab)."""

    def __init__(self, config: TransformerConfig, seed: int = 0, **kwargs: Any):
        super().__init__(**kwargs)
        self.config = config
        d = config.d_model
        self.src_embed = keras.layers.Embedding(config.src_vocab, d)
        self.tgt_embed = keras.layers.Embedding(config.tgt_vocab, d)
        self.src_embed.build((None, None))
        self.tgt_embed.build((None, None))
        self.pe = tf.constant(sinusoidal_positional_encoding(config.max_len, d))
        self.enc = [_Block(config, decoder=False) for _ in range(config.n_enc_layers)]
        self.dec = [_Block(config, decoder=True) for _ in range(config.n_dec_layers)]
        self.out = _dense(d, config.tgt_vocab)
        self.drop = keras.layers.Dropout(config.dropout)
        self.built = True
        self.load_numpy_weights(init_transformer_params(config, seed))

    def _variables_by_name(self) -> dict[str, Any]:
        v = {"src_embed": self.src_embed.embeddings, "tgt_embed": self.tgt_embed.embeddings,
             "out.W": self.out.kernel, "out.b": self.out.bias}
        for kind, blocks in (("enc", self.enc), ("dec", self.dec)):
            for i, b in enumerate(blocks):
                attns = [("self_attn", b.self_attn)] + ([("cross_attn", b.cross_attn)] if b.decoder else [])
                for a_name, attn in attns:
                    v |= {f"{kind}{i}.{a_name}.{n}": getattr(attn, n) for n in PARAM_NAMES}
                for n, norm in enumerate(b.norms, start=1):
                    v[f"{kind}{i}.norm{n}.gamma"], v[f"{kind}{i}.norm{n}.beta"] = norm.gamma, norm.beta
                v[f"{kind}{i}.ffn.W_1"], v[f"{kind}{i}.ffn.b_1"] = b.ffn_1.kernel, b.ffn_1.bias
                v[f"{kind}{i}.ffn.W_2"], v[f"{kind}{i}.ffn.b_2"] = b.ffn_2.kernel, b.ffn_2.bias
        return v

    def numpy_weights(self) -> dict[str, np.ndarray]:
        """All weights as NumPy arrays, named as in `utils.models.transformer_numpy`."""
        return {k: v.numpy() for k, v in self._variables_by_name().items()}

    def load_numpy_weights(self, weights: dict[str, np.ndarray]) -> None:
        """Load a weight dict (from init_transformer_params or another framework's model)."""
        variables = self._variables_by_name()
        if set(weights) != set(variables):
            raise ValueError(f"weight names differ: missing {sorted(set(variables) - set(weights))[:5]}, "
                             f"unexpected {sorted(set(weights) - set(variables))[:5]}")
        for k, var in variables.items():
            if tuple(np.shape(weights[k])) != tuple(var.shape):
                raise ValueError(f"weights[{k!r}] has shape {np.shape(weights[k])}, the model needs {tuple(var.shape)}")
            var.assign(np.asarray(weights[k], dtype=np.float32))

    def _embed(self, embed: Any, tokens: Any, training: bool | None) -> Any:
        n = tf.shape(tokens)[1]
        return self.drop(embed(tokens) * math.sqrt(self.config.d_model) + self.pe[:n], training=training)

    def encode(self, src: Any, training: bool | None = None, weights: list | None = None) -> tuple[Any, Any]:
        """Return (memory (batch, src_len, d_model), src_mask (batch, 1, 1, src_len))."""
        src_mask = tf.not_equal(src, self.config.pad_id)[:, None, None, :]
        x = self._embed(self.src_embed, src, training)
        for block in self.enc:
            x, w, _ = block(x, src_mask=src_mask, training=training)
            if weights is not None:
                weights.append(w)
        return x, src_mask

    def decode(self, tgt_in: Any, memory: Any, src_mask: Any, training: bool | None = None,
               weights: tuple[list, list] | None = None) -> Any:
        """Return logits (batch, tgt_len, tgt_vocab) for the decoder input given the encoder memory."""
        y = self._embed(self.tgt_embed, tgt_in, training)
        for block in self.dec:
            y, w_self, w_cross = block(y, memory, src_mask, training=training)
            if weights is not None:
                weights[0].append(w_self)
                weights[1].append(w_cross)
        return self.out(y)

    def call(self, src: Any, tgt_in: Any, training: bool | None = None) -> Any:
        memory, src_mask = self.encode(src, training)
        return self.decode(tgt_in, memory, src_mask, training)

    def attention_weights(self, src: np.ndarray, tgt_in: np.ndarray) -> dict[str, list[np.ndarray]]:
        """Per-layer (batch, heads, n_q, n_k) weights: {"encoder_self", "decoder_self", "decoder_cross"}."""
        c = self.config
        src = tf.constant(check_token_batch(src, "src", c.src_vocab, c.max_len))
        tgt_in = tf.constant(check_token_batch(tgt_in, "tgt_in", c.tgt_vocab, c.max_len))
        enc_w, dec_self, dec_cross = [], [], []
        memory, src_mask = self.encode(src, False, enc_w)
        self.decode(tgt_in, memory, src_mask, False, (dec_self, dec_cross))
        return {"encoder_self": [w.numpy() for w in enc_w], "decoder_self": [w.numpy() for w in dec_self],
                "decoder_cross": [w.numpy() for w in dec_cross]}


def masked_cross_entropy(logits: Any, targets: Any, pad_id: int) -> Any:
    """Mean cross-entropy over the target tokens that are not padding."""
    losses = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=targets, logits=logits)
    keep = tf.cast(tf.not_equal(targets, pad_id), losses.dtype)
    return tf.reduce_sum(losses * keep) / tf.maximum(tf.reduce_sum(keep), 1.0)


def train_seq2seq(model: Seq2SeqTransformer, src: np.ndarray, tgt_in: np.ndarray, tgt_out: np.ndarray,
                  epochs: int, batch_size: int, lr: float, seed: int = 0, progress: bool = True,
                  max_seconds: float | None = None, clip_norm: float = 1.0,
                  final_lr_fraction: float = 0.05) -> list[float]:
    """Adam with teacher forcing; return one loss per step.

    The learning rate decays linearly from lr to lr * final_lr_fraction over the run. Batches (the last
    partial one dropped) follow np.random.default_rng(seed): the same order as in utils.models.transformer_torch.
    """
    c = model.config
    src, tgt_in = check_token_batch(src, "src", c.src_vocab, c.max_len), check_token_batch(tgt_in, "tgt_in", c.tgt_vocab, c.max_len)
    tgt_out = check_token_batch(tgt_out, "tgt_out", c.tgt_vocab, c.max_len)
    if len(src) != len(tgt_in) or tgt_in.shape != tgt_out.shape:
        raise ValueError(f"src {src.shape}, tgt_in {tgt_in.shape}, tgt_out {tgt_out.shape}: need equal batch and tgt shapes")
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    n_batches = max(len(src) // batch_size, 1)
    schedule = keras.optimizers.schedules.PolynomialDecay(lr, epochs * n_batches, lr * final_lr_fraction, power=1.0)
    opt = keras.optimizers.Adam(learning_rate=schedule, epsilon=1e-8)

    @tf.function(reduce_retracing=True)
    def step(s: Any, ti: Any, to: Any) -> Any:
        with tf.GradientTape() as tape:
            loss = masked_cross_entropy(model(s, ti, training=True), to, c.pad_id)
        grads = tape.gradient(loss, model.trainable_variables)
        grads, _ = tf.clip_by_global_norm(grads, clip_norm)
        opt.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    losses: list[float] = []
    start = time.perf_counter()
    with tqdm(total=epochs * n_batches, desc="TensorFlow", disable=not progress, mininterval=1.0) as bar:
        for _ in range(epochs):
            order = rng.permutation(len(src))
            for b in range(n_batches):
                idx = order[b * batch_size:(b + 1) * batch_size]
                losses.append(float(step(tf.constant(src[idx]), tf.constant(tgt_in[idx]), tf.constant(tgt_out[idx]))))
                bar.update(1)
                bar.set_postfix(loss=f"{losses[-1]:.3f}", refresh=False)
            if max_seconds is not None and time.perf_counter() - start > max_seconds:
                break
    return losses


def greedy_decode(model: Seq2SeqTransformer, src: np.ndarray, max_len: int, bos_id: int, eos_id: int) -> np.ndarray:
    """(batch, max_len) int64 tokens, BOS excluded; each row stops at its EOS, padded after it with pad_id."""
    c = model.config
    src = tf.constant(check_token_batch(src, "src", c.src_vocab, c.max_len))
    if max_len < 1 or max_len + 1 > c.max_len:
        raise ValueError(f"max_len must be in [1, config.max_len - 1 = {c.max_len - 1}], got {max_len}")
    memory, src_mask = model.encode(src, training=False)
    tokens = np.full((src.shape[0], 1), bos_id, dtype=np.int64)
    for _ in range(max_len):
        logits = model.decode(tf.constant(tokens), memory, src_mask, training=False)
        nxt = np.argmax(logits[:, -1].numpy(), axis=-1)
        tokens = np.concatenate([tokens, nxt[:, None]], axis=1)
        if np.all(np.any(tokens[:, 1:] == eos_id, axis=1)):
            break
    out = np.full((src.shape[0], max_len), c.pad_id, dtype=np.int64)
    out[:, : tokens.shape[1] - 1] = tokens[:, 1:]
    return mask_after_eos(out, eos_id, c.pad_id)
