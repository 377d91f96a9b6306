"""Checker tests for chapter 04's exercises: reference solved, stub not attempted, mistakes caught."""

from __future__ import annotations

import numpy as np
import pytest

from utils.exercises import evaluate, get_exercise


def _stub(*args):
    ...


def _softmax(x, axis=-1):
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    e = np.exp(x - m)
    t = e.sum(axis=axis, keepdims=True)
    return np.divide(e, t, out=np.zeros_like(e), where=t > 0)


@pytest.mark.parametrize("exercise_id", ["04.1", "04.2", "04.3", "04.4"])
def test_reference_solves_and_stub_is_not_attempted(exercise_id):
    assert evaluate(exercise_id, get_exercise(exercise_id).reference).status == "solved"
    assert evaluate(exercise_id, _stub).status == "not attempted"


def test_04_1_frameworks():
    tf = pytest.importorskip("tensorflow")
    torch = pytest.importorskip("torch")
    v = evaluate("04.1", lambda q, k: tf.matmul(q, k, transpose_b=True) / np.sqrt(q.shape[-1]), "tensorflow")
    assert v.status == "solved"
    v = evaluate("04.1", lambda q, k: q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5, "torch")
    assert v.status == "solved"
    assert torch is not None


def test_04_1_missing_scale_gets_hint():
    v = evaluate("04.1", lambda q, k: q @ np.swapaxes(k, -1, -2))
    assert v.status == "wrong" and "1/sqrt(d_k)" in v.hint


def test_04_1_dividing_by_d_k_gets_hint():
    v = evaluate("04.1", lambda q, k: q @ np.swapaxes(k, -1, -2) / q.shape[-1])
    assert v.status == "wrong" and "not by d_k" in v.hint


def test_04_1_k_q_transposed_gets_hint():
    v = evaluate("04.1", lambda q, k: k @ np.swapaxes(q, -1, -2) / np.sqrt(k.shape[-1]))
    assert v.status == "wrong" and "not K Qᵀ" in v.hint


def test_04_2_mask_after_softmax_gets_hint():
    v = evaluate("04.2", lambda s, m: np.where(m, _softmax(s), 0.0))
    assert v.status == "wrong" and "after softmax" in v.hint


def test_04_2_minus_1e9_gets_fully_masked_hint():
    v = evaluate("04.2", lambda s, m: _softmax(np.where(m, s, -1e9)))
    assert v.status == "wrong" and "fully masked" in v.hint and "fully masked row" in v.message


def test_04_2_inverted_polarity_gets_hint():
    v = evaluate("04.2", lambda s, m: _softmax(np.where(~m, s, -np.inf)))
    assert v.status == "wrong" and "polarity" in v.hint


def test_04_2_wrong_axis_gets_hint():
    v = evaluate("04.2", lambda s, m: _softmax(np.where(m, s, -np.inf), axis=-2))
    assert v.status == "wrong" and "last axis" in v.hint


def test_04_3_softmax_backward_mistakes():
    assert evaluate("04.3", lambda p, dp: p * (dp - (dp * p).sum(-1, keepdims=True))).status == "solved"
    v = evaluate("04.3", lambda p, dp: dp * p)
    assert v.status == "wrong" and "diag" in v.hint
    v = evaluate("04.3", lambda p, dp: p * (dp - (dp * p).sum(0, keepdims=True)))
    assert v.status == "wrong" and "last axis" in v.hint


def _my_backward(d_o, q, k, v, scale=True, through_softmax=True, transpose_dk=True):
    s = 1 / np.sqrt(q.shape[-1]) if scale else 1.0
    w = _softmax(q @ k.T / np.sqrt(q.shape[-1]))
    d_w = d_o @ v.T
    d_s = (w * (d_w - (d_w * w).sum(-1, keepdims=True)) if through_softmax else d_w) * s
    return d_s @ k, (d_s.T if transpose_dk else d_s) @ q, w.T @ d_o


def test_04_4_backward_accepts_own_derivation_and_rejects_mistakes():
    assert evaluate("04.4", _my_backward).status == "solved"
    v = evaluate("04.4", lambda *a: _my_backward(*a, scale=False))
    assert v.status == "wrong" and "1/sqrt(d_k)" in v.hint
    v = evaluate("04.4", lambda *a: _my_backward(*a, through_softmax=False))
    assert v.status == "wrong" and "through the softmax" in v.hint
    v = evaluate("04.4", lambda *a: _my_backward(*a, transpose_dk=False))
    assert v.status == "wrong" and "dSᵀ Q" in v.hint
