"""The NumPy reference: softmax, attention, masks, and the errors bad input gets."""

import numpy as np
import pytest

from utils.core.attention_numpy import (
    causal_mask,
    padding_mask,
    scaled_dot_product_attention,
    softmax,
)


def test_softmax_rows_sum_to_one_and_match_definition():
    x = np.random.default_rng(0).normal(size=(3, 5))
    expected = np.exp(x) / np.exp(x).sum(axis=-1, keepdims=True)
    np.testing.assert_allclose(softmax(x), expected, rtol=1e-12)
    np.testing.assert_allclose(softmax(x, axis=0).sum(axis=0), 1.0)


def test_softmax_is_stable_for_large_logits():
    out = softmax(np.array([1000.0, 1001.0, 1002.0]))
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out, softmax(np.array([0.0, 1.0, 2.0])))


def test_softmax_of_all_minus_inf_row_is_zero_not_nan():
    x = np.array([[0.0, 1.0], [-np.inf, -np.inf]])
    out = softmax(x)
    np.testing.assert_array_equal(out[1], [0.0, 0.0])
    assert np.isclose(out[0].sum(), 1.0)


def test_softmax_refuses_nan():
    with pytest.raises(ValueError, match="NaN"):
        softmax(np.array([1.0, np.nan]))


def _explicit_attention(q, k, v):
    scores = q @ k.T / np.sqrt(q.shape[-1])
    w = np.exp(scores) / np.exp(scores).sum(-1, keepdims=True)
    return w @ v, w


def test_attention_matches_the_formula():
    rng = np.random.default_rng(1)
    q, k, v = rng.normal(size=(4, 8)), rng.normal(size=(6, 8)), rng.normal(size=(6, 3))
    out, w = scaled_dot_product_attention(q, k, v)
    ref_out, ref_w = _explicit_attention(q, k, v)
    np.testing.assert_allclose(out, ref_out, rtol=1e-12)
    np.testing.assert_allclose(w, ref_w, rtol=1e-12)
    assert out.shape == (4, 3) and w.shape == (4, 6)


def test_attention_batched_heads_and_broadcast_mask():
    rng = np.random.default_rng(2)
    q = rng.normal(size=(2, 3, 5, 4)).astype(np.float32)
    mask = causal_mask(5)
    out, w = scaled_dot_product_attention(q, q, q, mask)
    assert out.dtype == np.float32 and w.shape == (2, 3, 5, 5)
    assert np.all(w[..., ~mask] == 0)
    np.testing.assert_allclose(w.sum(-1), 1.0, rtol=1e-6)
    # the first query may only attend to the first key, so its output is v[0]
    np.testing.assert_allclose(out[..., 0, :], q[..., 0, :], rtol=1e-6)


def test_fully_masked_row_gives_zero_output_and_weights():
    rng = np.random.default_rng(3)
    q, k, v = rng.normal(size=(3, 4)), rng.normal(size=(3, 4)), rng.normal(size=(3, 2))
    mask = np.array([[True, True, False], [False, False, False], [True, False, True]])
    out, w = scaled_dot_product_attention(q, k, v, mask)
    assert not np.isnan(out).any() and not np.isnan(w).any()
    np.testing.assert_array_equal(out[1], 0.0)
    np.testing.assert_array_equal(w[1], 0.0)
    np.testing.assert_allclose(w[[0, 2]].sum(-1), 1.0)


def test_float16_is_computed_in_float32():
    q = (np.random.default_rng(4).normal(size=(4, 8)) * 30).astype(np.float16)
    out, w = scaled_dot_product_attention(q, q, q)
    assert out.dtype == np.float32 and w.dtype == np.float32
    ref, _ = scaled_dot_product_attention(q.astype(np.float64), q.astype(np.float64), q.astype(np.float64))
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(
    "shapes, pattern",
    [
        (((4, 8), (5, 7), (5, 3)), r"same last dimension d_k; got q \(4, 8\), k \(5, 7\)"),
        (((4, 8), (5, 8), (6, 3)), r"same sequence length.*k \(5, 8\), v \(6, 3\)"),
        (((8,), (5, 8), (5, 3)), r"q must have at least 2 dimensions.*got q \(8\)"),
        (((2, 4, 8), (3, 5, 8), (3, 5, 3)), r"do not broadcast"),
    ],
)
def test_shape_errors_name_arguments_and_shapes(shapes, pattern):
    q, k, v = (np.zeros(s) for s in shapes)
    with pytest.raises(ValueError, match=pattern):
        scaled_dot_product_attention(q, k, v)


def test_mask_errors():
    q = np.zeros((4, 8))
    with pytest.raises(ValueError, match=r"mask of shape \(3, 4\) does not broadcast.*\(4, 4\)"):
        scaled_dot_product_attention(q, q, q, np.ones((3, 4), dtype=bool))
    with pytest.raises(ValueError, match="mask must be boolean"):
        scaled_dot_product_attention(q, q, q, np.ones((4, 4)))
    with pytest.raises(ValueError, match="q contains NaN"):
        scaled_dot_product_attention(np.full((4, 8), np.nan), q, q)


def test_causal_mask():
    np.testing.assert_array_equal(causal_mask(3), [[1, 0, 0], [1, 1, 0], [1, 1, 1]])
    # with 2 cached keys, query 0 is position 2 and sees keys 0..2
    np.testing.assert_array_equal(causal_mask(2, 4), [[1, 1, 1, 0], [1, 1, 1, 1]])
    with pytest.raises(ValueError, match="n must be a positive int"):
        causal_mask(0)
    with pytest.raises(ValueError, match="m .* must be >= n"):
        causal_mask(4, 2)


def test_padding_mask():
    np.testing.assert_array_equal(padding_mask(np.array([2, 0, 3]), 3), [[1, 1, 0], [0, 0, 0], [1, 1, 1]])
    with pytest.raises(ValueError, match="lengths must lie in"):
        padding_mask(np.array([4]), 3)
    with pytest.raises(ValueError, match="1-D integer array"):
        padding_mask(np.array([1.5]), 3)


@pytest.mark.parametrize("framework", ["numpy", "torch", "tensorflow"])
def test_empty_sequences_are_supported_in_every_framework(framework):
    import importlib

    module = {"numpy": "utils.core.attention_numpy", "torch": "utils.core.attention_torch",
              "tensorflow": "utils.core.attention_tf"}[framework]
    sdpa = importlib.import_module(module).scaled_dot_product_attention
    q = np.ones((2, 4), np.float32)
    out, w = sdpa(q, np.zeros((0, 4), np.float32), np.zeros((0, 3), np.float32))  # no keys: nothing to attend to
    assert np.asarray(w).shape == (2, 0) and np.asarray(out).tolist() == [[0.0] * 3] * 2
    out, w = sdpa(q[:0], q, np.ones((2, 3), np.float32))  # no queries: an empty output
    assert np.asarray(out).shape == (0, 3) and np.asarray(w).shape == (0, 2)
