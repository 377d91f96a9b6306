"""TensorFlow banded attention: equal to NumPy masked full attention and to NumPy's banded version."""

import numpy as np
import pytest

from utils.core.attention_numpy import scaled_dot_product_attention
from utils.core.frameworks import import_tensorflow
from utils.efficient.sparse_attention_numpy import banded_attention, sliding_window_mask
from utils.efficient.sparse_attention_tf import banded_attention as banded_attention_tf

tf = import_tensorflow()


@pytest.mark.parametrize("n,window", [(1, 4), (7, 3), (16, 4), (33, 8), (10, 16), (100, 4)])
def test_banded_tf_equals_masked_full_float64(n, window):
    rng = np.random.default_rng(n)
    q, k, v = (rng.normal(size=(2, 3, n, 5)) for _ in range(3))
    ref, _ = scaled_dot_product_attention(q, k, v, sliding_window_mask(n, window))
    got = banded_attention_tf(*(tf.constant(a) for a in (q, k, v)), window)
    assert got.dtype == tf.float64 and got.shape == (2, 3, n, 5)
    np.testing.assert_allclose(got.numpy(), ref, atol=1e-12)


def test_banded_tf_float32_equals_numpy_banded_and_differs_from_full_causal():
    rng = np.random.default_rng(1)
    q, k, v = (rng.normal(size=(4, 50, 8)).astype(np.float32) for _ in range(3))
    v = np.concatenate([v, v[..., :2]], axis=-1)                      # d_v = 10 differs from d = 8
    got = banded_attention_tf(q, k, v, 6).numpy()
    assert got.dtype == np.float32 and got.shape == (4, 50, 10)
    np.testing.assert_allclose(got, banded_attention(q, k, v, 6), atol=1e-5)
    full, _ = scaled_dot_product_attention(q, k, v, np.tril(np.ones((50, 50), bool)))
    assert np.abs(got - full).max() > 1e-2


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match=r"q and k must have equal shapes.*got q \(4, 3\), k \(5, 3\)"):
        banded_attention_tf(np.zeros((4, 3)), np.zeros((5, 3)), np.zeros((5, 3)), 2)
    with pytest.raises(ValueError, match=r"v \(5, 3\)"):
        banded_attention_tf(np.zeros((4, 3)), np.zeros((4, 3)), np.zeros((5, 3)), 2)
    with pytest.raises(ValueError, match="q and k must have equal shapes"):
        banded_attention_tf(np.zeros(4), np.zeros(4), np.zeros(4), 2)
    with pytest.raises(ValueError, match="window must be a positive int, got 0"):
        banded_attention_tf(np.zeros((4, 3)), np.zeros((4, 3)), np.zeros((4, 3)), 0)
