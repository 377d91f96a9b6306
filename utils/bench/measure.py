"""Timing, memory and FLOP helpers for the benchmarks and the chapters' small sweeps.

Timed runs pause 0.15 s before each call: the thread pools of OpenBLAS, OpenMP (torch) and
Eigen (TF) busy-wait after a call, and on 2 cores a spinning pool would steal a core from
whatever runs next. Peak memory: NumPy by `tracemalloc` (NumPy reports its array allocations
to it, so the count is exact); torch and TF by the process's peak RSS (Linux VmHWM reset
through /proc/self/clear_refs, else a psutil sampling thread), which misses memory that an
allocator reuses without growing RSS.
"""

from __future__ import annotations

import ctypes
import gc
import statistics
import threading
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np

MIB = 2**20
PAUSE_S = 0.15  # idle gap before each timed call: OpenBLAS workers busy-wait ~0.1 s after a call


def median_seconds(fn: Callable[[], Any], repeats: int = 5, warmup: int = 1) -> float:
    """Median wall-clock seconds of `repeats` calls of fn after `warmup` untimed calls."""
    if repeats < 1 or warmup < 0:
        raise ValueError(f"repeats must be >= 1 and warmup >= 0, got repeats={repeats}, warmup={warmup}")
    return interleaved_median_seconds({"fn": fn}, repeats, warmup)["fn"]


def interleaved_median_seconds(fns: dict[str, Callable[[], Any]], repeats: int = 5, warmup: int = 1,
                               pause: float = 0.0) -> dict[str, float]:
    """Median seconds of each fn, timed round-robin (rotating order) so that outside load is shared.

    `pause` seconds of sleep before each timed call let the idle worker threads of the previous call
    (OpenBLAS, OpenMP and Eigen pools busy-wait for a while) go to sleep, so they do not steal a core.
    """
    if repeats < 1 or warmup < 0:
        raise ValueError(f"repeats must be >= 1 and warmup >= 0, got repeats={repeats}, warmup={warmup}")
    names = list(fns)
    for name in names:
        for _ in range(warmup):
            fns[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(repeats):
        for name in names[r % len(names):] + names[: r % len(names)]:
            time.sleep(pause)
            start = time.perf_counter()
            fns[name]()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(ts) for name, ts in times.items()}


def gemm_gflops(framework: str = "numpy", n: int = 2048, repeats: int = 5) -> float:
    """The float32 GEMM rate (GFLOP/s, 2·n³ FLOPs) of an n×n matmul in 'numpy' or 'torch'."""
    a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
    time.sleep(PAUSE_S)  # let other thread pools stop spinning first
    if framework == "numpy":
        b = a.copy()
        seconds = median_seconds(lambda: a @ b, repeats)
    elif framework == "torch":
        import torch

        ta, tb = torch.from_numpy(a), torch.from_numpy(a.copy())
        seconds = median_seconds(lambda: ta @ tb, repeats)
    else:
        raise ValueError(f"framework must be 'numpy' or 'torch', got {framework!r}")
    return 2 * n**3 / seconds / 1e9


def attention_flops(n_q: int, n_k: int, d: int, causal: bool = False) -> int:
    """Forward FLOPs of one head: 2·n_q·n_k·d for QKᵀ plus 2·n_q·n_k·d for PV; half if causal."""
    flops = 4 * n_q * n_k * d
    return flops // 2 if causal else flops


def _status_kib(key: str) -> int:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


def _set_mmap_threshold(nbytes: int) -> None:
    """glibc only: serve malloc requests >= nbytes by mmap, so that freeing them lowers RSS."""
    try:
        ctypes.CDLL(None).mallopt(-3, nbytes)  # -3 = M_MMAP_THRESHOLD
    except (OSError, AttributeError):
        pass


def peak_rss_mib(fn: Callable[[], Any]) -> float:
    """Peak resident memory (MiB) above the level just before fn() ran.

    While it measures, glibc's mmap threshold is pinned at 128 KiB: otherwise freed arrays below
    glibc's adaptive threshold (up to 32 MiB) stay resident and are reused without raising RSS.
    Afterwards it is pinned at 32 MiB, the value the adaptive threshold grows to.
    """
    gc.collect()
    _set_mmap_threshold(128 * 1024)
    try:
        ctypes.CDLL(None).malloc_trim(0)  # give free heap pages back, so reusing them shows in RSS
    except (OSError, AttributeError):
        pass
    try:
        return _peak_rss_mib(fn)
    finally:
        _set_mmap_threshold(32 * MIB)


def _peak_rss_mib(fn: Callable[[], Any]) -> float:
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")  # resets VmHWM to the current RSS
        base = _status_kib("VmRSS")
        result = fn()
        peak = _status_kib("VmHWM")
        del result
        return max(peak - base, 0) / 1024
    except OSError:  # not Linux, or clear_refs refused: sample RSS in a thread
        import psutil

        proc, stop, samples = psutil.Process(), threading.Event(), []
        base = proc.memory_info().rss

        def sample() -> None:
            while not stop.is_set():
                samples.append(proc.memory_info().rss)
                time.sleep(0.001)

        thread = threading.Thread(target=sample, daemon=True)
        thread.start()
        try:
            result = fn()
            samples.append(proc.memory_info().rss)
        finally:
            stop.set()
            thread.join()
        del result
        return max(max(samples) - base, 0) / MIB


def peak_traced_mib(fn: Callable[[], Any]) -> float:
    """Peak memory (MiB) that Python and NumPy allocated above the baseline while fn() ran (tracemalloc)."""
    gc.collect()
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        result = fn()
        peak = tracemalloc.get_traced_memory()[1]
        del result
    finally:
        if started:
            tracemalloc.stop()
    return max(peak - base, 0) / MIB


def peak_mib(fn: Callable[[], Any], method: str = "tracemalloc") -> float:
    """Peak extra MiB while fn() runs, by 'tracemalloc' (NumPy) or 'rss' (any framework)."""
    if method == "tracemalloc":
        return peak_traced_mib(fn)
    if method == "rss":
        return peak_rss_mib(fn)
    raise ValueError(f"method must be 'tracemalloc' or 'rss', got {method!r}")
