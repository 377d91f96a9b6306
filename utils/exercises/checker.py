"""`check(exercise_id, answer)`: the one call a learner makes after each exercise.

What the checker promises:
- "not attempted" only for an untouched stub (a body of `...`, `pass`, or the stub's own
  `raise NotImplementedError`); a real body that returns None is asked whether it forgot `return`,
  and any exception is shown with its type and message;
- "solved" only when every case matches the reference under a strict comparison (structure, dtype,
  boolean masks), without calling a helper the task forbids and without changing the inputs;
- a hint only when the output matches that known mistake on every case where the mistake differs
  from the reference.
"""

from __future__ import annotations

import copy
import dis
import functools
import inspect
import sys
import types
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from utils.core.frameworks import from_numpy, to_numpy
from utils.exercises.core import Case, Exercise, describe, difference, get_exercise, is_array, kind
from utils.exercises.messages import get_language, hint_of, text, title_of


@dataclass
class Verdict:
    """The outcome of a check: status is 'solved', 'not attempted' or 'wrong'."""

    status: str
    message: str
    hint: str | None = None

    @property
    def solved(self) -> bool:
        return self.status == "solved"


class ForbiddenHelperError(RuntimeError):
    """Raised by a helper that the exercise asks the learner not to call."""


_RAISED = object()  # the output of an answer that raised on a case


# ---------------------------------------------------------------- reading the answer's code


def _code_of(fn: Any) -> types.CodeType | None:
    fn = getattr(fn, "python_function", fn)  # tf.function
    try:
        fn = inspect.unwrap(fn)
    except ValueError:
        return None
    return getattr(fn, "__code__", None)


_IGNORED_OPS = {"RESUME", "NOP", "CACHE", "EXTENDED_ARG", "COPY_FREE_VARS", "MAKE_CELL", "PRECALL", "PUSH_NULL",
                "KW_NAMES"}


def is_untouched_stub(fn: Any) -> bool:
    """True when the function's body is only `...`, `pass`, a docstring or `raise NotImplementedError(...)`."""
    code = _code_of(fn)
    if code is None:
        return False
    ops = [(i.opname, i.argval) for i in dis.get_instructions(code) if i.opname not in _IGNORED_OPS]
    if ops in ([("RETURN_CONST", None)], [("LOAD_CONST", None), ("RETURN_VALUE", None)],
               [("RETURN_CONST", Ellipsis)], [("LOAD_CONST", Ellipsis), ("RETURN_VALUE", None)]):
        return True
    names = [arg for op, arg in ops if op in ("LOAD_GLOBAL", "LOAD_NAME")]
    allowed = {"LOAD_GLOBAL", "LOAD_NAME", "LOAD_CONST", "CALL", "RAISE_VARARGS"}
    return (names == ["NotImplementedError"] and [op for op, _ in ops].count("RAISE_VARARGS") == 1
            and all(op in allowed for op, _ in ops))


_LOOP_OPS = {"FOR_ITER", "JUMP_BACKWARD", "JUMP_BACKWARD_NO_INTERRUPT", "JUMP_ABSOLUTE"}


def has_loop(fn: Any) -> bool:
    """True when the function, or a function of its own notebook or module that it calls, has a Python loop."""
    seen: set[int] = set()
    fn = inspect.unwrap(getattr(fn, "python_function", fn))
    module = getattr(fn, "__module__", None)
    namespace = getattr(fn, "__globals__", {})

    def walk(code: types.CodeType) -> bool:
        if id(code) in seen:
            return False
        seen.add(id(code))
        if any(i.opname in _LOOP_OPS for i in dis.get_instructions(code)):
            return True
        if any(isinstance(c, types.CodeType) and walk(c) for c in code.co_consts):
            return True
        for name in code.co_names:  # helpers the learner wrote next to the answer
            helper = namespace.get(name)
            if isinstance(helper, types.FunctionType) and helper.__module__ == module and walk(helper.__code__):
                return True
        return False

    code = _code_of(fn)
    return code is not None and walk(code)


# ---------------------------------------------------------------- rules while the answer runs


