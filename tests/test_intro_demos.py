"""Unit tests for utils.demos.intro_demos (chapters 01 and 02)."""

from __future__ import annotations

import numpy as np
import pytest

from utils.core.attention_numpy import softmax
from utils.demos.intro_demos import (
    attention_readout,
    gaussian_kernel,
    gaussian_kernel_scores,
    make_regression_data,
    make_retrieval_batch,
    mean_value_summary,
    nadaraya_watson,
    outer_product_summary,
    read_outer_product_summary,
    regression_target,
    retrieval_accuracy,
    retrieval_accuracy_by_length,
)


def test_retrieval_batch_shapes_and_queries_are_target_keys():
    q, k, v, t = make_retrieval_batch(5, 7, 4, d_v=3, seed=1)
    assert q.shape == (5, 4) and k.shape == (5, 7, 4) and v.shape == (5, 7, 3) and t.shape == (5,)
    np.testing.assert_array_equal(q, k[np.arange(5), t])
    np.testing.assert_allclose(np.linalg.norm(v, axis=-1), 1.0)
    assert np.all((t >= 0) & (t < 7))


def test_retrieval_batch_is_seeded():
    a = make_retrieval_batch(3, 4, 2, seed=7)
    b = make_retrieval_batch(3, 4, 2, seed=7)
    c = make_retrieval_batch(3, 4, 2, seed=8)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[1], c[1])


@pytest.mark.parametrize("kwargs", [dict(batch=0, seq_len=3, d_k=2), dict(batch=2, seq_len=-1, d_k=2),
                                    dict(batch=2, seq_len=3, d_k=2.5)])
def test_retrieval_batch_rejects_bad_sizes(kwargs):
    with pytest.raises(ValueError):
        make_retrieval_batch(**kwargs)


def test_mean_value_summary_is_mean_over_positions():
    v = np.arange(12.0).reshape(2, 3, 2)
    np.testing.assert_allclose(mean_value_summary(v), [[2.0, 3.0], [8.0, 9.0]])
    with pytest.raises(ValueError, match="values"):
        mean_value_summary(np.ones((3, 2)))


def test_outer_product_summary_matches_loop_and_reads_back_single_pair():
    rng = np.random.default_rng(0)
    k, v = rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 3, 5))
    loop = np.stack([sum(np.outer(k[b, i], v[b, i]) for i in range(3)) / 3 for b in range(2)])
    m = outer_product_summary(k, v)
    assert m.shape == (2, 4, 5)
    np.testing.assert_allclose(m, loop)
    # one pair with a unit key: reading with that key returns exactly its value
    key = np.array([[[0.0, 1.0, 0.0]]])
    val = np.array([[[2.0, -1.0]]])
    np.testing.assert_allclose(read_outer_product_summary(outer_product_summary(key, val), key[:, 0]), val[:, 0])
    with pytest.raises(ValueError, match="keys"):
        outer_product_summary(k, v[:, :2])
    with pytest.raises(ValueError, match="summary"):
        read_outer_product_summary(m, np.ones((2, 5)))


def test_attention_readout_matches_explicit_formula():
    rng = np.random.default_rng(1)
    q, k, v = rng.normal(size=(3, 4)), rng.normal(size=(3, 6, 4)), rng.normal(size=(3, 6, 2))
    w = softmax(np.einsum("bd,bnd->bn", q, k) / 2.0, axis=-1)  # √d_k = 2
    np.testing.assert_allclose(attention_readout(q, k, v), np.einsum("bn,bnv->bv", w, v))
    with pytest.raises(ValueError, match="queries"):
        attention_readout(q[:, :3], k, v)


def test_retrieval_accuracy_counts_nearest_value():
    values = np.array([[[1.0, 0.0], [0.0, 1.0]], [[1.0, 0.0], [0.0, 1.0]]])
    predicted = np.array([[0.9, 0.1], [0.9, 0.1]])
    assert retrieval_accuracy(predicted, values, np.array([0, 1])) == 0.5
    assert retrieval_accuracy(predicted, values, np.array([0, 0])) == 1.0
    with pytest.raises(ValueError, match="targets"):
        retrieval_accuracy(predicted, values, np.array([0]))


def test_bottleneck_claim_holds():
    """The chapter's claim: attention keeps working at long lengths, fixed-size summaries do not."""
    acc = retrieval_accuracy_by_length([4, 256], d_k=32, batch=100, seed=0)
    assert acc["attention"][-1] >= 0.95
    assert acc["outer-product memory"][0] == 1.0 and acc["outer-product memory"][-1] < 0.3
    assert acc["mean of values"][-1] < 0.05


def test_kernel_scores_and_kernel():
    s = gaussian_kernel_scores(np.array([0.0, 1.0]), np.array([0.0, 2.0]), sigma=0.5)
    np.testing.assert_allclose(s, [[0.0, -8.0], [-2.0, -2.0]])
    np.testing.assert_allclose(gaussian_kernel(np.array([0.0]), 1.0), [1 / np.sqrt(2 * np.pi)])
    with pytest.raises(ValueError, match="sigma"):
        gaussian_kernel_scores(np.zeros(2), np.zeros(2), sigma=0.0)
    with pytest.raises(ValueError, match="1-D"):
        gaussian_kernel_scores(np.zeros((2, 1)), np.zeros(2), sigma=1.0)


def test_nadaraya_watson_equals_softmax_form_and_limits():
    x, y = make_regression_data(30, seed=2)
    xq = np.linspace(0, 5, 11)
    y_hat, w = nadaraya_watson(xq, x, y, sigma=0.4)
    np.testing.assert_allclose(w, softmax(gaussian_kernel_scores(xq, x, 0.4), axis=-1), atol=1e-12)
    np.testing.assert_allclose(w.sum(axis=1), 1.0)
    # a huge width averages everything; a tiny width returns the nearest training label
    np.testing.assert_allclose(nadaraya_watson(xq, x, y, sigma=1e4)[0], y.mean(), rtol=1e-6)
    grid = np.arange(5.0)
    np.testing.assert_allclose(nadaraya_watson(grid + 0.2, grid, y[:5], sigma=0.05)[0], y[:5], atol=1e-9)


def test_nadaraya_watson_errors():
    x = np.array([0.0, 1.0])
    with pytest.raises(ValueError, match="underflows"):
        nadaraya_watson(np.array([0.5]), x, np.ones(2), sigma=1e-3)
    with pytest.raises(ValueError, match="y_train"):
        nadaraya_watson(np.array([0.5]), x, np.ones(3), sigma=1.0)


def test_regression_data():
    x, y = make_regression_data(25, noise=0.0, seed=3)
    assert x.shape == y.shape == (25,) and np.all(np.diff(x) >= 0) and x.min() >= 0 and x.max() < 5
    np.testing.assert_allclose(y, regression_target(x))
    with pytest.raises(ValueError, match="n must"):
        make_regression_data(0)
