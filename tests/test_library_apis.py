"""Mask converters, the future-leak test, the SDPA backend inspector and the profiling helpers."""


import numpy as np
import pytest

from utils.core.attention_numpy import causal_mask, padding_mask, scaled_dot_product_attention
from utils.core.frameworks import import_tensorflow, to_numpy
from utils.layers.library_apis import (
    future_leaks,
    sdpa_backend,
    swap_heads_and_seq,
    tf_op_table,
    to_additive_mask,
    to_keras_mask,
    to_torch_key_padding_mask,
    to_torch_mha_mask,
    torch_op_table,
)
from utils.layers.library_layers import make_keras_mha, make_torch_mha
from utils.layers.multihead_numpy import init_mha_params, multi_head_attention

tf = import_tensorflow()
torch = pytest.importorskip("torch")
F = torch.nn.functional


def _x(seed=0, shape=(2, 5, 8)):
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


def _mixed_mask(batch=2, n=5):
    """Causal and padded, different per batch element, no fully masked row."""
    return causal_mask(n)[None, None] & padding_mask(np.array([n, 3]), n)[:, None, None, :]


# ---------------------------------------------------------------- converters give the reference's result


def test_to_keras_mask_then_keras_mha_equals_reference():
    params, x = init_mha_params(8, seed=1), _x()
    mask = _mixed_mask()
    expected, weights = multi_head_attention(x, None, params, n_heads=2, mask=mask)
    out, w = make_keras_mha(params, 2)(x, x, attention_mask=to_keras_mask(mask), return_attention_scores=True)
    np.testing.assert_allclose(to_numpy(out), expected, atol=1e-5)
    np.testing.assert_allclose(to_numpy(w), weights, atol=1e-6)  # "scores" are post-softmax weights
    # the inverted mask gives a different answer: polarity matters
    bad = make_keras_mha(params, 2)(x, x, attention_mask=~to_keras_mask(mask) | np.eye(5, dtype=bool))
    assert np.abs(to_numpy(bad) - expected).max() > 1e-2


def test_to_keras_mask_shapes_and_errors():
    m = causal_mask(4)
    assert to_keras_mask(m).shape == (1, 4, 4)
    assert to_keras_mask(m, batch_size=3).shape == (3, 4, 4)
    assert to_keras_mask(np.stack([m, m])[:, None]).shape == (2, 4, 4)
    np.testing.assert_array_equal(to_keras_mask(m)[0], m)  # same polarity, not inverted
    per_head = np.stack([m, ~m])[None]  # (1, 2, 4, 4), heads differ
    with pytest.raises(ValueError, match="one mask to all heads"):
        to_keras_mask(per_head)
    with pytest.raises(ValueError, match="must be boolean"):
        to_keras_mask(m.astype(np.float32))
    with pytest.raises(ValueError, match="batch_size=3"):
        to_keras_mask(np.stack([m, m]), batch_size=3)


@pytest.mark.parametrize("kind", ["2d", "batch", "per-head"])
def test_to_torch_mha_mask_then_torch_mha_equals_reference(kind):
    params, x = init_mha_params(8, seed=2), _x(1)
    if kind == "2d":
        mask = causal_mask(5)
    elif kind == "batch":
        mask = _mixed_mask()
    else:  # different per head, so batch-major vs head-major ordering matters
        mask = np.stack([causal_mask(5), causal_mask(5).T])[None] & _mixed_mask()
    expected, _ = multi_head_attention(x, None, params, n_heads=2, mask=mask)
    module = make_torch_mha(params, 2)
    xt = torch.from_numpy(x)
    with torch.no_grad():
        out, _ = module(xt, xt, xt, attn_mask=to_torch_mha_mask(mask, n_heads=2), need_weights=False)
    np.testing.assert_allclose(out.numpy(), expected, atol=1e-5)


def test_to_torch_mha_mask_inverts_and_checks_shapes():
    m = causal_mask(3)
    got = to_torch_mha_mask(m)
    assert got.dtype == torch.bool and torch.equal(got, torch.from_numpy(~m))
    assert tuple(to_torch_mha_mask(np.stack([m, m]), n_heads=4).shape) == (8, 3, 3)
    with pytest.raises(ValueError, match="needs n_heads"):
        to_torch_mha_mask(np.stack([m, m]))
    with pytest.raises(ValueError, match="n_heads=3"):
        to_torch_mha_mask(np.ones((1, 2, 3, 3), bool), n_heads=3)
    with pytest.raises(ValueError, match="must be boolean"):
        to_torch_mha_mask(np.ones((3, 3), np.int64))


def test_key_padding_mask_equals_reference():
    params, x = init_mha_params(8, seed=3), _x(2)
    keys = padding_mask(np.array([5, 2]), 5)  # (batch, n_k), True = real token
    expected, _ = multi_head_attention(x, None, params, n_heads=2, mask=keys[:, None, None, :])
    xt = torch.from_numpy(x)
    with torch.no_grad():
        out, _ = make_torch_mha(params, 2)(xt, xt, xt, key_padding_mask=to_torch_key_padding_mask(keys))
    np.testing.assert_allclose(out.numpy(), expected, atol=1e-5)
    with pytest.raises(ValueError, match=r"\(batch, n_k\)"):
        to_torch_key_padding_mask(keys[0])