def _resolve(path: str) -> tuple[Any, str, Any]:
    module_name, name = path.rsplit(".", 1)
    module = sys.modules.get(module_name) or __import__(module_name, fromlist=[name])
    return module, name, getattr(module, name)


class _ForbiddenHelpers:
    """Replace the helpers an exercise forbids, wherever the answer can reach them, for the duration of a call."""

    def __init__(self, paths: tuple[str, ...], answer: Any):
        self.helpers = [_resolve(p) for p in paths]
        fn = inspect.unwrap(getattr(answer, "python_function", answer))
        self.namespace = getattr(fn, "__globals__", None)
        self.cells = [c for c in (getattr(fn, "__closure__", None) or ()) if _filled(c)]
        self.called: str | None = None
        self._saved: list[tuple[Any, str, Any]] = []

    def _guard(self, name: str) -> Any:
        def guard(*args: Any, **kwargs: Any) -> Any:
            self.called = self.called or name
            raise ForbiddenHelperError(f"`{name}` may not be called in this exercise")
        return guard

    def __enter__(self) -> _ForbiddenHelpers:
        for _, name, original in self.helpers:
            guard = self._guard(name)
            places: list[Any] = [m for m in list(sys.modules.values())
                                 if getattr(m, "__name__", "").startswith("utils")
                                 and getattr(m, "__dict__", {}).get(name) is original]
            for module in places:
                self._saved.append((module.__dict__, name, original))
                setattr(module, name, guard)
            for cell in self.cells:
                if cell.cell_contents is original:
                    self._saved.append((cell, None, original))
                    cell.cell_contents = guard
            if self.namespace is not None:
                for key, value in list(self.namespace.items()):
                    if value is original:
                        self._saved.append((self.namespace, key, original))
                        self.namespace[key] = guard
        return self

    def __exit__(self, *exc: Any) -> None:
        for mapping, key, original in reversed(self._saved):
            if key is None:  # a closure cell
                mapping.cell_contents = original
            else:
                mapping[key] = original
        self._saved.clear()


def _filled(cell: Any) -> bool:
    try:
        cell.cell_contents  # noqa: B018
    except ValueError:  # an empty cell
        return False
    return True


def _is_forbidden_object(answer: Any, paths: tuple[str, ...]) -> str | None:
    target = answer.func if isinstance(answer, functools.partial) else answer
    for path in paths:
        _, name, original = _resolve(path)
        if target is original:
            return name
    return None


def _snapshot(x: Any) -> Any:
    if is_array(x):
        return np.array(to_numpy(x), copy=True)
    if isinstance(x, tuple | list):
        return [_snapshot(item) for item in x]
    if isinstance(x, dict):
        return {key: _snapshot(val) for key, val in x.items()}
    return copy.deepcopy(x)


def _changed(before: Any, after: Any) -> bool:
    if isinstance(before, np.ndarray):
        now = to_numpy(after)
        return now.shape != before.shape or not np.array_equal(now, before, equal_nan=before.dtype.kind in "fc")
    if isinstance(before, list):
        return len(before) != len(after) or any(_changed(b, a) for b, a in zip(before, after))
    if isinstance(before, dict):
        return set(before) != set(after) or any(_changed(before[k], after[k]) for k in before)
    try:
        return bool(before != after)
    except Exception:  # noqa: BLE001
        return False


