"""`check(exercise_id, answer)`: the one call a learner makes after each exercise."""

from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass
from typing import Any

from utils.core.frameworks import from_numpy
from utils.exercises.core import (
    Case,
    Exercise,
    _describe,
    _diff_line,
    _is_unanswered,
    get_exercise,
    outputs_equal,
)


@dataclass
class Verdict:
    """The outcome of a check: status is 'solved', 'not attempted' or 'wrong'."""

    status: str
    message: str
    hint: str | None = None

    @property
    def solved(self) -> bool:
        return self.status == "solved"


class _NotAttempted(Exception):
    pass


def _call(fn: Any, case: Case, framework: str) -> Any:
    args = from_numpy(copy.deepcopy(case.args), framework)
    kwargs = from_numpy(copy.deepcopy(case.kwargs), framework)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # overflow in a wrong answer is reported, not warned
        return fn(*args, **kwargs)


def _match_mistake(ex: Exercise, got: Any, case: Case | None) -> str | None:
    """Return the hint of the first known mistake whose output equals the learner's."""
    for mistake in ex.mistakes:
        try:
            wrong = mistake.answer if ex.kind == "value" else _call(mistake.answer, case, "numpy")
        except Exception:
            continue
        if _is_unanswered(wrong):
            continue
        if _equal(ex, got, wrong, equal_nan=True):
            return mistake.hint
    return None


def _equal(ex: Exercise, got: Any, expected: Any, equal_nan: bool = False) -> bool:
    if ex.compare is not None:
        try:
            return bool(ex.compare(got, expected))
        except Exception:
            return False
    return outputs_equal(got, expected, ex.rtol, ex.atol, equal_nan)


def evaluate(exercise_id: str, answer: Any, framework: str = "numpy") -> Verdict:
    """Run the checks for `exercise_id` on `answer` and return a Verdict (never raises for the answer)."""
    ex = get_exercise(exercise_id)
    if framework not in ex.frameworks:
        raise ValueError(f"exercise {exercise_id} accepts frameworks {ex.frameworks}, got {framework!r}")
    head = f"Exercise {ex.id} ({ex.title})"
    if ex.kind == "value":
        if _is_unanswered(answer):
            return Verdict("not attempted", f"{head}: not attempted yet. Replace the `...` with your answer.")
        if _equal(ex, answer, ex.reference):
            return Verdict("solved", f"{head}: solved.")
        hint = _match_mistake(ex, answer, None)
        return Verdict("wrong", f"{head}: wrong. You answered {_describe(answer)}.", hint)

    if not callable(answer):
        return Verdict("wrong", f"{head}: wrong. Pass the function itself, got {_describe(answer)}.")
    cases = ex.cases() if ex.cases else [Case("default")]
    for number, case in enumerate(cases, start=1):
        expected = _call(ex.reference, case, "numpy")
        try:
            got = _call(answer, case, framework)
        except NotImplementedError:
            if number == 1:
                return Verdict("not attempted", f"{head}: not attempted yet. Replace the stub's body with your code.")
            got = NotImplementedError
        except Exception as exc:  # the learner's code raised: report it, do not stop the notebook
            return Verdict(
                "wrong",
                f"{head}: wrong. Your function raised {type(exc).__name__}: {exc}\n"
                f"  failing case {number}/{len(cases)} '{case.label}': input {_describe(case.args)}",
            )
        if number == 1 and _is_unanswered(got):
            return Verdict("not attempted", f"{head}: not attempted yet. Replace the stub's body with your code.")
        if got is NotImplementedError or not _equal(ex, got, expected):
            hint = _match_mistake(ex, got, case)
            detail = (
                f"  failing case {number}/{len(cases)} '{case.label}': input {_describe(case.args)}\n"
                f"  {_diff_line(got, expected)}"
            )
            return Verdict("wrong", f"{head}: wrong.\n{detail}", hint)
    return Verdict("solved", f"{head}: solved. Passed all {len(cases)} checks.")


def check(exercise_id: str, answer: Any, framework: str = "numpy", strict: bool = False) -> None:
    """Check an answer and print one verdict line (plus hint and failing input when wrong).

    In a chapter, call `check("03.1", my_function)`: it never raises for a wrong answer,
    so "Run All" always completes. The solutions notebooks call it with `strict=True`,
    which raises AssertionError unless the answer is solved, so a wrong solution fails CI.
    """
    verdict = evaluate(exercise_id, answer, framework)
    mark = {"solved": "✅", "not attempted": "⏳", "wrong": "❌"}[verdict.status]
    lines = [f"{mark} {verdict.message}"]
    if verdict.hint:
        lines.append(f"  hint: {verdict.hint}")
    print("\n".join(lines))
    if strict and not verdict.solved:
        raise AssertionError(f"exercise {exercise_id} is {verdict.status}, not solved")
