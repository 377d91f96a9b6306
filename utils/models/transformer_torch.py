"""The small encoder–decoder Transformer in PyTorch, built on `utils.layers.multihead_torch.MultiHeadAttention`.

Same weights, names and meaning as `utils.models.transformer_numpy` (the NumPy reference) and
`utils.models.transformer_tf`: `EncoderBlock`, `DecoderBlock`, `train_step`, `train_seq2seq`,
`greedy_decode` and `attention_maps` have the same structure and signatures in both frameworks.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from utils.efficient.positions_numpy import sinusoidal_positions
from utils.layers.multihead_numpy import PARAM_NAMES
from utils.layers.multihead_torch import MultiHeadAttention
from utils.models.transformer_numpy import (
    TransformerConfig,
    check_decode_length,
    check_token_batch,
    check_training_data,
    finish_decoding,
    init_transformer_params,
    training_batches,
)


class EncoderBlock(nn.Module):
    """Post-norm encoder layer: self-attention, then feed-forward, each as x = LayerNorm(x + sublayer(x))."""

    def __init__(self, config: TransformerConfig):
        super().__init__()
        d, rate = config.d_model, config.dropout
        self.self_attn = MultiHeadAttention(d, config.n_heads, dropout=rate)
        self.norm1, self.norm2 = nn.LayerNorm(d, eps=config.ln_eps), nn.LayerNorm(d, eps=config.ln_eps)
        self.ffn_1, self.ffn_2 = nn.Linear(d, config.d_ff), nn.Linear(config.d_ff, d)
        self.drop = nn.Dropout(rate)

    def forward(self, x: torch.Tensor, src_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return x (batch, src_len, d_model) and the self-attention weights (batch, heads, src_len, src_len)."""
        a, w_self = self.self_attn(x, mask=src_mask, return_weights=True)
        x = self.norm1(x + self.drop(a))
        x = self.norm2(x + self.drop(self.ffn_2(torch.relu(self.ffn_1(x)))))
        return x, w_self


