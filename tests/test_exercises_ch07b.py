"""Checker tests for chapter 07b's exercises: reference solved, stub not attempted, mistakes caught."""

from __future__ import annotations

import numpy as np
import pytest

from utils.exercises import evaluate, get_exercise


def _stub(*args):
    ...


def _stub_raises(*args):
    raise NotImplementedError


@pytest.mark.parametrize("exercise_id", ["07b.1", "07b.2", "07b.3"])
def test_reference_solves_and_stubs_are_not_attempted(exercise_id):
    assert evaluate(exercise_id, get_exercise(exercise_id).reference).status == "solved"
    assert evaluate(exercise_id, _stub).status == "not attempted"
    assert evaluate(exercise_id, _stub_raises).status == "not attempted"


# ---------------------------------------------------------------- 07b.1


def test_07b_1_regex_solution_is_accepted():
    import re

    def layer_of(name):
        m = re.match(r"encoder\.layer\.(\d+)\.", name)
        return int(m.group(1)) if m else -1

    assert evaluate("07b.1", layer_of).status == "solved"


def test_07b_1_single_character_layer_gets_two_digit_hint():
    def layer_of(name):
        return int(name[14]) if name.startswith("encoder.layer.") else -1

    v = evaluate("07b.1", layer_of)
    assert v.status == "wrong" and "two digits" in v.hint


def test_07b_1_counting_from_one_gets_hint():
    def layer_of(name):
        parts = name.split(".")
        return int(parts[2]) + 1 if parts[0] == "encoder" else -1

    v = evaluate("07b.1", layer_of)
    assert v.status == "wrong" and "from 0" in v.hint


def test_07b_1_embeddings_as_layer_zero_gets_hint():
    def layer_of(name):
        parts = name.split(".")
        return int(parts[2]) if parts[0] == "encoder" else 0

    v = evaluate("07b.1", layer_of)
    assert v.status == "wrong" and "return -1" in v.hint


# ---------------------------------------------------------------- 07b.2


def test_07b_2_padding_mask_via_lengths_is_accepted():
    def key_padding_mask(input_ids):
        lengths = (input_ids != 0).sum(axis=1)
        return (np.arange(input_ids.shape[1])[None, :] < lengths[:, None])[:, None, None, :]

    assert evaluate("07b.2", key_padding_mask).status == "solved"


def test_07b_2_inverted_polarity_gets_hint():
    def key_padding_mask(input_ids):
        return np.expand_dims(input_ids == 0, (1, 2))

    v = evaluate("07b.2", key_padding_mask)
    assert v.status == "wrong" and "[PAD]" in v.hint


def test_07b_2_query_axis_gets_hint():
    def key_padding_mask(input_ids):
        return (input_ids > 0).reshape(input_ids.shape[0], 1, input_ids.shape[1], 1)

    v = evaluate("07b.2", key_padding_mask)
    assert v.status == "wrong" and "masks queries" in v.hint


def test_07b_2_float_mask_gets_boolean_hint():
    def key_padding_mask(input_ids):
        return (input_ids != 0).astype(np.int64)[:, None, None, :]

    v = evaluate("07b.2", key_padding_mask)
    assert v.status == "wrong" and "boolean" in v.hint


def test_07b_2_missing_broadcast_axes_gets_hint():
    def key_padding_mask(input_ids):
        return input_ids != 0

    v = evaluate("07b.2", key_padding_mask)
    assert v.status == "wrong" and "mask[:, None, None, :]" in v.hint


# ---------------------------------------------------------------- 07b.3


def test_07b_3_loop_solution_is_accepted():
    def previous_token_scores(weights, lengths):
        layers, batch, heads = weights.shape[:3]
        total, count = np.zeros((layers, heads)), 0
        for b in range(batch):
            for i in range(1, int(lengths[b])):
                total += weights[:, b, :, i, i - 1]
                count += 1
        return total / count

    assert evaluate("07b.3", previous_token_scores).status == "solved"


def test_07b_3_next_token_gets_hint():
    def previous_token_scores(weights, lengths):
        layers, batch, heads = weights.shape[:3]
        total, count = np.zeros((layers, heads)), 0
        for b in range(batch):
            for i in range(1, int(lengths[b])):
                total += weights[:, b, :, i - 1, i]
                count += 1
        return total / count

    v = evaluate("07b.3", previous_token_scores)
    assert v.status == "wrong" and "next token" in v.hint


def test_07b_3_averaging_padding_gets_hint():
    def previous_token_scores(weights, lengths):
        seq = weights.shape[-1]
        return np.mean([weights[..., i, i - 1] for i in range(1, seq)], axis=0).mean(axis=1)

    v = evaluate("07b.3", previous_token_scores)
    assert v.status == "wrong" and "padded positions" in v.hint


def test_07b_3_counting_query_zero_gets_hint():
    def previous_token_scores(weights, lengths):
        total = sum(weights[:, b, :, i, i - 1] for b in range(len(lengths)) for i in range(1, int(lengths[b])))
        return total / lengths.sum()

    v = evaluate("07b.3", previous_token_scores)
    assert v.status == "wrong" and "query 0" in v.hint


# ---------------------------------------------------------------- 07b.4


def test_07b_4_value_and_mistakes():
    assert evaluate("07b.4", 22_565_376).status == "solved"
    assert evaluate("07b.4", ...).status == "not attempted"
    v = evaluate("07b.4", 22_713_216)
    assert v.status == "wrong" and "pooler" in v.hint
    v = evaluate("07b.4", 22_565_376 + 512)
    assert v.status == "wrong" and "buffer" in v.hint
