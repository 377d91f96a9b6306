"""The small encoder–decoder Transformer in TensorFlow/Keras 3, built on `utils.layers.multihead_tf.MultiHeadAttention`.

Same weights, names and meaning as `utils.models.transformer_numpy` (the NumPy reference) and
`utils.models.transformer_torch`: `EncoderBlock`, `DecoderBlock`, `train_step`, `train_seq2seq`,
`greedy_decode` and `attention_maps` have the same structure and signatures in both frameworks.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from utils.core.frameworks import import_tensorflow
from utils.efficient.positions_numpy import sinusoidal_positions
from utils.layers.multihead_numpy import PARAM_NAMES
from utils.layers.multihead_tf import MultiHeadAttention
from utils.models.transformer_numpy import (
    TransformerConfig,
    check_decode_length,
    check_token_batch,
    check_training_data,
    finish_decoding,
    init_transformer_params,
    training_batches,
)

tf = import_tensorflow()
import keras  # noqa: E402


def norm_layer(config: TransformerConfig) -> Any:
    """A built Keras LayerNormalization over d_model with the config's epsilon."""
    layer = keras.layers.LayerNormalization(epsilon=config.ln_eps)
    layer.build((None, None, config.d_model))
    return layer


def dense_layer(n_in: int, n_out: int, activation: str | None = None) -> Any:
    """A built Keras Dense layer (n_in -> n_out), so its weights exist before any call."""
    layer = keras.layers.Dense(n_out, activation=activation)
    layer.build((None, None, n_in))
    return layer


class EncoderBlock(keras.layers.Layer):
    """Post-norm encoder layer: self-attention, then feed-forward, each as x = LayerNorm(x + sublayer(x))."""

    def __init__(self, config: TransformerConfig, **kwargs: Any):
        super().__init__(**kwargs)
        d, rate = config.d_model, config.dropout
        self.self_attn = MultiHeadAttention(d, config.n_heads, dropout=rate)
        self.norm1, self.norm2 = norm_layer(config), norm_layer(config)
        self.ffn_1, self.ffn_2 = dense_layer(d, config.d_ff, "relu"), dense_layer(config.d_ff, d)
        self.drop = keras.layers.Dropout(rate)
        self.built = True

    def call(self, x: Any, src_mask: Any, training: bool | None = None) -> tuple[Any, Any]:
        """Return x (batch, src_len, d_model) and the self-attention weights (batch, heads, src_len, src_len)."""
        a, w_self = self.self_attn(x, mask=src_mask, return_weights=True, training=training)
        x = self.norm1(x + self.drop(a, training=training))
        x = self.norm2(x + self.drop(self.ffn_2(self.ffn_1(x)), training=training))
        return x, w_self


class DecoderBlock(keras.layers.Layer):
    """Post-norm decoder layer: causal self-attention, cross-attention to the encoder's memory, feed-forward."""

    def __init__(self, config: TransformerConfig, **kwargs: Any):
        super().__init__(**kwargs)
        d, h, rate = config.d_model, config.n_heads, config.dropout
        self.self_attn = MultiHeadAttention(d, h, causal=True, dropout=rate)
        self.cross_attn = MultiHeadAttention(d, h, dropout=rate)
        self.norm1, self.norm2, self.norm3 = norm_layer(config), norm_layer(config), norm_layer(config)
        self.ffn_1, self.ffn_2 = dense_layer(d, config.d_ff, "relu"), dense_layer(config.d_ff, d)
        self.drop = keras.layers.Dropout(rate)
        self.built = True

    def call(self, y: Any, memory: Any, src_mask: Any, training: bool | None = None) -> tuple[Any, Any, Any]:
        """Return y (batch, tgt_len, d_model), the self-attention and the cross-attention weights."""
        a, w_self = self.self_attn(y, return_weights=True, training=training)
        y = self.norm1(y + self.drop(a, training=training))
        a, w_cross = self.cross_attn(y, memory, mask=src_mask, return_weights=True, training=training)
        y = self.norm2(y + self.drop(a, training=training))
        y = self.norm3(y + self.drop(self.ffn_2(self.ffn_1(y)), training=training))
        return y, w_self, w_cross


def _variables_by_name(model: Seq2SeqTransformer) -> dict[str, Any]:
    """The model's variables under the names of `utils.models.transformer_numpy`."""
    v = {"src_embed": model.src_embed.embeddings, "tgt_embed": model.tgt_embed.embeddings,
         "out.W": model.out.kernel, "out.b": model.out.bias}
    for kind, blocks in (("enc", model.enc), ("dec", model.dec)):
        for i, b in enumerate(blocks):
            for a_name in ("self_attn", "cross_attn") if kind == "dec" else ("self_attn",):
                v |= {f"{kind}{i}.{a_name}.{n}": getattr(getattr(b, a_name), n) for n in PARAM_NAMES}
            for n in (1, 2, 3) if kind == "dec" else (1, 2):
                norm = getattr(b, f"norm{n}")
                v[f"{kind}{i}.norm{n}.gamma"], v[f"{kind}{i}.norm{n}.beta"] = norm.gamma, norm.beta
            v[f"{kind}{i}.ffn.W_1"], v[f"{kind}{i}.ffn.b_1"] = b.ffn_1.kernel, b.ffn_1.bias
            v[f"{kind}{i}.ffn.W_2"], v[f"{kind}{i}.ffn.b_2"] = b.ffn_2.kernel, b.ffn_2.bias
    return v


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
        self.pe = tf.constant(sinusoidal_positions(config.max_len, d).astype(np.float32))
        self.enc = [EncoderBlock(config) for _ in range(config.n_enc_layers)]
        self.dec = [DecoderBlock(config) for _ in range(config.n_dec_layers)]
        self.out = dense_layer(d, config.tgt_vocab)
        self.drop = keras.layers.Dropout(config.dropout)
        self.built = True
        self.load_numpy_weights(init_transformer_params(config, seed))

    def numpy_weights(self) -> dict[str, np.ndarray]:
        """All weights as NumPy arrays, named as in `utils.models.transformer_numpy`."""
        return {k: v.numpy() for k, v in _variables_by_name(self).items()}

    def load_numpy_weights(self, weights: dict[str, np.ndarray]) -> None:
        """Load a weight dict (from init_transformer_params or another framework's model)."""
        variables = _variables_by_name(self)
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
        """Return (memory (batch, src_len, d_model), src_mask (batch, 1, 1, src_len)); append each layer's weights."""
        src_mask = tf.not_equal(src, self.config.pad_id)[:, None, None, :]
        x = self._embed(self.src_embed, src, training)
        for block in self.enc:
            x, w_self = block(x, src_mask, training=training)
            if weights is not None:
                weights.append(w_self)
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


