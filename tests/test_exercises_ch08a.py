"""Checker tests for chapter 08a: references pass, stubs are not attempted, realistic mistakes get hints."""

from __future__ import annotations

import numpy as np

from utils.exercises import evaluate, get_exercise


def _stub(*args):
    ...


def _stub_raises(*args):
    raise NotImplementedError


def test_references_solve_and_stubs_are_not_attempted():
    for eid in ("08a.1", "08a.2", "08a.3"):
        assert evaluate(eid, get_exercise(eid).reference).status == "solved"
        assert evaluate(eid, _stub).status == "not attempted"
        assert evaluate(eid, _stub_raises).status == "not attempted"
    assert evaluate("08a.4", ...).status == "not attempted"
    assert evaluate("08a.4", 528).solved


# ---------------------------------------------------------------- 08a.1


def test_08a_1_one_matmul_counted_is_wrong():
    v = evaluate("08a.1", lambda n, d, causal: 2 * n * n * d if not causal else n * n * d)
    assert v.status == "wrong" and "TWO matmuls" in v.hint


def test_08a_1_causal_not_halved_is_wrong():
    v = evaluate("08a.1", lambda n, d, causal: 4 * d * n**2)
    assert v.status == "wrong" and "divide by 2" in v.hint


def test_08a_1_float_answer_is_fine():
    assert evaluate("08a.1", lambda n, d, causal: 4 * n * n * d * (0.5 if causal else 1.0)).solved


# ---------------------------------------------------------------- 08a.2


def _update_learner(m, l, scores):
    m_new = np.maximum(m, np.max(scores, axis=1))
    safe = np.where(m_new == -np.inf, 0.0, m_new)
    return m_new, l * np.exp(m - safe) + np.sum(np.exp(scores - safe[:, None]), axis=1)


def test_08a_2_a_learner_style_solution_passes():
    assert evaluate("08a.2", _update_learner).solved


def test_08a_2_forgetting_to_rescale_l_is_wrong():
    def update(m, l, scores):
        m_new = np.maximum(m, scores.max(axis=1))
        safe = np.where(np.isinf(m_new), 0.0, m_new)
        return m_new, l + np.exp(scores - safe[:, None]).sum(axis=1)

    v = evaluate("08a.2", update)
    assert v.status == "wrong" and "multiply l by" in v.hint


def test_08a_2_shifting_by_the_block_max_is_wrong():
    def update(m, l, scores):
        b = scores.max(axis=1)
        e = np.exp(scores - np.where(np.isinf(b), 0.0, b)[:, None])
        return np.maximum(m, b), l + e.sum(axis=1)

    v = evaluate("08a.2", update)
    assert v.status == "wrong" and "RUNNING max" in v.hint


def test_08a_2_no_guard_for_masked_rows_gives_nan_and_is_wrong():
    def update(m, l, scores):
        m_new = np.maximum(m, scores.max(axis=1))
        return m_new, l * np.exp(m - m_new) + np.exp(scores - m_new[:, None]).sum(axis=1)

    assert evaluate("08a.2", update).status == "wrong"


# ---------------------------------------------------------------- 08a.3


def test_08a_3_torch_solution_passes():
    import torch

    def step(m, l, acc, s, v_blk):
        m_new = torch.maximum(m, s.amax(dim=-1))
        shift = torch.nan_to_num(m_new, neginf=0.0)
        p = torch.exp(s - shift[:, None])
        alpha = torch.exp(m - shift)
        return m_new, alpha * l + p.sum(-1), alpha[:, None] * acc + p @ v_blk

    assert evaluate("08a.3", step, framework="torch").solved


def test_08a_3_normalising_inside_the_loop_is_wrong():
    def step(m, l, acc, s, v_blk):
        m_new = np.maximum(m, s.max(-1))
        shift = np.where(np.isfinite(m_new), m_new, 0)
        p = np.exp(s - shift[:, None])
        alpha = np.exp(m - shift)
        l_new = alpha * l + p.sum(-1)
        return m_new, l_new, (alpha[:, None] * acc + p @ v_blk) / l_new[:, None]

    v = evaluate("08a.3", step)
    assert v.status == "wrong" and "UNnormalised" in v.hint


def test_08a_3_forgetting_the_accumulator_rescale_is_wrong():
    def step(m, l, acc, s, v_blk):
        m_new = np.maximum(m, s.max(-1))
        shift = np.where(np.isfinite(m_new), m_new, 0)
        p = np.exp(s - shift[:, None])
        return m_new, np.exp(m - shift) * l + p.sum(-1), acc + p @ v_blk

    v = evaluate("08a.3", step)
    assert v.status == "wrong" and "accumulator too" in v.hint


# ---------------------------------------------------------------- 08a.4


def test_08a_4_common_wrong_counts_get_hints():
    assert "diagonal" in evaluate("08a.4", 496).hint
    assert "32·33/2" in evaluate("08a.4", 512).hint
    assert evaluate("08a.4", 1024).status == "wrong"
