"""Timing, memory and FLOP helpers (speed itself is never tested)."""

from __future__ import annotations

import numpy as np
import pytest

from utils.bench import measure


def test_attention_flops_counts_two_matmuls_and_halves_for_causal():
    assert measure.attention_flops(4, 4, 2) == 2 * (2 * 4 * 4 * 2)  # QK^T and PV, 2 FLOPs per multiply-add
    assert measure.attention_flops(8, 8, 64, causal=True) == measure.attention_flops(8, 8, 64) // 2


def test_median_seconds_is_the_median_and_checks_arguments():
    calls = []
    seconds = measure.median_seconds(lambda: calls.append(1), repeats=5, warmup=2)
    assert len(calls) == 7 and 0 <= seconds < 0.1
    with pytest.raises(ValueError, match="repeats must be >= 1"):
        measure.median_seconds(lambda: None, repeats=0)


def test_interleaved_timing_runs_every_function_equally():
    counts = {"a": 0, "b": 0}
    fns = {name: (lambda name=name: counts.__setitem__(name, counts[name] + 1)) for name in counts}
    result = measure.interleaved_median_seconds(fns, repeats=5, warmup=1)
    assert counts == {"a": 6, "b": 6} and set(result) == {"a", "b"}


def test_peak_memory_sees_a_known_allocation():
    eight_mib = lambda: np.ones(2 * 2**20, dtype=np.float32)  # noqa: E731
    assert 7.9 < measure.peak_mib(eight_mib, "tracemalloc") < 9
    assert 7 < measure.peak_mib(lambda: np.ones(8 * 2**20, dtype=np.float32), "rss") < 40  # 32 MiB, touched
    assert measure.peak_mib(lambda: None, "tracemalloc") < 0.1
    with pytest.raises(ValueError, match="method must be"):
        measure.peak_mib(lambda: None, "guess")


def test_gemm_rate_is_positive_and_framework_checked():
    assert measure.gemm_gflops("numpy", n=64, repeats=5) > 0
    with pytest.raises(ValueError, match="framework must be"):
        measure.gemm_gflops("jax", n=8)
