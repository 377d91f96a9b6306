"""Chapter 10's benchmark group `lm_generate`, appended to `python -m utils.bench.run` (not a test).

Greedy generation of `tokens` characters (batch 1, a one-token prompt) by the chapter's small GPT
(`utils.models.gpt_torch`, the chapter's sizes, seeded NumPy weights) without a cache, with a KV cache,
and with a sliding-window cache of `WINDOW` positions. Records: impl, tokens, seconds, tokens_per_s,
cache_bytes (after the run). Target: the cache makes generating 512 tokens at least 5x faster.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from utils.models.gpt_numpy import GPTConfig, init_gpt_params
from utils.models.gpt_torch import WindowKVCache, generate, gpt_from_numpy

CONFIG = GPTConfig(vocab=1571, d_model=64, n_heads=4, n_kv_heads=2, n_layers=2, d_ff=256, context=64)
WINDOW = 64
TARGET_TOKENS, TARGET_SPEEDUP = 512, 5.0


def run_lm_generate(tokens: int, threads: int = 1) -> list[dict]:
    """One record per impl: seconds to generate `tokens` tokens, and the cache's bytes afterwards."""
    model = gpt_from_numpy(init_gpt_params(CONFIG, seed=0), CONFIG)
    prompt = np.zeros((1, 1), dtype=np.int64)
    saved = torch.get_num_threads()
    torch.set_num_threads(threads)
    records, outputs = [], {}
    try:
        for impl, use_cache, window in (("torch_no_cache", False, None), ("torch_cache", True, None),
                                        ("torch_cache_window", True, WINDOW)):
            cache = WindowKVCache(CONFIG.n_layers, window) if use_cache else None
            start = time.perf_counter()
            outputs[impl] = generate(model, prompt, tokens, use_cache=use_cache, window=window, cache=cache)
            seconds = time.perf_counter() - start
            records.append({"group": "lm_generate", "impl": impl, "tokens": tokens, "seconds": seconds,
                            "tokens_per_s": tokens / seconds, "cache_bytes": cache.nbytes if cache else 0})
    finally:
        torch.set_num_threads(saved)
    if not np.array_equal(outputs["torch_no_cache"], outputs["torch_cache"]):
        raise AssertionError("greedy generation with the KV cache differs from generation without it")
    return records


def target_checks(records: list[dict]) -> list[str]:
    """The cache's speed-up at 512 tokens, met or missed."""
    at = {r["impl"]: r for r in records if r["group"] == "lm_generate"}
    if not {"torch_cache", "torch_no_cache"} <= at.keys():
        return []
    ratio = at["torch_no_cache"]["seconds"] / at["torch_cache"]["seconds"]
    tokens = at["torch_cache"]["tokens"]
    verdict = ("met" if ratio >= TARGET_SPEEDUP else "MISSED") if tokens == TARGET_TOKENS else \
        f"not judged: the target is at {TARGET_TOKENS} tokens, this run made {tokens}"
    return [f"GPT KV cache speed-up: {ratio:.1f}x at {tokens} tokens (target >= {TARGET_SPEEDUP:g} at "
            f"{TARGET_TOKENS}) -> {verdict}"]


def run(quick: bool) -> list[dict]:
    """The lm_generate records; quick mode generates 128 tokens instead of 512."""
    return run_lm_generate(128 if quick else TARGET_TOKENS)


if __name__ == "__main__":
    for record in run(quick=False):
        print(record)
    print("\n".join(target_checks(run(quick=True))))
