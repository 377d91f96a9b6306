"""Chapter 06 exercises: the reference passes, a stub is not attempted, realistic mistakes get their hint."""

import numpy as np

from utils.datagen.applications import MONTHS
from utils.demos.applications import EOS
from utils.exercises import evaluate


def _month(m):
    return next(names.index(m) + 1 for names in MONTHS.values() if m in names)


def test_06_1_iso_target():
    def good(day, month, year):
        return f"{year:04d}-{_month(month):02d}-{day:02d}"

    def stub(day, month, year):
        ...

    def no_padding(day, month, year):
        return f"{year}-{_month(month)}-{day}"

    def from_zero(day, month, year):
        return f"{year:04d}-{_month(month) - 1:02d}-{day:02d}"

    def day_first(day, month, year):
        return f"{year:04d}-{day:02d}-{_month(month):02d}"

    assert evaluate("06.1", good).solved
    assert evaluate("06.1", stub).status == "not attempted"
    for wrong, word in ((no_padding, "pads"), (from_zero, "counts from 0"), (day_first, "month comes before")):
        verdict = evaluate("06.1", wrong)
        assert verdict.status == "wrong" and word in verdict.hint, (wrong.__name__, verdict)


def test_06_2_exact_match_rows():
    def good(predicted, target):
        ok = []
        for p, t in zip(predicted, target):
            n = int(np.argmax(t == EOS)) + 1 if (t == EOS).any() else len(t)
            ok.append(bool((p[:n] == t[:n]).all()))
        return np.array(ok)

    def stub(predicted, target):
        ...

    def whole_row(predicted, target):
        return np.all(predicted == target, axis=1)

    def tokens_only(predicted, target):
        return np.array([bool((p[: int(np.argmax(t == EOS))] == t[: int(np.argmax(t == EOS))]).all())
                         for p, t in zip(predicted, target)])

    def per_token(predicted, target):
        return predicted == target

    assert evaluate("06.2", good).solved
    assert evaluate("06.2", stub).status == "not attempted"
    for wrong, word in ((whole_row, "after the target's <eos>"), (tokens_only, "<eos> itself"),
                        (per_token, "one bool per sequence")):
        verdict = evaluate("06.2", wrong)
        assert verdict.status == "wrong" and word in verdict.hint, (wrong.__name__, verdict)


def test_06_3_most_attended_sentence():
    def good(weights, sent_ids):
        w = weights.sum(axis=0)
        return int(np.argmax([w[sent_ids == k].sum() for k in range(sent_ids.max() + 1)]))

    def stub(weights, sent_ids):
        raise NotImplementedError

    def argmax_token(weights, sent_ids):
        w = weights.sum(axis=0).copy()
        w[sent_ids < 0] = -1
        return int(sent_ids[np.argmax(w)])

    def head_zero(weights, sent_ids):
        return int(np.argmax([weights[0][sent_ids == k].sum() for k in range(sent_ids.max() + 1)]))

    def averaged(weights, sent_ids):
        w = weights.sum(axis=0)
        return int(np.argmax([w[sent_ids == k].mean() for k in range(sent_ids.max() + 1)]))

    assert evaluate("06.3", good).solved
    assert evaluate("06.3", stub).status == "not attempted"
    for wrong, word in ((argmax_token, "ALL tokens"), (head_zero, "every head"), (averaged, "do not average")):
        verdict = evaluate("06.3", wrong)
        assert verdict.status == "wrong" and word in verdict.hint, (wrong.__name__, verdict)