def attention_maps(model: keras.Model, src: np.ndarray, tgt_in: np.ndarray) -> dict[str, list[np.ndarray]]:
    """Per-layer (batch, heads, n_q, n_k) weights: {"encoder_self", "decoder_self", "decoder_cross"}."""
    c = model.config
    src = tf.constant(check_token_batch(src, "src", c.src_vocab, c.max_len))
    tgt_in = tf.constant(check_token_batch(tgt_in, "tgt_in", c.tgt_vocab, c.max_len))
    encoder_self, decoder_self, decoder_cross = [], [], []
    memory, src_mask = model.encode(src, False, encoder_self)
    model.decode(tgt_in, memory, src_mask, False, (decoder_self, decoder_cross))
    return {"encoder_self": [w.numpy() for w in encoder_self], "decoder_self": [w.numpy() for w in decoder_self],
            "decoder_cross": [w.numpy() for w in decoder_cross]}


def masked_cross_entropy(logits: Any, targets: Any, pad_id: int) -> Any:
    """Mean cross-entropy over the target tokens that are not padding."""
    losses = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=targets, logits=logits)
    keep = tf.cast(tf.not_equal(targets, pad_id), losses.dtype)
    return tf.reduce_sum(losses * keep) / tf.maximum(tf.reduce_sum(keep), 1.0)


def train_step(model: keras.Model, optimizer: Any, src: Any, tgt_in: Any, tgt_out: Any,
               clip_norm: float = 1.0) -> Any:
    """One optimizer step with teacher forcing on one batch; return the loss before the step."""
    with tf.GradientTape() as tape:
        logits = model(src, tgt_in, training=True)  # (batch, tgt_len, tgt_vocab)
        loss = masked_cross_entropy(logits, tgt_out, model.config.pad_id)
    grads = tape.gradient(loss, model.trainable_variables)
    grads = [tf.convert_to_tensor(g) for g in grads]  # embedding rows arrive as IndexedSlices: make them dense
    grads, _ = tf.clip_by_global_norm(grads, clip_norm)  # rescale if the global norm exceeds clip_norm
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    return loss


def train_seq2seq(model: keras.Model, src: np.ndarray, tgt_in: np.ndarray, tgt_out: np.ndarray,
                  epochs: int, batch_size: int, lr: float, seed: int = 0, progress: bool = True,
                  max_seconds: float | None = None, clip_norm: float = 1.0,
                  final_lr_fraction: float = 0.05) -> list[float]:
    """Adam, lr decaying linearly to lr * final_lr_fraction; batches from `training_batches`; one loss per step."""
    src, tgt_in, tgt_out = check_training_data(model.config, src, tgt_in, tgt_out)
    keras.utils.set_random_seed(seed)
    n_steps = epochs * max(len(src) // batch_size, 1)
    schedule = keras.optimizers.schedules.PolynomialDecay(lr, n_steps, lr * final_lr_fraction, power=1.0)
    optimizer = keras.optimizers.Adam(learning_rate=schedule, epsilon=1e-8)
    step = tf.function(lambda *batch: train_step(model, optimizer, *batch, clip_norm=clip_norm),
                       reduce_retracing=True)  # compiled once, then reused for every batch
    losses = []
    for idx in tqdm(training_batches(len(src), batch_size, epochs, seed, max_seconds), total=n_steps,
                    desc="TensorFlow", disable=not progress, mininterval=1.0):
        losses.append(float(step(tf.constant(src[idx]), tf.constant(tgt_in[idx]), tf.constant(tgt_out[idx]))))
    return losses


def greedy_decode(model: keras.Model, src: np.ndarray, max_len: int, bos_id: int, eos_id: int) -> np.ndarray:
    """(batch, max_len) int64 tokens, BOS excluded; each row stops at its EOS, padded after it with pad_id."""
    c = model.config
    src = tf.constant(check_token_batch(src, "src", c.src_vocab, c.max_len))
    check_decode_length(c, max_len)
    memory, src_mask = model.encode(src, training=False)
    tokens = np.full((src.shape[0], 1), bos_id, dtype=np.int64)  # (batch, 1): <bos>
    for _ in range(max_len):
        logits = model.decode(tf.constant(tokens), memory, src_mask, training=False)  # (batch, len, tgt_vocab)
        next_token = np.argmax(logits[:, -1].numpy(), axis=-1)  # (batch,): the most likely next token
        tokens = np.concatenate([tokens, next_token[:, None]], axis=1)
        if np.all(np.any(tokens[:, 1:] == eos_id, axis=1)):  # every row has ended
            break
    return finish_decoding(tokens, max_len, eos_id, c.pad_id)
