"""The small GPT of `utils.models.gpt_numpy` as a Keras 3 model (TensorFlow backend): same parameters, same meaning.

Attention runs through one of three kernels, equal to float32 rounding: "library"
(`keras.ops.dot_product_attention`, used for training), "flash" (the course's tiled forward,
`utils.efficient.tiled_tf.flash_attention`) and "reference" (`utils.efficient.gqa_tf`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from tqdm.auto import tqdm

from utils.core.frameworks import import_tensorflow
from utils.efficient.gqa_tf import grouped_query_attention, repeat_kv
from utils.efficient.kv_cache_tf import KVCache
from utils.efficient.positions_tf import apply_rope
from utils.efficient.tiled_tf import flash_attention
from utils.layers.multihead_tf import merge_heads, split_heads
from utils.models.gpt_numpy import (
    GPTConfig,
    at_path,
    check_tokens,
    sample_windows,
    weight_paths,
    window_mask,
)

tf = import_tensorflow()
import keras  # noqa: E402  (after TensorFlow, so Keras uses its backend quietly)

ATTENTION_KINDS = ("library", "flash", "reference")


def causal_attention(q: Any, k: Any, v: Any, attention: str = "library") -> Any:
    """Causal GQA of q (batch, h, t, d_head) over k, v (batch, g, m, d_head), queries the last t of m positions."""
    t, m = q.shape[-2], k.shape[-2]
    if attention == "flash":
        group = q.shape[1] // k.shape[1]
        return flash_attention(q, repeat_kv(k, group), repeat_kv(v, group), causal=True)
    mask = tf.constant(window_mask(t, m))                              # (t, m), True = may attend
    if attention == "library":                                         # Keras wants (batch, seq, heads, d_head)
        q, k, v = (tf.transpose(a, (0, 2, 1, 3)) for a in (q, k, v))
        out = keras.ops.dot_product_attention(q, k, v, mask=mask[None, None], is_causal=False)
        return tf.transpose(out, (0, 2, 1, 3))
    if attention == "reference":
        return grouped_query_attention(q, k, v, mask)[0]
    raise ValueError(f"attention must be one of {ATTENTION_KINDS}, got {attention!r}")


class SelfAttention(keras.layers.Layer):
    """GQA self-attention with RoPE; weights used as x @ W, the layout of `init_gqa_params`."""

    def __init__(self, cfg: GPTConfig, **kwargs: Any):
        super().__init__(**kwargs)
        self.cfg = cfg
        d, q_width, kv_width = cfg.d_model, cfg.n_heads * cfg.d_head, cfg.n_kv_heads * cfg.d_head
        for name, shape in (("q", (d, q_width)), ("k", (d, kv_width)), ("v", (d, kv_width)), ("o", (q_width, d))):
            setattr(self, f"W_{name}", self.add_weight(shape=shape, initializer="zeros", name=f"W_{name}"))
            setattr(self, f"b_{name}", self.add_weight(shape=(shape[1],), initializer="zeros", name=f"b_{name}"))

    def call(self, x: Any, start: int = 0, cache: KVCache | None = None, layer: int = 0,
             attention: str = "library") -> Any:
        cfg, positions = self.cfg, np.arange(start, start + x.shape[1])   # RoPE positions of the t new tokens
        q = split_heads(x @ self.W_q + self.b_q, cfg.n_heads)          # (batch, h, t, d_head)
        k = split_heads(x @ self.W_k + self.b_k, cfg.n_kv_heads)       # (batch, g, t, d_head)
        v = split_heads(x @ self.W_v + self.b_v, cfg.n_kv_heads)       # (batch, g, t, d_head)
        if cfg.rope:
            q, k = apply_rope(q, positions), apply_rope(k, positions)
        if cache is not None:
            k, v = cache.append(layer, k, v)                           # (batch, g, cached + t, d_head)
        return merge_heads(causal_attention(q, k, v, attention)) @ self.W_o + self.b_o


class Block(keras.layers.Layer):
    """Pre-LN block: x + Attn(LN(x)), then x + MLP(LN(x))."""

    def __init__(self, cfg: GPTConfig, **kwargs: Any):
        super().__init__(**kwargs)
        self.ln1, self.ln2 = keras.layers.LayerNormalization(epsilon=1e-5), keras.layers.LayerNormalization(epsilon=1e-5)
        self.ln1.build((None, cfg.d_model))
        self.ln2.build((None, cfg.d_model))
        self.attn = SelfAttention(cfg)
        self.W1 = self.add_weight(shape=(cfg.d_model, cfg.d_ff), initializer="zeros", name="W1")
        self.b1 = self.add_weight(shape=(cfg.d_ff,), initializer="zeros", name="b1")
        self.W2 = self.add_weight(shape=(cfg.d_ff, cfg.d_model), initializer="zeros", name="W2")
        self.b2 = self.add_weight(shape=(cfg.d_model,), initializer="zeros", name="b2")

    def call(self, x: Any, start: int = 0, cache: KVCache | None = None, i: int = 0, attention: str = "library") -> Any:
        x = x + self.attn(self.ln1(x), start=start, cache=cache, layer=i, attention=attention)
        h = keras.ops.gelu(self.ln2(x) @ self.W1 + self.b1, approximate=True)
        return x + h @ self.W2 + self.b2


class GPT(keras.Model):
    """Token embedding, n_layers pre-LN blocks, final LayerNorm, output tied to the embedding."""

    def __init__(self, cfg: GPTConfig, **kwargs: Any):
        super().__init__(**kwargs)
        self.cfg = cfg
        self.tok_emb = self.add_weight(shape=(cfg.vocab, cfg.d_model), initializer="zeros", name="tok_emb")
        self.blocks = [Block(cfg) for _ in range(cfg.n_layers)]
        self.ln_f = keras.layers.LayerNormalization(epsilon=1e-5)
        self.ln_f.build((None, cfg.d_model))

    def call(self, tokens: Any, cache: KVCache | None = None, attention: str = "library") -> Any:
        """Logits (batch, t, vocab) of tokens (batch, t), placed after the cached positions if a cache is given."""
        start = 0 if cache is None else cache.length
        x = tf.gather(self.tok_emb, tokens)                            # (batch, t, d_model)
        for i, blk in enumerate(self.blocks):
            x = blk(x, start=start, cache=cache, i=i, attention=attention)
        return self.ln_f(x) @ tf.transpose(self.tok_emb)               # tied output layer


# ---------------------------------------------------------------- weights: NumPy -> Keras


def gpt_from_numpy(params: dict, cfg: GPTConfig) -> GPT:
    """A Keras GPT holding copies of the NumPy parameters (float32)."""
    model = GPT(cfg)
    for var, path in weight_paths(model, params, "gamma", "beta"):
        array = at_path(params, path)
        if tuple(var.shape) != np.shape(array):
            raise ValueError(f"parameter {path}: shape {np.shape(array)} does not fit the model's {tuple(var.shape)}")
        var.assign(np.asarray(array, dtype=np.float32))
    return model


# ---------------------------------------------------------------- training


def lm_loss(model: GPT, x: Any, y: Any) -> Any:
    """Mean next-character cross-entropy (nats) of windows x (batch, t) against their targets y (batch, t)."""
    return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=model(x)))


def eval_loss(model: GPT, ids: np.ndarray) -> float:
    """Nats per character over the whole stream `ids`: consecutive windows of `context`, every target once."""
    c = model.cfg.context
    n = (len(ids) - 1) // c * c
    x, y = ids[:n].reshape(-1, c), ids[1:n + 1].reshape(-1, c)
    total = sum(float(lm_loss(model, x[i:i + 64], y[i:i + 64])) * len(x[i:i + 64]) for i in range(0, len(x), 64)) * c
    rest = len(ids) - 1 - n                                            # the last partial window
    if rest:
        total += float(lm_loss(model, ids[n:-1][None], ids[n + 1:][None])) * rest
    return total / (len(ids) - 1)


def train_gpt(model: GPT, train_ids: np.ndarray, steps: int, batch: int = 32, lr: float = 3e-3, seed: int = 0,
              progress: bool = True) -> list[float]:
    """AdamW on random windows of train_ids (`sample_windows`, seeded), cosine decay; return the loss per step."""
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    schedule = keras.optimizers.schedules.CosineDecay(lr, decay_steps=steps)
    opt = keras.optimizers.AdamW(learning_rate=schedule, beta_1=0.9, beta_2=0.99, epsilon=1e-8,
                                 weight_decay=0.01, global_clipnorm=1.0)

    @tf.function
    def step(x: Any, y: Any) -> Any:
        with tf.GradientTape() as tape:
            loss = lm_loss(model, x, y)
        opt.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
        return loss

    losses = []
    for _ in tqdm(range(steps), desc="TensorFlow", disable=not progress, mininterval=1.0):
        x, y = sample_windows(train_ids, batch, model.cfg.context, rng)
        losses.append(float(step(tf.constant(x), tf.constant(y))))
    return losses


def generate_greedy(model: GPT, prompt: np.ndarray, n_new: int, use_cache: bool = True) -> np.ndarray:
    """Prompt (batch, n0) followed by n_new greedily chosen tokens."""
    tokens = tf.constant(check_tokens(prompt, model.cfg).astype(np.int32))
    cache = KVCache(model.cfg.n_layers) if use_cache else None
    logits = model(tokens, cache=cache)
    for step in range(n_new):
        tokens = tf.concat([tokens, tf.argmax(logits[:, -1], axis=-1, output_type=tf.int32)[:, None]], axis=1)
        if step + 1 < n_new:
            logits = model(tokens[:, -1:], cache=cache) if use_cache else model(tokens)
    return tokens.numpy()