def test_additive_mask_in_sdpa_equals_bool_mask_and_01_float_does_not():
    q, k, v = (_x(s, (1, 2, 5, 4)) for s in range(3))
    mask = causal_mask(5)
    expected, _ = scaled_dot_product_attention(q, k, v, mask)
    add = to_additive_mask(mask)
    assert add.dtype == np.float32 and (add[mask] == 0).all() and np.isneginf(add[~mask]).all()
    t = [torch.from_numpy(a) for a in (q, k, v)]
    got = F.scaled_dot_product_attention(*t, attn_mask=torch.from_numpy(add))
    np.testing.assert_allclose(got.numpy(), expected, atol=1e-5)
    wrong = F.scaled_dot_product_attention(*t, attn_mask=torch.from_numpy(mask.astype(np.float32)))
    assert np.abs(wrong.numpy() - expected).max() > 1e-2  # 0/1 floats are added, not masked


def test_swap_heads_and_seq_matches_keras_ops_layout():
    import keras

    q, k, v = (_x(s, (2, 3, 5, 4)) for s in range(3))  # (batch, heads, seq, d_head)
    expected, _ = scaled_dot_product_attention(q, k, v, causal_mask(5))
    got = keras.ops.dot_product_attention(*(swap_heads_and_seq(a) for a in (q, k, v)), is_causal=True)
    np.testing.assert_allclose(swap_heads_and_seq(got), expected, atol=1e-5)
    assert swap_heads_and_seq(q).shape == (2, 5, 3, 4)
    with pytest.raises(ValueError, match="4 dimensions"):
        swap_heads_and_seq(q[0])


# ---------------------------------------------------------------- the future-leak test


def _sdpa_layer(mask):
    def attend(x):
        t = torch.from_numpy(x)
        return F.scaled_dot_product_attention(t, t, t, attn_mask=None if mask is None else torch.from_numpy(mask))
    return attend


def test_future_leaks_passes_a_causal_layer():
    assert future_leaks(_sdpa_layer(causal_mask(6))) == []
    assert future_leaks(lambda x: scaled_dot_product_attention(x, x, x, causal_mask(6))[0]) == []


def test_future_leaks_catches_the_inverted_mask():
    # nn.MultiheadAttention's causal mask (True = blocked) passed to SDPA (True = attend)
    inverted = np.triu(np.ones((6, 6), bool), k=1)
    leaks = future_leaks(_sdpa_layer(inverted))
    assert leaks and all(j > i for i, j in leaks)
    assert (0, 5) in leaks and len(leaks) == 15  # every earlier position sees the future
    assert len(future_leaks(_sdpa_layer(None))) == 15  # no mask at all: also caught


def test_future_leaks_catches_an_off_by_one_mask():
    leaky = np.tril(np.ones((6, 6), bool), k=1)  # each query also sees the next token
    assert future_leaks(_sdpa_layer(leaky)) == [(i, i + 1) for i in range(5)]


def test_future_leaks_refuses_nan():
    params = init_mha_params(4, seed=0)
    module = make_torch_mha(params, 1)

    def attend(x):  # course mask passed raw to nn.MultiheadAttention: last row fully blocked -> NaN
        t = torch.from_numpy(x)
        with torch.no_grad():
            return module(t, t, t, attn_mask=torch.from_numpy(causal_mask(6)))[0]

    with pytest.raises(ValueError, match="NaN"):
        future_leaks(attend)
    with pytest.raises(ValueError, match="seq_len"):
        future_leaks(attend, seq_len=1)


# ---------------------------------------------------------------- backends and profiling


def test_sdpa_backend_reports_the_kernel_that_ran():
    from torch.nn.attention import SDPBackend, sdpa_kernel

    q = torch.randn(1, 2, 16, 8)
    assert sdpa_backend(q, q, q) in {"FLASH_ATTENTION", "MATH", "EFFICIENT_ATTENTION", "CUDNN_ATTENTION"}
    with sdpa_kernel(SDPBackend.MATH):
        assert sdpa_backend(q, q, q) == "MATH"
        assert sdpa_backend(q, q, q, is_causal=True) == "MATH"


def test_torch_op_table_counts_the_math_kernels():
    from torch.nn.attention import SDPBackend, sdpa_kernel

    q = torch.randn(1, 2, 16, 8)
    with sdpa_kernel(SDPBackend.MATH):
        rows = torch_op_table(F.scaled_dot_product_attention, q, q, q)
    calls = {r.name: r.calls for r in rows}
    assert calls["aten::bmm"] == 2  # QKᵀ and (weights)V
    assert calls["aten::_scaled_dot_product_attention_math"] == 1
    assert all(r.self_us >= 0 for r in rows)
    assert [r.self_us for r in rows] == sorted((r.self_us for r in rows), reverse=True)


def test_tf_op_table_counts_kernels_per_run():
    @tf.function
    def attention(q, k, v):
        return tf.matmul(tf.nn.softmax(tf.matmul(q, k, transpose_b=True) / 2.0), v)

    x = tf.random.normal((1, 2, 16, 4))
    attention(x, x, x)
    rows = tf_op_table(attention, x, x, x, runs=3)
    calls = {r.name: r.calls for r in rows}
    matmuls = sum(c for name, c in calls.items() if "BatchMatMul" in name)
    softmaxes = sum(c for name, c in calls.items() if "Softmax" in name)
    assert matmuls == 6 and softmaxes == 3, calls
