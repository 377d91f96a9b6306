"""The exercise registry and the strict comparison of an answer's output with the reference's.

An exercise is registered once, in `utils/exercises/chNN.py`, with
- a reference answer (the only copy of the answer in the repository),
- seeded test cases, including the edge cases that tell plausible wrong answers apart,
- known mistakes: wrong implementations paired with a hint. The checker prints a hint only when the
  learner's output matches that mistake on every case where the mistake differs from the reference,
- optionally, the rules the task states: helpers it forbids, loops it requires or forbids.

How a chapter module writes them:
- a function exercise's known wrong answer is a module-level function with its hint right above it,
  `@mistake("the hint", zh="提示")`, and the registration lists the functions:
  `register(Exercise(id="02.1", ..., mistakes=[_kernel_no_two, _kernel_abs]))`. `Exercise` turns each
  one into a `Mistake(hint, function, hint_zh)`, in the order given; a `Mistake(...)` is kept as it is,
  and a function without `@mistake` is a TypeError;
- a value exercise maps each known wrong value to its two hints, the values computed in Python as the
  question states them: `mistakes=wrong_values({mha_param_count(512, 8): ("the hint", "提示")})`;
- chapter 09's quiz, all literal answers and prose, is data: `ch09.toml`, read by `ch09.py`.
The checker's own messages, in both languages, are data too: `messages.toml`, read by `messages.py`.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from utils.core.frameworks import to_numpy
from utils.exercises.messages import text


@dataclass
class Case:
    """One input to check: positional args, keyword args and a label shown on failure."""

    label: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    label_zh: str | None = None  # the label in Chinese (the English one is shown when absent)


@dataclass
class Mistake:
    """A known wrong answer and the hint to print when a learner's output matches it."""

    hint: str
    answer: Any  # a function for function exercises, a value for value exercises
    hint_zh: str | None = None  # the hint in Chinese, shown by the Chinese edition


F = TypeVar("F", bound=Callable[..., Any])


def mistake(hint: str, zh: str | None = None) -> Callable[[F], F]:
    """Mark a function as a known wrong answer, with the hint printed when a learner's output matches it.

    `zh` is the hint in Chinese. The function is returned unchanged (it stays callable); the hints ride
    on it as `.hint` and `.hint_zh`, and `Exercise(mistakes=[...])` makes a `Mistake` of it.
    """

    def attach(answer: F) -> F:
        answer.hint, answer.hint_zh = hint, zh  # type: ignore[attr-defined]
        return answer

    return attach


def wrong_values(hints: dict[Any, tuple[str, str]]) -> list[Mistake]:
    """The known mistakes of a value exercise: {wrong value: (hint, hint in Chinese)}, in that order.

    Each wrong value is a key, so it is listed once (a dict keeps only the last of two equal keys).
    """
    return [Mistake(hint, value, hint_zh) for value, (hint, hint_zh) in hints.items()]


def _as_mistake(exercise_id: str, item: Any) -> Mistake:
    if isinstance(item, Mistake):
        return item
    if callable(item) and isinstance(getattr(item, "hint", None), str):
        return Mistake(item.hint, item, getattr(item, "hint_zh", None))
    name = f"{getattr(item, '__module__', '?')}.{getattr(item, '__qualname__', repr(item))}"
    raise TypeError(f"exercise {exercise_id}: the mistake {name} has no hint: decorate it with "
                    f"@mistake(\"hint\", zh=\"...\"), or pass Mistake(hint, answer, hint_zh=...)")


@dataclass
class Exercise:
    """A registered exercise: the reference answer, its cases and its known mistakes."""

    id: str
    title: str
    reference: Any  # function, or the expected value for kind="value"
    cases: Callable[[], list[Case]] | None = None
    mistakes: list[Mistake] = field(default_factory=list)  # Mistake objects, or functions marked @mistake
    kind: str = "function"  # "function" or "value"
    rtol: float = 1e-5
    atol: float = 1e-6
    frameworks: tuple[str, ...] = ("numpy",)
    compare: Callable[[Any, Any], bool] | None = None  # custom equality, (got, expected)
    title_zh: str | None = None  # the title in Chinese, shown by the Chinese edition
    forbidden: tuple[str, ...] = ()  # "package.module.name" of helpers the task says not to call
    loops: str | None = None  # "required" or "forbidden", when the task says so
    results: tuple[str, ...] = ()  # the names of the returned tuple's items, used in messages

    def __post_init__(self) -> None:
        self.mistakes = [_as_mistake(self.id, item) for item in self.mistakes]


REGISTRY: dict[str, Exercise] = {}
_LOADED = False


