"""Chapter 10's stored training runs (utils/models/gpt_ablations.json) are current and say what the chapter says."""

import json

import pytest

from utils.models import gpt_ablations


def test_stored_results_are_current():
    """Fails after a change to the model, training or corpus code: run `python -m utils.models.gpt_ablations`."""
    results = gpt_ablations.load_results()
    assert results["settings"] == gpt_ablations.SETTINGS


def test_a_stale_file_is_refused(tmp_path, monkeypatch):
    stale = json.loads(gpt_ablations.RESULTS.read_text(encoding="utf-8")) | {"fingerprint": "0" * 64}
    path = tmp_path / "gpt_ablations.json"
    path.write_text(json.dumps(stale), encoding="utf-8")
    monkeypatch.setattr(gpt_ablations, "RESULTS", path)
    with pytest.raises(RuntimeError, match="is stale: run `python -m utils.models.gpt_ablations`"):
        gpt_ablations.load_results()


def test_every_variant_has_two_seeds_and_beats_the_bigram():
    results = gpt_ablations.load_results()
    best_bigram = min(results["bigram"].values())
    for name, variant in results["variants"].items():
        runs = variant["runs"]
        assert sorted(r["seed"] for r in runs if r["framework"] == "torch") == [0, 1], name
        assert all(r["val_loss"] < best_bigram for r in runs), name
    params = {name: v["params"] for name, v in results["variants"].items()}
    assert abs(params["rope_mha"] - params["rope_gqa"]) / params["rope_gqa"] < 0.001
