"""The small GPT of `utils.models.gpt_numpy` as a PyTorch nn.Module: same parameters, same meaning.

Attention runs through one of three kernels, equal to float32 rounding:
"sdpa" (`F.scaled_dot_product_attention`, used for training), "flash" (the course's tiled forward,
`utils.efficient.tiled_torch.flash_attention`, no autograd) and "reference" (`utils.efficient.gqa_torch`).
Generation uses a KV cache, optionally a sliding window of the last `window` positions.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from utils.efficient.gqa_torch import grouped_query_attention, repeat_kv
from utils.efficient.kv_cache_torch import KVCache
from utils.efficient.positions_torch import apply_rope
from utils.efficient.tiled_torch import flash_attention
from utils.layers.multihead_torch import merge_heads, split_heads
from utils.models.gpt_numpy import (
    GPTConfig,
    at_path,
    check_tokens,
    sample_windows,
    weight_paths,
    window_mask,
)

ATTENTION_KINDS = ("sdpa", "flash", "reference")


class WindowKVCache(KVCache):
    """A KV cache that keeps only the last `window` positions of each layer (None: all), so its memory stays flat."""

    def __init__(self, n_layers: int, window: int | None = None):
        super().__init__(n_layers)
        self.window, self.position = window, 0      # position: tokens seen so far, the next RoPE position

    def append(self, layer: int, k_new: torch.Tensor, v_new: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Add (batch, g, t, d_head) keys/values; return those the new queries may see, keep the last `window`."""
        k, v = super().append(layer, k_new, v_new)
        if layer == 0:
            self.position += k_new.shape[-2]
        if self.window is not None:
            self.k[layer], self.v[layer] = k[..., -self.window:, :], v[..., -self.window:, :]
        return k, v


def causal_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, attention: str = "sdpa",
                     window: int | None = None) -> torch.Tensor:
    """Causal GQA of q (batch, h, t, d_head) over k, v (batch, g, m, d_head), queries the last t of m positions."""
    t, m = q.shape[-2], k.shape[-2]
    if attention == "flash" and window is None:
        group = q.shape[1] // k.shape[1]
        return flash_attention(q, repeat_kv(k, group), repeat_kv(v, group), causal=True)
    mask = torch.from_numpy(window_mask(t, m, window))               # (t, m), True = may attend
    if attention == "sdpa":
        if t == m and window is None:                                 # the fused causal kernel needs no mask
            return F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, enable_gqa=True)
    if attention == "reference":
        return grouped_query_attention(q, k, v, mask)[0]
    raise ValueError(f"attention must be one of {ATTENTION_KINDS} (flash without a window), got {attention!r}")


class SelfAttention(nn.Module):
    """GQA self-attention with RoPE; weights used as x @ W, the layout of `init_gqa_params`."""

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.cfg = cfg
        d, q_width, kv_width = cfg.d_model, cfg.n_heads * cfg.d_head, cfg.n_kv_heads * cfg.d_head
        for name, shape in (("q", (d, q_width)), ("k", (d, kv_width)), ("v", (d, kv_width)), ("o", (q_width, d))):
            setattr(self, f"W_{name}", nn.Parameter(torch.zeros(shape)))
            setattr(self, f"b_{name}", nn.Parameter(torch.zeros(shape[1])))

    def forward(self, x: torch.Tensor, start: int = 0, cache: KVCache | None = None, layer: int = 0,
                attention: str = "sdpa", window: int | None = None) -> torch.Tensor:
        cfg, positions = self.cfg, torch.arange(start, start + x.shape[1])   # RoPE positions of the t new tokens
        q = split_heads(x @ self.W_q + self.b_q, cfg.n_heads)         # (batch, h, t, d_head)
        k = split_heads(x @ self.W_k + self.b_k, cfg.n_kv_heads)      # (batch, g, t, d_head)
        v = split_heads(x @ self.W_v + self.b_v, cfg.n_kv_heads)      # (batch, g, t, d_head)
        if cfg.rope:
            q, k = apply_rope(q, positions), apply_rope(k, positions)
        if cache is not None:
            k, v = cache.append(layer, k, v)                          # (batch, g, cached + t, d_head)
        return merge_heads(causal_attention(q, k, v, attention, window)) @ self.W_o + self.b_o


class Block(nn.Module):
    """Pre-LN block: x + Attn(LN(x)), then x + MLP(LN(x))."""

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(cfg.d_model), nn.LayerNorm(cfg.d_model)
        self.attn = SelfAttention(cfg)
        self.W1, self.b1 = nn.Parameter(torch.zeros(cfg.d_model, cfg.d_ff)), nn.Parameter(torch.zeros(cfg.d_ff))
        self.W2, self.b2 = nn.Parameter(torch.zeros(cfg.d_ff, cfg.d_model)), nn.Parameter(torch.zeros(cfg.d_model))

    def forward(self, x: torch.Tensor, start: int = 0, cache: KVCache | None = None, i: int = 0,
                attention: str = "sdpa", window: int | None = None) -> torch.Tensor:
        x = x + self.attn(self.ln1(x), start, cache, i, attention, window)
        h = F.gelu(self.ln2(x) @ self.W1 + self.b1, approximate="tanh")
        return x + h @ self.W2 + self.b2