def register(exercise: Exercise) -> Exercise:
    """Add an exercise to the registry; ids are unique."""
    if exercise.id in REGISTRY:
        raise ValueError(f"exercise {exercise.id!r} is registered twice")
    if exercise.kind not in ("function", "value"):
        raise ValueError(f"exercise kind must be 'function' or 'value', got {exercise.kind!r}")
    if exercise.loops not in (None, "required", "forbidden"):
        raise ValueError(f"exercise loops must be None, 'required' or 'forbidden', got {exercise.loops!r}")
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


# ---------------------------------------------------------------- what kind of value is it?

_TENSOR_MODULES = ("torch", "tensorflow", "keras", "jax", "jaxlib")


def is_array(x: Any) -> bool:
    """True for NumPy arrays and TensorFlow / PyTorch tensors (not for tuples, lists or scalars)."""
    if isinstance(x, np.ndarray):
        return True
    return type(x).__module__.split(".")[0] in _TENSOR_MODULES and hasattr(x, "shape") and hasattr(x, "dtype")


def kind(x: Any) -> str:
    """One word for the structure of a value: array, tuple, list, str, bool, int, float, dict, none, masked..."""
    if x is None:
        return "none"
    if isinstance(x, np.ma.MaskedArray):
        return "masked"
    if isinstance(x, str):
        return "str"
    if isinstance(x, bool | np.bool_):
        return "bool"
    if isinstance(x, int | np.integer):
        return "int"
    if isinstance(x, float | np.floating):
        return "float"
    if is_array(x):
        return "array"
    if isinstance(x, tuple):
        return "tuple"
    if isinstance(x, list):
        return "list"
    if isinstance(x, dict):
        return "dict"
    return "other"


def _kind_name(x: Any, expected: bool = False) -> str:
    k = kind(x)
    if k in ("tuple", "list"):
        return text(f"kind_{k}", n=len(x))
    if k == "str":
        return text("kind_str", value="" if expected else repr(x)[:40]).strip()
    if k in ("int", "float") and expected:
        return text("kind_number")
    if k == "other":
        return text("kind_other", name=type(x).__name__)
    return text(f"kind_{k}")


def _is_number(x: Any) -> bool:
    if kind(x) in ("int", "float"):
        return True
    return kind(x) == "array" and len(x.shape) == 0 and to_numpy(x).dtype.kind in "iuf"


def _fmt(x: Any) -> str:
    try:
        return f"{float(x):.6g}"
    except (TypeError, ValueError):
        return repr(x)


# ---------------------------------------------------------------- comparing outputs


def difference(got: Any, expected: Any, rtol: float = 1e-5, atol: float = 1e-6, equal_nan: bool = False,
               names: tuple[str, ...] = ()) -> str | None:
    """None when `got` equals `expected`; otherwise one line saying what was expected and what came back.

    The comparison is strict about structure: a tuple is not an array, a str is not a number, a float
    array is not integer indices, 0/1 numbers are not a boolean mask, and masked arrays are refused.
    Numbers are compared with the tolerances; equal infinities are equal, so the line blames the result
    that really differs.
    """
    return _diff(got, expected, rtol, atol, equal_nan, names, "", top=True)


def outputs_equal(got: Any, expected: Any, rtol: float, atol: float, equal_nan: bool = False) -> bool:
    """True when got equals expected under the strict comparison of `difference`."""
    return difference(got, expected, rtol, atol, equal_nan) is None


def _scalars(x: Any) -> bool:
    return all(kind(item) in ("int", "float", "str", "bool") for item in x)


def _diff(g: Any, e: Any, rtol: float, atol: float, equal_nan: bool, names: tuple[str, ...], which: str,
          top: bool = False) -> str | None:
    ek, gk = kind(e), kind(g)
    if gk == "masked":
        return text("masked", which=which)
    wrong_type = text("type", which=which, expected=_kind_name(e, expected=True), got=_kind_name(g))
    if ek in ("tuple", "list"):
        if gk not in ("tuple", "list"):
            return wrong_type
        if len(g) != len(e):
            return text("count", which=which, expected=len(e), got=len(g))
        if _scalars(e):  # a shape or a small tuple of numbers: compare it as a whole
            if any(_diff(gi, ei, rtol, atol, equal_nan, (), "") for gi, ei in zip(g, e)):
                return text("values", which=which, expected=describe(e), got=describe(g))
            return None
        for index, (gi, ei) in enumerate(zip(g, e)):
            label = which
            if top:
                label = (text("result_named", index=index, name=names[index]) if index < len(names)
                         else text("result", index=index))
            reason = _diff(gi, ei, rtol, atol, equal_nan, (), label)
            if reason:
                return reason
        return None
    if ek == "dict":
        if gk != "dict":
            return wrong_type
        if set(g) != set(e):
            return text("keys", which=which, expected=sorted(e), got=sorted(g))
        for key in e:
            reason = _diff(g[key], e[key], rtol, atol, equal_nan, (), f"{which}[{key!r}] ")
            if reason:
                return reason
        return None
    if ek == "str":
        if gk != "str":
            return wrong_type
        if g.strip().lower() != e.strip().lower():
            return text("values", which=which, expected=repr(e), got=repr(g))
        return None
    if ek == "bool":
        if gk != "bool":
            return wrong_type
        return None if bool(g) == bool(e) else text("values", which=which, expected=e, got=g)
    if ek in ("int", "float"):
        if not _is_number(g):
            return wrong_type
        g_val, e_val = float(to_numpy(g)), float(e)
        if ek == "int":  # counts and indices are exact
            rtol = atol = 0.0
        if np.isclose(g_val, e_val, rtol=rtol, atol=atol, equal_nan=equal_nan):
            return None
        return text("values", which=which, expected=_fmt(e), got=_fmt(g_val))
    if ek == "array":
        if gk != "array":
            return wrong_type
        return _array_diff(to_numpy(g), to_numpy(e), rtol, atol, equal_nan, which)
    if ek == "none":
        return None if g is None else wrong_type
    try:
        same = bool(g == e)
    except Exception:  # noqa: BLE001  (an object that cannot be compared is not equal)
        same = False
    return None if same else text("values", which=which, expected=describe(e), got=describe(g))


