"""Attention benchmarks (not a test): `python -m utils.bench.run [--quick] [--json PATH]`.

Measures, in one process, the machine's float32 GEMM rate (NumPy and torch, 2048×2048; measured
before and after the sweep, the higher median kept, since other load only ever lowers it) and
eight attention implementations (batch 1, 1 head, d=64, float32) over n. For every (impl, n):
median seconds of >= 5 timed runs after one warm-up, GFLOP/s (4·n²·d FLOPs), % of the GEMM
rate of the impl's framework, and peak memory above the baseline in MiB. Timed runs are
interleaved round-robin across the impls of one framework and one n, so that load from other
processes hits them alike. NumPy peak memory is counted by `tracemalloc`, torch and TF by peak RSS;
the timing and memory helpers, and their caveats, are in `utils.bench.measure`.

After its own group it imports every module listed in `GROUP_MODULES` and appends the records that
its `run(quick: bool[, sizes]) -> list[dict]` returns (`--groups` picks some). Writes bench/results.md,
bench/results.png, the benchmark page docs/benchmarks.md (`benchmark_page`: the same tables, every
target met or missed, the command that made it) and the JSON {"gemm_gflops": {...}, "machine": {...},
"results": [...]}; records of the other groups add their own keys, the schema's keys stay.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import math
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from utils.bench.measure import (
    PAUSE_S,
    attention_flops,
    gemm_gflops,
    interleaved_median_seconds,
    peak_mib,
)

ROOT = Path(__file__).resolve().parents[2]
FULL_SIZES = (512, 1024, 2048, 4096, 8192)
QUICK_SIZES = (512, 1024, 2048)
IMPLS = ("numpy_naive", "numpy_tiled", "torch_naive", "torch_tiled", "torch_tiled_compiled", "torch_sdpa", "tf_naive",
         "tf_tiled")


def attention_impls(n: int, d: int = 64, seed: int = 0) -> dict[str, Callable[[], Any]]:
    """The benchmarked implementations, each a no-argument closure over (1, 1, n, d) inputs."""
    import torch

    from utils.core.frameworks import import_tensorflow
    from utils.efficient import flash_fused_torch, tiled_numpy, tiled_tf, tiled_torch

    tf = import_tensorflow()
    rng = np.random.default_rng(seed)
    q, k, v = (rng.standard_normal((1, 1, n, d), dtype=np.float32) for _ in range(3))
    tq, tk, tv = (torch.from_numpy(a.copy()) for a in (q, k, v))
    block = max(512, n // 8)
    fq, fk, fv = (tf.constant(a) for a in (q, k, v))
    scale = 1.0 / math.sqrt(d)

    def numpy_naive() -> np.ndarray:  # what chapter 04 writes: the (n, n) matrix, materialised
        scores = q @ np.swapaxes(k, -1, -2) * np.float32(scale)
        weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
        weights /= weights.sum(axis=-1, keepdims=True)
        return weights @ v

    def torch_naive() -> Any:
        return torch.softmax(tq @ tk.transpose(-2, -1) * scale, dim=-1) @ tv

    def tf_naive() -> Any:
        return tf.matmul(tf.nn.softmax(tf.matmul(fq, fk, transpose_b=True) * scale, axis=-1), fv)

    return {
        "numpy_naive": numpy_naive,
        "numpy_tiled": lambda: tiled_numpy.flash_attention(q, k, v, block_q=128, block_k=512),
        "torch_naive": torch_naive,
        "torch_tiled": lambda: tiled_torch.flash_attention(tq, tk, tv, block_q=1024, block_k=512),
        "torch_sdpa": lambda: torch.nn.functional.scaled_dot_product_attention(tq, tk, tv),
        "tf_naive": tf_naive,
        "tf_tiled": lambda: tiled_tf.flash_attention(fq, fk, fv, block_q=512, block_k=1024),
    } | ({"torch_tiled_compiled": lambda: flash_fused_torch.flash_attention_compiled(tq, tk, tv, block_q=block,
                                                                                      block_k=block)}
         if flash_fused_torch.compiler_available() else {})  # tiles of max(512, n/8): <= 64 tiles to compile


def run_attention(sizes: tuple[int, ...] = FULL_SIZES, d: int = 64, repeats: int = 5,
                  gemm: dict[str, float] | None = None, impls: tuple[str, ...] = IMPLS,
                  log: Callable[[str], None] | None = None, pause: float = PAUSE_S) -> list[dict]:
    """Benchmark records {"group", "impl", "n", "d", "seconds", "gflops", "pct_gemm", "peak_mib", ...}."""
    gemm = gemm or {"numpy": gemm_gflops("numpy"), "torch": gemm_gflops("torch")}
    records = []
    for n in sizes:
        fns = {name: fn for name, fn in attention_impls(n, d).items() if name in impls}
        seconds = {}
        for prefix in ("numpy", "torch", "tf"):  # interleave within a framework: their thread pools spin-wait
            group = {name: fn for name, fn in fns.items() if name.startswith(prefix)}
            seconds.update(interleaved_median_seconds(group, repeats, warmup=1, pause=pause) if group else {})
        for name, fn in fns.items():
            method = "tracemalloc" if name.startswith("numpy") else "rss"
            gflops = attention_flops(n, n, d) / seconds[name] / 1e9
            rate = gemm["numpy" if name.startswith("numpy") else "torch"]  # TF has no GEMM of its own here
            records.append({"group": "attention", "impl": name, "n": n, "d": d, "seconds": seconds[name],
                            "gflops": gflops, "pct_gemm": 100 * gflops / rate,
                            "peak_mib": peak_mib(fn, method), "peak_method": method})
            if log:
                r = records[-1]
                log(f"  n={n:5d} {name:12s} {r['seconds'] * 1e3:9.2f} ms {gflops:7.1f} GFLOP/s "
                    f"{r['pct_gemm']:5.1f}% GEMM {r['peak_mib']:8.2f} MiB")
    return records


# The other benchmark groups, each a module with `run(quick: bool) -> list[dict]`, listed here
# explicitly (no discovery by file name), in the order they run.
GROUP_MODULES = ("utils.bench.long_context", "utils.bench.ring", "utils.bench.lm_generate",
                 "utils.bench.attention_backward")


def extension_modules(groups: tuple[str, ...] | None = None) -> list[Any]:
    """The modules of GROUP_MODULES (those whose last name part is in `groups`, if given), imported, in order."""
    names = [n for n in GROUP_MODULES if groups is None or n.rsplit(".", 1)[-1] in groups]
    return [importlib.import_module(name) for name in names]


def machine_info() -> dict[str, Any]:
    """CPU, core count and library versions, for the report."""
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            cpu = next(line.split(":", 1)[1].strip() for line in fh if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    from utils.core.frameworks import import_tensorflow

    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "numpy": np.__version__,
            "torch": torch.__version__, "tensorflow": import_tensorflow().__version__}


def target_checks(records: list[dict], gemm: dict[str, float]) -> list[str]:
    """The course's performance targets (n=4096 speed, n=8192 memory), as lines 'target: measured -> met/missed'."""
    at = {(r["impl"], r["n"]): r for r in records if r.get("group") == "attention"}
    lines = []

    def line(text: str, value: float, goal: float, higher: bool = True) -> None:
        ok = value >= goal if higher else value <= goal
        lines.append(f"{text}: {value:.3g} (target {'>=' if higher else '<='} {goal:g}) -> {'met' if ok else 'MISSED'}")

    if ("numpy_naive", 4096) in at and ("numpy_tiled", 4096) in at:
        line("numpy_tiled speed-up over numpy_naive at n=4096",
             at["numpy_naive", 4096]["seconds"] / at["numpy_tiled", 4096]["seconds"], 1.5)
    if ("numpy_naive", 8192) in at and ("numpy_tiled", 8192) in at:
        line("numpy_tiled peak MiB / numpy_naive peak MiB at n=8192",
             at["numpy_tiled", 8192]["peak_mib"] / max(at["numpy_naive", 8192]["peak_mib"], 1e-9), 1 / 16, False)
    ours = [at[name, 4096] for name in ("torch_tiled", "torch_tiled_compiled") if (name, 4096) in at]
    if ours and ("torch_sdpa", 4096) in at:
        best = max(ours, key=lambda r: r["gflops"])
        line(f"fastest torch forward ({best['impl']}) throughput / torch_sdpa at n=4096",
             best["gflops"] / at["torch_sdpa", 4096]["gflops"], 0.8)
        line(f"fastest torch forward ({best['impl']}) % of torch GEMM rate at n=4096", best["pct_gemm"], 50)
    return lines


