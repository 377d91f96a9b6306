"""The code is on the page: shown cells equal the package, and no exercise's answer shows early.

- Every cell that starts with `# source: utils/... · names` holds exactly those definitions
  of the package (tools/sync_cells.py); `make sync` rewrites them.
- REQUIRED lists, per chapter, the algorithms that chapter must show.
- No function exercise's answer is importable or defined before the exercise: neither by name
  (the stub's name, the reference's name) nor by behaviour (an imported package function that
  the checker would accept as a solution).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import io
import json
import os
import signal
import subprocess
import sys
from contextlib import redirect_stdout
from pathlib import Path

import pytest
import torch  # noqa: F401  (imported up front: the SIGALRM in _solves must never interrupt torch's first import)

from tools import sync_cells
from utils.exercises import evaluate, load_all

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))

# chapter file prefix -> (package file, definition) pairs that the chapter must show in full.
REQUIRED: dict[str, list[tuple[str, str]]] = {}
REQUIRED["05"] = [
    ("utils/layers/multihead_numpy.py", "split_heads"), ("utils/layers/multihead_numpy.py", "merge_heads"),
    ("utils/layers/multihead_numpy.py", "multi_head_attention"),
    ("utils/layers/multihead_tf.py", "MultiHeadAttention"), ("utils/layers/multihead_torch.py", "MultiHeadAttention"),
    *[(f"utils/models/transformer_{fw}.py", name) for fw in ("tf", "torch")
      for name in ("EncoderBlock", "DecoderBlock", "train_step", "greedy_decode")],
    *[("utils/models/transformer_numpy.py", name) for name in
      ("encoder_block", "decoder_block", "encode", "decode", "masked_cross_entropy", "greedy_decode")],
]
REQUIRED["04"] = [("utils/core/attention_grad_numpy.py", "softmax_backward"),
                  ("utils/core/attention_grad_numpy.py", "attention_backward")]
REQUIRED["06"] = [
    ("utils/models/transformer_numpy.py", "training_batches"), ("utils/models/transformer_numpy.py", "attention_maps"),
    *[(f"utils/models/transformer_{fw}.py", name) for fw in ("tf", "torch") for name in ("train_seq2seq", "attention_maps")],
]
REQUIRED["08a"] = [
    *[("utils/efficient/tiled_numpy.py", name) for name in
      ("attend_query_chunk", "chunked_attention", "online_softmax_update", "online_softmax", "block_mask",
       "flash_query_block", "flash_attention", "causal_block_schedule")],
    *[(f"utils/efficient/tiled_{fw}.py", "flash_query_block") for fw in ("tf", "torch")],
]
REQUIRED["08aa"] = [
    *[("utils/efficient/flash_backward_numpy.py", name) for name in
      ("flash_forward", "recompute_probs", "flash_backward_tile", "backward_tiles", "flash_backward")],
    ("utils/efficient/flash_backward_torch.py", "flash_backward_tile"),
    ("utils/efficient/flash_backward_torch.py", "FlashAttentionFunction"),
    ("utils/efficient/flash_backward_tf.py", "flash_backward_tile"),
    ("utils/efficient/flash_backward_tf.py", "flash_attention_autograd"),
    ("utils/efficient/flash_fused_torch.py", "flash_attention_compiled"),
]
REQUIRED["08b"] = [
    *[("utils/efficient/gqa_numpy.py", name) for name in
      ("group_size", "kv_head_index", "repeat_kv", "grouped_query_attention", "gqa_forward")],
    *[(f"utils/efficient/gqa_{fw}.py", name) for fw in ("tf", "torch") for name in ("repeat_kv", "grouped_query_attention")],
    *[("utils/efficient/kv_cache_numpy.py", name) for name in
      ("KVCache", "decoder_block", "decoder_forward", "decode_step", "kv_cache_bytes")],
    *[(f"utils/efficient/kv_cache_{fw}.py", name) for fw in ("tf", "torch") for name in ("KVCache", "decoder_block")],
    *[("utils/efficient/sparse_attention_numpy.py", name) for name in
      ("sliding_window_mask", "band_allowed", "chunks_with_previous", "banded_attention", "rolling_buffer_attention")],
    *[(f"utils/efficient/sparse_attention_{fw}.py", "banded_attention") for fw in ("tf", "torch")],
    *[("utils/efficient/linear_attention_numpy.py", name) for name in
      ("elu_feature_map", "linear_attention", "causal_linear_attention", "causal_linear_attention_recurrent",
       "causal_linear_attention_chunked", "random_features", "performer_features")],
    *[(f"utils/efficient/linear_attention_{fw}.py", name) for fw in ("tf", "torch")
      for name in ("linear_attention", "causal_linear_attention_chunked", "performer_features")],
    *[("utils/efficient/positions_numpy.py", name) for name in
      ("rope_frequencies", "rope_angles", "apply_rope", "rotate_half", "apply_rope_half", "rope_permutation",
       "sinusoidal_positions", "alibi_slopes", "alibi_bias")],
    *[(f"utils/efficient/positions_{fw}.py", "apply_rope") for fw in ("tf", "torch")],
    ("utils/efficient/length_extrapolation_torch.py", "TinyAttentionModel"),
]
REQUIRED["08c"] = [
    *[("utils/distributed/ring_numpy.py", name) for name in
      ("shard_positions", "ring_block_step", "compute_on_device", "finish", "ring_attention_simulated",
       "ring_bytes_per_process")],
    *[("utils/distributed/ring_torch.py", name) for name in ("exchange", "ring_attention_process", "ring_worker")],
    *[("utils/distributed/ulysses_torch.py", name) for name in
      ("seq_to_heads", "heads_to_seq", "ulysses_attention_process", "ulysses_bytes_per_process")],
    *[("utils/distributed/paged_kv_numpy.py", name) for name in
      ("PagedKVCache", "paged_attention", "simulate_server", "wasted_percent")],
]
REQUIRED["10"] = [
    *[("utils/models/gpt_numpy.py", name) for name in
      ("bigram_loss", "window_mask", "causal_attention", "project_qkv", "self_attention", "block", "gpt_logits",
       "cross_entropy", "sample_windows", "attention_maps", "offset_profile")],
    *[(f"utils/models/gpt_{fw}.py", name) for fw in ("torch", "tf")
      for name in ("causal_attention", "SelfAttention", "Block", "GPT", "train_gpt")],
    *[("utils/models/gpt_torch.py", name) for name in ("WindowKVCache", "generate")],
]


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def test_shown_cells_match_the_package():
    problems = sync_cells.stale()
    assert not problems, "shown cells differ from the package:\n" + "\n".join(problems)


def test_a_changed_line_in_a_shown_cell_is_reported(tmp_path):
    good = sync_cells.expected_cell("utils/core/attention_numpy.py", ["softmax"])
    bad = good.replace("axis", "axes", 1)
    assert bad != good
    nb = {"cells": [{"cell_type": "code", "source": good.splitlines(True), "metadata": {}, "outputs": [],
                     "execution_count": None},
                    {"cell_type": "code", "source": bad.splitlines(True), "metadata": {}, "outputs": [],
                     "execution_count": None}],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path = tmp_path / "shown.ipynb"
    path.write_text(json.dumps(nb))
    problems = sync_cells.stale([path])
    assert len(problems) == 1 and "cell 1" in problems[0] and "softmax" in problems[0]
    assert sync_cells.sync([path]) == [path] and sync_cells.stale([path]) == []


def test_a_source_line_naming_nothing_is_reported():
    with pytest.raises(sync_cells.SyncError, match="no top-level def or class named 'no_such_thing'"):
        sync_cells.expected_cell("utils/core/attention_numpy.py", ["no_such_thing"])
    with pytest.raises(sync_cells.SyncError, match="does not exist"):
        sync_cells.expected_cell("utils/core/nope.py", ["softmax"])


@pytest.mark.parametrize("prefix", sorted(REQUIRED))
def test_required_algorithms_are_on_the_page(prefix):
    (chapter,) = [c for c in CHAPTERS if c.name.startswith(prefix + "_")]
    shown = {(c.path, n) for c in sync_cells.shown_cells([chapter]) for n in c.names}
    missing = [f"{p} · {n}" for p, n in REQUIRED[prefix] if (p, n) not in shown]
    assert not missing, f"{chapter.name} must show in full (a `# source:` cell): {missing}"


# ---------------------------------------------------------------- answers not visible early


def _bound_names(source: str) -> dict[str, str | None]:
    """Names a cell binds at top level -> the module they are imported from (None if defined)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:  # IPython magics: ignore the cell
        return {}
    names: dict[str, str | None] = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}:{alias.name}"
        elif isinstance(node, ast.FunctionDef | ast.ClassDef):
            names[node.name] = None
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Lambda):  # a number is no answer
            for target in node.targets:
                if isinstance(target, ast.Name):
                    names[target.id] = None
    return names


