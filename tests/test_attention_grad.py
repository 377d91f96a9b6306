"""Unit tests for utils.core.attention_grad_numpy: the hand-written backward pass of attention."""

from __future__ import annotations

import numpy as np
import pytest

from utils.core.attention_grad_numpy import (
    attention_backward,
    attention_gradient_check,
    numerical_gradient,
    softmax_backward,
)
from utils.core.attention_numpy import causal_mask, scaled_dot_product_attention, softmax


def _qkv(seed=0, lead=(2,), n_q=4, n_k=5, d_k=3, d_v=2):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(*lead, n_q, d_k)), rng.normal(size=(*lead, n_k, d_k)),
            rng.normal(size=(*lead, n_k, d_v)))


def test_numerical_gradient_of_known_function():
    x = np.array([1.0, -2.0, 3.0])
    np.testing.assert_allclose(numerical_gradient(lambda z: np.sum(z**3), x), 3 * x**2, rtol=1e-6)
    with pytest.raises(ValueError, match="eps"):
        numerical_gradient(lambda z: 0.0, x, eps=0)


def test_softmax_backward_matches_jacobian():
    rng = np.random.default_rng(1)
    s, g = rng.normal(size=5), rng.normal(size=5)
    p = softmax(s)
    jac = np.diag(p) - np.outer(p, p)  # ∂p_i/∂s_j
    np.testing.assert_allclose(softmax_backward(p, g), jac.T @ g, atol=1e-12)
    # the gradient of a softmax is orthogonal to the all-ones direction (adding c to every score changes nothing)
    assert abs(softmax_backward(p, g).sum()) < 1e-12
    with pytest.raises(ValueError, match="same shape"):
        softmax_backward(p, g[:3])


@pytest.mark.parametrize("use_mask", [False, True])
def test_attention_backward_matches_finite_differences(use_mask):
    q, k, v = _qkv()
    mask = None
    if use_mask:
        mask = np.ones((4, 5), dtype=bool)
        mask[2] = False  # a fully masked row
        mask[0, 3:] = False
    errors = attention_gradient_check(q, k, v, mask)
    assert max(errors.values()) < 1e-7, errors


def test_attention_backward_matches_torch_autograd():
    torch = pytest.importorskip("torch")
    q, k, v = _qkv(seed=3, lead=(2, 3), n_q=6, n_k=6)
    mask = causal_mask(6)
    d_out = np.random.default_rng(4).normal(size=(2, 3, 6, 2))
    tq, tk, tv = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
    scores = tq @ tk.transpose(-2, -1) / np.sqrt(3)
    out = torch.softmax(scores.masked_fill(~torch.tensor(mask), float("-inf")), dim=-1) @ tv
    (out * torch.tensor(d_out)).sum().backward()
    for ours, t in zip(attention_backward(d_out, q, k, v, mask), (tq, tk, tv)):
        np.testing.assert_allclose(ours, t.grad.numpy(), atol=1e-12)


def test_fully_masked_row_has_zero_gradient_and_no_nan():
    q, k, v = _qkv(lead=())
    mask = np.ones((4, 5), dtype=bool)
    mask[1] = False
    d_q, d_k, d_v = attention_backward(np.ones((4, 2)), q, k, v, mask)
    assert np.all(np.isfinite(d_q)) and np.all(np.isfinite(d_k)) and np.all(np.isfinite(d_v))
    np.testing.assert_array_equal(d_q[1], 0.0)


def test_masked_keys_get_no_gradient():
    q, k, v = _qkv(lead=())
    mask = np.ones((4, 5), dtype=bool)
    mask[:, 4] = False  # nobody attends to key 4
    d_q, d_k, d_v = attention_backward(np.ones((4, 2)), q, k, v, mask)
    np.testing.assert_array_equal(d_k[4], 0.0)
    np.testing.assert_array_equal(d_v[4], 0.0)
    assert np.abs(d_k[:4]).max() > 0


def test_broadcast_inputs_get_gradients_of_their_own_shape():
    q, k, v = _qkv(lead=(3,))
    k1, v1 = k[:1], v[:1]  # shared across the batch
    d_out = np.random.default_rng(5).normal(size=(3, 4, 2))
    d_q, d_k, d_v = attention_backward(d_out, q, k1, v1)
    assert d_k.shape == k1.shape and d_v.shape == v1.shape
    # the shared K's gradient is the sum of the per-example gradients
    per_example = [attention_backward(d_out[i], q[i], k[0], v[0])[1] for i in range(3)]
    np.testing.assert_allclose(d_k[0], sum(per_example), atol=1e-12)


def test_float32_in_float32_out_and_bad_d_output():
    q, k, v = (a.astype(np.float32) for a in _qkv())
    grads = attention_backward(np.ones((2, 4, 2), np.float32), q, k, v)
    assert all(g.dtype == np.float32 for g in grads)
    with pytest.raises(ValueError, match="d_output"):
        attention_backward(np.ones((2, 4, 3)), q, k, v)
    with pytest.raises(ValueError, match="same last dimension"):
        attention_backward(np.ones((2, 4, 2)), q, k[..., :2], v)


def test_scaling_is_part_of_the_gradient():
    # without the 1/sqrt(d_k) factor in dQ the check must fail: compare to an unscaled derivation
    q, k, v = _qkv(lead=(), d_k=16)
    d_out = np.ones((4, 2))
    d_q = attention_backward(d_out, q, k, v)[0]
    _, w = scaled_dot_product_attention(q, k, v)
    unscaled = softmax_backward(w, d_out @ v.T) @ k
    assert not np.allclose(d_q, unscaled)
    np.testing.assert_allclose(d_q, unscaled / 4.0)