def markdown_table(payload: dict) -> str:
    """The results as Markdown: machine, GEMM rates, one attention table, the targets, other groups."""
    gemm, recs = payload["gemm_gflops"], payload["results"]
    out = []
    if "machine" in payload:
        m = payload["machine"]
        out.append(f"Machine: {m['cpu']}, {m['cores']} cores; Python {m['python']}, NumPy {m['numpy']}, "
                   f"torch {m['torch']}, TensorFlow {m['tensorflow']}.\n")
    size = payload.get("gemm_size", 2048)
    out.append(f"float32 GEMM {size}×{size}: NumPy {gemm['numpy']:.0f} GFLOP/s, torch {gemm['torch']:.0f} GFLOP/s.\n")
    out.append("| impl | n | ms (median) | GFLOP/s | % of GEMM | peak MiB |\n|---|---:|---:|---:|---:|---:|")
    for r in (r for r in recs if r.get("group") == "attention"):
        out.append(f"| {r['impl']} | {r['n']} | {r['seconds'] * 1e3:.2f} | {r['gflops']:.1f} | "
                   f"{r['pct_gemm']:.1f} | {r['peak_mib']:.2f} |")
    out.append("\nTimes: median of the timed runs after one warm-up. Peak MiB: NumPy rows by tracemalloc (exact "
               "NumPy allocations); torch and TF rows by the rise in peak RSS, which misses memory an allocator "
               "reuses without asking the OS (TensorFlow keeps its freed buffers, so its rows are lower bounds).")
    checks = target_checks(recs, gemm)
    if checks:
        out.append("\nTargets:\n" + "\n".join(f"- {c}" for c in checks))
    others = [r for r in recs if r.get("group") != "attention"]
    for group in dict.fromkeys(r["group"] for r in others):  # one table per group, with only its own columns
        rows = [r for r in others if r["group"] == group]
        keys = [k for k in dict.fromkeys(key for r in rows for key in r) if k != "group"]
        out.append(f"\n{group}:\n\n| " + " | ".join(keys) + " |\n|" + "---|" * len(keys))
        for r in rows:
            out.append("| " + " | ".join(f"{r[k]:.4g}" if isinstance(r.get(k), float) else str(r.get(k, ""))
                                         for k in keys) + " |")
    checks = [c for module in (extension_modules() if others else []) if hasattr(module, "target_checks")
              for c in module.target_checks(others)]
    if checks:
        out.append("\nTargets of the other groups:\n" + "\n".join(f"- {c}" for c in checks))
    return "\n".join(out) + "\n"


