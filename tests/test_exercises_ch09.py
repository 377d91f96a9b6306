"""Chapter 09's quiz: wrong answers get their hint, equivalent forms are accepted.

(That every reference solves its exercise and `...` is not attempted is tested for all exercises in test_checker.py.)
"""

from __future__ import annotations

import pytest

from utils.exercises import evaluate, get_exercise

IDS = ["09.1", "09.2", "09.3", "09.4", "09.5", "09.6"]


@pytest.mark.parametrize("exercise_id", IDS)
def test_the_quiz_takes_values(exercise_id):
    assert get_exercise(exercise_id).kind == "value"


@pytest.mark.parametrize(("exercise_id", "answer", "hint_part"), [
    ("09.1", 16, "standard deviation"),
    ("09.1", 4.0, "AFTER dividing"),
    ("09.2", "a", "True = MAY attend"),
    ("09.2", "B", "no error is raised"),
    ("09.2", " d ", "returns zeros, not NaN"),
    ("09.3", (2, 4, 7, 3), "rows are queries"),
    ("09.3", [2, 3, 7], "average_attn_weights"),
    ("09.4", "a", "large negative number"),
    ("09.5", 5120, "plain MHA"),
    ("09.5", 640.0, "both K and V"),
    ("09.5", 2560, "2 bytes"),
    ("09.6", "a", "2^29 times finer"),
    ("09.6", "c", "still rounded"),
])
def test_wrong_answers_get_their_hint(exercise_id, answer, hint_part):
    v = evaluate(exercise_id, answer)
    assert v.status == "wrong" and hint_part in v.hint


def test_equivalent_forms_are_accepted():
    assert evaluate("09.1", 256.0).status == "solved"
    assert evaluate("09.2", "C").status == "solved"
    assert evaluate("09.3", [2, 4, 3, 7]).status == "solved"
    assert evaluate("09.5", 1280.0).status == "solved"


def test_unknown_wrong_answer_has_no_hint():
    v = evaluate("09.5", 3)
    assert v.status == "wrong" and v.hint is None
