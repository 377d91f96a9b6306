"""Chapter 08b's benchmark groups on tiny sizes: the records' schema and the exact claims (speed is never tested)."""

from __future__ import annotations

from utils.bench import long_context


def test_kv_cache_records_have_the_expected_schema():
    records = long_context.run_kv_cache(tokens=4, repeats=1, batch=2)
    assert [r["impl"] for r in records] == ["torch_no_cache", "torch_cache", "tf_no_cache", "tf_cache"]
    for r in records:
        assert r["group"] == "kv_cache" and r["tokens"] == 4 and r["batch"] == 2
        assert isinstance(r["seconds"], float) and r["seconds"] >= 0


def test_gqa_cache_bytes_shrink_exactly_by_h_over_g():
    records = long_context.run_gqa(prompt_len=8, new_tokens=2, repeats=1)
    h = records[0]["heads"]
    assert [r["kv_heads"] for r in records] == [h, h // 4, 1]
    full = records[0]["cache_bytes"]
    for r in records:
        assert r["group"] == "gqa" and r["tokens"] == 10 and r["seconds_per_token"] >= 0
        assert r["cache_bytes"] * (h // r["kv_heads"]) == full


def test_scaling_records_and_slopes():
    records = long_context.run_scaling((2048, 4096), (2048, 4096), repeats=1)
    groups = {r["group"] for r in records}
    assert groups == {"sliding_window", "linear", "full_causal", "scaling_slope"}
    assert all(r["window"] == long_context.WINDOW for r in records if r["group"] == "sliding_window")
    slopes = [r for r in records if r["group"] == "scaling_slope"]
    assert [r["impl"] for r in slopes] == ["banded_torch", "elu_causal_chunked_torch", "torch_sdpa"]
    assert all(isinstance(r["slope"], float) and r["n_min"] == 2048 for r in slopes)


def test_target_checks_say_met_and_missed():
    good = [{"group": "kv_cache", "impl": "torch_no_cache", "seconds": 2.0},
            {"group": "kv_cache", "impl": "torch_cache", "seconds": 0.1},
            {"group": "kv_cache", "impl": "tf_no_cache", "seconds": 3.0},
            {"group": "kv_cache", "impl": "tf_cache", "seconds": 0.2},
            {"group": "gqa", "kv_heads": 8, "heads": 8, "cache_bytes": 800},
            {"group": "gqa", "kv_heads": 1, "heads": 8, "cache_bytes": 100},
            {"group": "scaling_slope", "impl": "banded_torch", "n_min": 2048, "slope": 1.0}]
    lines = long_context.target_checks(good)
    assert len(lines) == 4 and all(line.endswith("met") for line in lines)
    assert lines[0].startswith("KV cache speed-up: 20.0x") and lines[1].startswith("TF (eager) KV cache speed-up")
    assert "15.0x" in lines[1]
    bad = [dict(r) for r in good]
    bad[1]["seconds"], bad[3]["seconds"], bad[5]["cache_bytes"], bad[6]["slope"] = 1.0, 1.0, 101, 1.9
    assert all(line.endswith("MISSED") for line in long_context.target_checks(bad))


def test_target_checks_report_each_framework_only_when_both_records_exist():
    torch_only = [{"group": "kv_cache", "impl": "torch_no_cache", "seconds": 2.0},
                  {"group": "kv_cache", "impl": "torch_cache", "seconds": 0.1},
                  {"group": "kv_cache", "impl": "tf_cache", "seconds": 0.1}]
    assert long_context.target_checks(torch_only) == ["KV cache speed-up: 20.0x at 512 tokens (target >= 10 at 512) -> met"]


def test_kv_target_is_not_judged_on_a_quick_run():
    quick = [{"group": "kv_cache", "impl": "torch_no_cache", "tokens": 256, "seconds": 0.5},
             {"group": "kv_cache", "impl": "torch_cache", "tokens": 256, "seconds": 0.1}]
    (line,) = long_context.target_checks(quick)
    assert "5.0x at 256 tokens" in line and line.endswith("not judged: the target is at 512 tokens, this run made 256")
