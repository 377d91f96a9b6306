"""FlashAttention's backward pass (NumPy, PyTorch autograd.Function, TF custom_gradient) and the fused forward."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from utils.core.attention_grad_numpy import attention_backward, numerical_gradient
from utils.core.attention_numpy import causal_mask
from utils.core.frameworks import import_tensorflow
from utils.efficient import flash_backward_numpy as fb_np
from utils.efficient import flash_backward_tf as fb_tf
from utils.efficient import flash_backward_torch as fb_torch
from utils.efficient import flash_fused_torch

tf = import_tensorflow()


def _inputs(seed, *shape):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=shape) for _ in range(4)]


# ---------------------------------------------------------------- NumPy


@pytest.mark.parametrize("causal", [False, True])
def test_numpy_backward_equals_chapter_04(causal):
    q, k, v, do = _inputs(0, 37, 8)
    o, lse = fb_np.flash_forward(q, k, v, causal=causal, block_q=8, block_k=16)
    got = fb_np.flash_backward(q, k, v, o, lse, do, causal=causal, block_q=8, block_k=16)
    ref = attention_backward(do, q, k, v, mask=causal_mask(37) if causal else None)
    for g, r in zip(got, ref):
        np.testing.assert_allclose(g, r, atol=1e-12)


def test_numpy_backward_with_a_mask_and_cross_attention():
    q, _, _, do = _inputs(1, 9, 4)
    _, k, v, _ = _inputs(2, 13, 4)
    mask = np.random.default_rng(3).random((9, 13)) > 0.4
    mask[2] = False  # a fully masked row
    o, lse = fb_np.flash_forward(q, k, v, mask=mask, block_q=4, block_k=5)
    got = fb_np.flash_backward(q, k, v, o, lse, do, mask=mask, block_q=4, block_k=5)
    for g, r in zip(got, attention_backward(do, q, k, v, mask=mask)):
        np.testing.assert_allclose(g, r, atol=1e-12)
    assert np.all(got[0][2] == 0) and lse[2] == -np.inf


def test_numpy_backward_equals_finite_differences():
    q, k, v, do = (a[:, :3] for a in _inputs(4, 7, 3))
    grads = fb_np.flash_backward(q, k, v, *fb_np.flash_forward(q, k, v, block_q=3, block_k=2), do, block_q=3, block_k=2)
    for i, g in enumerate(grads):
        def loss(x, i=i):
            args = [q, k, v]
            args[i] = x
            return float((fb_np.flash_forward(*args, block_q=3, block_k=2)[0] * do).sum())
        num = numerical_gradient(loss, [q, k, v][i])
        assert np.abs(g - num).max() < 1e-7 * max(1.0, np.abs(num).max())


def test_numpy_log_sum_exp_is_the_row_logsumexp():
    q, k, v, _ = _inputs(5, 10, 4)
    _, lse = fb_np.flash_forward(q, k, v, block_q=3, block_k=4)
    s = q @ k.T / 2
    np.testing.assert_allclose(lse, np.log(np.exp(s).sum(axis=1)), rtol=1e-12)


def test_numpy_rejects_batched_input():
    with pytest.raises(ValueError, match=r"q must be 2-D .* got shape \(2, 5, 4\)"):
        fb_np.flash_forward(np.zeros((2, 5, 4)), np.zeros((5, 4)), np.zeros((5, 4)))


# ---------------------------------------------------------------- PyTorch


def test_torch_saves_no_n_squared_tensor():
    n, d = 64, 8
    q, k, v = (torch.randn(1, 2, n, d, requires_grad=True) for _ in range(3))
    sizes = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: sizes.append(t.numel()) or t, lambda t: t):
        fb_torch.flash_attention_autograd(q, k, v, causal=True, block_q=16, block_k=16).sum().backward()
    assert sizes and max(sizes) < n * n  # Q, K, V, O (2·n·d) and L (2·n)
    # the test can fail: naive attention saves P, which has n² elements per head
    sizes.clear()
    with torch.autograd.graph.saved_tensors_hooks(lambda t: sizes.append(t.numel()) or t, lambda t: t):
        torch.softmax(q @ k.transpose(-2, -1), dim=-1) @ v
    assert max(sizes) >= n * n


@pytest.mark.parametrize("causal", [False, True])
def test_torch_gradcheck_float64(causal):
    torch.manual_seed(0)
    args = [torch.randn(1, 2, 7, 3, dtype=torch.float64, requires_grad=True) for _ in range(3)]
    assert torch.autograd.gradcheck(
        lambda q, k, v: fb_torch.flash_attention_autograd(q, k, v, causal=causal, block_q=3, block_k=2), args)


def _torch_grads(attend, causal, seed=0, shape=(2, 3, 70, 16)):
    torch.manual_seed(seed)
    leaves = [torch.randn(*shape, requires_grad=True) for _ in range(3)]
    attend(*leaves, causal).backward(torch.randn(*shape))
    return [t.grad for t in leaves]


def _naive_torch(q, k, v, causal):
    s = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if causal:
        s = s.masked_fill(~torch.from_numpy(causal_mask(q.shape[-2], k.shape[-2])), -math.inf)
    return torch.softmax(s, dim=-1) @ v


@pytest.mark.parametrize("causal", [False, True])
def test_torch_equals_autograd_and_sdpa_float32(causal):
    ours = _torch_grads(lambda q, k, v, c: fb_torch.flash_attention_autograd(q, k, v, causal=c, block_q=16,
                                                                            block_k=32), causal)
    naive = _torch_grads(_naive_torch, causal)
    sdpa = _torch_grads(lambda q, k, v, c: F.scaled_dot_product_attention(q, k, v, is_causal=c), causal)
    for g, a, b in zip(ours, naive, sdpa):
        assert g.dtype == torch.float32
        assert (g - a).abs().max() < 1e-4 and (g - b).abs().max() < 1e-4


@pytest.mark.parametrize("blocks", [(70, 70), (7, 13), (16, 4)])
def test_torch_gradients_do_not_depend_on_tile_sizes(blocks):
    attend = lambda q, k, v, c: fb_torch.flash_attention_autograd(q, k, v, causal=c, block_q=blocks[0],  # noqa: E731
                                                                 block_k=blocks[1])
    got = _torch_grads(lambda *a: attend(*a).double(), True, shape=(1, 1, 70, 8))
    ref = _torch_grads(_naive_torch, True, shape=(1, 1, 70, 8))
    for g, r in zip(got, ref):
        assert (g - r).abs().max() < 1e-5


def test_torch_fully_masked_rows_give_zero_gradients_and_no_nan():
    torch.manual_seed(1)
    q = torch.randn(1, 12, 8, dtype=torch.float64, requires_grad=True)  # 12 queries, 8 keys, causal:
    k, v = (torch.randn(1, 8, 8, dtype=torch.float64, requires_grad=True) for _ in range(2))  # rows 0-3 see none
    out = fb_torch.flash_attention_autograd(q, k, v, causal=True, block_q=4, block_k=4)
    out.backward(torch.randn_like(out))
    assert torch.all(out[0, :4] == 0) and torch.all(q.grad[0, :4] == 0)
    assert not any(torch.isnan(t.grad).any() for t in (q, k, v))
    mask = torch.ones(12, 8, dtype=torch.bool)
    mask[5] = False
    q.grad = None
    fb_torch.flash_attention_autograd(q, k, v, mask=mask, block_q=5, block_k=3).sum().backward()
    assert torch.all(q.grad[0, 5] == 0) and not torch.isnan(q.grad).any()


def test_torch_huge_scores_stay_exact():
    q, k, v, do = _inputs(6, 30, 8)
    q, k = q * 40, k * 40  # scores of order 1e4
    assert np.abs(q @ k.T).max() / np.sqrt(8) > 3e3
    leaves = [torch.tensor(a, requires_grad=True) for a in (q, k, v)]
    fb_torch.flash_attention_autograd(*leaves, block_q=8, block_k=8).backward(torch.tensor(do))
    for g, r in zip(leaves, attention_backward(do, q, k, v)):
        assert np.isfinite(g.grad.numpy()).all()
        np.testing.assert_allclose(g.grad.numpy(), r, atol=1e-8)


def test_torch_bad_input_names_the_shapes():
    with pytest.raises(ValueError, match=r"\(1, 5, 4\), \(1, 6, 3\)"):
        fb_torch.flash_attention_autograd(torch.zeros(1, 5, 4), torch.zeros(1, 6, 3), torch.zeros(1, 6, 3))
    with pytest.raises(ValueError, match="block_q must be a positive int"):
        fb_torch.flash_attention_autograd(torch.zeros(5, 4), torch.zeros(5, 4), torch.zeros(5, 4), block_q=0)


# ---------------------------------------------------------------- TensorFlow


@pytest.mark.parametrize("causal", [False, True])
def test_tf_custom_gradient_equals_gradient_tape(causal):
    q, k, v, do = (a.astype(np.float32) for a in _inputs(7, 2, 40, 8))
    tq, tk, tv = (tf.constant(a) for a in (q, k, v))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([tq, tk, tv])
        ours = fb_tf.flash_attention_autograd(tq, tk, tv, causal=causal, block_q=16, block_k=8)
        s = tf.matmul(tq, tk, transpose_b=True) / math.sqrt(8)
        if causal:
            s = tf.where(causal_mask(40), s, -np.inf)
        naive = tf.matmul(tf.nn.softmax(s, axis=-1), tv)
    got = tape.gradient(ours, [tq, tk, tv], output_gradients=tf.constant(do))
    ref = tape.gradient(naive, [tq, tk, tv], output_gradients=tf.constant(do))
    for g, r in zip(got, ref):
        assert np.abs(g.numpy() - r.numpy()).max() < 1e-5


def test_tf_fully_masked_rows_and_tile_independence():
    q, k, v, do = _inputs(8, 1, 12, 4)
    mask = np.ones((12, 12), bool)
    mask[3] = False
    grads = []
    for blocks in [(12, 12), (5, 3)]:
        tq, tk, tv = (tf.constant(a) for a in (q, k, v))
        with tf.GradientTape() as tape:
            tape.watch([tq, tk, tv])
            out = fb_tf.flash_attention_autograd(tq, tk, tv, mask=mask, block_q=blocks[0], block_k=blocks[1])
        grads.append([g.numpy() for g in tape.gradient(out, [tq, tk, tv], output_gradients=tf.constant(do))])
    assert not any(np.isnan(g).any() for g in grads[1]) and np.all(grads[1][0][0, 3] == 0)
    for a, b in zip(*grads):
        np.testing.assert_allclose(a, b, atol=1e-6)


# ---------------------------------------------------------------- fused forward


def test_compiled_forward_refuses_clearly_without_a_compiler(monkeypatch):
    monkeypatch.setattr(flash_fused_torch.shutil, "which", lambda name: None)
    assert not flash_fused_torch.compiler_available()
    with pytest.raises(RuntimeError, match="needs a C\\+\\+ compiler"):
        flash_fused_torch.flash_attention_compiled(torch.zeros(4, 2), torch.zeros(4, 2), torch.zeros(4, 2))


@pytest.mark.skipif(not flash_fused_torch.compiler_available(), reason="no C++ compiler for torch.compile")
def test_compiled_forward_equals_sdpa():
    torch.manual_seed(2)
    q, k, v = (torch.randn(1, 2, 64, 16) for _ in range(3))
    got = flash_fused_torch.flash_attention_compiled(q, k, v, block_q=32, block_k=32)
    assert (got - F.scaled_dot_product_attention(q, k, v)).abs().max() < 1e-5
