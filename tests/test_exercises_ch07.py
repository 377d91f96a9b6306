"""Checker tests for chapter 07's exercises: reference solved, stub not attempted, mistakes caught."""

from __future__ import annotations

import numpy as np
import pytest

from utils.exercises import evaluate, get_exercise


def _stub(*args):
    ...


def _raises(*args):
    raise NotImplementedError


@pytest.mark.parametrize("exercise_id", ["07.1", "07.2", "07.3"])
def test_reference_solves_and_stub_is_not_attempted(exercise_id):
    assert evaluate(exercise_id, get_exercise(exercise_id).reference).status == "solved"
    assert evaluate(exercise_id, _stub).status == "not attempted"
    assert evaluate(exercise_id, _raises).status == "not attempted"


# ---------------------------------------------------------------- 07.1


def test_07_1_accepts_minus_1e9_and_minus_inf():
    assert evaluate("07.1", lambda m: np.where(m, 0.0, -np.inf)).status == "solved"
    assert evaluate("07.1", lambda m: (~m).astype(np.float32) * -1e9).status == "solved"


def test_07_1_zero_one_floats_get_the_additive_hint():
    v = evaluate("07.1", lambda m: np.asarray(m, dtype=np.float64))
    assert v.status == "wrong" and "ADDS a float mask" in v.hint


def test_07_1_inverted_gets_polarity_hint():
    v = evaluate("07.1", lambda m: np.where(~m, 0.0, float("-inf")))
    assert v.status == "wrong" and "polarity inverted" in v.hint


def test_07_1_small_penalty_gets_hint():
    v = evaluate("07.1", lambda m: np.where(m, 0.0, -1.0))
    assert v.status == "wrong" and "-1 is far too small" in v.hint


def test_07_1_bool_output_gets_hint():
    v = evaluate("07.1", lambda m: m.astype(bool))
    assert v.status == "wrong" and "not a boolean array" in v.hint


# ---------------------------------------------------------------- 07.2


def test_07_2_frameworks():
    torch = pytest.importorskip("torch")
    from utils.core.frameworks import import_tensorflow

    tf = import_tensorflow()
    assert evaluate("07.2", lambda x: tf.transpose(x, (0, 2, 1, 3)), "tensorflow").status == "solved"
    assert evaluate("07.2", lambda x: x.permute(0, 2, 1, 3), "torch").status == "solved"
    assert evaluate("07.2", lambda x: torch.transpose(x, 1, 2), "torch").status == "solved"


def test_07_2_reshape_gets_hint():
    v = evaluate("07.2", lambda x: np.reshape(x, (x.shape[0], x.shape[2], x.shape[1], -1)))
    assert v.status == "wrong" and "not a reshape" in v.hint


def test_07_2_wrong_axes_get_hint():
    v = evaluate("07.2", lambda x: x.transpose(0, 2, 3, 1))
    assert v.status == "wrong" and "d_head stays last" in v.hint


def test_07_2_identity_gets_hint():
    v = evaluate("07.2", lambda x: x.copy())
    assert v.status == "wrong" and "nothing moved" in v.hint


# ---------------------------------------------------------------- 07.3


def test_07_3_other_correct_forms():
    def loops(n_q, n_k):
        offset = n_k - n_q
        return np.array([[j <= i + offset for j in range(n_k)] for i in range(n_q)])

    assert evaluate("07.3", loops).status == "solved"


def test_07_3_top_left_gets_is_causal_hint():
    v = evaluate("07.3", lambda n_q, n_k: np.tri(n_q, n_k, dtype=bool))
    assert v.status == "wrong" and "top-left" in v.hint
    assert "case 2/" in v.message  # the square case passes: only n_q < n_k reveals it


def test_07_3_inverted_gets_polarity_hint():
    v = evaluate("07.3", lambda n_q, n_k: np.triu(np.ones((n_q, n_k), bool), k=n_k - n_q + 1))
    assert v.status == "wrong" and "polarity inverted" in v.hint


def test_07_3_diagonal_excluded_gets_off_by_one_hint():
    v = evaluate("07.3", lambda n_q, n_k: np.tri(n_q, n_k, k=n_k - n_q - 1, dtype=bool))
    assert v.status == "wrong" and "its own position" in v.hint
