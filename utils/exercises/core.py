"""The exercise checker: runs a learner's answer against the reference and explains mistakes.

An exercise is registered once, in `utils/exercises/chNN.py`, with
- a reference answer (the only copy of the answer in the repository),
- seeded test cases, including edge cases,
- known mistakes: wrong implementations paired with a hint. When a learner's output
  matches a known mistake's output on the failing case, the checker prints that hint.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from utils.core.frameworks import to_numpy


@dataclass
class Case:
    """One input to check: positional args, keyword args and a label shown on failure."""

    label: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)


@dataclass
class Mistake:
    """A known wrong answer and the hint to print when a learner's output matches it."""

    hint: str
    answer: Any  # a function for function exercises, a value for value exercises
    hint_zh: str | None = None  # the hint in Chinese, shown by the Chinese edition


@dataclass
class Exercise:
    """A registered exercise: the reference answer, its cases and its known mistakes."""

    id: str
    title: str
    reference: Any  # function, or the expected value for kind="value"
    cases: Callable[[], list[Case]] | None = None
    mistakes: list[Mistake] = field(default_factory=list)
    kind: str = "function"  # "function" or "value"
    rtol: float = 1e-5
    atol: float = 1e-6
    frameworks: tuple[str, ...] = ("numpy",)
    compare: Callable[[Any, Any], bool] | None = None  # custom equality, (got, expected)
    title_zh: str | None = None  # the title in Chinese, shown by the Chinese edition


REGISTRY: dict[str, Exercise] = {}
_LOADED = False


def register(exercise: Exercise) -> Exercise:
    """Add an exercise to the registry; ids are unique."""
    if exercise.id in REGISTRY:
        raise ValueError(f"exercise {exercise.id!r} is registered twice")
    if exercise.kind not in ("function", "value"):
        raise ValueError(f"exercise kind must be 'function' or 'value', got {exercise.kind!r}")
    REGISTRY[exercise.id] = exercise
    return exercise


def load_all() -> dict[str, Exercise]:
    """Import every `utils.exercises.ch*` module so that all exercises are registered."""
    global _LOADED
    if not _LOADED:
        import utils.exercises as package

        for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
            if info.name.startswith("ch"):
                importlib.import_module(f"utils.exercises.{info.name}")
        _LOADED = True
    return REGISTRY


def get_exercise(exercise_id: str) -> Exercise:
    """Return the registered exercise with this id, or raise a KeyError listing the ids."""
    registry = load_all()
    if exercise_id not in registry:
        raise KeyError(f"no exercise {exercise_id!r}; known ids: {sorted(registry)}")
    return registry[exercise_id]


# ---------------------------------------------------------------- comparing outputs


def _is_unanswered(value: Any) -> bool:
    return value is None or value is Ellipsis


def _parts(x: Any) -> list[Any]:
    return list(x) if isinstance(x, tuple | list) and not isinstance(x, str) else [x]


def outputs_equal(got: Any, expected: Any, rtol: float, atol: float, equal_nan: bool = False) -> bool:
    """True when got equals expected: scalars, strings, arrays or tuples of them."""
    g_parts, e_parts = _parts(got), _parts(expected)
    if len(g_parts) != len(e_parts):
        return False
    for g, e in zip(g_parts, e_parts):
        if isinstance(e, str) or isinstance(g, str):
            if str(g).strip().lower() != str(e).strip().lower():
                return False
            continue
        try:
            g_arr = to_numpy(g)
            e_arr = to_numpy(e)
        except Exception:
            return False
        if g_arr.shape != e_arr.shape:
            return False
        if e_arr.dtype == bool:  # masks must be boolean, not 0/1 numbers
            if g_arr.dtype != bool or not np.array_equal(g_arr, e_arr):
                return False
            continue
        try:
            if not np.allclose(g_arr.astype(np.float64), e_arr.astype(np.float64), rtol=rtol, atol=atol, equal_nan=equal_nan):
                return False
        except (TypeError, ValueError):
            if not np.array_equal(g_arr, e_arr):
                return False
    return True


def _describe(x: Any, limit: int = 24) -> str:
    """A short description of a value: small arrays in full, large ones by shape."""
    if isinstance(x, tuple | list) and not isinstance(x, str) and len(x) <= 4:
        return "(" + ", ".join(_describe(p, limit) for p in x) + ")"
    if callable(x):
        return getattr(x, "__name__", "function")
    try:
        arr = to_numpy(x)
    except Exception:
        return repr(x)[:200]
    if arr.dtype == object:
        return repr(x)[:200]
    if arr.ndim == 0:
        return repr(arr.item())
    if arr.size <= limit:
        with np.printoptions(precision=4, suppress=True):
            return f"array{arr.shape} {np.array2string(arr, separator=', ').replace(chr(10), '')}"
    return f"array of shape {arr.shape}, dtype {arr.dtype}"


def _diff_line(got: Any, expected: Any) -> str:
    g_parts, e_parts = _parts(got), _parts(expected)
    if len(g_parts) != len(e_parts):
        return f"expected {len(e_parts)} results, got {len(g_parts)}"
    for idx, (g, e) in enumerate(zip(g_parts, e_parts)):
        which = f"result {idx}: " if len(e_parts) > 1 else ""
        try:
            g_arr, e_arr = to_numpy(g), to_numpy(e)
        except Exception:
            return f"{which}expected {e!r}, got {g!r}"
        if g_arr.shape != e_arr.shape:
            return f"{which}expected shape {e_arr.shape}, got shape {g_arr.shape}"
        if e_arr.dtype.kind in "fc" or g_arr.dtype.kind in "fc":
            try:
                with np.errstate(invalid="ignore"):  # inf - inf is NaN, reported below
                    delta = np.abs(g_arr.astype(np.float64) - e_arr.astype(np.float64))
            except (TypeError, ValueError):
                continue
            if np.isnan(delta).any():
                pos = np.unravel_index(int(np.argmax(np.isnan(delta))), delta.shape) if delta.ndim else ()
                return f"{which}NaN at index {tuple(int(i) for i in pos)}"
            if delta.size and delta.max() > 0:
                pos = np.unravel_index(int(np.argmax(delta)), delta.shape) if delta.ndim else ()
                pos = tuple(int(i) for i in pos)
                return (f"{which}max |difference| {delta.max():.3g} at index {pos}: "
                        f"expected {e_arr[pos]:.6g}, got {g_arr[pos]:.6g}")
        elif not np.array_equal(g_arr, e_arr):
            return f"{which}expected {_describe(e)}, got {_describe(g)}"
    return "values differ"
