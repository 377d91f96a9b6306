"""Exactness of the tiled attention functions (NumPy, PyTorch, TensorFlow) against the naive reference."""

from __future__ import annotations

import numpy as np
import pytest

from utils.core.attention_numpy import scaled_dot_product_attention, softmax
from utils.core.frameworks import to_numpy
from utils.efficient.tiled_numpy import FULL, PARTIAL, SKIPPED, causal_block_schedule

FRAMEWORKS = ["numpy", "torch", "tensorflow"]
ATOL = 2e-5


def _module(framework: str):
    if framework == "numpy":
        import utils.efficient.tiled_numpy as mod
    elif framework == "torch":
        import utils.efficient.tiled_torch as mod
    else:
        import utils.efficient.tiled_tf as mod
    return mod


def _convert(x, framework):
    from utils.core.frameworks import from_numpy

    return x if x is None else from_numpy(x, framework)


def _reference(q, k, v, mask=None, causal=False):
    n_q, n_k = q.shape[-2], k.shape[-2]
    if causal:
        tri = np.tril(np.ones((n_q, n_k), dtype=bool), k=n_k - n_q)
        mask = tri if mask is None else np.asarray(mask) & tri
    return scaled_dot_product_attention(q, k, v, mask)[0]


def _inputs(seed, shape_q, n_k=None, scale=1.0, d_v=None):
    rng = np.random.default_rng(seed)
    *batch, n_q, d = shape_q
    n_k = n_q if n_k is None else n_k
    q = (rng.normal(size=shape_q) * scale).astype(np.float32)
    k = (rng.normal(size=(*batch, n_k, d)) * scale).astype(np.float32)
    v = rng.normal(size=(*batch, n_k, d_v or d)).astype(np.float32)
    return q, k, v


def _both(framework, q, k, v, mask=None, causal=False, block_q=8, block_k=16, chunk=8):
    mod = _module(framework)
    args = [_convert(a, framework) for a in (q, k, v)]
    m = _convert(mask, framework)
    flash = to_numpy(mod.flash_attention(*args, mask=m, causal=causal, block_q=block_q, block_k=block_k))
    chunked = to_numpy(mod.chunked_attention(*args, mask=m, causal=causal, chunk=chunk))
    return flash, chunked


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("causal", [False, True])
def test_random_inputs_match_naive(framework, causal):
    q, k, v = _inputs(0, (2, 3, 37, 16))  # 37: not a multiple of any block size
    expected = _reference(q, k, v, causal=causal)
    for got in _both(framework, q, k, v, causal=causal, block_q=8, block_k=5):
        assert got.dtype == np.float32 and got.shape == expected.shape
        np.testing.assert_allclose(got, expected, atol=ATOL, rtol=0)


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_huge_logits_do_not_overflow(framework):
    # scores of order +-1e4: exp without the running max would overflow to inf
    q, k, v = _inputs(1, (1, 40, 8), scale=np.sqrt(1e4 / 8) * 3)
    expected = _reference(q, k, v)
    assert np.abs(q @ np.swapaxes(k, -1, -2) / np.sqrt(8)).max() > 5e3
    for got in _both(framework, q, k, v, block_q=7, block_k=6):
        assert np.isfinite(got).all()
        np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0)


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_running_max_rises_late(framework):
    # the largest score sits in the LAST key block, so early partial sums must be rescaled
    q, k, v = _inputs(2, (1, 4, 8))
    k = np.concatenate([k, k, k * 0 + 30 * q[:, :1]], axis=-2)  # (1, 12, 8), big scores at the end
    v = np.concatenate([v, v, v], axis=-2)
    expected = _reference(q, k, v)
    for got in _both(framework, q, k, v, block_q=2, block_k=4):
        np.testing.assert_allclose(got, expected, atol=ATOL, rtol=0)


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_masks_and_fully_masked_rows_give_zeros(framework):
    q, k, v = _inputs(3, (2, 2, 19, 8))
    rng = np.random.default_rng(3)
    mask = rng.random((2, 1, 19, 19)) > 0.5  # broadcast over heads
    mask[0, 0, 4] = False  # a fully masked query row
    mask[1, 0, :, 0:8] = False  # a whole key block masked: a tile where m stays -inf
    mask[1, 0, 10] = False
    for causal in (False, True):
        expected = _reference(q, k, v, mask, causal)
        for got in _both(framework, q, k, v, mask=mask, causal=causal, block_q=4, block_k=8):
            assert not np.isnan(got).any()
            np.testing.assert_allclose(got, expected, atol=ATOL, rtol=0)
            assert np.all(got[0, :, 4] == 0) and np.all(got[1, :, 10] == 0)


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_single_token_and_cross_attention_shapes(framework):
    q, k, v = _inputs(4, (1, 1, 1, 8))
    for got in _both(framework, q, k, v, causal=True):
        np.testing.assert_allclose(got, v, atol=1e-6)  # one token attends only to itself
    # n_q != n_k with a KV-cache style causal offset, and d_v != d_k
    q, k, v = _inputs(5, (2, 5, 8), n_k=13, d_v=3)
    for causal in (False, True):
        expected = _reference(q, k, v, causal=causal)
        for got in _both(framework, q, k, v, causal=causal, block_q=2, block_k=4):
            assert got.shape == (2, 5, 3)
            np.testing.assert_allclose(got, expected, atol=ATOL, rtol=0)


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_block_sizes_larger_than_sequence(framework):
    q, k, v = _inputs(6, (3, 10, 4))
    expected = _reference(q, k, v, causal=True)
    for got in _both(framework, q, k, v, causal=True, block_q=64, block_k=1024, chunk=64):
        np.testing.assert_allclose(got, expected, atol=ATOL, rtol=0)


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_online_softmax_matches_softmax(framework):
    mod = _module(framework)
    rng = np.random.default_rng(7)
    x = rng.normal(scale=50.0, size=(3, 4, 11))
    x[0, 0] = -np.inf  # a fully masked row -> zeros
    x[1, 1, :5] = -np.inf
    for block in (1, 3, 11, 20):
        got = to_numpy(mod.online_softmax(_convert(x, framework), block_size=block))
        np.testing.assert_allclose(got, softmax(x), atol=1e-12)
    got = to_numpy(mod.online_softmax(_convert(x, framework), block_size=2, axis=1))
    np.testing.assert_allclose(got, softmax(x, axis=1), atol=1e-12)


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_online_softmax_update_running_statistics(framework):
    mod = _module(framework)
    rng = np.random.default_rng(8)
    x = rng.normal(scale=10.0, size=(5, 12))
    m, l = np.full(5, -np.inf), np.zeros(5)
    m, l = (_convert(a, framework) for a in (m, l))
    for start in range(0, 12, 5):
        m, l = mod.online_softmax_update(m, l, _convert(x[:, start:start + 5], framework))
    np.testing.assert_allclose(to_numpy(m), x.max(axis=1))
    np.testing.assert_allclose(to_numpy(l), np.exp(x - x.max(axis=1, keepdims=True)).sum(axis=1))


