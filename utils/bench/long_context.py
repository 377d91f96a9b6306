"""Chapter 08b's benchmark groups, appended to `python -m utils.bench.run` (not a test).

- kv_cache: greedy generation of `tokens` tokens (batch 4) by the toy decoder, torch and TF (eager), with and
  without a cache.
- gqa: cache bytes and seconds per generated token for h = 8 query heads and g in {8, 2, 1}.
- sliding_window / linear / full_causal: seconds against n (batch 1, 1 head, d = 64, float32),
  for the O(n·w) banded attention (w = 256), causal linear attention (elu + 1, chunked) and,
  for comparison, PyTorch's causal SDPA; plus one `scaling_slope` record per impl: the
  least-squares slope of log(seconds) against log(n) over n >= 2048.
"""

from __future__ import annotations

import math
from functools import partial
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from utils.bench.measure import median_seconds
from utils.core.frameworks import to_numpy
from utils.efficient import kv_cache_tf, kv_cache_torch
from utils.efficient.kv_cache_numpy import DecoderConfig, init_decoder_params
from utils.efficient.kv_cache_torch import KVCache, decode_step, params_to_torch
from utils.efficient.linear_attention_torch import causal_linear_attention_chunked, elu_feature_map
from utils.efficient.sparse_attention_torch import banded_attention

KV_CONFIG = DecoderConfig(vocab=256, d_model=128, n_heads=8, n_kv_heads=8, n_layers=2, d_ff=512, max_len=1200)
WINDOW = 256
KV_TARGET_TOKENS = 512  # the KV-cache target: a speed-up of at least 10x at 512 generated tokens


def loglog_slope(ns: list[int], seconds: list[float], n_min: int = 2048) -> float:
    """Least-squares slope of log(seconds) against log(n) over the points with n >= n_min."""
    pts = [(math.log(n), math.log(s)) for n, s in zip(ns, seconds) if n >= n_min]
    if len(pts) < 2:
        raise ValueError(f"need at least two sizes n >= {n_min}, got n = {ns}")
    x, y = np.array(pts).T
    return float(np.polyfit(x, y, 1)[0])


def _median(fn: Any, repeats: int) -> float:
    return median_seconds(fn, repeats=repeats, warmup=1 if repeats > 1 else 0)


def run_kv_cache(tokens: int, repeats: int, batch: int = 4) -> list[dict]:
    """Seconds to generate `tokens` tokens after a 1-token prompt (batch of 4), without and with the cache.

    Torch records first, then TF's (eager: every op pays TF's Python dispatch cost, so its speed-up is smaller).
    """
    np_params = init_decoder_params(KV_CONFIG, seed=0)
    prompt = np.arange(batch)[:, None]
    records = []
    for fw, kv, params in (("torch", kv_cache_torch, kv_cache_torch.params_to_torch(np_params)),
                           ("tf", kv_cache_tf, kv_cache_tf.params_to_tf(np_params))):
        generated, seconds = {}, {}
        for use_cache in (True, False):
            generate = partial(kv.generate_greedy, params, prompt, tokens, KV_CONFIG, use_cache)
            generated[use_cache] = to_numpy(generate())
            seconds[use_cache] = _median(generate, repeats)
        if not np.array_equal(generated[True], generated[False]):
            raise AssertionError(f"{fw}: cached and uncached greedy generation disagree")
        records += [{"group": "kv_cache", "impl": f"{fw}_{name}", "tokens": tokens, "batch": batch,
                     "seconds": seconds[use_cache]} for name, use_cache in (("no_cache", False), ("cache", True))]
    return records


