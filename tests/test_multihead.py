"""Multi-head attention: NumPy reference == TF layer == PyTorch module == the libraries' own layers."""

import numpy as np
import pytest
import torch

from utils.core.attention_numpy import causal_mask, scaled_dot_product_attention
from utils.core.frameworks import import_tensorflow
from utils.layers.library_apis import to_keras_mask, to_torch_mha_mask
from utils.layers.library_layers import (
    keras_mha_weights,
    make_keras_mha,
    make_torch_mha,
    torch_mha_state,
)
from utils.layers.multihead_numpy import (
    attention_dropout,
    init_mha_params,
    merge_heads,
    mha_param_count,
    multi_head_attention,
    split_heads,
)

tf = import_tensorflow()
from utils.layers import multihead_tf, multihead_torch  # noqa: E402

D, H = 16, 4


@pytest.fixture
def data():
    rng = np.random.default_rng(3)
    return (init_mha_params(D, seed=1), rng.normal(size=(2, 5, D)).astype(np.float32),
            rng.normal(size=(2, 7, D)).astype(np.float32))


def _layers(params, causal=False):
    lt = multihead_tf.MultiHeadAttention(D, H, causal=causal)
    lt.load_numpy_params(params)
    lp = multihead_torch.MultiHeadAttention(D, H, causal=causal)
    lp.load_numpy_params(params)
    return lt, lp


def test_split_merge_shapes_and_inverse():
    x = np.arange(2 * 3 * 8, dtype=np.float32).reshape(2, 3, 8)
    s = split_heads(x, 2)
    assert s.shape == (2, 2, 3, 4)
    np.testing.assert_array_equal(s[:, 1], x[:, :, 4:])  # head 1 = the second block of columns
    np.testing.assert_array_equal(merge_heads(s), x)
    for mod, conv in ((multihead_tf, tf.constant), (multihead_torch, torch.from_numpy)):
        np.testing.assert_array_equal(np.asarray(mod.split_heads(conv(x), 2)), s)
        np.testing.assert_array_equal(np.asarray(mod.merge_heads(conv(s))), x)


def test_numpy_mha_matches_per_head_loop(data):
    params, x, y = data
    out, w = multi_head_attention(x, y, params, H)
    d_head = D // H
    heads = []
    for h in range(H):
        cols = slice(h * d_head, (h + 1) * d_head)
        q = x @ params["W_q"][:, cols] + params["b_q"][cols]
        k = y @ params["W_k"][:, cols] + params["b_k"][cols]
        v = y @ params["W_v"][:, cols] + params["b_v"][cols]
        o, wh = scaled_dot_product_attention(q, k, v)
        np.testing.assert_allclose(w[:, h], wh, atol=1e-6)
        heads.append(o)
    np.testing.assert_allclose(out, np.concatenate(heads, -1) @ params["W_o"] + params["b_o"], atol=1e-5)


def test_three_frameworks_equal(data):
    params, x, y = data
    lt, lp = _layers(params)
    out, w = multi_head_attention(x, y, params, H)
    ot, wt = lt(x, y, return_weights=True)
    op, wp = lp(torch.from_numpy(x), torch.from_numpy(y), return_weights=True)
    assert out.shape == (2, 5, D) and w.shape == (2, H, 5, 7)
    for a, b in ((out, ot), (out, op), (w, wt), (w, wp)):
        assert np.abs(a - np.asarray(b.detach() if hasattr(b, "detach") else b)).max() <= 1e-5


def test_library_layers_equal(data):
    params, x, y = data
    out, w = multi_head_attention(x, y, params, H)
    ok, wk = make_keras_mha(params, H)(x, y, return_attention_scores=True)
    tm = make_torch_mha(params, H)
    ot, wt = tm(*(torch.from_numpy(a) for a in (x, y, y)), average_attn_weights=False)
    np.testing.assert_allclose(ok.numpy(), out, atol=1e-5)
    np.testing.assert_allclose(wk.numpy(), w, atol=1e-5)
    np.testing.assert_allclose(ot.detach().numpy(), out, atol=1e-5)
    np.testing.assert_allclose(wt.detach().numpy(), w, atol=1e-5)


def test_library_layouts():
    params = init_mha_params(8, seed=0)
    kw = keras_mha_weights(params, 2)
    assert [a.shape for a in kw] == [(8, 2, 4), (2, 4)] * 3 + [(2, 4, 8), (8,)]
    st = torch_mha_state(params)
    assert st["in_proj_weight"].shape == (24, 8)
    np.testing.assert_array_equal(st["in_proj_weight"][8:16], params["W_k"].T)


