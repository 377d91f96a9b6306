"""Benchmark group `attention_backward`: forward + backward of one head, ours against autograd and SDPA.

impl ∈ {torch_naive_autograd (autograd through softmax(QKᵀ/√d)V, which saves the n×n P),
torch_flash_bwd (`flash_backward_torch.FlashAttentionFunction`: saves Q, K, V, O, L),
torch_sdpa_bwd (F.scaled_dot_product_attention's own backward)}, batch 1, 1 head, d=64, float32.
Each record: median seconds of forward + backward (interleaved runs), GFLOP/s counted as the
12·n²·d FLOPs of the five matrix products without recomputation (the same count for every impl),
% of the torch GEMM rate measured in this group, and the peak RSS rise in MiB.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from utils.bench.measure import PAUSE_S, gemm_gflops, interleaved_median_seconds, peak_mib

SIZES = (512, 1024, 2048, 4096)
QUICK_SIZES = (512, 1024)
IMPLS = ("torch_naive_autograd", "torch_flash_bwd", "torch_sdpa_bwd")
BLOCKS = {"block_q": 256, "block_k": 512}  # tiles of 0.5 MiB of float32 scores: speed against memory


def backward_flops(n: int, d: int) -> int:
    """FLOPs of forward + backward without recomputation: QKᵀ, PV, then dV, dP, dQ, dK (6 products of 2n²d)."""
    return 12 * n * n * d


def backward_impls(n: int, d: int = 64, seed: int = 0) -> dict[str, Callable[[], Any]]:
    """No-argument closures, each running one forward and one backward on fresh (1, 1, n, d) leaves."""
    import torch

    from utils.efficient.flash_backward_torch import flash_attention_autograd

    rng = np.random.default_rng(seed)
    q, k, v, do = (torch.from_numpy(rng.standard_normal((1, 1, n, d), dtype=np.float32)) for _ in range(4))

    def step(forward: Callable[..., Any]) -> Callable[[], Any]:
        def run() -> Any:
            leaves = [t.clone().requires_grad_(True) for t in (q, k, v)]
            forward(*leaves).backward(do)
            return [t.grad for t in leaves]
        return run

    def naive(q: Any, k: Any, v: Any) -> Any:
        return torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(d), dim=-1) @ v

    return {"torch_naive_autograd": step(naive),
            "torch_flash_bwd": step(lambda q, k, v: flash_attention_autograd(q, k, v, **BLOCKS)),
            "torch_sdpa_bwd": step(torch.nn.functional.scaled_dot_product_attention)}


def run(quick: bool = False, sizes: tuple[int, ...] | None = None, repeats: int = 5, d: int = 64,
        pause: float = PAUSE_S) -> list[dict]:
    """Records {"group": "attention_backward", "impl", "n", "d", "seconds", "gflops", "pct_gemm", "peak_mib", ...}."""
    gemm = gemm_gflops("torch")
    records = []
    for n in sizes or (QUICK_SIZES if quick else SIZES):
        fns = backward_impls(n, d)
        seconds = interleaved_median_seconds(fns, repeats, warmup=1, pause=pause)
        for name, fn in fns.items():
            gflops = backward_flops(n, d) / seconds[name] / 1e9
            records.append({"group": "attention_backward", "impl": name, "n": n, "d": d, "seconds": seconds[name],
                            "gflops": gflops, "pct_gemm": 100 * gflops / gemm, "gemm_gflops": gemm,
                            "peak_mib": peak_mib(fn, "rss"), "peak_method": "rss"})
    return records


def target_checks(records: list[dict]) -> list[str]:
    """At the largest n measured (4096 in a full run): flash_bwd memory <= 1/8 of naive, time <= 2x SDPA's."""
    at = {(r["impl"], r["n"]): r for r in records if r.get("group") == "attention_backward"}
    if not at:
        return []
    n = max(r_n for _, r_n in at)
    if not all((impl, n) in at for impl in IMPLS):
        return []
    ours, naive, sdpa = at["torch_flash_bwd", n], at["torch_naive_autograd", n], at["torch_sdpa_bwd", n]
    mem = ours["peak_mib"] / max(naive["peak_mib"], 1e-9)
    time = ours["seconds"] / sdpa["seconds"]
    judged = "" if n == 4096 else f" (targets are set at n=4096; n={n} is not judged)"
    verdict = (lambda ok: "met" if ok else "MISSED") if not judged else (lambda ok: "not judged")
    return [f"torch_flash_bwd peak MiB / torch_naive_autograd at n={n}: {mem:.3g} (target <= 0.125) -> "
            f"{verdict(mem <= 1 / 8)}{judged}",
            f"torch_flash_bwd seconds / torch_sdpa_bwd at n={n}: {time:.3g} (target <= 2) -> {verdict(time <= 2)}"]