def plot_attention_results(records: list[dict]) -> Any:
    """Log-log figure: median seconds and peak MiB against n for every attention impl."""
    from matplotlib.figure import Figure

    recs = [r for r in records if r.get("group") == "attention"]
    fig = Figure(figsize=(9, 3.4))
    ax_t, ax_m = fig.subplots(1, 2)
    for impl in dict.fromkeys(r["impl"] for r in recs):
        rs = sorted((r for r in recs if r["impl"] == impl), key=lambda r: r["n"])
        style = "--" if "naive" in impl else "-"
        ax_t.loglog([r["n"] for r in rs], [r["seconds"] for r in rs], style, marker="o", ms=3, label=impl)
        ax_m.loglog([r["n"] for r in rs], [max(r["peak_mib"], 1e-2) for r in rs], style, marker="o", ms=3,
                    label=impl)
    sizes = sorted({r["n"] for r in recs})
    for ax in (ax_t, ax_m):
        ax.set_xticks(sizes, [str(n) for n in sizes])
        ax.minorticks_off()
    ax_t.set(title="Attention time (d=64, float32)", xlabel="sequence length n", ylabel="median seconds")
    ax_m.set(title="Peak memory above baseline", xlabel="sequence length n", ylabel="MiB")
    ax_m.legend(fontsize=7)
    fig.tight_layout()
    return fig


