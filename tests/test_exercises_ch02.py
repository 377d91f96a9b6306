"""Checker tests for chapter 02: the reference passes, stubs are not attempted, mistakes get hints."""

from __future__ import annotations

import numpy as np

from utils.exercises import evaluate, get_exercise


def _stub(*args):
    ...


# ---------------------------------------------------------------- 02.1 kernel-regression weights


def test_02_1_reference_and_stub():
    assert evaluate("02.1", get_exercise("02.1").reference).status == "solved"
    assert evaluate("02.1", _stub).status == "not attempted"


def test_02_1_stable_explicit_solution_passes():
    def weights(x_query, x_train, sigma):
        d2 = np.subtract.outer(x_query, x_train) ** 2
        logits = -d2 / (2 * sigma * sigma)
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    assert evaluate("02.1", weights).solved


def test_02_1_missing_two_is_wrong():
    def weights(x_query, x_train, sigma):
        logits = -np.subtract.outer(x_query, x_train) ** 2 / sigma**2
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    v = evaluate("02.1", weights)
    assert v.status == "wrong" and "left out the 2" in v.hint


def test_02_1_normalised_over_queries_is_wrong():
    def weights(x_query, x_train, sigma):
        logits = -np.subtract.outer(x_query, x_train) ** 2 / (2 * sigma**2)
        e = np.exp(logits - logits.max(axis=0, keepdims=True))
        return e / e.sum(axis=0, keepdims=True)

    v = evaluate("02.1", weights)
    assert v.status == "wrong" and "axis=-1" in v.hint


def test_02_1_naive_exp_underflows():
    def weights(x_query, x_train, sigma):
        k = np.exp(-np.subtract.outer(x_query, x_train) ** 2 / (2 * sigma**2))
        return k / k.sum(axis=1, keepdims=True)

    v = evaluate("02.1", weights)
    assert v.status == "wrong" and "underflows" in v.hint


# ---------------------------------------------------------------- 02.2 hard lookup


def test_02_2_reference_and_stub():
    assert evaluate("02.2", get_exercise("02.2").reference).status == "solved"
    assert evaluate("02.2", _stub).status == "not attempted"


def test_02_2_loop_solution_passes():
    def lookup(q, keys, values):
        return np.stack([values[int(np.argmax([qi @ k for k in keys]))] for qi in q])

    assert evaluate("02.2", lookup).solved


def test_02_2_returning_the_key_is_wrong():
    def lookup(q, keys, values):
        return np.stack([keys[int(np.argmax(keys @ qi))] for qi in q])

    v = evaluate("02.2", lookup)
    assert v.status == "wrong" and "VALUE" in v.hint


def test_02_2_euclidean_distance_is_wrong():
    def lookup(q, keys, values):
        d = np.linalg.norm(q[:, None] - keys[None], axis=-1)
        return values[d.argmin(axis=1)]

    v = evaluate("02.2", lookup)
    assert v.status == "wrong" and "Euclidean" in v.hint


# ---------------------------------------------------------------- 02.3 causal mask


def test_02_3_reference_and_stub():
    assert evaluate("02.3", get_exercise("02.3").reference).status == "solved"
    assert evaluate("02.3", _stub).status == "not attempted"


def test_02_3_loop_solution_passes():
    def mask(n):
        m = np.zeros((n, n), dtype=bool)
        for i in range(n):
            m[i, : i + 1] = True
        return m

    assert evaluate("02.3", mask).solved


def test_02_3_off_by_one_is_wrong():
    def mask(n):
        return np.arange(n)[None, :] < np.arange(n)[:, None]

    v = evaluate("02.3", mask)
    assert v.status == "wrong" and "off-by-one" in v.hint


def test_02_3_future_visible_is_wrong():
    def mask(n):
        return np.arange(n)[None, :] >= np.arange(n)[:, None]

    v = evaluate("02.3", mask)
    assert v.status == "wrong" and "LOWER" in v.hint


def test_02_3_inverted_polarity_is_wrong():
    def mask(n):
        return np.triu(np.ones((n, n), dtype=bool), k=1)  # True = blocked, as in nn.MultiheadAttention

    v = evaluate("02.3", mask)
    assert v.status == "wrong" and "polarity" in v.hint


def test_02_3_float_mask_is_wrong():
    v = evaluate("02.3", lambda n: np.tril(np.ones((n, n), dtype=np.float32)))
    assert v.status == "wrong" and "boolean" in v.hint


# ---------------------------------------------------------------- 02.4 cross-attention shape


def test_02_4_value_answers():
    assert evaluate("02.4", (7, 12)).solved
    assert evaluate("02.4", [7, 12]).solved
    assert evaluate("02.4", ...).status == "not attempted"
    v = evaluate("02.4", (12, 7))
    assert v.status == "wrong" and "rows are queries" in v.hint
    assert evaluate("02.4", (7, 7)).status == "wrong"