def test_numpy_threads_give_identical_results():
    from utils.efficient.tiled_numpy import flash_attention

    q, k, v = _inputs(9, (2, 2, 50, 8))
    one = flash_attention(q, k, v, causal=True, block_q=8, block_k=8, n_threads=1)
    two = flash_attention(q, k, v, causal=True, block_q=8, block_k=8, n_threads=2)
    np.testing.assert_array_equal(one, two)


def test_causal_block_schedule_skips_about_half():
    sched = causal_block_schedule(1000, 1000, 100, 100)
    assert sched.shape == (10, 10)
    assert (sched == SKIPPED).sum() == 45 and (sched == PARTIAL).sum() == 10 and (sched == FULL).sum() == 45
    assert np.array_equal(sched == SKIPPED, np.triu(np.ones((10, 10), bool), k=1))
    # unequal blocks and a KV-cache offset: every skipped block is truly invisible
    n_q, n_k, bq, bk = 7, 12, 3, 5
    sched = causal_block_schedule(n_q, n_k, bq, bk)
    visible = np.tril(np.ones((n_q, n_k), bool), k=n_k - n_q)
    for i in range(sched.shape[0]):
        for j in range(sched.shape[1]):
            tile = visible[i * bq:(i + 1) * bq, j * bk:(j + 1) * bk]
            assert sched[i, j] == (FULL if tile.all() else PARTIAL if tile.any() else SKIPPED)


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_bad_input_raises_value_error_naming_shapes(framework):
    mod = _module(framework)
    q, k, v = _inputs(10, (2, 6, 4))
    conv = [_convert(a, framework) for a in (q, k, v)]
    with pytest.raises(ValueError, match=r"q and k .*\(2, 6, 4\)"):
        mod.flash_attention(conv[0], _convert(np.ones((2, 6, 5), np.float32), framework), conv[2])
    with pytest.raises(ValueError, match=r"mask of shape \(3, 3\)"):
        mod.flash_attention(*conv, mask=_convert(np.ones((3, 3), bool), framework))
    with pytest.raises(ValueError, match="mask must be boolean"):
        mod.chunked_attention(*conv, mask=_convert(np.ones((6, 6), np.float32), framework))
    with pytest.raises(ValueError, match="block_q must be a positive int"):
        mod.flash_attention(*conv, block_q=0)
    with pytest.raises(ValueError, match="chunk must be a positive int"):
        mod.chunked_attention(*conv, chunk=-1)
    bad = q.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match=r"q contains NaN"):
        mod.flash_attention(_convert(bad, framework), conv[1], conv[2])
    with pytest.raises(ValueError, match=r"m and l must have shape"):
        mod.online_softmax_update(_convert(np.zeros(3), framework), _convert(np.zeros(3), framework),
                                  _convert(np.zeros((4, 2)), framework))


def test_twins_share_their_defaults():
    import inspect

    import utils.efficient.tiled_numpy as tiled_numpy
    import utils.efficient.tiled_tf as tiled_tf
    import utils.efficient.tiled_torch as tiled_torch

    def defaults(fn):
        return {k: p.default for k, p in inspect.signature(fn).parameters.items() if p.default is not p.empty}

    for name in ("flash_attention", "chunked_attention", "online_softmax"):
        ref = defaults(getattr(tiled_numpy, name))
        for mod in (tiled_tf, tiled_torch):
            got = defaults(getattr(mod, name))
            assert {k: got.get(k) for k in ref if k in got} == {k: ref[k] for k in ref if k in got}, (mod.__name__, name)
    assert defaults(tiled_numpy.flash_attention) == defaults(tiled_torch.flash_attention) == defaults(
        tiled_tf.flash_attention) == {"mask": None, "causal": False, "block_q": 128, "block_k": 512, "n_threads": None}