def run_gqa(prompt_len: int, new_tokens: int, repeats: int) -> list[dict]:
    """Cache bytes after prompt_len + new_tokens positions and seconds per decoded token, g in {h, h/4, 1}."""
    records = []
    h = KV_CONFIG.n_heads
    for g in (h, h // 4, 1):
        cfg = DecoderConfig(**{**KV_CONFIG.__dict__, "n_kv_heads": g})
        params = params_to_torch(init_decoder_params(cfg, seed=0))
        prompt = torch.randint(0, cfg.vocab, (1, prompt_len), generator=torch.Generator().manual_seed(0))

        def decode(params: dict = params, cfg: DecoderConfig = cfg, prompt: torch.Tensor = prompt) -> KVCache:
            cache = KVCache(cfg.n_layers)
            logits = decode_step(params, prompt, cache, cfg)          # prefill (not what we time)
            for _ in range(new_tokens):
                logits = decode_step(params, logits[:, -1:].argmax(-1), cache, cfg)
            return cache

        cache = decode()
        prefill = _median(lambda p=params, c=cfg, x=prompt: decode_step(p, x, KVCache(c.n_layers), c), repeats)
        total = _median(decode, repeats)
        records.append({"group": "gqa", "kv_heads": g, "heads": h, "tokens": cache.length,
                        "cache_bytes": cache.nbytes, "seconds_per_token": max(total - prefill, 0.0) / new_tokens})
    return records


def run_scaling(sizes: tuple[int, ...], full_sizes: tuple[int, ...], repeats: int) -> list[dict]:
    """Seconds against n for banded (window 256), causal linear (elu+1) and causal SDPA attention."""
    gen = torch.Generator().manual_seed(0)
    records: list[dict] = []
    impls = {
        ("sliding_window", "banded_torch"): lambda q, k, v: banded_attention(q, k, v, WINDOW),
        ("linear", "elu_causal_chunked_torch"): lambda q, k, v: causal_linear_attention_chunked(
            elu_feature_map(q), elu_feature_map(k), v, chunk=128),
        ("full_causal", "torch_sdpa"): lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
    }
    for (group, impl), fn in impls.items():
        ns = full_sizes if group == "full_causal" else sizes
        for n in ns:
            q, k, v = (torch.randn(1, 1, n, 64, generator=gen) for _ in range(3))
            with torch.no_grad():
                seconds = _median(lambda q=q, k=k, v=v, fn=fn: fn(q, k, v), repeats)
            rec = {"group": group, "impl": impl, "n": n, "seconds": seconds}
            if group == "sliding_window":
                rec["window"] = WINDOW
            records.append(rec)
        rs = [r for r in records if r["impl"] == impl]
        records.append({"group": "scaling_slope", "impl": impl, "n_min": 2048,
                        "slope": loglog_slope([r["n"] for r in rs], [r["seconds"] for r in rs])})
    return records


def target_checks(records: list[dict]) -> list[str]:
    """Chapter 08b's targets, met or missed, as lines for the benchmark report."""
    lines = []
    kv = {r["impl"]: r for r in records if r["group"] == "kv_cache"}
    for fw, label in (("torch", "KV cache speed-up"), ("tf", "TF (eager) KV cache speed-up, informational")):
        if {f"{fw}_cache", f"{fw}_no_cache"} <= kv.keys():
            ratio = kv[f"{fw}_no_cache"]["seconds"] / kv[f"{fw}_cache"]["seconds"]
            tokens = kv[f"{fw}_cache"].get("tokens", KV_TARGET_TOKENS)
            verdict = ("met" if ratio >= 10 else "MISSED") if tokens == KV_TARGET_TOKENS else \
                f"not judged: the target is at {KV_TARGET_TOKENS} tokens, this run made {tokens}"
            lines.append(f"{label}: {ratio:.1f}x at {tokens} tokens (target >= 10 at {KV_TARGET_TOKENS}) -> {verdict}")
    gqa = [r for r in records if r["group"] == "gqa"]
    if gqa:
        full = max(r["cache_bytes"] for r in gqa)
        exact = all(r["cache_bytes"] * (r["heads"] // r["kv_heads"]) == full for r in gqa)
        shrink = ", ".join(f"g={r['kv_heads']}: {full / r['cache_bytes']:g}x" for r in gqa)
        lines.append(f"GQA cache bytes smaller by h/g ({shrink}) -> {'met' if exact else 'MISSED'}")
    for r in records:
        if r["group"] == "scaling_slope" and r["impl"] != "torch_sdpa":
            ok = r["slope"] <= 1.2
            lines.append(f"{r['impl']} log-log slope at n >= {r['n_min']}: {r['slope']:.2f} (target <= 1.2) -> "
                         f"{'met' if ok else 'MISSED'}")
    return lines


def run(quick: bool) -> list[dict]:
    """All of chapter 08b's records; quick mode uses fewer tokens, sizes and repeats."""
    if quick:
        return (run_kv_cache(256, 1) + run_gqa(512, 16, 1)
                + run_scaling((1024, 2048, 4096, 8192), (1024, 2048, 4096), 3))
    return (run_kv_cache(KV_TARGET_TOKENS, 3) + run_gqa(1024, 64, 3)
            + run_scaling((1024, 2048, 4096, 8192, 16384), (1024, 2048, 4096, 8192, 16384), 5))


if __name__ == "__main__":
    for record in run(quick=True):
        print(record)
