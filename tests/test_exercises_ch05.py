"""Checker tests for chapter 05's exercises: reference solved, stub not attempted, mistakes caught."""

from __future__ import annotations

import numpy as np
import pytest

from utils.exercises import evaluate, get_exercise


def _stub(*args):
    ...


@pytest.mark.parametrize("exercise_id", ["05.1", "05.2", "05.3", "05.4"])
def test_reference_solves_and_stub_is_not_attempted(exercise_id):
    assert evaluate(exercise_id, get_exercise(exercise_id).reference).status == "solved"
    assert evaluate(exercise_id, _stub).status == "not attempted"


def test_05_1_split_heads_in_every_framework():
    from utils.core.frameworks import import_tensorflow

    tf = import_tensorflow()

    def tf_split(x, n_heads):
        b, s, d = x.shape
        return tf.transpose(tf.reshape(x, (b, s, n_heads, d // n_heads)), (0, 2, 1, 3))

    def torch_split(x, n_heads):
        b, s, d = x.shape
        return x.view(b, s, n_heads, d // n_heads).permute(0, 2, 1, 3)

    assert evaluate("05.1", tf_split, "tensorflow").status == "solved"
    assert evaluate("05.1", torch_split, "torch").status == "solved"
    assert evaluate("05.1", lambda x, h: x.reshape(x.shape[0], h, x.shape[1], -1), "torch").status == "wrong"


def test_05_1_reshape_without_transpose_gets_hint():
    v = evaluate("05.1", lambda x, h: x.reshape(x.shape[0], h, x.shape[1], x.shape[2] // h))
    assert v.status == "wrong" and "reshape alone" in v.hint


def test_05_1_interleaved_heads_get_hint():
    v = evaluate("05.1", lambda x, h: np.moveaxis(x.reshape(*x.shape[:2], -1, h), -1, 1))
    assert v.status == "wrong" and "contiguous columns" in v.hint


def test_05_2_merge_without_transpose_gets_hint():
    v = evaluate("05.2", lambda x: x.reshape(x.shape[0], x.shape[2], -1))
    assert v.status == "wrong" and "reshape alone" in v.hint


def test_05_2_wrong_permutation_gets_hint():
    v = evaluate("05.2", lambda x: np.transpose(x, (0, 2, 3, 1)).reshape(x.shape[0], x.shape[2], -1))
    assert v.status == "wrong" and "(0, 2, 1, 3)" in v.hint


def test_05_2_torch():
    v = evaluate("05.2", lambda x: x.permute(0, 2, 1, 3).reshape(x.shape[0], x.shape[2], -1), "torch")
    assert v.status == "solved"


def test_05_3_strict_causal_gets_off_by_one_hint():
    def strict(lengths, n):
        allowed = np.arange(n)[None, :] < np.arange(n)[:, None]
        return (allowed[None] & (np.arange(n) < lengths[:, None])[:, None, :])[:, None]

    v = evaluate("05.3", strict)
    assert v.status == "wrong" and "off by one" in v.hint


def test_05_3_forgetting_padding_gets_hint():
    v = evaluate("05.3", lambda lengths, n: np.tril(np.ones((len(lengths), 1, n, n), dtype=bool)))
    assert v.status == "wrong" and "padding keys" in v.hint


def test_05_3_padding_on_queries_gets_hint():
    def on_queries(lengths, n):
        real = np.arange(n)[None, :, None] < lengths[:, None, None]  # (batch, n, 1): queries
        return (np.tril(np.ones((n, n), dtype=bool)) & real)[:, None]

    v = evaluate("05.3", on_queries)
    assert v.status == "wrong" and "on the keys" in v.hint


def test_05_3_torch_answer():
    import torch

    def torch_mask(lengths, n):
        keys = torch.arange(n)[None, :] < lengths[:, None]
        return (torch.ones(n, n, dtype=torch.bool).tril() & keys[:, None, :]).unsqueeze(1)

    assert evaluate("05.3", torch_mask, "torch").status == "solved"


def test_05_4_untransposed_weights_get_hint():
    def no_transpose(p):
        return (np.vstack([p["W_q"], p["W_k"], p["W_v"]]), np.hstack([p["b_q"], p["b_k"], p["b_v"]]), p["W_o"], p["b_o"])

    v = evaluate("05.4", no_transpose)
    assert v.status == "wrong" and "(out, in)" in v.hint


def test_05_4_out_proj_not_transposed_gets_hint():
    def out_kept(p):
        return (np.vstack([p["W_q"].T, p["W_k"].T, p["W_v"].T]), np.hstack([p["b_q"], p["b_k"], p["b_v"]]),
                p["W_o"], p["b_o"])

    v = evaluate("05.4", out_kept)
    assert v.status == "wrong" and "out_proj" in v.hint


def test_05_4_reference_really_loads_into_torch():
    import torch

    from utils.layers.multihead_numpy import init_mha_params, multi_head_attention

    p = init_mha_params(8, seed=0)
    w, b, wo, bo = get_exercise("05.4").reference(p)
    m = torch.nn.MultiheadAttention(8, 2, batch_first=True)
    m.load_state_dict({"in_proj_weight": torch.from_numpy(w), "in_proj_bias": torch.from_numpy(b),
                       "out_proj.weight": torch.from_numpy(wo), "out_proj.bias": torch.from_numpy(bo)})
    x = np.random.default_rng(0).normal(size=(1, 3, 8)).astype(np.float32)
    xt = torch.from_numpy(x)
    np.testing.assert_allclose(m(xt, xt, xt)[0].detach().numpy(), multi_head_attention(x, None, p, 2)[0], atol=1e-5)


def test_05_5_values():
    assert evaluate("05.5", 8 * (3 * (512 * 512 + 512)) + 8 * 512 * 512 + 512).status == "solved"
    assert evaluate("05.5", ...).status == "not attempted"
    v = evaluate("05.5", 4 * 512 * 512 + 4 * 512)
    assert v.status == "wrong" and "key_dim is per head" in v.hint
    v = evaluate("05.5", 4 * 8 * 512 * 512)
    assert v.status == "wrong" and "biases" in v.hint