def _argument_names(fn: Any, case: Case) -> list[str]:
    try:
        params = [p.name for p in inspect.signature(fn).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = []
    return [params[i] if i < len(params) else f"#{i + 1}" for i in range(len(case.args))]


@dataclass
class _Outcome:
    value: Any = None
    error: BaseException | None = None
    forbidden: str | None = None
    modified: str | None = None


def _call(fn: Any, case: Case, framework: str) -> Any:
    args = from_numpy(copy.deepcopy(case.args), framework)
    kwargs = from_numpy(copy.deepcopy(case.kwargs), framework)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # overflow in a wrong answer is reported, not warned
        return fn(*args, **kwargs)


def _run(ex: Exercise, fn: Any, case: Case, framework: str, forbidden: tuple[str, ...]) -> _Outcome:
    args = from_numpy(copy.deepcopy(case.args), framework)
    kwargs = from_numpy(copy.deepcopy(case.kwargs), framework)
    before = _snapshot((list(args), kwargs))
    outcome = _Outcome()
    guard = _ForbiddenHelpers(forbidden, fn)
    with warnings.catch_warnings(), np.errstate(all="ignore"), guard:
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            outcome.value = fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001  (the learner's code raised: report it, never stop the notebook)
            outcome.error = exc
    if guard.called:
        outcome.forbidden = guard.called
        return outcome
    if outcome.error is None:
        names = _argument_names(fn, case) + list(kwargs)
        for name, old, new in zip(names, before[0] + [before[1][k] for k in kwargs], list(args) + list(kwargs.values())):
            if _changed(old, new):
                outcome.modified = name
                break
    return outcome


# ---------------------------------------------------------------- verdicts


def _equal(ex: Exercise, got: Any, expected: Any, equal_nan: bool = False) -> bool:
    return _reason(ex, got, expected, equal_nan) is None


def _reason(ex: Exercise, got: Any, expected: Any, equal_nan: bool = False) -> str | None:
    """None when equal; else one line saying what differs."""
    if kind(got) == "masked":
        return text("masked", which="")
    if ex.compare is not None:
        try:
            same = bool(ex.compare(got, expected))
        except Exception:  # noqa: BLE001
            same = False
        if same:
            return None
        return difference(got, expected, ex.rtol, ex.atol, equal_nan, ex.results) or text("values_differ")
    return difference(got, expected, ex.rtol, ex.atol, equal_nan, ex.results)


def _mistake_outputs(ex: Exercise, mistake: Any, cases: list[Case]) -> list[Any]:
    outputs = []
    for case in cases:
        try:
            outputs.append(_call(mistake.answer, case, "numpy"))
        except Exception:  # noqa: BLE001
            outputs.append(_RAISED)
    return outputs


def _matching_hint(ex: Exercise, cases: list[Case], expected: list[Any], got: list[Any]) -> str | None:
    """The hint of the mistake that the learner's outputs match wherever that mistake is wrong.

    When several match, the one that is wrong on the most cases wins: it explains the most.
    """
    best, evidence = None, 0
    for mistake in ex.mistakes:
        wrong = _mistake_outputs(ex, mistake, cases)
        differs = [i for i in range(len(cases)) if wrong[i] is _RAISED or not _equal(ex, wrong[i], expected[i])]
        if len(differs) <= evidence:
            continue
        if all((got[i] is _RAISED) == (wrong[i] is _RAISED)
               and (got[i] is _RAISED or _equal(ex, got[i], wrong[i], equal_nan=True)) for i in differs):
            best, evidence = mistake, len(differs)  # the mistake that explains the most cases wins
    return hint_of(best) if best is not None else None


def _evaluate_value(ex: Exercise, head: str, answer: Any) -> Verdict:
    if answer is Ellipsis:
        return Verdict("not attempted", text("not_attempted_value", head=head))
    if answer is None:
        return Verdict("wrong", text("answer_none", head=head))
    if _equal(ex, answer, ex.reference):
        return Verdict("solved", text("solved_value", head=head))
    message = text("wrong_value", head=head, got=describe(answer))
    if kind(answer) != kind(ex.reference) and not {kind(answer), kind(ex.reference)} <= {"int", "float"} \
            and not {kind(answer), kind(ex.reference)} <= {"tuple", "list"}:
        message += "\n" + text("why", reason=text("type", which="", expected=_expected_name(ex.reference),
                                                  got=_got_name(answer)))
    hint = next((hint_of(m) for m in ex.mistakes if _equal(ex, answer, m.answer)), None)
    return Verdict("wrong", message, hint)


def _expected_name(x: Any) -> str:
    from utils.exercises.core import _kind_name

    return _kind_name(x, expected=True)


def _got_name(x: Any) -> str:
    from utils.exercises.core import _kind_name

    return _kind_name(x)


def _one_line(error: BaseException) -> str:
    """The line of an error message that says what went wrong (TensorFlow puts it last, after "in user code:")."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    if not lines:
        return ""
    line = lines[-1] if lines[0].endswith(":") and len(lines) > 1 else lines[0]
    prefix = f"{type(error).__name__}: "
    return line[len(prefix):] if line.startswith(prefix) else line


def evaluate(exercise_id: str, answer: Any, framework: str = "numpy", rules: bool = True) -> Verdict:
    """Run the checks for `exercise_id` on `answer` and return a Verdict (never raises for the answer).

    `rules=False` skips the task's rules (forbidden helpers, loops), so the tests can run the reference
    and the registered mistakes, which may use the helpers a learner may not.
    """
    ex = get_exercise(exercise_id)
    if framework not in ex.frameworks:
        raise ValueError(f"exercise {exercise_id} accepts frameworks {ex.frameworks}, got {framework!r}")
    head = text("head", id=ex.id, title=title_of(ex))
    if ex.kind == "value":
        return _evaluate_value(ex, head, answer)

    if not callable(answer):
        return Verdict("wrong", text("not_callable", head=head, got=describe(answer)))
    if is_untouched_stub(answer):
        return Verdict("not attempted", text("not_attempted", head=head))
    forbidden = ex.forbidden if rules else ()
    name = _is_forbidden_object(answer, forbidden)
    if name:
        return Verdict("wrong", text("forbidden", head=head, name=name))
    if rules and ex.loops == "required" and not has_loop(answer):
        return Verdict("wrong", text("needs_loops", head=head))
    if rules and ex.loops == "forbidden" and has_loop(answer):
        return Verdict("wrong", text("no_loops", head=head))

    cases = ex.cases() if ex.cases else [Case("default")]
    expected = [_call(ex.reference, case, "numpy") for case in cases]
    got: list[Any] = []
    for number, case in enumerate(cases, start=1):
        outcome = _run(ex, answer, case, framework, forbidden)
        label = case.label_zh if case.label_zh and get_language() == "zh" else case.label
        where = text("failing_case", number=number, total=len(cases), label=label, input=describe(case.args))
        if outcome.forbidden:
            return Verdict("wrong", text("forbidden", head=head, name=outcome.forbidden))
        if outcome.error is not None:
            detail = _one_line(outcome.error)
            line = text("raised", head=head, error=type(outcome.error).__name__, detail=detail)
            return Verdict("wrong", (line if detail else line.rstrip(": ：")) + "\n" + where)
        if outcome.modified:
            return Verdict("wrong", text("modified_input", head=head, name=outcome.modified) + "\n" + where)
        if outcome.value is None and expected[number - 1] is not None:
            return Verdict("wrong", text("returned_none", head=head) + "\n" + where)
        got.append(outcome.value)
        reason = _reason(ex, outcome.value, expected[number - 1])
        if reason is not None:
            hint = None
            if ex.mistakes:
                for later in cases[number:]:
                    rest = _run(ex, answer, later, framework, forbidden)
                    got.append(_RAISED if rest.error is not None or rest.forbidden else rest.value)
                hint = _matching_hint(ex, cases, expected, got)
            return Verdict("wrong", f"{text('wrong', head=head)}\n{where}\n  {reason}", hint)
    return Verdict("solved", text("solved", head=head, n=len(cases)))


_MARKS = {"solved": "✅", "not attempted": "⏳", "wrong": "❌"}


def check(exercise_id: str, answer: Any, framework: str = "numpy", strict: bool = False) -> None:
    """Check an answer and print one verdict line (plus hint and failing input when wrong).

    In a chapter, call `check("03.1", my_function)`: it never raises for a wrong answer,
    so "Run All" always completes. The solutions notebooks call it with `strict=True`,
    which raises AssertionError unless the answer is solved, so a wrong solution fails CI.
    """
    verdict = evaluate(exercise_id, answer, framework)
    lines = [f"{_MARKS[verdict.status]} {verdict.message}"]
    if verdict.hint:
        lines.append(text("hint", hint=verdict.hint))
    print("\n".join(lines))
    if strict and not verdict.solved:
        raise AssertionError(text("strict", id=exercise_id, status=text(f"status_{verdict.status}")))
