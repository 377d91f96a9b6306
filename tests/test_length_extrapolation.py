"""The length-extrapolation toy task and model; the benchmark's log-log slope helper."""

import pytest
import torch

from utils.bench.long_context import loglog_slope
from utils.efficient.length_extrapolation_torch import (
    TaskConfig,
    TinyAttentionModel,
    accuracy,
    make_batch,
    train_scheme,
)


def test_targets_are_the_most_recent_marker():
    cfg = TaskConfig()
    tokens, targets = make_batch(8, 40, cfg, torch.Generator().manual_seed(0))
    for row, target in zip(tokens.tolist(), targets.tolist()):
        for i in range(40):
            assert target[i] == next(t for t in reversed(row[: i + 1]) if t < cfg.n_markers)


def test_alibi_model_learns_and_extrapolates():
    model, _ = train_scheme("alibi", train_len=32, steps=150, seed=1)
    assert accuracy(model, 32) > 0.85 and accuracy(model, 256) > 0.8


def test_learned_positions_do_not_extrapolate():
    model, _ = train_scheme("learned", train_len=32, steps=150, seed=1)
    assert accuracy(model, 32) > 0.85 and accuracy(model, 256) < 0.75


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="scheme must be one of"):
        TinyAttentionModel("relative", TaskConfig())
    model = TinyAttentionModel("rope", TaskConfig(max_len=16))
    with pytest.raises(ValueError, match="exceeds the model's max_len"):
        accuracy(model, 32)


def test_loglog_slope():
    ns = [1024, 2048, 4096, 8192]
    assert abs(loglog_slope(ns, [n**2 * 1e-9 for n in ns]) - 2) < 1e-9
    assert abs(loglog_slope(ns, [5.0 + 0 * n for n in ns])) < 1e-9
    with pytest.raises(ValueError, match="at least two sizes"):
        loglog_slope([1024, 2048], [1.0, 2.0])
