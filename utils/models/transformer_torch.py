"""The small encoder–decoder Transformer in PyTorch, built on `utils.layers.multihead_torch.MultiHeadAttention`.

Same weights, names and meaning as `utils.models.transformer_numpy` (the NumPy reference) and
`utils.models.transformer_tf`; `train_seq2seq` and `greedy_decode` have the same signatures in both.
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from utils.layers.multihead_numpy import PARAM_NAMES
from utils.layers.multihead_torch import MultiHeadAttention
from utils.models.transformer_numpy import (
    TransformerConfig,
    check_token_batch,
    init_transformer_params,
    mask_after_eos,
    sinusoidal_positional_encoding,
)


class _Block(nn.Module):
    """An encoder layer (decoder=False) or a decoder layer (decoder=True), post-norm."""

    def __init__(self, config: TransformerConfig, decoder: bool):
        super().__init__()
        d, h, rate = config.d_model, config.n_heads, config.dropout
        self.decoder = decoder
        self.self_attn = MultiHeadAttention(d, h, causal=decoder, dropout=rate)
        self.cross_attn = MultiHeadAttention(d, h, dropout=rate) if decoder else None
        self.norms = nn.ModuleList(nn.LayerNorm(d, eps=config.ln_eps) for _ in range(3 if decoder else 2))
        self.ffn_1, self.ffn_2 = nn.Linear(d, config.d_ff), nn.Linear(config.d_ff, d)
        self.drop = nn.Dropout(rate)

    def forward(self, x: torch.Tensor, memory: torch.Tensor | None = None, src_mask: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Return (x, self-attention weights, cross-attention weights or None)."""
        a, w_self = self.self_attn(x, mask=None if self.decoder else src_mask, return_weights=True)
        x = self.norms[0](x + self.drop(a))
        w_cross = None
        if self.decoder:
            a, w_cross = self.cross_attn(x, memory, mask=src_mask, return_weights=True)
            x = self.norms[1](x + self.drop(a))
        x = self.norms[-1](x + self.drop(self.ffn_2(torch.relu(self.ffn_1(x)))))
        return x, w_self, w_cross


class Seq2SeqTransformer(nn.Module):
    """Encoder–decoder Transformer; model(src, tgt_in) -> logits (batch, tgt_len, tgt_vocab)."""

    def __init__(self, config: TransformerConfig, seed: int = 0):
        super().__init__()
        self.config = config
        d = config.d_model
        self.src_embed = nn.Embedding(config.src_vocab, d)
        self.tgt_embed = nn.Embedding(config.tgt_vocab, d)
        self.register_buffer("pe", torch.from_numpy(sinusoidal_positional_encoding(config.max_len, d)), persistent=False)
        self.enc = nn.ModuleList(_Block(config, decoder=False) for _ in range(config.n_enc_layers))
        self.dec = nn.ModuleList(_Block(config, decoder=True) for _ in range(config.n_dec_layers))
        self.out = nn.Linear(d, config.tgt_vocab)
        self.drop = nn.Dropout(config.dropout)
        self.load_numpy_weights(init_transformer_params(config, seed))

    def _params_by_name(self) -> dict[str, tuple[nn.Parameter, bool]]:
        """name -> (parameter, transposed?): nn.Linear stores (out, in), our names use (in, out)."""
        p = {"src_embed": (self.src_embed.weight, False), "tgt_embed": (self.tgt_embed.weight, False),
             "out.W": (self.out.weight, True), "out.b": (self.out.bias, False)}
        for kind, blocks in (("enc", self.enc), ("dec", self.dec)):
            for i, b in enumerate(blocks):
                attns = [("self_attn", b.self_attn)] + ([("cross_attn", b.cross_attn)] if b.decoder else [])
                for a_name, attn in attns:
                    p |= {f"{kind}{i}.{a_name}.{n}": (getattr(attn, n), False) for n in PARAM_NAMES}
                for n, norm in enumerate(b.norms, start=1):
                    p[f"{kind}{i}.norm{n}.gamma"], p[f"{kind}{i}.norm{n}.beta"] = (norm.weight, False), (norm.bias, False)
                p[f"{kind}{i}.ffn.W_1"], p[f"{kind}{i}.ffn.b_1"] = (b.ffn_1.weight, True), (b.ffn_1.bias, False)
                p[f"{kind}{i}.ffn.W_2"], p[f"{kind}{i}.ffn.b_2"] = (b.ffn_2.weight, True), (b.ffn_2.bias, False)
        return p

    def numpy_weights(self) -> dict[str, np.ndarray]:
        """All weights as NumPy arrays, named as in `utils.models.transformer_numpy`."""
        return {k: (p.detach().T if t else p.detach()).cpu().numpy().copy() for k, (p, t) in self._params_by_name().items()}

    def load_numpy_weights(self, weights: dict[str, np.ndarray]) -> None:
        """Load a weight dict (from init_transformer_params or another framework's model)."""
        params = self._params_by_name()
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
        """Return (memory (batch, src_len, d_model), src_mask (batch, 1, 1, src_len))."""
        src_mask = (src != self.config.pad_id)[:, None, None, :]
        x = self._embed(self.src_embed, src)
        for block in self.enc:
            x, w, _ = block(x, src_mask=src_mask)
            if weights is not None:
                weights.append(w)
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
    def attention_weights(self, src: np.ndarray, tgt_in: np.ndarray) -> dict[str, list[np.ndarray]]:
        """Per-layer (batch, heads, n_q, n_k) weights: {"encoder_self", "decoder_self", "decoder_cross"}."""
        c = self.config
        src = torch.from_numpy(check_token_batch(src, "src", c.src_vocab, c.max_len))
        tgt_in = torch.from_numpy(check_token_batch(tgt_in, "tgt_in", c.tgt_vocab, c.max_len))
        was_training = self.training
        self.eval()
        enc_w, dec_self, dec_cross = [], [], []
        memory, src_mask = self.encode(src, enc_w)
        self.decode(tgt_in, memory, src_mask, (dec_self, dec_cross))
        self.train(was_training)
        return {"encoder_self": [w.numpy() for w in enc_w], "decoder_self": [w.numpy() for w in dec_self],
                "decoder_cross": [w.numpy() for w in dec_cross]}