def test_causal_and_mask_conversions(data):
    params, x, _ = data
    lt, lp = _layers(params, causal=True)
    out, w = multi_head_attention(x, None, params, H, causal=True)
    assert np.all(w[..., np.triu_indices(5, 1)[0], np.triu_indices(5, 1)[1]] == 0)
    out2, _ = multi_head_attention(x, None, params, H, mask=causal_mask(5))
    np.testing.assert_array_equal(out, out2)
    np.testing.assert_allclose(lt(x).numpy(), out, atol=1e-5)
    np.testing.assert_allclose(lp(torch.from_numpy(x)).detach().numpy(), out, atol=1e-5)
    # changing a future token does not change earlier outputs
    x2 = x.copy()
    x2[:, -1] += 1.0
    np.testing.assert_allclose(multi_head_attention(x2, None, params, H, causal=True)[0][:, :-1], out[:, :-1], atol=1e-6)
    km = make_keras_mha(params, H)
    np.testing.assert_allclose(km(x, x, attention_mask=to_keras_mask(causal_mask(5), batch_size=2)).numpy(), out, atol=1e-5)
    tm = make_torch_mha(params, H)
    xt = torch.from_numpy(x)
    ot, _ = tm(xt, xt, xt, attn_mask=to_torch_mha_mask(causal_mask(5)))
    np.testing.assert_allclose(ot.detach().numpy(), out, atol=1e-5)
    assert to_torch_mha_mask(causal_mask(3))[0, 1] and not to_torch_mha_mask(causal_mask(3))[1, 0]


def test_padding_mask_fully_masked_rows_are_zero(data):
    params, x, y = data
    mask = np.zeros((2, 1, 1, 7), dtype=bool)
    mask[0, ..., :3] = True
    out, w = multi_head_attention(x, y, params, H, mask=mask)
    assert np.all(w[0, ..., 3:] == 0) and np.all(w[1] == 0) and np.isfinite(out).all()
    np.testing.assert_allclose(out[1], np.broadcast_to(params["b_o"], (5, D)), atol=1e-6)  # zero heads: only b_o
    lt, lp = _layers(params)
    np.testing.assert_allclose(lt(x, y, mask=mask).numpy(), out, atol=1e-5)
    np.testing.assert_allclose(lp(torch.from_numpy(x), torch.from_numpy(y), mask=torch.from_numpy(mask)).detach().numpy(),
                               out, atol=1e-5)


def test_tf_and_torch_gradients_equal(data):
    params, x, y = data
    lt, lp = _layers(params, causal=True)
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        loss = tf.reduce_sum(lt(xt) ** 2)
    g_tf = tape.gradient(loss, [xt, lt.W_q, lt.W_o, lt.b_k])
    xp = torch.from_numpy(x).requires_grad_(True)
    (lp(xp) ** 2).sum().backward()
    g_torch = [xp.grad, lp.W_q.grad, lp.W_o.grad, lp.b_k.grad]
    for a, b in zip(g_tf, g_torch):
        assert np.abs(a.numpy() - b.numpy()).max() <= 1e-4 * max(1.0, np.abs(b.numpy()).max())
        assert np.abs(b.numpy()).max() > 0


def test_dropout_only_in_training(data):
    params, x, _ = data
    lt = multihead_tf.MultiHeadAttention(D, H, dropout=0.5)
    lt.load_numpy_params(params)
    lp = multihead_torch.MultiHeadAttention(D, H, dropout=0.5)
    lp.load_numpy_params(params)
    out, _ = multi_head_attention(x, None, params, H)
    np.testing.assert_allclose(lt(x, training=False).numpy(), out, atol=1e-5)
    lp.eval()
    np.testing.assert_allclose(lp(torch.from_numpy(x)).detach().numpy(), out, atol=1e-5)
    assert np.abs(lt(x, training=True).numpy() - out).max() > 1e-3
    lp.train()
    assert np.abs(lp(torch.from_numpy(x)).detach().numpy() - out).max() > 1e-3
    w = np.full((1000,), 0.5)
    d = attention_dropout(w, 0.2, np.random.default_rng(0))
    assert set(np.unique(d)) == {0.0, 0.625} and abs(d.mean() - 0.5) < 0.05


def test_param_count():
    assert mha_param_count(512, 8) == 4 * 512 * 512 + 4 * 512
    assert mha_param_count(512, 8, key_dim=512) == 8 * 4 * 512 * 512 + 3 * 8 * 512 + 512
    km = make_keras_mha(init_mha_params(16, 0), 4)
    assert km.count_params() == mha_param_count(16, 4)


@pytest.mark.parametrize("call", [
    lambda p, x: multi_head_attention(x[0], None, p, H),  # 2-D input
    lambda p, x: multi_head_attention(x, None, p, 3),  # 16 not divisible by 3
    lambda p, x: multi_head_attention(x, x[:, :, :8], p, H),  # wrong d_model for x_kv
    lambda p, x: multi_head_attention(x, None, p, H, mask=np.ones((2, 5, 5), bool)),  # ambiguous 3-D mask
    lambda p, x: multi_head_attention(x, None, p, H, mask=np.ones((5, 4), bool)),  # wrong n_k
    lambda p, x: multi_head_attention(x, None, {k: v for k, v in p.items() if k != "b_o"}, H),
    lambda p, x: split_heads(x[0], H),
    lambda p, x: merge_heads(x),
    lambda p, x: multihead_tf.MultiHeadAttention(D, H)(x[0]),
    lambda p, x: multihead_torch.MultiHeadAttention(D, H)(torch.from_numpy(x[0])),
    lambda p, x: multihead_torch.MultiHeadAttention(D, 5),
    lambda p, x: multihead_torch.MultiHeadAttention(8, 2).load_numpy_params(p),
])
def test_bad_input_raises_value_error(data, call):
    params, x, _ = data
    with pytest.raises(ValueError):
        call(params, x)