def _function_exercises(chapter: Path):
    """(exercise id, index of the stub cell, stub name) for each function exercise's check."""
    registry = load_all()
    cells = _cells(chapter)
    for i, cell in enumerate(cells):
        if cell["cell_type"] != "code":
            continue
        tree = ast.parse("".join(cell["source"]))
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "check" and len(node.args) >= 2
                    and isinstance(node.args[0], ast.Constant) and isinstance(node.args[1], ast.Name)):
                ex = registry[node.args[0].value]
                if ex.kind != "function":
                    continue
                stub = max(j for j in range(i) if node.args[1].id in _bound_names("".join(cells[j]["source"])))
                yield ex, stub, node.args[1].id


class _Timeout(Exception):
    pass


def _solves(exercise_id: str, fn) -> bool:
    def _alarm(*_):
        raise _Timeout

    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(5)
    try:
        with redirect_stdout(io.StringIO()):
            return evaluate(exercise_id, fn).solved
    except Exception:  # noqa: BLE001  (a candidate that cannot even run is not a solution)
        return False
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _arity_fits(fn, reference) -> bool:
    try:
        want = [p for p in inspect.signature(reference).parameters.values() if p.default is p.empty]
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return False
    required = [p for p in params if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    var = any(p.kind is p.VAR_POSITIONAL for p in params)
    return len(required) <= len(want) and (var or len(positional) >= len(want))


def visible_answers(chapter: Path) -> list[str]:
    """Every exercise of `chapter` whose answer is imported or defined before its stub."""
    cells = _cells(chapter)
    problems = []
    for ex, stub, stub_name in _function_exercises(chapter):
        before: dict[str, str | None] = {}
        for cell in cells[:stub]:
            if cell["cell_type"] == "code":
                before.update(_bound_names("".join(cell["source"])))
        ref_name = getattr(ex.reference, "__name__", "").lstrip("_")
        for name in {stub_name, ref_name} & set(before):
            problems.append(f"{ex.id}: `{name}` is {'imported' if before[name] else 'defined'} before the exercise")
        for name, origin in before.items():
            if not origin or not origin.startswith("utils.") or origin.startswith("utils.exercises"):
                continue
            module, attr = origin.split(":")
            fn = getattr(importlib.import_module(module), attr, None)
            if inspect.isfunction(fn) and _arity_fits(fn, ex.reference) and _solves(ex.id, fn):
                problems.append(f"{ex.id}: `{name}` (from {module}), imported before the exercise, solves it")
    return problems


@pytest.fixture(scope="module")
def answers_found() -> dict[str, list[str]]:
    """Run the search in a child process: it calls candidate functions under a timer, and a timer that
    fires inside a first-time import (torch._dynamo, transformers) would leave that module half-imported
    for every later test of this process."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, __file__], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=900, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.name)
def test_no_answer_is_visible_before_its_exercise(chapter, answers_found):
    problems = answers_found[chapter.name]
    assert not problems, f"{chapter.name}:\n" + "\n".join(problems)


if __name__ == "__main__":  # the child process of `answers_found`
    print(json.dumps({c.name: visible_answers(c) for c in CHAPTERS}))