def masked_cross_entropy(logits: torch.Tensor, targets: torch.Tensor, pad_id: int) -> torch.Tensor:
    """Mean cross-entropy over the target tokens that are not padding."""
    return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=pad_id)


def train_seq2seq(model: Seq2SeqTransformer, src: np.ndarray, tgt_in: np.ndarray, tgt_out: np.ndarray,
                  epochs: int, batch_size: int, lr: float, seed: int = 0, progress: bool = True,
                  max_seconds: float | None = None, clip_norm: float = 1.0,
                  final_lr_fraction: float = 0.05, threads: int | None = 1) -> list[float]:
    """Adam with teacher forcing; return one loss per step.

    The learning rate decays linearly from lr to lr * final_lr_fraction over the run. Batches (the last
    partial one dropped) follow np.random.default_rng(seed): the same order as in utils.models.transformer_tf.

    threads: torch threads while training (restored after). One thread is fastest for models this
    small: on a busy 2-core machine, handing tiny matmuls to two threads made steps ~10x slower.
    """
    saved_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        return _train(model, src, tgt_in, tgt_out, epochs, batch_size, lr, seed, progress, max_seconds, clip_norm,
                      final_lr_fraction)
    finally:
        torch.set_num_threads(saved_threads)


def _train(model: Seq2SeqTransformer, src: np.ndarray, tgt_in: np.ndarray, tgt_out: np.ndarray, epochs: int,
           batch_size: int, lr: float, seed: int, progress: bool, max_seconds: float | None, clip_norm: float,
           final_lr_fraction: float) -> list[float]:
    c = model.config
    src, tgt_in = check_token_batch(src, "src", c.src_vocab, c.max_len), check_token_batch(tgt_in, "tgt_in", c.tgt_vocab, c.max_len)
    tgt_out = check_token_batch(tgt_out, "tgt_out", c.tgt_vocab, c.max_len)
    if len(src) != len(tgt_in) or tgt_in.shape != tgt_out.shape:
        raise ValueError(f"src {src.shape}, tgt_in {tgt_in.shape}, tgt_out {tgt_out.shape}: need equal batch and tgt shapes")
    torch.manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr, eps=1e-8)
    n_batches = max(len(src) // batch_size, 1)
    total = epochs * n_batches  # linear decay, as keras' PolynomialDecay(power=1)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda step: 1.0 - (1.0 - final_lr_fraction) * min(step, total) / total)
    src_t, tgt_in_t, tgt_out_t = (torch.from_numpy(a) for a in (src, tgt_in, tgt_out))
    rng = np.random.default_rng(seed)
    losses: list[float] = []
    model.train()
    start = time.perf_counter()
    with tqdm(total=epochs * n_batches, desc="PyTorch", disable=not progress, mininterval=1.0) as bar:
        for _ in range(epochs):
            order = torch.from_numpy(rng.permutation(len(src)))
            for b in range(n_batches):
                idx = order[b * batch_size:(b + 1) * batch_size]
                loss = masked_cross_entropy(model(src_t[idx], tgt_in_t[idx]), tgt_out_t[idx], c.pad_id)
                opt.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(model.parameters(), clip_norm)
                opt.step()
                sched.step()
                losses.append(loss.item())
                bar.update(1)
                bar.set_postfix(loss=f"{losses[-1]:.3f}", refresh=False)
            if max_seconds is not None and time.perf_counter() - start > max_seconds:
                break
    model.eval()
    return losses


@torch.no_grad()
def greedy_decode(model: Seq2SeqTransformer, src: np.ndarray, max_len: int, bos_id: int, eos_id: int) -> np.ndarray:
    """(batch, max_len) int64 tokens, BOS excluded; each row stops at its EOS, padded after it with pad_id."""
    c = model.config
    src = torch.from_numpy(check_token_batch(src, "src", c.src_vocab, c.max_len))
    if max_len < 1 or max_len + 1 > c.max_len:
        raise ValueError(f"max_len must be in [1, config.max_len - 1 = {c.max_len - 1}], got {max_len}")
    was_training = model.training
    model.eval()
    memory, src_mask = model.encode(src)
    tokens = torch.full((src.shape[0], 1), bos_id, dtype=torch.int64)
    for _ in range(max_len):
        nxt = model.decode(tokens, memory, src_mask)[:, -1].argmax(-1)
        tokens = torch.cat([tokens, nxt[:, None]], dim=1)
        if bool((tokens[:, 1:] == eos_id).any(dim=1).all()):
            break
    model.train(was_training)
    out = np.full((src.shape[0], max_len), c.pad_id, dtype=np.int64)
    out[:, : tokens.shape[1] - 1] = tokens[:, 1:].numpy()
    return mask_after_eos(out, eos_id, c.pad_id)
