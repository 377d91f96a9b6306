"""Sliding-window and block-sparse attention: masks, and banded == masked full attention."""

import numpy as np
import pytest
import torch

from utils.core.attention_numpy import scaled_dot_product_attention
from utils.efficient.sparse_attention_numpy import (
    banded_attention,
    banded_score_count,
    block_sparse_mask,
    rolling_buffer_attention,
    sliding_window_mask,
)
from utils.efficient.sparse_attention_torch import banded_attention as banded_attention_torch


def test_sliding_window_mask():
    m = sliding_window_mask(6, 3)
    assert m.sum(axis=1).tolist() == [1, 2, 3, 3, 3, 3]
    assert m[5].tolist() == [False, False, False, True, True, True]
    assert not np.triu(m, 1).any()
    b = sliding_window_mask(6, 4, causal=False)
    assert b[3].tolist() == [False, True, True, True, True, True]
    np.testing.assert_array_equal(b, b.T)


def test_block_sparse_mask():
    m = block_sparse_mask(8, 2, n_global=1)
    assert m[:, 0].all()  # everyone sees the global token
    assert m[7].tolist() == [True, False, False, False, True, True, True, True]
    assert not np.triu(m, 1).any()
    full = block_sparse_mask(8, 2, n_global=1, causal=False)
    assert full[0].all() and full[5].tolist() == [True, False, True, True, True, True, True, True]


@pytest.mark.parametrize("n,window", [(1, 4), (7, 3), (16, 4), (33, 8), (10, 16), (100, 4)])
def test_banded_equals_masked_full(n, window):
    rng = np.random.default_rng(n)
    q, k, v = (rng.normal(size=(2, 3, n, 5)) for _ in range(3))
    ref, _ = scaled_dot_product_attention(q, k, v, sliding_window_mask(n, window))
    np.testing.assert_allclose(banded_attention(q, k, v, window), ref, atol=1e-12)
    got = banded_attention_torch(*(torch.from_numpy(a) for a in (q, k, v)), window)
    np.testing.assert_allclose(got.numpy(), ref, atol=1e-12)


def test_banded_differs_from_full_causal_when_window_is_short():
    rng = np.random.default_rng(0)
    q, k, v = (rng.normal(size=(12, 4)) for _ in range(3))
    full, _ = scaled_dot_product_attention(q, k, v, np.tril(np.ones((12, 12), bool)))
    assert np.abs(banded_attention(q, k, v, 3) - full).max() > 1e-3


def test_score_count_is_linear_in_n():
    assert banded_score_count(1024, 64) == 1024 * 128
    assert banded_score_count(2048, 64) == 2 * banded_score_count(1024, 64)
    assert banded_score_count(5, 4) == 2 * 4 * 8


def test_rolling_buffer_equals_sliding_window():
    rng = np.random.default_rng(5)
    q, k, v = (rng.normal(size=(20, 4)) for _ in range(3))
    out, buf = rolling_buffer_attention(q, k, v, 6)
    np.testing.assert_allclose(out, banded_attention(q, k, v, 6), atol=1e-12)
    assert buf.shape == (6, 4)
    np.testing.assert_array_equal(buf[19 % 6], k[19])


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="window must be a positive int"):
        sliding_window_mask(4, 0)
    with pytest.raises(ValueError, match="q and k must have equal shapes"):
        banded_attention(np.zeros((4, 3)), np.zeros((5, 3)), np.zeros((5, 3)), 2)


def test_masks_are_drawn_as_masks_and_weights_are_refused():
    import matplotlib

    matplotlib.use("Agg")
    from utils.efficient.long_context_diagrams import plot_masks

    fig = plot_masks(np.stack([sliding_window_mask(6, 2)]), ["w = 2"])
    assert fig.axes[0].images[0].get_cmap().N == 2                       # two colours, no colour bar
    with pytest.raises(ValueError, match="masks must be bool"):
        plot_masks(np.ones((1, 4, 4)), ["weights"])