class DecoderBlock(nn.Module):
    """Post-norm decoder layer: causal self-attention, cross-attention to the encoder's memory, feed-forward."""

    def __init__(self, config: TransformerConfig):
        super().__init__()
        d, h, rate, eps = config.d_model, config.n_heads, config.dropout, config.ln_eps
        self.self_attn = MultiHeadAttention(d, h, causal=True, dropout=rate)
        self.cross_attn = MultiHeadAttention(d, h, dropout=rate)
        self.norm1, self.norm2, self.norm3 = (nn.LayerNorm(d, eps=eps) for _ in range(3))
        self.ffn_1, self.ffn_2 = nn.Linear(d, config.d_ff), nn.Linear(config.d_ff, d)
        self.drop = nn.Dropout(rate)

    def forward(self, y: torch.Tensor, memory: torch.Tensor, src_mask: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Return y (batch, tgt_len, d_model), the self-attention and the cross-attention weights."""
        a, w_self = self.self_attn(y, return_weights=True)
        y = self.norm1(y + self.drop(a))
        a, w_cross = self.cross_attn(y, memory, mask=src_mask, return_weights=True)
        y = self.norm2(y + self.drop(a))
        y = self.norm3(y + self.drop(self.ffn_2(torch.relu(self.ffn_1(y)))))
        return y, w_self, w_cross


def _params_by_name(model: Seq2SeqTransformer) -> dict[str, tuple[nn.Parameter, bool]]:
    """name -> (parameter, transposed?): nn.Linear stores (out, in), the NumPy names use (in, out)."""
    p = {"src_embed": (model.src_embed.weight, False), "tgt_embed": (model.tgt_embed.weight, False),
         "out.W": (model.out.weight, True), "out.b": (model.out.bias, False)}
    for kind, blocks in (("enc", model.enc), ("dec", model.dec)):
        for i, b in enumerate(blocks):
            for a_name in ("self_attn", "cross_attn") if kind == "dec" else ("self_attn",):
                p |= {f"{kind}{i}.{a_name}.{n}": (getattr(getattr(b, a_name), n), False) for n in PARAM_NAMES}
            for n in (1, 2, 3) if kind == "dec" else (1, 2):
                norm = getattr(b, f"norm{n}")
                p[f"{kind}{i}.norm{n}.gamma"], p[f"{kind}{i}.norm{n}.beta"] = (norm.weight, False), (norm.bias, False)
            p[f"{kind}{i}.ffn.W_1"], p[f"{kind}{i}.ffn.b_1"] = (b.ffn_1.weight, True), (b.ffn_1.bias, False)
            p[f"{kind}{i}.ffn.W_2"], p[f"{kind}{i}.ffn.b_2"] = (b.ffn_2.weight, True), (b.ffn_2.bias, False)
    return p


class Seq2SeqTransformer(nn.Module):
    """Encoder–decoder Transformer; model(src, tgt_in) -> logits (batch, tgt_len, tgt_vocab)."""

    def __init__(self, config: TransformerConfig, seed: int = 0):
        super().__init__()
        self.config = config
        d = config.d_model
        self.src_embed = nn.Embedding(config.src_vocab, d)
        self.tgt_embed = nn.Embedding(config.tgt_vocab, d)
        pe = torch.from_numpy(sinusoidal_positions(config.max_len, d).astype(np.float32))
        self.register_buffer("pe", pe, persistent=False)
        self.enc = nn.ModuleList(EncoderBlock(config) for _ in range(config.n_enc_layers))
        self.dec = nn.ModuleList(DecoderBlock(config) for _ in range(config.n_dec_layers))
        self.out = nn.Linear(d, config.tgt_vocab)
        self.drop = nn.Dropout(config.dropout)
        self.load_numpy_weights(init_transformer_params(config, seed))

    def numpy_weights(self) -> dict[str, np.ndarray]:
        """All weights as NumPy arrays, named as in `utils.models.transformer_numpy`."""
        return {k: (p.detach().T if t else p.detach()).cpu().numpy().copy() for k, (p, t) in _params_by_name(self).items()}

    def load_numpy_weights(self, weights: dict[str, np.ndarray]) -> None:
        """Load a weight dict (from init_transformer_params or another framework's model)."""
        params = _params_by_name(self)
        if set(weights) != set(params):
            raise ValueError(f"weight names differ: missing {sorted(set(params) - set(weights))[:5]}, "
                             f"unexpected {sorted(set(weights) - set(params))[:5]}")
        with torch.no_grad():
            for k, (p, transposed) in params.items():
                w = torch.as_tensor(np.asarray(weights[k], dtype=np.float32))
                w = w.T if transposed else w
                if tuple(w.shape) != tuple(p.shape):
                    raise ValueError(f"weights[{k!r}] has shape {np.shape(weights[k])}, which does not fit {tuple(p.shape)}")
                p.copy_(w)

    def _embed(self, embed: nn.Embedding, tokens: torch.Tensor) -> torch.Tensor:
        return self.drop(embed(tokens) * math.sqrt(self.config.d_model) + self.pe[: tokens.shape[1]])

    def encode(self, src: torch.Tensor, weights: list | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (memory (batch, src_len, d_model), src_mask (batch, 1, 1, src_len)); append each layer's weights."""
        src_mask = (src != self.config.pad_id)[:, None, None, :]
        x = self._embed(self.src_embed, src)
        for block in self.enc:
            x, w_self = block(x, src_mask)
            if weights is not None:
                weights.append(w_self)
        return x, src_mask

    def decode(self, tgt_in: torch.Tensor, memory: torch.Tensor, src_mask: torch.Tensor,
               weights: tuple[list, list] | None = None) -> torch.Tensor:
        """Return logits (batch, tgt_len, tgt_vocab) for the decoder input given the encoder memory."""
        y = self._embed(self.tgt_embed, tgt_in)
        for block in self.dec:
            y, w_self, w_cross = block(y, memory, src_mask)
            if weights is not None:
                weights[0].append(w_self)
                weights[1].append(w_cross)
        return self.out(y)

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        memory, src_mask = self.encode(src)
        return self.decode(tgt_in, memory, src_mask)


@torch.no_grad()
def attention_maps(model: nn.Module, src: np.ndarray, tgt_in: np.ndarray) -> dict[str, list[np.ndarray]]:
    """Per-layer (batch, heads, n_q, n_k) weights: {"encoder_self", "decoder_self", "decoder_cross"}."""
    c = model.config
    src = torch.from_numpy(check_token_batch(src, "src", c.src_vocab, c.max_len))
    tgt_in = torch.from_numpy(check_token_batch(tgt_in, "tgt_in", c.tgt_vocab, c.max_len))
    was_training = model.training
    model.eval()  # no dropout
    encoder_self, decoder_self, decoder_cross = [], [], []
    memory, src_mask = model.encode(src, encoder_self)
    model.decode(tgt_in, memory, src_mask, (decoder_self, decoder_cross))
    model.train(was_training)
    return {"encoder_self": [w.numpy() for w in encoder_self], "decoder_self": [w.numpy() for w in decoder_self],
            "decoder_cross": [w.numpy() for w in decoder_cross]}


def masked_cross_entropy(logits: torch.Tensor, targets: torch.Tensor, pad_id: int) -> torch.Tensor:
    """Mean cross-entropy over the target tokens that are not padding."""
    return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=pad_id)


def train_step(model: nn.Module, optimizer: torch.optim.Optimizer, src: torch.Tensor,
               tgt_in: torch.Tensor, tgt_out: torch.Tensor, clip_norm: float = 1.0) -> torch.Tensor:
    """One optimizer step with teacher forcing on one batch; return the loss before the step."""
    logits = model(src, tgt_in)  # (batch, tgt_len, tgt_vocab)
    loss = masked_cross_entropy(logits, tgt_out, model.config.pad_id)
    optimizer.zero_grad()
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), clip_norm)  # rescale if the global norm exceeds clip_norm
    optimizer.step()
    return loss.detach()


@contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run the block with n torch threads (None: leave as is), then restore the previous number."""
    saved = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(saved)


def train_seq2seq(model: nn.Module, src: np.ndarray, tgt_in: np.ndarray, tgt_out: np.ndarray,
                  epochs: int, batch_size: int, lr: float, seed: int = 0, progress: bool = True,
                  max_seconds: float | None = None, clip_norm: float = 1.0,
                  final_lr_fraction: float = 0.05) -> list[float]:
    """Adam, lr decaying linearly to lr * final_lr_fraction; batches from `training_batches`; one loss per step."""
    src, tgt_in, tgt_out = (torch.from_numpy(a) for a in check_training_data(model.config, src, tgt_in, tgt_out))
    torch.manual_seed(seed)
    n_steps = epochs * max(len(src) // batch_size, 1)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, eps=1e-8)
    schedule = torch.optim.lr_scheduler.LambdaLR(  # linear decay, as Keras' PolynomialDecay(power=1)
        optimizer, lambda step: 1.0 - (1.0 - final_lr_fraction) * min(step, n_steps) / n_steps)
    losses = []
    model.train()
    with torch_threads(1):  # one thread is fastest for a model this small (and on a busy machine)
        for idx in tqdm(training_batches(len(src), batch_size, epochs, seed, max_seconds), total=n_steps,
                        desc="PyTorch", disable=not progress, mininterval=1.0):
            idx = torch.from_numpy(idx)
            losses.append(train_step(model, optimizer, src[idx], tgt_in[idx], tgt_out[idx], clip_norm).item())
            schedule.step()
    model.eval()
    return losses


@torch.no_grad()
def greedy_decode(model: nn.Module, src: np.ndarray, max_len: int, bos_id: int, eos_id: int) -> np.ndarray:
    """(batch, max_len) int64 tokens, BOS excluded; each row stops at its EOS, padded after it with pad_id."""
    c = model.config
    src = torch.from_numpy(check_token_batch(src, "src", c.src_vocab, c.max_len))
    check_decode_length(c, max_len)
    model.eval()  # no dropout
    memory, src_mask = model.encode(src)
    tokens = torch.full((src.shape[0], 1), bos_id, dtype=torch.int64)  # (batch, 1): <bos>
    for _ in range(max_len):
        logits = model.decode(tokens, memory, src_mask)  # (batch, len, tgt_vocab)
        next_token = logits[:, -1].argmax(dim=-1)  # (batch,): the most likely next token
        tokens = torch.cat([tokens, next_token[:, None]], dim=1)
        if bool((tokens[:, 1:] == eos_id).any(dim=1).all()):  # every row has ended
            break
    return finish_decoding(tokens.numpy(), max_len, eos_id, c.pad_id)
