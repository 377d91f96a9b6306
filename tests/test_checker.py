"""The exercise checker itself, run over every registered exercise, and its rules one by one."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from utils.exercises import (
    Case,
    Exercise,
    Mistake,
    check,
    evaluate,
    load_all,
    messages,
    set_language,
)
from utils.exercises.checker import has_loop, is_untouched_stub
from utils.exercises.core import (
    REGISTRY,
    difference,
    mistake,
    outputs_equal,
    register,
    wrong_values,
)
from utils.exercises.messages import MESSAGES, get_language

EXERCISES = load_all()


@pytest.fixture(autouse=True)
def _english(monkeypatch):
    """These tests read the English messages, whatever COURSE_LANG says."""
    monkeypatch.setitem(messages._state, "language", "en")
FUNCTIONS = sorted(eid for eid, ex in EXERCISES.items() if ex.kind == "function")
MISTAKES = [pytest.param(eid, i, id=f"{eid}-{i}") for eid in sorted(EXERCISES)
            for i in range(len(EXERCISES[eid].mistakes))]


@pytest.mark.parametrize("exercise_id", sorted(EXERCISES))
def test_the_reference_solves_it(exercise_id):
    verdict = evaluate(exercise_id, EXERCISES[exercise_id].reference, rules=False)
    assert verdict.status == "solved", verdict.message


def _stub_dots(*args, **kwargs):
    ...


def _stub_raises(*args, **kwargs):
    """A docstring does not count as an attempt."""
    # your code here
    raise NotImplementedError("write this function")


def _stub_pass(*args):
    pass


@pytest.mark.parametrize("exercise_id", sorted(EXERCISES))
def test_the_untouched_stub_is_not_attempted(exercise_id):
    if EXERCISES[exercise_id].kind == "value":
        assert evaluate(exercise_id, ...).status == "not attempted"
        assert evaluate(exercise_id, None).status == "wrong"  # e.g. `answer = print(42)`
        return
    for stub in (_stub_dots, _stub_raises, _stub_pass):
        verdict = evaluate(exercise_id, stub)
        assert verdict.status == "not attempted", (stub.__name__, verdict.message)


@pytest.mark.parametrize(("exercise_id", "index"), MISTAKES)
def test_every_registered_mistake_is_rejected_with_its_own_hint(exercise_id, index):
    ex = EXERCISES[exercise_id]
    mistake = ex.mistakes[index]
    verdict = evaluate(exercise_id, mistake.answer, rules=False)
    assert verdict.status == "wrong", f"mistake {index} of {exercise_id} passes every case: add a case it fails"
    assert verdict.hint == mistake.hint, f"{exercise_id} mistake {index} gets another hint: {verdict.hint!r}"


@pytest.mark.parametrize(("exercise_id", "index"), MISTAKES)
def test_every_registered_mistake_has_a_chinese_hint(exercise_id, index):
    mistake = EXERCISES[exercise_id].mistakes[index]
    assert mistake.hint_zh and mistake.hint_zh != mistake.hint, f"{exercise_id} mistake {index} needs hint_zh"


@pytest.mark.parametrize("exercise_id", sorted(EXERCISES))
def test_every_exercise_has_a_chinese_title(exercise_id):
    ex = EXERCISES[exercise_id]
    assert ex.title_zh and ex.title_zh != ex.title, f"{exercise_id} needs title_zh"


def test_every_function_exercise_has_two_known_mistakes():
    few = [ex.id for ex in EXERCISES.values() if ex.kind == "function" and len(ex.mistakes) < 2]
    assert not few, f"exercises with fewer than two registered mistakes: {few}"


# ---------------------------------------------------------------- honest "not attempted"


def test_stub_missing_return_and_raising_body_get_three_different_messages(capsys):
    def forgot_return(x):
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        e / e.sum(axis=-1, keepdims=True)

    def raises(x):
        return x.softmax()

    verdicts = [evaluate("00.1", fn) for fn in (_stub_dots, forgot_return, raises)]
    assert [v.status for v in verdicts] == ["not attempted", "wrong", "wrong"]
    assert "did you forget `return`?" in verdicts[1].message
    assert "AttributeError" in verdicts[2].message and "'numpy.ndarray' object has no attribute" in verdicts[2].message
    assert len({v.message.splitlines()[0] for v in verdicts}) == 3


def test_a_real_body_that_raises_notimplementederror_is_not_a_stub():
    def partly_written(x):
        m = x.max(axis=-1, keepdims=True)
        raise NotImplementedError(f"got as far as {m.shape}")

    verdict = evaluate("00.1", partly_written)
    assert verdict.status == "wrong" and "NotImplementedError: got as far as" in verdict.message


def test_none_on_a_later_case_is_a_missing_return():
    def none_for_batches(x):
        if x.ndim > 2:
            return None
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)

    verdict = evaluate("00.1", none_for_batches)
    assert verdict.status == "wrong" and "forget `return`" in verdict.message and "case 5/" in verdict.message


def test_stub_detection_reads_the_code():
    assert is_untouched_stub(_stub_dots) and is_untouched_stub(_stub_raises) and is_untouched_stub(_stub_pass)
    assert is_untouched_stub(lambda x: ...)
    assert not is_untouched_stub(lambda x: None if x else 1)
    assert not is_untouched_stub(print)

    def helper_then_raise(x):
        print(x)
        raise NotImplementedError

    assert not is_untouched_stub(helper_then_raise)


# ---------------------------------------------------------------- strict comparison


def test_structure_and_types_must_match():
    a = np.arange(6.0).reshape(2, 3)
    assert difference(a, a) is None and difference(a.tolist(), a) is not None  # a list is not an array
    assert "a tuple of 1" in difference((a,), a)
    assert "masked array" in difference(np.ma.masked_array(a, mask=a > 2), a)
    assert "boolean mask" in difference(np.ones(3), np.ones(3, dtype=bool))
    assert "dtype bool" in difference(np.full(3, 2.0), np.ones(3, dtype=bool))
    assert "integers" in difference(np.arange(3.0), np.arange(3))
    assert "expected numbers" in difference(np.ones(3, dtype=bool), np.ones(3))
    assert difference("3", 3) is not None and difference(3, "3") is not None
    import datetime

    assert difference(datetime.date(2026, 11, 28), "2026-11-28") is not None
    assert difference(" B ", "b") is None and difference([7, 12], (7, 12)) is None
    assert difference(528.0, 528) is None and difference(528.5, 528) is not None  # counts are exact
    assert outputs_equal((np.ones(2), "B"), (np.ones(2), "b"), 1e-6, 1e-6)
    assert not outputs_equal((np.ones(2),), (np.ones(2), np.ones(2)), 1e-6, 1e-6)


def test_the_diff_blames_the_result_that_differs_even_with_infinities():
    m = np.array([0.5, -np.inf])
    expected = (m, np.array([2.0, 0.0]))
    line = difference((m, np.array([2.0, np.nan])), expected, names=("m", "l"))
    assert line.startswith("result 1 (`l`): NaN at index (1,)"), line
    line = difference((np.array([0.5, np.inf]), expected[1]), expected, names=("m", "l"))
    assert line.startswith("result 0 (`m`): at index (1,): expected -inf, got inf"), line


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=5),
                  elements=st.floats(-1e6, 1e6)))
def test_an_array_equals_itself_and_nothing_of_another_structure(x):
    assert difference(x.copy(), x) is None
    assert difference((x,), x) is not None
    assert difference(x.astype(np.float32).astype(bool), x) is not None
    assert difference(np.ma.masked_array(x), x) is not None


# ---------------------------------------------------------------- hints only when they fit


def test_a_hint_needs_the_mistake_on_every_case_where_it_is_wrong():
    ex = register(Exercise("zz.hint", "hint demo", reference=lambda x: x * 2.0,
                           cases=lambda: [Case("a", (np.array([1.0]),)), Case("b", (np.array([3.0]),))],
                           mistakes=[Mistake("you added 1", lambda x: x + 1.0, hint_zh="你加了 1")]))
    try:
        assert evaluate("zz.hint", lambda x: x + 1.0).hint == "you added 1"
        # equals the mistake on case a only (2.0), not on case b: no hint
        assert evaluate("zz.hint", lambda x: np.where(x < 2, 2.0, 0.0)).hint is None
    finally:
        REGISTRY.pop(ex.id)


def test_a_wrong_answer_carries_its_hint_as_a_decorator():
    @mistake("you added 1", zh="你加了 1")
    def added_one(x):
        return x + 1.0

    assert added_one(np.array([1.0]))[0] == 2.0  # still the function, still callable
    ex = Exercise("zz.deco", "decorator demo", reference=lambda x: x * 2.0,
                  mistakes=[Mistake("forgot to double", lambda x: x), added_one])
    assert [m.hint for m in ex.mistakes] == ["forgot to double", "you added 1"]  # in the order given
    assert ex.mistakes[1].answer is added_one and ex.mistakes[1].hint_zh == "你加了 1"
    assert all(isinstance(m, Mistake) for m in ex.mistakes)


def test_a_wrong_answer_without_a_hint_is_refused():
    def no_hint(x):
        return x

    with pytest.raises(TypeError, match=r"zz\.plain.*no_hint.*@mistake"):
        Exercise("zz.plain", "plain demo", reference=lambda x: x * 2.0, mistakes=[no_hint])


def test_wrong_values_keep_their_order_and_both_hints():
    wrong = wrong_values({16: ("the standard deviation", "标准差"), (2, 3): ("a shape", "形状")})
    assert [(m.answer, m.hint, m.hint_zh) for m in wrong] == [(16, "the standard deviation", "标准差"),
                                                                ((2, 3), "a shape", "形状")]


# ---------------------------------------------------------------- the task's rules


def test_a_forbidden_helper_raises_a_clear_error_while_the_answer_runs():
    from utils.core.attention_numpy import causal_mask

    def via_helper(n):
        return causal_mask(n)

    verdict = evaluate("02.3", via_helper)
    assert verdict.status == "wrong" and "without `causal_mask`" in verdict.message
    assert evaluate("02.3", causal_mask).status == "wrong"
    assert causal_mask(2).tolist() == [[True, False], [True, True]]  # restored afterwards

    def swallows(n):
        try:
            return causal_mask(n)
        except Exception:  # noqa: BLE001
            return np.tril(np.ones((n, n), dtype=bool))

    assert "without `causal_mask`" in evaluate("02.3", swallows).message


def test_loop_rules_read_the_code():
    def loops(q, k):
        return np.array([[-((a - b) ** 2).sum() for b in k] for a in q])

    def vectorised(q, k):
        return -((q[:, None] - k[None]) ** 2).sum(-1)

    assert has_loop(loops) and not has_loop(vectorised)
    assert evaluate("03.1", loops).solved and "explicit Python loops" in evaluate("03.1", vectorised).message
    assert evaluate("03.2", vectorised).solved and "no Python loops" in evaluate("03.2", loops).message


def test_an_answer_that_changes_its_input_is_told_so():
    def in_place(x):
        x -= x.max(axis=-1, keepdims=True)
        np.exp(x, out=x)
        x /= x.sum(axis=-1, keepdims=True)
        return x

    verdict = evaluate("00.1", in_place)
    assert verdict.status == "wrong" and "changed its input `x` in place" in verdict.message


# ---------------------------------------------------------------- output, frameworks, languages


def test_check_never_raises_in_a_chapter_but_strict_does(capsys):
    def broken(x):
        raise RuntimeError("boom")

    check("00.1", broken)
    out = capsys.readouterr().out
    assert out.startswith("❌") and "RuntimeError: boom" in out and "failing case 1/" in out
    with pytest.raises(AssertionError, match="not solved"):
        check("00.1", broken, strict=True)
    capsys.readouterr()
    check("00.1", _stub_dots)
    assert capsys.readouterr().out.startswith("⏳ Exercise 00.1 (numerically stable softmax): not attempted yet")
    check("00.1", lambda x: np.exp(x - np.logaddexp.reduce(x, axis=-1, keepdims=True)))
    assert capsys.readouterr().out.startswith("✅ Exercise 00.1 (numerically stable softmax): solved. Passed all")


def test_wrong_answer_shows_input_and_diff():
    def off_by_a_bit(x):
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True) + 0.01

    v = evaluate("00.1", off_by_a_bit)
    assert v.status == "wrong" and v.hint is None
    assert "input (array(3, 5)" in v.message and "max |difference| 0.01" in v.message


def test_frameworks_are_converted_for_the_learner():
    import torch

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
        assert evaluate("00.1", lambda x: torch.softmax(torch.as_tensor(x), -1)).solved  # a tensor is an array
    finally:
        REGISTRY.pop(ex.id)


def test_tensorflow_own_notimplementederror_is_not_not_attempted():
    from utils.core.frameworks import import_tensorflow

    tf = import_tensorflow()

    def uses_numpy_on_a_symbolic_tensor(x, n_heads):
        return tf.function(lambda t: tf.constant(np.asarray(t)))(x)

    verdict = evaluate("05.1", uses_numpy_on_a_symbolic_tensor, "tensorflow")
    assert verdict.status == "wrong" and "raised NotImplementedError: Cannot convert a symbolic" in verdict.message


def test_value_exercises():
    ex = register(Exercise("zz.value", "value demo", reference=4, kind="value",
                           mistakes=[Mistake("that is d_k, not its square root", 16)]))
    try:
        assert evaluate("zz.value", 4.0).solved
        assert evaluate("zz.value", ...).status == "not attempted"
        v = evaluate("zz.value", 16.0)
        assert v.status == "wrong" and v.hint == "that is d_k, not its square root"
        v = evaluate("zz.value", "4")
        assert v.status == "wrong" and "expected a number, got a str '4'" in v.message
    finally:
        REGISTRY.pop(ex.id)


def test_chinese_messages(capsys, monkeypatch):
    monkeypatch.setitem(messages._state, "language", None)
    monkeypatch.delenv("COURSE_LANG", raising=False)
    assert get_language() == "en"  # the default
    set_language("zh")
    try:
        check("00.1", lambda x: np.exp(x - np.logaddexp.reduce(x, axis=-1, keepdims=True)))
        check("00.1", _stub_dots)
        check("00.1", EXERCISES["00.1"].mistakes[1].answer)
        out = capsys.readouterr().out.splitlines()
        assert out[0].startswith("✅ 练习 00.1（") and "已解决" in out[0]
        assert out[1].startswith("⏳ 练习 00.1（") and "尚未作答" in out[1]
        assert out[2].startswith("❌ 练习 00.1（") and "答案有误" in out[2]
        assert any(line.startswith("  提示：") and EXERCISES["00.1"].mistakes[1].hint_zh in line for line in out)
        check("00.1", lambda x: np.exp(x - x.mean(-1, keepdims=True)) / np.exp(x - x.mean(-1, keepdims=True)).sum(
            -1, keepdims=True))
        assert "未通过的用例 6/6「跨度很大的行" in capsys.readouterr().out  # a case's Chinese label
    finally:
        set_language("en")
    with pytest.raises(ValueError, match="language"):
        set_language("fr")


def test_the_catalogue_has_both_languages_with_the_same_fields():
    import string

    for key, (en, zh) in MESSAGES.items():
        fields = {f for _, f, _, _ in string.Formatter().parse(en) if f}
        assert fields == {f for _, f, _, _ in string.Formatter().parse(zh) if f}, key
        bare = "".join(literal for literal, _, _, _ in string.Formatter().parse(en)).replace("None", "")
        assert zh and (zh != en or not any(c.isalpha() for c in bare)), key


def test_duplicate_ids_are_refused():
    with pytest.raises(ValueError, match="registered twice"):
        register(Exercise("00.1", "again", reference=lambda x: x))
