"""A length-extrapolation experiment: train a one-layer attention model on short sequences,
test it on longer ones, once per position scheme (none, learned, sinusoidal, RoPE, ALiBi).

The toy task, "most recent marker": tokens are drawn from a vocabulary of `vocab` symbols;
the first `n_markers` symbols are markers. At every position the model must output the most
recent marker seen so far (the sequence starts with one). Solving it needs content (is this
a marker?) and recency (which marker is nearest?), the mix that language modelling needs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from utils.core.validation import check_config
from utils.efficient import positions_torch

SCHEMES = ("none", "learned", "sinusoidal", "rope", "alibi")


@dataclass(frozen=True)
class TaskConfig:
    """Sizes of the task and the model."""

    vocab: int = 16
    n_markers: int = 4
    d_model: int = 32
    n_heads: int = 4
    max_len: int = 1024  # rows of the learned table; rows beyond the training length stay untrained

    def __post_init__(self) -> None:
        check_config(self)
        if self.n_markers >= self.vocab:
            raise ValueError(f"TaskConfig: n_markers must be < vocab (the other tokens are noise), got "
                             f"n_markers={self.n_markers}, vocab={self.vocab}")


def make_batch(batch: int, n: int, cfg: TaskConfig, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """(tokens (batch, n), targets (batch, n)): the target is the most recent marker so far."""
    tokens = torch.randint(0, cfg.vocab, (batch, n), generator=gen)
    tokens[:, 0] = torch.randint(0, cfg.n_markers, (batch,), generator=gen)
    is_marker = tokens < cfg.n_markers
    idx = torch.where(is_marker, torch.arange(n).expand(batch, n), torch.zeros_like(tokens))
    last = torch.cummax(idx, dim=1).values               # position of the most recent marker
    return tokens, torch.gather(tokens, 1, last)


class TinyAttentionModel(nn.Module):
    """Embedding (+ absolute positions) -> one causal multi-head attention layer -> linear readout."""

    def __init__(self, scheme: str, cfg: TaskConfig):
        super().__init__()
        if scheme not in SCHEMES:
            raise ValueError(f"scheme must be one of {SCHEMES}, got {scheme!r}")
        self.scheme, self.cfg = scheme, cfg
        d = cfg.d_model
        self.emb = nn.Embedding(cfg.vocab, d)
        self.pos = nn.Embedding(cfg.max_len, d) if scheme == "learned" else None
        self.qkv = nn.Linear(d, 3 * d)
        self.out = nn.Linear(d, cfg.n_markers)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        b, n = tokens.shape
        h, d_head = self.cfg.n_heads, self.cfg.d_model // self.cfg.n_heads
        x = self.emb(tokens)                                            # (batch, n, d_model)
        if self.scheme == "learned":
            x = x + self.pos(torch.arange(n))
        elif self.scheme == "sinusoidal":
            x = x + positions_torch.sinusoidal_positions(n, self.cfg.d_model)
        q, k, v = (t.reshape(b, n, h, d_head).transpose(1, 2) for t in self.qkv(x).chunk(3, dim=-1))
        if self.scheme == "rope":                                       # (batch, heads, n, d_head)
            q, k = positions_torch.apply_rope(q), positions_torch.apply_rope(k)
        mask = torch.ones(n, n, dtype=torch.bool).tril()
        bias = torch.zeros(n, n).masked_fill(~mask, float("-inf"))
        if self.scheme == "alibi":
            bias = bias + positions_torch.alibi_bias(h, n)              # (heads, n, n)
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)    # (batch, heads, n, d_head)
        return self.out(a.transpose(1, 2).reshape(b, n, -1))           # (batch, n, n_markers)


def train_scheme(scheme: str, train_len: int = 32, steps: int = 300, batch: int = 64, seed: int = 0,
                 cfg: TaskConfig = TaskConfig()) -> tuple[TinyAttentionModel, float]:
    """Train one model with Adam on sequences of length train_len; return (model, seconds)."""
    torch.manual_seed(seed)
    model = TinyAttentionModel(scheme, cfg)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    for _ in range(steps):
        tokens, targets = make_batch(batch, train_len, cfg, gen)
        loss = F.cross_entropy(model(tokens).flatten(0, 1), targets.flatten())
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model, time.perf_counter() - start


@torch.no_grad()
def accuracy(model: TinyAttentionModel, n: int, n_sequences: int = 64, seed: int = 123) -> float:
    """Fraction of positions where the model names the most recent marker, on fresh sequences of length n."""
    if n > model.cfg.max_len:
        raise ValueError(f"n={n} exceeds the model's max_len={model.cfg.max_len}")
    tokens, targets = make_batch(n_sequences, n, model.cfg, torch.Generator().manual_seed(seed))
    return float((model(tokens).argmax(-1) == targets).float().mean())


def chance_accuracy(cfg: TaskConfig = TaskConfig()) -> float:
    """Accuracy of always guessing one marker."""
    return 1.0 / cfg.n_markers


def extrapolation_table(schemes: tuple[str, ...] = SCHEMES, lengths: tuple[int, ...] = (32, 128, 512),
                        **train_kwargs: int) -> dict[str, dict]:
    """{scheme: {"seconds": training seconds, n: accuracy for n in lengths}}."""
    table = {}
    for scheme in schemes:
        model, seconds = train_scheme(scheme, **train_kwargs)
        table[scheme] = {"seconds": seconds} | {n: accuracy(model, n) for n in lengths}
    return table


