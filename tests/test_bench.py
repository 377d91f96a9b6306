"""The benchmark's helpers and the JSON schema of a tiny run (speed itself is never tested)."""

from __future__ import annotations

import json
import types

import pytest

from utils.bench import attention_backward
from utils.bench import run as bench
from utils.efficient import flash_fused_torch


def test_tiny_run_writes_json_markdown_and_plot(tmp_path, monkeypatch):
    extra = types.SimpleNamespace(__name__="utils.bench.fake",
                                  run=lambda quick: [{"group": "fake", "impl": "x", "n": 1, "quick": quick}])
    monkeypatch.setattr(bench, "extension_modules", lambda groups=None: [extra])
    monkeypatch.setattr(flash_fused_torch, "compiler_available", lambda: False)  # no compilation in a unit test
    out, page = tmp_path / "r.json", tmp_path / "docs" / "benchmarks.md"
    assert bench.main(["--quick", "--sizes", "32,48", "--repeats", "5", "--pause", "0", "--gemm-size", "256", "--json", str(out),
                       "--out-dir", str(tmp_path), "--page", str(page)]) == 0
    payload = json.loads(out.read_text())
    assert set(payload["gemm_gflops"]) == {"numpy", "torch"} and payload["gemm_gflops"]["numpy"] > 0
    attention = [r for r in payload["results"] if r["group"] == "attention"]
    impls = [i for i in bench.IMPLS if i != "torch_tiled_compiled"]
    assert sorted({r["impl"] for r in attention}) == sorted(impls)
    assert len(attention) == 2 * len(impls) and {r["n"] for r in attention} == {32, 48}
    for r in attention:
        assert {"group", "impl", "n", "d", "seconds", "gflops", "pct_gemm", "peak_mib"} <= set(r)
        assert r["d"] == 64 and r["seconds"] > 0 and r["peak_mib"] >= 0
        assert r["gflops"] == pytest.approx(4 * r["n"] ** 2 * 64 / r["seconds"] / 1e9)
    assert payload["results"][-1] == {"group": "fake", "impl": "x", "n": 1, "quick": True}
    table = (tmp_path / "results.md").read_text()
    assert "| numpy_tiled | 48 |" in table and "fake:\n\n| impl | n | quick |" in table and "| x | 1 | True |" in table
    assert (tmp_path / "results.png").read_bytes()[:4] == b"\x89PNG"
    text = page.read_text()  # the benchmark page: generated, with the command, the GEMM rate and every table
    assert text.startswith("# Benchmarks\n") and "--sizes 32,48" in text and "float32 GEMM 256×256" in text
    assert table in text


def test_benchmark_page_reports_the_backward_targets():
    recs = [{"group": "attention_backward", "impl": i, "n": 4096, "d": 64, "seconds": s, "gflops": 1.0,
             "pct_gemm": 1.0, "peak_mib": m} for i, s, m in
            [("torch_naive_autograd", 1.0, 800.0), ("torch_flash_bwd", 3.0, 50.0), ("torch_sdpa_bwd", 1.0, 20.0)]]
    payload = {"gemm_gflops": {"numpy": 10.0, "torch": 20.0}, "results": recs}
    text = bench.benchmark_page(payload, "python -m utils.bench.run --groups attention_backward")
    assert "groups: attention_backward" in text and "float32 GEMM 2048×2048: NumPy 10 GFLOP/s, torch 20" in text
    lines = attention_backward.target_checks(recs)
    assert lines[0].endswith("-> met") and lines[1].endswith("-> MISSED")  # 50/800 <= 1/8; 3 s > 2 × 1 s
    assert all(line in text for line in lines)


def test_extension_modules_are_the_listed_groups():
    names = [m.__name__ for m in bench.extension_modules()]
    assert names == list(bench.GROUP_MODULES) and all(name.startswith("utils.bench.") for name in names)
    assert [m.__name__ for m in bench.extension_modules(("attention_backward",))] == ["utils.bench.attention_backward"]
    assert all(callable(getattr(m, "run", None)) for m in bench.extension_modules())


def test_target_checks_report_met_and_missed():
    recs = [{"group": "attention", "impl": i, "n": n, "seconds": s, "gflops": 1 / s, "pct_gemm": p, "peak_mib": m}
            for i, n, s, p, m in [("numpy_naive", 4096, 2.0, 1, 0), ("numpy_tiled", 4096, 1.0, 1, 0),
                                  ("numpy_naive", 8192, 1, 1, 320.0), ("numpy_tiled", 8192, 1, 1, 10.0),
                                  ("torch_sdpa", 4096, 1.0, 60, 0), ("torch_tiled", 4096, 2.0, 30, 0)]]
    lines = bench.target_checks(recs, {"numpy": 1, "torch": 1})
    assert "fastest torch forward (torch_tiled)" in lines[2]
    assert len(lines) == 4
    assert lines[0].endswith("met") and lines[1].endswith("met")
    assert lines[2].endswith("MISSED") and lines[3].endswith("MISSED")


def test_attention_backward_group_tiny_run():
    recs = attention_backward.run(sizes=(32,), repeats=1, pause=0)
    assert [r["impl"] for r in recs] == list(attention_backward.IMPLS)
    for r in recs:
        assert {"group", "impl", "n", "d", "seconds", "gflops", "pct_gemm", "peak_mib"} <= set(r)
        assert r["group"] == "attention_backward" and r["seconds"] > 0 and r["peak_mib"] >= 0
        assert r["gflops"] == pytest.approx(12 * 32 * 32 * 64 / r["seconds"] / 1e9)
    assert attention_backward.target_checks(recs)[0].endswith("n=32 is not judged)")