def benchmark_page(payload: dict, command: str) -> str:
    """The Markdown benchmark page (docs/benchmarks.md): how it was made, then every table and target."""
    groups = ", ".join(dict.fromkeys(r["group"] for r in payload["results"])) or "none"
    return ("# Benchmarks\n\n"
            "Generated by `make bench` (`python -m utils.bench.run`); do not edit by hand, run it again.\n"
            f"This page was written by `{command}` (groups: {groups}). Every rate is given next to the float32 "
            "GEMM rate measured in the same run, and every target is reported met or missed. Other programs "
            "share the machine, so the runs are interleaved and the ratios are the figures to trust.\n\n"
            + (f"Intra-op threads: {payload['threads']} (GEMM rates measured with the same).\n\n"
               if payload.get("threads") else "")
            + markdown_table(payload))


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(prog="python -m utils.bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"reduced sweep n in {QUICK_SIZES} (<= 60 s)")
    parser.add_argument("--json", type=Path, help="write the results as JSON here")
    parser.add_argument("--sizes", help="comma-separated n values (overrides --quick's), e.g. 64,128")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per impl and n (>= 5 for reports)")
    parser.add_argument("--out-dir", type=Path, default=ROOT / "bench", help="where results.md/.png go")
    parser.add_argument("--page", type=Path, default=ROOT / "docs" / "benchmarks.md", help="the benchmark page")
    parser.add_argument("--gemm-size", type=int, default=2048, help="n of the n×n GEMM that sets the ceiling")
    parser.add_argument("--pause", type=float, default=PAUSE_S, help="idle seconds before each timed call")
    parser.add_argument("--no-extensions", action="store_true", help="skip the GROUP_MODULES groups")
    parser.add_argument("--groups", help="comma-separated groups to run, e.g. attention,attention_backward")
    parser.add_argument("--threads", type=int, help="intra-op threads of torch, TF and BLAS (default: theirs)")
    args = parser.parse_args(argv)
    if args.threads:  # on a machine that other programs oversubscribe, 1 thread avoids stalls at every op's barrier
        import torch
        from threadpoolctl import threadpool_limits

        from utils.core.frameworks import import_tensorflow

        torch.set_num_threads(args.threads)
        threadpool_limits(limits=args.threads)
        import_tensorflow().config.threading.set_intra_op_parallelism_threads(args.threads)
    sizes = tuple(int(s) for s in args.sizes.split(",")) if args.sizes else (QUICK_SIZES if args.quick else FULL_SIZES)
    groups = tuple(args.groups.split(",")) if args.groups else None
    start = time.perf_counter()
    log = lambda text: print(text, flush=True)  # noqa: E731
    gemm = {"numpy": gemm_gflops("numpy", args.gemm_size), "torch": gemm_gflops("torch", args.gemm_size)}
    log(f"GEMM {args.gemm_size}x{args.gemm_size} float32: numpy {gemm['numpy']:.0f} GFLOP/s, torch {gemm['torch']:.0f} GFLOP/s")
    records = []
    if groups is None or "attention" in groups:
        records = run_attention(sizes, repeats=args.repeats, gemm=gemm, log=log, pause=args.pause)
    # other load on the machine lowers a single GEMM measurement: measure again after the sweep, keep the higher
    after = {"numpy": gemm_gflops("numpy", args.gemm_size), "torch": gemm_gflops("torch", args.gemm_size)}
    for fw in gemm:
        gemm[fw] = max(gemm[fw], after[fw])
    for r in records:
        r["pct_gemm"] = 100 * r["gflops"] / gemm["numpy" if r["impl"].startswith("numpy") else "torch"]
    log(f"GEMM after the sweep: numpy {after['numpy']:.0f}, torch {after['torch']:.0f} GFLOP/s; kept the higher")
    if not args.no_extensions:
        for module in extension_modules(groups):
            log(f"group from {module.__name__}")
            wants_sizes = args.sizes and "sizes" in inspect.signature(module.run).parameters
            records.extend(module.run(args.quick, sizes=sizes) if wants_sizes else module.run(args.quick))
    payload = {"gemm_gflops": gemm, "gemm_size": args.gemm_size, "machine": machine_info(), "results": records}
    if args.threads:
        payload["threads"] = args.threads
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / "results.md").write_text(markdown_table(payload), encoding="utf-8")
    plot_attention_results(records).savefig(args.out_dir / "results.png", dpi=100)
    args.page.parent.mkdir(parents=True, exist_ok=True)
    command = "python -m utils.bench.run" + "".join(f" {a}" for a in (argv if argv is not None else sys.argv[1:]))
    args.page.write_text(benchmark_page(payload, command), encoding="utf-8")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(payload, indent=1), encoding="utf-8")
    print("\n" + markdown_table(payload))
    log(f"done in {time.perf_counter() - start:.0f} s; wrote {args.out_dir / 'results.md'}, results.png and {args.page}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