def _index(position: tuple) -> tuple:
    return tuple(int(i) for i in position)


def _array_diff(g: np.ndarray, e: np.ndarray, rtol: float, atol: float, equal_nan: bool, which: str) -> str | None:
    if g.shape != e.shape:
        return text("shape", which=which, expected=e.shape, got=g.shape)
    if e.dtype == bool:
        if g.dtype != bool:
            if g.dtype.kind in "iuf" and np.isin(g, (0, 1)).all():
                return text("bool_mask", which=which, dtype=g.dtype)
            return text("bool_dtype", which=which, dtype=g.dtype)
        close = g == e
    elif e.dtype.kind in "iu":
        if g.dtype.kind not in "iu":
            return text("int_dtype", which=which, dtype=g.dtype)
        close = g == e
    elif e.dtype.kind in "fc":
        if g.dtype.kind == "b":
            return text("not_bool", which=which)
        if g.dtype.kind not in "iufc":
            return text("type", which=which, expected=text("kind_array"), got=f"dtype {g.dtype}")
        with np.errstate(all="ignore"):
            close = np.isclose(g, e, rtol=rtol, atol=atol, equal_nan=equal_nan)
    else:
        if g.dtype.kind != e.dtype.kind:
            return text("type", which=which, expected=f"dtype {e.dtype}", got=f"dtype {g.dtype}")
        close = g == e
    close = np.asarray(close, dtype=bool)
    if close.all():
        return None
    bad = ~close
    if e.dtype.kind in "fc" and g.dtype.kind in "fc":
        nan = bad & np.isnan(g) & ~np.isnan(e)
        if nan.any():
            pos = _index(np.argwhere(nan)[0]) if nan.ndim else ()
            return text("nan", which=which, index=pos, expected=_fmt(e[pos]))
        finite = bad & np.isfinite(g) & np.isfinite(e)
        if finite.any():
            with np.errstate(all="ignore"):
                delta = np.where(finite, np.abs(g.astype(np.complex128 if g.dtype.kind == "c" else np.float64)
                                               - e), 0.0)
            pos = _index(np.unravel_index(int(np.argmax(np.abs(delta))), delta.shape)) if delta.ndim else ()
            return text("max_diff", which=which, delta=f"{float(np.abs(delta[pos])):.3g}", index=pos,
                        expected=_fmt(e[pos]), got=_fmt(g[pos]))
    pos = _index(np.argwhere(bad)[0]) if bad.ndim else ()
    return text("at_index", which=which, index=pos, expected=_fmt(e[pos]), got=_fmt(g[pos]))


def describe(x: Any, limit: int = 24) -> str:
    """A short description of a value: small arrays in full, large ones by shape."""
    if isinstance(x, tuple | list):
        inner = ", ".join(describe(p, limit) for p in x[:6]) + (", ..." if len(x) > 6 else "")
        return f"[{inner}]" if isinstance(x, list) else f"({inner})"
    if callable(x):
        return getattr(x, "__name__", "function")
    if isinstance(x, str | dict | int | float | bool | np.generic) or x is None:
        return repr(x.item() if isinstance(x, np.generic) else x)[:200]
    try:
        arr = to_numpy(x)
    except Exception:  # noqa: BLE001  (anything we cannot convert is shown by its repr)
        return repr(x)[:200]
    if arr.dtype == object:
        return repr(x)[:200]
    if arr.ndim == 0:
        return repr(arr.item())
    if arr.size <= limit:
        with np.printoptions(precision=4, suppress=True):
            return f"array{arr.shape} {np.array2string(arr, separator=', ').replace(chr(10), '')}"
    return f"array of shape {arr.shape}, dtype {arr.dtype}"


# Old names, kept for code that imported them.
_describe = describe