class GPT(nn.Module):
    """Token embedding, n_layers pre-LN blocks, final LayerNorm, output tied to the embedding."""

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.cfg = cfg
        self.tok_emb = nn.Parameter(torch.zeros(cfg.vocab, cfg.d_model))
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.ln_f = nn.LayerNorm(cfg.d_model)

    def forward(self, tokens: torch.Tensor, cache: KVCache | None = None, attention: str = "sdpa",
                window: int | None = None) -> torch.Tensor:
        """Logits (batch, t, vocab) of tokens (batch, t), placed after the cached positions if a cache is given."""
        start = 0 if cache is None else cache.position
        x = self.tok_emb[tokens]                                      # (batch, t, d_model)
        for i, blk in enumerate(self.blocks):
            x = blk(x, start, cache, i, attention, window)
        return self.ln_f(x) @ self.tok_emb.T                          # tied output layer


# ---------------------------------------------------------------- weights: NumPy <-> PyTorch


def gpt_from_numpy(params: dict, cfg: GPTConfig) -> GPT:
    """A GPT holding copies of the NumPy parameters (float32)."""
    model = GPT(cfg)
    with torch.no_grad():
        for tensor, path in weight_paths(model, params, "weight", "bias"):
            array = at_path(params, path)
            if tuple(tensor.shape) != np.shape(array):
                raise ValueError(f"parameter {path}: shape {np.shape(array)} does not fit the model's {tuple(tensor.shape)}")
            tensor.copy_(torch.from_numpy(np.asarray(array, dtype=np.float32)))
    return model.eval()


def gpt_to_numpy(model: GPT, params: dict) -> dict:
    """A NumPy parameter dict shaped like `params`, holding the model's current weights."""
    out = {"tok_emb": None, "layers": [{"attn": {}} for _ in model.blocks]}
    for tensor, path in weight_paths(model, params, "weight", "bias"):
        at_path(out, path[:-1])[path[-1]] = tensor.detach().numpy().copy()
    return out


# ---------------------------------------------------------------- training


def lm_loss(model: GPT, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean next-character cross-entropy (nats) of windows x (batch, t) against their targets y (batch, t)."""
    logits = model(x)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))


@torch.no_grad()
def eval_loss(model: GPT, ids: np.ndarray) -> float:
    """Nats per character over the whole stream `ids`: consecutive windows of `context`, every target once."""
    c = model.cfg.context
    n = (len(ids) - 1) // c * c
    x = torch.from_numpy(ids[:n].reshape(-1, c))
    y = torch.from_numpy(ids[1:n + 1].reshape(-1, c))
    losses = [lm_loss(model, x[i:i + 64], y[i:i + 64]) * len(x[i:i + 64]) for i in range(0, len(x), 64)]
    total = float(sum(losses)) * c
    rest = len(ids) - 1 - n                                           # the last partial window
    if rest:
        total += float(lm_loss(model, torch.from_numpy(ids[n:-1][None]), torch.from_numpy(ids[n + 1:][None]))) * rest
    return total / (len(ids) - 1)


def train_gpt(model: GPT, train_ids: np.ndarray, steps: int, batch: int = 32, lr: float = 3e-3, seed: int = 0,
              progress: bool = True, threads: int | None = 1) -> list[float]:
    """AdamW on random windows of train_ids (`sample_windows`, seeded), cosine decay; return the loss per step."""
    saved = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.99), weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps)))
    losses: list[float] = []
    model.train()
    try:
        for _ in tqdm(range(steps), desc="PyTorch", disable=not progress, mininterval=1.0):
            x, y = (torch.from_numpy(a) for a in sample_windows(train_ids, batch, model.cfg.context, rng))
            loss = lm_loss(model, x, y)
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            losses.append(loss.item())
    finally:
        model.eval()
        torch.set_num_threads(saved)
    return losses


# ---------------------------------------------------------------- generation


def next_token(logits: torch.Tensor, temperature: float, generator: torch.Generator | None) -> torch.Tensor:
    """(batch, 1) ids: the argmax when temperature == 0, else a draw from softmax(logits / temperature)."""
    if temperature == 0:
        return logits.argmax(-1, keepdim=True)
    probs = torch.softmax(logits / temperature, dim=-1)
    return torch.multinomial(probs, 1, generator=generator)


@torch.no_grad()
def generate(model: GPT, prompt: np.ndarray, n_new: int, use_cache: bool = True, window: int | None = None,
             temperature: float = 0.0, seed: int = 0, cache: WindowKVCache | None = None) -> np.ndarray:
    """Prompt (batch, n0) followed by n_new tokens; greedy when temperature == 0; pass `cache` to inspect it."""
    tokens = torch.from_numpy(check_tokens(prompt, model.cfg).astype(np.int64))
    generator = torch.Generator().manual_seed(seed)
    cache = (cache or WindowKVCache(model.cfg.n_layers, window)) if use_cache else None
    logits = model(tokens, cache, window=window)
    for step in range(n_new):
        tokens = torch.cat([tokens, next_token(logits[:, -1], temperature, generator)], dim=1)
        if step + 1 < n_new:
            logits = model(tokens[:, -1:], cache, window=window) if use_cache else model(tokens, window=window)
    return tokens.numpy()

