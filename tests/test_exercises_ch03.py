"""Checker tests for chapter 03's exercises: reference solved, stub not attempted, mistakes caught."""

from __future__ import annotations

import numpy as np
import pytest

from utils.exercises import evaluate, get_exercise


def _stub(q, k):
    ...


def _stub_raises(q, k):
    raise NotImplementedError


def _loops(q, k, sign=-1.0, root=False, transpose=False):
    n_q, n_k = len(q), len(k)
    s = np.zeros((n_q, n_k))
    for i in range(n_q):
        for j in range(n_k):
            d2 = sum((q[i, t] - k[j, t]) ** 2 for t in range(q.shape[1]))
            s[i, j] = sign * (np.sqrt(d2) if root else d2)
    return s.T if transpose else s


@pytest.mark.parametrize("exercise_id", ["03.1", "03.2"])
def test_reference_solves_and_stubs_are_not_attempted(exercise_id):
    assert evaluate(exercise_id, get_exercise(exercise_id).reference).status == "solved"
    assert evaluate(exercise_id, _stub).status == "not attempted"
    assert evaluate(exercise_id, _stub_raises).status == "not attempted"


def test_03_1_loop_solution_is_accepted():
    assert evaluate("03.1", _loops).status == "solved"


def test_03_1_positive_distance_gets_sign_hint():
    v = evaluate("03.1", lambda q, k: _loops(q, k, sign=1.0))
    assert v.status == "wrong" and "HIGHER" in v.hint


def test_03_1_square_root_gets_hint():
    v = evaluate("03.1", lambda q, k: _loops(q, k, root=True))
    assert v.status == "wrong" and "square root" in v.hint


def test_03_1_transposed_gets_hint():
    v = evaluate("03.1", lambda q, k: _loops(q, k, transpose=True))
    assert v.status == "wrong" and "(n_q, n_k)" in v.hint


def test_03_2_matrix_solution_is_accepted():
    def expanded(q, k):
        return 2 * q @ k.T - (q * q).sum(1, keepdims=True) - (k * k).sum(1)[None, :]

    assert evaluate("03.2", expanded).status == "solved"


def test_03_2_missing_factor_two_gets_hint():
    def no_two(q, k):
        return q @ k.T - (q * q).sum(1, keepdims=True) - (k * k).sum(1)[None, :]

    v = evaluate("03.2", no_two)
    assert v.status == "wrong" and "factor 2" in v.hint


def test_03_2_missing_key_norm_gets_hint():
    def no_k(q, k):
        return 2 * q @ k.T - (q * q).sum(1, keepdims=True)

    v = evaluate("03.2", no_k)
    assert v.status == "wrong" and "|k_j|²" in v.hint


def test_03_2_wrong_broadcast_is_wrong():
    # key norms laid along the query axis: raises on the non-square case, reported, not raised
    def bad_broadcast(q, k):
        return 2 * q @ k.T - (q * q).sum(1)[None, :] - (k * k).sum(1)[:, None]

    v = evaluate("03.2", bad_broadcast)
    assert v.status == "wrong" and "raised" in v.message


def test_03_3_value_answers():
    assert evaluate("03.3", 1296).status == "solved"
    assert evaluate("03.3", ...).status == "not attempted"
    v = evaluate("03.3", 2592)
    assert v.status == "wrong" and "FLOPs" in v.hint
    v = evaluate("03.3", 144)
    assert v.status == "wrong" and "pairs" in v.hint
    assert evaluate("03.3", 1000).status == "wrong"
