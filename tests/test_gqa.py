"""Grouped-query attention: equal to MHA when g = h, to PyTorch SDPA's enable_gqa, across frameworks."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from utils.core.attention_numpy import causal_mask
from utils.core.frameworks import import_tensorflow
from utils.efficient.gqa_numpy import (
    attention_param_count,
    gqa_forward,
    grouped_query_attention,
    init_gqa_params,
    kv_head_index,
    repeat_kv,
)
from utils.layers.multihead_numpy import mha_param_count, multi_head_attention

tf = import_tensorflow()
from utils.efficient import gqa_tf, gqa_torch  # noqa: E402


def _qkv(h=8, g=2, n=5, m=7, d=4, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(2, h, n, d)), rng.normal(size=(2, g, m, d)), rng.normal(size=(2, g, m, d)))


def test_kv_head_index_groups_consecutive_heads():
    assert kv_head_index(8, 2).tolist() == [0, 0, 0, 0, 1, 1, 1, 1]
    assert kv_head_index(4, 4).tolist() == [0, 1, 2, 3]
    assert kv_head_index(4, 1).tolist() == [0, 0, 0, 0]
    assert gqa_torch.kv_head_index(8, 2).tolist() == kv_head_index(8, 2).tolist()
    assert gqa_tf.kv_head_index(6, 3).numpy().tolist() == [0, 0, 1, 1, 2, 2]


def test_repeat_kv_matches_head_index():
    _, k, _ = _qkv()
    rep = repeat_kv(k, 4)
    for i, j in enumerate(kv_head_index(8, 2)):
        np.testing.assert_array_equal(rep[:, i], k[:, j])


@pytest.mark.parametrize("causal", [False, True])
def test_gqa_equals_chapter05_mha_when_g_equals_h(causal):
    params = init_gqa_params(16, 4, 4, seed=3)
    x = np.random.default_rng(1).normal(size=(2, 6, 16)).astype(np.float32)
    ours = gqa_forward(x, params, 4, 4, causal_mask(6) if causal else None)
    mha, _ = multi_head_attention(x, None, params, 4, causal=causal)
    np.testing.assert_allclose(ours, mha, atol=1e-5)


def test_gqa_equals_torch_sdpa_enable_gqa():
    q, k, v = _qkv(h=8, g=2, n=6, m=6)
    mask = causal_mask(6)
    ours, _ = grouped_query_attention(q, k, v, mask)
    ref = F.scaled_dot_product_attention(*(torch.from_numpy(a) for a in (q, k, v)),
                                         attn_mask=torch.from_numpy(mask), enable_gqa=True)
    np.testing.assert_allclose(ours, ref.numpy(), atol=1e-10)


@pytest.mark.parametrize("g", [8, 2, 1])
def test_frameworks_agree(g):
    params = init_gqa_params(16, 8, g, seed=g)
    x = np.random.default_rng(g).normal(size=(2, 5, 16)).astype(np.float32)
    ref = gqa_forward(x, params, 8, g, causal_mask(5))
    pt = gqa_torch.gqa_forward(torch.from_numpy(x), {k: torch.from_numpy(v) for k, v in params.items()}, 8, g,
                               torch.from_numpy(causal_mask(5)))
    pf = gqa_tf.gqa_forward(tf.constant(x), {k: tf.constant(v) for k, v in params.items()}, 8, g,
                            tf.constant(causal_mask(5)))
    np.testing.assert_allclose(pt.numpy(), ref, atol=1e-5)
    np.testing.assert_allclose(pf.numpy(), ref, atol=1e-5)


@pytest.mark.parametrize("h,g", [(8, 8), (8, 2), (8, 1), (4, 2)])
def test_param_count_formula_matches_arrays(h, g):
    params = init_gqa_params(32, h, g)
    assert attention_param_count(32, h, g) == sum(a.size for a in params.values())
    assert attention_param_count(32, h, g, bias=False) == sum(a.size for k, a in params.items() if k.startswith("W"))


def test_param_count_matches_chapter05_and_torch_layer():
    assert attention_param_count(64, 8) == mha_param_count(64, 8)
    layer = torch.nn.MultiheadAttention(64, 8)
    assert attention_param_count(64, 8) == sum(p.numel() for p in layer.parameters())


def test_kv_projection_shrinks_by_h_over_g():
    full = init_gqa_params(64, 8, 8)
    mqa = init_gqa_params(64, 8, 1)
    assert full["W_k"].size == 8 * mqa["W_k"].size and full["W_v"].size == 8 * mqa["W_v"].size


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="n_kv_heads must divide n_heads"):
        kv_head_index(8, 3)
    q, k, v = _qkv(h=6, g=4)
    with pytest.raises(ValueError, match="divide"):
        grouped_query_attention(q, k, v)
    with pytest.raises(ValueError, match="x must be"):
        gqa_forward(np.zeros((2, 3, 5)), init_gqa_params(16, 4, 2), 4, 2)


def test_gqa_diagram_draws_one_line_per_query_head():
    import matplotlib

    matplotlib.use("Agg")
    from utils.efficient.long_context_diagrams import draw_gqa_heads

    fig = draw_gqa_heads(8, (8, 2, 1))
    assert [len(ax.lines) for ax in fig.axes] == [8, 8, 8]
    assert [len(ax.patches) for ax in fig.axes] == [8 + 8, 8 + 2, 8 + 1]  # query boxes + kv boxes
