"""The benchmark's helpers and the JSON schema of a tiny run (speed itself is never tested)."""

from __future__ import annotations

import json
import types

import pytest

from utils.bench import run as bench


def test_tiny_run_writes_json_markdown_and_plot(tmp_path, monkeypatch):
    extra = types.SimpleNamespace(__name__="utils.bench.fake",
                                  run=lambda quick: [{"group": "fake", "impl": "x", "n": 1, "quick": quick}])
    monkeypatch.setattr(bench, "extension_modules", lambda: [extra])
    out = tmp_path / "r.json"
    assert bench.main(["--quick", "--sizes", "32,48", "--repeats", "5", "--pause", "0", "--gemm-size", "256", "--json", str(out),
                       "--out-dir", str(tmp_path)]) == 0
    payload = json.loads(out.read_text())
    assert set(payload["gemm_gflops"]) == {"numpy", "torch"} and payload["gemm_gflops"]["numpy"] > 0
    attention = [r for r in payload["results"] if r["group"] == "attention"]
    assert sorted({r["impl"] for r in attention}) == sorted(bench.IMPLS)
    assert len(attention) == 2 * len(bench.IMPLS) and {r["n"] for r in attention} == {32, 48}
    for r in attention:
        assert {"group", "impl", "n", "d", "seconds", "gflops", "pct_gemm", "peak_mib"} <= set(r)
        assert r["d"] == 64 and r["seconds"] > 0 and r["peak_mib"] >= 0
        assert r["gflops"] == pytest.approx(4 * r["n"] ** 2 * 64 / r["seconds"] / 1e9)
    assert payload["results"][-1] == {"group": "fake", "impl": "x", "n": 1, "quick": True}
    table = (tmp_path / "results.md").read_text()
    assert "| numpy_tiled | 48 |" in table and "fake:\n\n| impl | n | quick |" in table and "| x | 1 | True |" in table
    assert (tmp_path / "results.png").read_bytes()[:4] == b"\x89PNG"


def test_extension_modules_are_the_listed_groups():
    names = [m.__name__ for m in bench.extension_modules()]
    assert names == list(bench.GROUP_MODULES) and all(name.startswith("utils.bench.") for name in names)
    assert all(callable(getattr(m, "run", None)) for m in bench.extension_modules())


def test_target_checks_report_met_and_missed():
    recs = [{"group": "attention", "impl": i, "n": n, "seconds": s, "gflops": 1 / s, "pct_gemm": p, "peak_mib": m}
            for i, n, s, p, m in [("numpy_naive", 4096, 2.0, 1, 0), ("numpy_tiled", 4096, 1.0, 1, 0),
                                  ("numpy_naive", 8192, 1, 1, 320.0), ("numpy_tiled", 8192, 1, 1, 10.0),
                                  ("torch_sdpa", 4096, 1.0, 60, 0), ("torch_tiled", 4096, 2.0, 30, 0)]]
    lines = bench.target_checks(recs, {"numpy": 1, "torch": 1})
    assert len(lines) == 4
    assert lines[0].endswith("met") and lines[1].endswith("met")
    assert lines[2].endswith("MISSED") and lines[3].endswith("MISSED")
