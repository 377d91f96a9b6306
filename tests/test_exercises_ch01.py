"""Checker tests for chapter 01: the reference passes, stubs are not attempted, mistakes get hints."""

from __future__ import annotations

import numpy as np

from utils.exercises import evaluate, get_exercise


def _stub(*args):
    ...


def _stub_raises(*args):
    raise NotImplementedError


# ---------------------------------------------------------------- 01.1 masked mean pooling


def test_01_1_reference_and_stub():
    assert evaluate("01.1", get_exercise("01.1").reference).status == "solved"
    assert evaluate("01.1", _stub).status == "not attempted"
    assert evaluate("01.1", _stub_raises).status == "not attempted"


def test_01_1_a_correct_loop_solution_passes():
    def loop_pool(x, lengths):
        out = np.zeros((x.shape[0], x.shape[2]))
        for b, length in enumerate(lengths):
            if length > 0:
                out[b] = x[b, :length].mean(axis=0)
        return out

    assert evaluate("01.1", loop_pool).solved


def test_01_1_padding_counted_is_wrong():
    v = evaluate("01.1", lambda x, lengths: x.mean(axis=1))
    assert v.status == "wrong" and "padding" in v.hint


def test_01_1_divide_by_padded_length_is_wrong():
    def pool(x, lengths):
        keep = np.arange(x.shape[1]) < lengths[:, None]
        return np.where(keep[..., None], x, 0).sum(axis=1) / x.shape[1]

    v = evaluate("01.1", pool)
    assert v.status == "wrong" and "lengths[b]" in v.hint


def test_01_1_off_by_one_is_wrong():
    def pool(x, lengths):
        out = np.zeros((x.shape[0], x.shape[2]))
        for b, length in enumerate(lengths):
            out[b] = x[b, : length + 1].sum(axis=0) / max(length, 1)
        return out

    v = evaluate("01.1", pool)
    assert v.status == "wrong" and "off-by-one" in v.hint


def test_01_1_nan_for_empty_sequence_is_wrong():
    def pool(x, lengths):
        keep = np.arange(x.shape[1]) < lengths[:, None]
        return np.where(keep[..., None], x, 0).sum(axis=1) / lengths[:, None]

    assert evaluate("01.1", pool).status == "wrong"


# ---------------------------------------------------------------- 01.2 attention retrieval


def _scores(q, keys):
    return np.einsum("bd,bnd->bn", q, keys)


def test_01_2_reference_and_stub():
    assert evaluate("01.2", get_exercise("01.2").reference).status == "solved"
    assert evaluate("01.2", _stub).status == "not attempted"


def test_01_2_loop_solution_passes():
    def retrieve(q, keys, values):
        out = []
        for b in range(q.shape[0]):
            s = keys[b] @ q[b] / np.sqrt(q.shape[1])
            w = np.exp(s - s.max())
            out.append(w / w.sum() @ values[b])
        return np.array(out)

    assert evaluate("01.2", retrieve).solved


def test_01_2_missing_scale_is_wrong():
    def retrieve(q, keys, values):
        s = _scores(q, keys)
        w = np.exp(s - s.max(axis=1, keepdims=True))
        return np.einsum("bn,bnv->bv", w / w.sum(axis=1, keepdims=True), values)

    v = evaluate("01.2", retrieve)
    assert v.status == "wrong" and "√d_k" in v.hint


def test_01_2_softmax_over_batch_is_wrong():
    def retrieve(q, keys, values):
        s = _scores(q, keys) / np.sqrt(q.shape[1])
        w = np.exp(s) / np.exp(s).sum(axis=0)
        return np.einsum("bn,bnv->bv", w, values)

    v = evaluate("01.2", retrieve)
    assert v.status == "wrong" and "batch" in v.hint


def test_01_2_hard_argmax_is_wrong():
    def retrieve(q, keys, values):
        best = _scores(q, keys).argmax(axis=1)
        return np.stack([values[b, i] for b, i in enumerate(best)])

    v = evaluate("01.2", retrieve)
    assert v.status == "wrong" and "hard lookup" in v.hint
