"""Property-based search (Hypothesis) over exercise inputs.

- For each known-wrong answer, Hypothesis searches for an input on which it differs from the reference: the wrong
  answer is really wrong, and the checker's own seeded cases reject it too. This search is how the
  discriminating cases were found (very wide rows for softmax, near ties for the hard lookup, n > every
  length for the padded masks...); the checker itself stays deterministic.
- For each correct alternative, no input makes it differ from the reference, so the strict comparison
  never rejects a right answer.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample
from hypothesis.extra import numpy as hnp
from test_exercise_answers import RIGHT, WRONG, _current

from utils.exercises import evaluate, load_all
from utils.exercises.checker import _equal

EXERCISES = load_all()
_floats = st.floats(-2000, 2000, allow_nan=False, width=64)


def _rows():
    return hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4), elements=_floats)


def _qkv():
    draw_n = st.integers(1, 4)
    return st.tuples(draw_n, draw_n, st.integers(1, 3)).flatmap(lambda s: st.tuples(
        hnp.arrays(np.float64, (s[0], s[2]), elements=st.floats(-3, 3)),
        hnp.arrays(np.float64, (s[1], s[2]), elements=st.floats(-3, 3)),
        hnp.arrays(np.float64, (s[1], 2), elements=st.floats(-3, 3))))


def _small(shape, lo=-3.0, hi=3.0):
    return hnp.arrays(np.float64, shape, elements=st.floats(lo, hi))


def _pool_args():
    return st.tuples(st.integers(1, 3), st.integers(1, 5), st.integers(1, 3)).flatmap(lambda s: st.tuples(
        _small(s), hnp.arrays(np.int64, (s[0],), elements=st.integers(0, s[1]))))


def _softmax_rows(shape):
    return _small(shape, -5, 5).map(lambda z: np.exp(z - z.max(-1, keepdims=True))
                                    / np.exp(z - z.max(-1, keepdims=True)).sum(-1, keepdims=True))


def _four_d():
    return hnp.array_shapes(min_dims=4, max_dims=4, min_side=1, max_side=4).flatmap(lambda s: _small(s))


# exercise id -> a strategy for its positional arguments
STRATEGIES = {
    "01.1": _pool_args(),
    "03.2": st.tuples(st.integers(1, 4), st.integers(1, 4), st.integers(1, 3)).flatmap(
        lambda s: st.tuples(_small((s[0], s[2])), _small((s[1], s[2])))),
    "04.1": st.tuples(st.integers(1, 4), st.integers(1, 4), st.integers(1, 5)).flatmap(
        lambda s: st.tuples(_small((s[0], s[2])), _small((s[1], s[2])))),
    "04.3": st.tuples(st.integers(1, 3), st.integers(1, 5)).flatmap(
        lambda s: st.tuples(_softmax_rows(s), _small(s))),
    "05.1": st.tuples(st.integers(1, 2), st.integers(1, 4), st.integers(1, 3), st.integers(1, 3)).flatmap(
        lambda s: st.tuples(_small((s[0], s[1], s[2] * s[3])), st.just(s[2]))),
    "05.2": _four_d().map(lambda x: (x,)),
    "07.2": _four_d().map(lambda x: (x,)),
    "08c.2": st.tuples(st.integers(1, 6), st.integers(1, 5)).map(lambda s: (s[0] * s[1], s[1])),
    "00.1": _rows().map(lambda x: (x,)),
    "02.2": _qkv(),
    "02.3": st.integers(1, 9).map(lambda n: (n,)),
    "07.3": st.integers(1, 8).flatmap(lambda n_k: st.integers(1, n_k).map(lambda n_q: (n_q, n_k))),
    "08a.1": st.tuples(st.integers(1, 4096), st.integers(1, 256), st.booleans()),
}
SEARCHED = [eid for eid in STRATEGIES if eid in EXERCISES and _current(eid)]


def _differs(ex, answer, args) -> bool:
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # e.g. the mean of an empty slice in a wrong answer
        expected = ex.reference(*args)
        try:
            got = answer(*args)
        except Exception:  # noqa: BLE001  (raising on an input is differing on it)
            return True
    return not _equal(ex, got, expected)  # the checker's own comparison, custom ones included


def _answers(eid):
    ex = EXERCISES[eid]
    return [(f"mistake {i}", m.answer) for i, m in enumerate(ex.mistakes)] + \
           [(label, fn) for label, fn, _ in WRONG.get(eid, []) if callable(fn)]


@pytest.mark.parametrize(("exercise_id", "index"), [(e, i) for e in SEARCHED for i in range(len(_answers(e)))])
def test_search_finds_an_input_that_exposes_each_wrong_answer(exercise_id, index):
    ex = EXERCISES[exercise_id]
    label, answer = _answers(exercise_id)[index]
    try:
        found = find(STRATEGIES[exercise_id], lambda args: _differs(ex, answer, args),
                     settings=settings(max_examples=150, database=None, derandomize=True,
                                       phases=(Phase.explicit, Phase.generate),
                                       suppress_health_check=list(HealthCheck)))
    except NoSuchExample:
        found = None
    rejected = evaluate(exercise_id, answer, rules=False).status == "wrong" or \
        evaluate(exercise_id, answer).status == "wrong"
    assert found is not None or rejected, f"{exercise_id} '{label}': no input exposes it"
    assert rejected, f"{exercise_id} '{label}' differs on {found} but passes the checker: add that input as a case"


@pytest.mark.parametrize(("exercise_id", "index"), [(e, i) for e in SEARCHED if e in RIGHT
                                                     for i in range(len(RIGHT[e]))])
def test_a_correct_alternative_agrees_with_the_reference_everywhere(exercise_id, index):
    ex, answer = EXERCISES[exercise_id], RIGHT[exercise_id][index]

    @settings(max_examples=60, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(STRATEGIES[exercise_id])
    def agrees(args):
        assert not _differs(ex, answer, args), args

    agrees()
