"""Chapter 10's training runs, too many for the notebook's time budget: run once, stored, checked current.

    python -m utils.models.gpt_ablations     # ~2 min CPU; rewrites utils/models/gpt_ablations.json

Runs (each `train_gpt` with SETTINGS, validation loss in nats per character):
- PyTorch, the chapter's model (RoPE, GQA h=4 g=2), seeds 0 and 1; the same in Keras/TensorFlow;
- PyTorch, no positional information at all (rope=False), seeds 0 and 1;
- PyTorch, multi-head attention (g = h = 4) at nearly the same parameter count: the two extra key/value
  heads cost 2·d_model·32 weights per layer, paid for by a narrower MLP (d_ff 224 instead of 256).

The file records a fingerprint of the code and settings that made it; `tests/test_gpt_ablations.py`
fails when they change and the file was not regenerated.
"""

from __future__ import annotations

import ast
import hashlib
import json
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from utils.datagen import poems
from utils.models.gpt_numpy import GPTConfig, bigram_loss, init_gpt_params, param_count

ROOT = Path(__file__).resolve().parent.parent.parent
RESULTS = Path(__file__).with_suffix(".json")
SETTINGS = {"n_val": 31, "split_seed": 10, "min_count": 2, "steps": 200, "batch": 16, "lr": 3e-3, "seeds": [0, 1],
            "alphas": [0.01, 0.03, 0.1, 0.3, 1.0]}
SOURCES = ("utils/models/gpt_numpy.py", "utils/models/gpt_torch.py", "utils/models/gpt_tf.py",
           "utils/models/gpt_ablations.py", "utils/datagen/poems.py")


def base_config(vocab: int) -> GPTConfig:
    """The chapter's model: d_model 64, 4 query heads sharing 2 key/value heads, 2 layers, context 64."""
    return GPTConfig(vocab=vocab, d_model=64, n_heads=4, n_kv_heads=2, n_layers=2, d_ff=256, context=64, rope=True)


def variants(vocab: int) -> dict[str, GPTConfig]:
    """The ablated models by name."""
    base = base_config(vocab)
    return {"rope_gqa": base, "no_position_gqa": replace(base, rope=False),
            "rope_mha": replace(base, n_kv_heads=4, d_ff=224)}


def fingerprint() -> str:
    """sha256 of the settings and of the code (syntax trees: comments do not count) that made the results."""
    h = hashlib.sha256(json.dumps(SETTINGS, sort_keys=True).encode())
    for path in SOURCES:
        h.update(ast.dump(ast.parse((ROOT / path).read_text(encoding="utf-8"))).encode())
    return h.hexdigest()


def _run(framework: str, cfg: GPTConfig, train_ids: np.ndarray, val_ids: np.ndarray, seed: int) -> dict:
    if framework == "torch":
        from utils.models import gpt_torch as fw
    else:
        from utils.models import gpt_tf as fw
    model = fw.gpt_from_numpy(init_gpt_params(cfg, seed=seed), cfg)
    start = time.process_time()
    losses = fw.train_gpt(model, train_ids, SETTINGS["steps"], SETTINGS["batch"], SETTINGS["lr"], seed=seed,
                          progress=False)
    return {"framework": framework, "seed": seed, "val_loss": round(fw.eval_loss(model, val_ids), 4),
            "train_loss_last20": round(float(np.mean(losses[-20:])), 4),
            "cpu_seconds": round(time.process_time() - start, 1)}


def run_all() -> dict:
    """Every run of the module docstring, with the bigram baselines and the parameter counts."""
    s = SETTINGS
    train_ids, val_ids, vocab = poems.load_split(s["n_val"], s["split_seed"], s["min_count"])
    out = {"fingerprint": fingerprint(), "settings": s, "vocab": len(vocab),
           "bigram": {str(a): round(bigram_loss(train_ids, val_ids, len(vocab), a), 4) for a in s["alphas"]},
           "variants": {}}
    for name, cfg in variants(len(vocab)).items():
        runs = [_run("torch", cfg, train_ids, val_ids, seed) for seed in s["seeds"]]
        if name == "rope_gqa":
            runs += [_run("tf", cfg, train_ids, val_ids, seed) for seed in s["seeds"]]
        out["variants"][name] = {"config": asdict(cfg), "params": param_count(init_gpt_params(cfg)), "runs": runs}
    return out


def load_results() -> dict:
    """The stored results; raise if the code or the settings changed since they were made."""
    results = json.loads(RESULTS.read_text(encoding="utf-8"))
    if results["fingerprint"] != fingerprint():
        raise RuntimeError(f"{RESULTS.name} is stale: run `python -m utils.models.gpt_ablations`")
    return results


if __name__ == "__main__":
    RESULTS.write_text(json.dumps(run_all(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(RESULTS.read_text(encoding="utf-8"))
