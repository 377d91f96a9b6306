"""The exercise checker itself, and every registered exercise's reference and known mistakes."""

import numpy as np
import pytest

from utils.exercises import Case, Exercise, Mistake, check, evaluate, load_all
from utils.exercises.core import REGISTRY, outputs_equal, register

EXERCISES = load_all()


@pytest.mark.parametrize("exercise_id", sorted(EXERCISES))
def test_reference_is_solved(exercise_id):
    ex = EXERCISES[exercise_id]
    verdict = evaluate(exercise_id, ex.reference)
    assert verdict.status == "solved", verdict.message


@pytest.mark.parametrize("exercise_id", sorted(EXERCISES))
def test_untouched_stub_is_not_attempted(exercise_id):
    ex = EXERCISES[exercise_id]
    if ex.kind == "value":
        stub = ...
    else:
        def stub(*args, **kwargs):
            ...
    assert evaluate(exercise_id, stub).status == "not attempted"


@pytest.mark.parametrize(
    "exercise_id, index",
    [(eid, i) for eid in sorted(EXERCISES) for i in range(len(EXERCISES[eid].mistakes))],
)
def test_each_known_mistake_is_rejected_with_its_hint(exercise_id, index):
    ex = EXERCISES[exercise_id]
    mistake = ex.mistakes[index]
    verdict = evaluate(exercise_id, mistake.answer)
    assert verdict.status == "wrong", f"mistake {index} of {exercise_id} passes the checks"
    # the hint shown is this mistake's, or an earlier one that behaves identically on the failing case
    hints = [m.hint for m in ex.mistakes[: index + 1]]
    assert verdict.hint in hints, verdict.message


def test_every_function_exercise_has_two_known_mistakes():
    for ex in EXERCISES.values():
        if ex.kind == "function":
            assert len(ex.mistakes) >= 2, f"exercise {ex.id} needs at least two known mistakes with hints"


# ---------------------------------------------------------------- the warm-up, with hand-written wrong answers


def test_softmax_warm_up_hints(capsys):
    def naive(x):
        return np.exp(x) / np.exp(x).sum(axis=-1, keepdims=True)

    def column_softmax(x):
        e = np.exp(x - x.max(axis=0, keepdims=True))
        return e / e.sum(axis=0, keepdims=True)

    def stable(x):
        z = np.exp(x - np.max(x, axis=-1, keepdims=True))
        return z / np.sum(z, axis=-1, keepdims=True)

    with np.errstate(all="ignore"):
        v = evaluate("00.1", naive)
    assert v.status == "wrong" and "subtract the row max" in v.hint and "large logits" in v.message
    v = evaluate("00.1", column_softmax)
    assert v.status == "wrong" and "last axis" in v.hint
    assert evaluate("00.1", stable).solved
    check("00.1", stable)
    assert capsys.readouterr().out.startswith("✅ Exercise 00.1")


def test_check_never_raises_in_a_chapter_but_strict_does(capsys):
    def broken(x):
        raise RuntimeError("boom")

    check("00.1", broken)
    out = capsys.readouterr().out
    assert out.startswith("❌") and "RuntimeError: boom" in out and "failing case 1/5" in out
    with pytest.raises(AssertionError, match="not solved"):
        check("00.1", broken, strict=True)
    capsys.readouterr()

    def stub(x):
        raise NotImplementedError

    check("00.1", stub)
    assert capsys.readouterr().out.startswith("⏳ Exercise 00.1 (numerically stable softmax): not attempted yet")
    with pytest.raises(AssertionError):
        check("00.1", stub, strict=True)


def test_wrong_answer_shows_input_and_diff():
    def off_by_a_bit(x):
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True) + 0.01

    v = evaluate("00.1", off_by_a_bit)
    assert v.status == "wrong" and v.hint is None
    assert "input (array(3, 5)" in v.message and "max |difference| 0.01" in v.message


def test_frameworks_are_converted_for_the_learner():
    import torch

    def torch_softmax(x):
        assert isinstance(x, torch.Tensor)
        return torch.softmax(x, dim=-1)

    ex = register(Exercise("zz.test", "torch demo", reference=lambda x: x * 2.0,
                           cases=lambda: [Case("c", (np.ones((2, 2), np.float32),))],
                           mistakes=[Mistake("forgot to double", lambda x: x), Mistake("tripled", lambda x: 3 * x)],
                           frameworks=("numpy", "torch")))
    try:
        assert evaluate("zz.test", lambda x: x * 2.0, framework="torch").solved
        v = evaluate("zz.test", lambda x: x, framework="torch")
        assert v.status == "wrong" and v.hint == "forgot to double"
        with pytest.raises(ValueError, match="accepts frameworks"):
            evaluate("zz.test", lambda x: x, framework="tensorflow")
        assert evaluate("00.1", torch_softmax).status == "wrong"  # 00.1 is NumPy-only: gets arrays
    finally:
        REGISTRY.pop(ex.id)


def test_value_exercises():
    ex = register(Exercise("zz.value", "value demo", reference=4.0, kind="value",
                           mistakes=[Mistake("that is d_k, not its square root", 16.0)]))
    try:
        assert evaluate("zz.value", 4.0).solved
        assert evaluate("zz.value", ...).status == "not attempted"
        v = evaluate("zz.value", 16.0)
        assert v.status == "wrong" and v.hint == "that is d_k, not its square root"
    finally:
        REGISTRY.pop(ex.id)


def test_outputs_equal_handles_tuples_strings_and_shapes():
    assert outputs_equal((np.ones(2), "B"), (np.ones(2), "b"), 1e-6, 1e-6)
    assert not outputs_equal(np.ones(2), np.ones(3), 1e-6, 1e-6)
    assert not outputs_equal(np.array([1.0, 0.0]), np.array([True, False]), 1e-6, 1e-6)  # masks must be bool
    assert not outputs_equal((np.ones(2),), (np.ones(2), np.ones(2)), 1e-6, 1e-6)


def test_duplicate_ids_are_refused():
    with pytest.raises(ValueError, match="registered twice"):
        register(Exercise("00.1", "again", reference=lambda x: x))
