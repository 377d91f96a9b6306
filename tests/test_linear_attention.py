"""Linear attention: recurrent == parallel == chunked, Performer approximates softmax, frameworks agree."""

import numpy as np
import pytest
import torch

from utils.core.attention_numpy import causal_mask, scaled_dot_product_attention
from utils.core.frameworks import import_tensorflow
from utils.efficient.linear_attention_numpy import (
    causal_linear_attention,
    causal_linear_attention_chunked,
    causal_linear_attention_recurrent,
    elu_feature_map,
    linear_attention,
    performer_features,
    random_features,
)

tf = import_tensorflow()
from utils.efficient import linear_attention_tf as lat  # noqa: E402
from utils.efficient import linear_attention_torch as lap  # noqa: E402


def _data(n=13, d=4, seed=0):
    rng = np.random.default_rng(seed)
    return tuple(rng.normal(size=(2, n, d)) for _ in range(3))


def test_elu_feature_map():
    np.testing.assert_allclose(elu_feature_map(np.array([-1.0, 0.0, 2.0])), [np.exp(-1), 1.0, 3.0])


def test_noncausal_matches_explicit_formula():
    q, k, v = _data()
    fq, fk = elu_feature_map(q), elu_feature_map(k)
    a = fq @ np.swapaxes(fk, -1, -2)
    np.testing.assert_allclose(linear_attention(fq, fk, v), a @ v / a.sum(-1, keepdims=True), atol=1e-12)


@pytest.mark.parametrize("chunk", [1, 4, 13, 64])
def test_causal_recurrent_equals_parallel_equals_chunked(chunk):
    q, k, v = _data()
    fq, fk = elu_feature_map(q), elu_feature_map(k)
    par = causal_linear_attention(fq, fk, v)
    np.testing.assert_allclose(causal_linear_attention_recurrent(fq, fk, v), par, atol=1e-12)
    np.testing.assert_allclose(causal_linear_attention_chunked(fq, fk, v, chunk), par, atol=1e-12)
    got = lap.causal_linear_attention_chunked(*(torch.from_numpy(a) for a in (fq, fk, v)), chunk=chunk)
    np.testing.assert_allclose(got.numpy(), par, atol=1e-12)
    np.testing.assert_allclose(lat.causal_linear_attention_chunked(fq, fk, v, chunk=chunk).numpy(), par, atol=1e-12)


def test_causal_first_output_is_first_value():
    q, k, v = _data()
    out = causal_linear_attention_recurrent(elu_feature_map(q), elu_feature_map(k), v)
    np.testing.assert_allclose(out[:, 0], v[:, 0])


def test_performer_error_shrinks_with_more_features():
    q, k, v = (0.5 * a for a in _data(n=32, d=8, seed=1))
    exact, _ = scaled_dot_product_attention(q, k, v, causal_mask(32))
    errors = []
    for m in (8, 64, 1024):
        om = random_features(8, m, seed=0)
        approx = causal_linear_attention(performer_features(q, om, True), performer_features(k, om, False), v)
        errors.append(np.abs(approx - exact).mean())
    assert errors[2] < errors[1] < errors[0] and errors[2] < 0.05


def test_performer_kernel_estimate_is_unbiased():
    rng = np.random.default_rng(3)
    q, k = rng.normal(size=(1, 4)) * 0.7, rng.normal(size=(1, 4)) * 0.7
    om = random_features(4, 20000, seed=1, orthogonal=False)
    x, y = q / 4**0.25, k / 4**0.25
    est = np.exp(x @ om.T - (x**2).sum() / 2) @ np.exp(y @ om.T - (y**2).sum() / 2).T / 20000
    np.testing.assert_allclose(est[0, 0], np.exp(q @ k.T / 2)[0, 0], rtol=0.05)


def test_orthogonal_features_have_gaussian_norms_and_are_orthogonal_in_blocks():
    om = random_features(8, 8, seed=2)
    g = om @ om.T
    np.testing.assert_allclose(g - np.diag(np.diag(g)), 0, atol=1e-9)


def test_frameworks_agree():
    q, k, v = (a.astype(np.float32) for a in _data())
    fq, fk = elu_feature_map(q), elu_feature_map(k)
    for fn_np, fn_tf, fn_pt in ((linear_attention, lat.linear_attention, lap.linear_attention),
                                (causal_linear_attention, lat.causal_linear_attention, lap.causal_linear_attention)):
        ref = fn_np(fq, fk, v)
        np.testing.assert_allclose(fn_tf(lat.elu_feature_map(q), lat.elu_feature_map(k), v).numpy(), ref, atol=1e-5)
        pt = fn_pt(lap.elu_feature_map(torch.from_numpy(q)), lap.elu_feature_map(torch.from_numpy(k)), torch.from_numpy(v))
        np.testing.assert_allclose(pt.numpy(), ref, atol=1e-5)
    om = random_features(4, 16)
    for is_query in (True, False):
        ref = performer_features(q, om, is_query=is_query)
        np.testing.assert_allclose(lap.performer_features(torch.from_numpy(q), torch.from_numpy(om), is_query).numpy(),
                                   ref, atol=1e-5)
        np.testing.assert_allclose(lat.performer_features(q, om, is_query).numpy(), ref, atol=1e-5)


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="must share"):
        linear_attention(np.ones((3, 4)), np.ones((4, 4)), np.ones((4, 2)))
    with pytest.raises(ValueError, match="must share d"):
        performer_features(np.ones((3, 4)), np.ones((8, 5)), True)
