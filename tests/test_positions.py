"""Sinusoidal, RoPE and ALiBi: known values, RoPE's relative-position property, frameworks agree."""

import numpy as np
import pytest
import torch

from utils.core.frameworks import import_tensorflow
from utils.efficient.positions_numpy import (
    alibi_bias,
    alibi_slopes,
    apply_rope,
    apply_rope_half,
    rope_frequencies,
    rope_permutation,
    rotate_half,
    sinusoidal_positions,
)

tf = import_tensorflow()
from utils.efficient import positions_tf, positions_torch  # noqa: E402


def test_sinusoidal_known_values():
    pe = sinusoidal_positions(50, 8)
    assert pe.shape == (50, 8)
    np.testing.assert_allclose(pe[0], [0, 1, 0, 1, 0, 1, 0, 1])
    np.testing.assert_allclose(pe[7, 0], np.sin(7.0))
    np.testing.assert_allclose(pe[7, 3], np.cos(7.0 / 10000 ** (2 / 8)))


def test_rope_frequencies():
    np.testing.assert_allclose(rope_frequencies(8), [1, 10000**-0.25, 10000**-0.5, 10000**-0.75])


def test_rope_rotates_pairs_and_keeps_norms():
    x = np.random.default_rng(0).normal(size=(3, 10, 8))
    r = apply_rope(x)
    np.testing.assert_allclose(np.linalg.norm(r, axis=-1), np.linalg.norm(x, axis=-1))
    np.testing.assert_allclose(r[:, 0], x[:, 0])  # position 0 is not rotated
    # first pair of position 1 is rotated by exactly 1 radian (θ_0 = 1)
    c, s = np.cos(1.0), np.sin(1.0)
    np.testing.assert_allclose(r[:, 1, 0], c * x[:, 1, 0] - s * x[:, 1, 1])
    np.testing.assert_allclose(r[:, 1, 1], s * x[:, 1, 0] + c * x[:, 1, 1])


def test_rope_dot_product_depends_only_on_relative_position():
    rng = np.random.default_rng(1)
    q, k = rng.normal(size=16), rng.normal(size=16)

    def score(m, n):
        return apply_rope(q[None], np.array([m]))[0] @ apply_rope(k[None], np.array([n]))[0]

    for offset in (0, 3, -5):
        values = [score(m, m - offset) for m in (5, 17, 100, 1000)]
        np.testing.assert_allclose(values, values[0], rtol=1e-9, atol=1e-9)
    assert abs(score(10, 7) - score(10, 4)) > 1e-3  # but it does depend on the offset


def test_half_split_layout_is_the_interleaved_one_permuted():
    x = np.random.default_rng(3).normal(size=(2, 9, 8))
    pos = np.array([0, 1, 2, 5, 8, 13, 100, 999, 4096])
    p = rope_permutation(8)
    assert p.tolist() == [0, 2, 4, 6, 1, 3, 5, 7]
    np.testing.assert_allclose(apply_rope_half(x[..., p], pos), apply_rope(x, pos)[..., p], atol=1e-12)
    np.testing.assert_allclose(rotate_half(np.arange(4.0)), [-2, -3, 0, 1])
    assert np.abs(apply_rope_half(x, pos) - apply_rope(x, pos)).max() > 0.1  # the layouts differ without p


def test_rope_layouts_equal_hugging_face_llama_and_gptj():
    from transformers.models.gptj.modeling_gptj import apply_rotary_pos_emb as gptj_rope
    from transformers.models.gptj.modeling_gptj import create_sinusoidal_positions
    from transformers.models.llama.modeling_llama import apply_rotary_pos_emb as llama_rope

    q = torch.randn(2, 3, 7, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(0))  # (b, h, n, d)
    angles = torch.arange(7, dtype=torch.float64)[:, None] * torch.from_numpy(rope_frequencies(16))[None]
    cos, sin = torch.cat([angles.cos()] * 2, -1)[None], torch.cat([angles.sin()] * 2, -1)[None]   # (1, n, d)
    llama_q, _ = llama_rope(q, q, cos, sin)
    np.testing.assert_allclose(positions_torch.apply_rope_half(q).numpy(), llama_q.numpy(), atol=1e-12)
    np.testing.assert_allclose(apply_rope_half(q.numpy()), llama_q.numpy(), atol=1e-12)
    sincos = create_sinusoidal_positions(7, 16)[None]                                   # (1, n, d): sin | cos
    sin_j, cos_j = torch.split(sincos, 8, dim=-1)
    gptj_q = gptj_rope(q.transpose(1, 2).float(), sin_j, cos_j).transpose(1, 2)        # GPT-J: (b, n, h, d)
    np.testing.assert_allclose(apply_rope(q.numpy()), gptj_q.numpy(), atol=1e-5)


def test_alibi_slopes_match_the_paper():
    np.testing.assert_allclose(alibi_slopes(8), [2.0**-k for k in range(1, 9)])
    np.testing.assert_allclose(alibi_slopes(4), [2.0**-2, 2.0**-4, 2.0**-6, 2.0**-8])
    s6 = alibi_slopes(6)  # 4 from the power-of-2 sequence, then every other of the 8-head one
    np.testing.assert_allclose(s6, [2.0**-2, 2.0**-4, 2.0**-6, 2.0**-8, 2.0**-1, 2.0**-3])


def test_alibi_bias_values():
    b = alibi_bias(2, 3, 5)
    assert b.shape == (2, 3, 5)
    np.testing.assert_allclose(b[0, 2], -(2.0**-4) * np.array([4, 3, 2, 1, 0]))
    np.testing.assert_allclose(b[1, 0], -(2.0**-8) * np.array([2, 1, 0, 1, 2]))


def test_frameworks_agree():
    x = np.random.default_rng(2).normal(size=(2, 3, 7, 8)).astype(np.float32)
    pos = np.array([0, 1, 2, 10, 11, 50, 999])
    ref = apply_rope(x, pos)
    np.testing.assert_allclose(positions_torch.apply_rope(torch.from_numpy(x), torch.from_numpy(pos)).numpy(), ref, atol=1e-5)
    np.testing.assert_allclose(positions_tf.apply_rope(tf.constant(x), tf.constant(pos)).numpy(), ref, atol=1e-5)
    half = apply_rope_half(x, pos)
    np.testing.assert_allclose(positions_torch.apply_rope_half(torch.from_numpy(x), pos).numpy(), half, atol=1e-5)
    np.testing.assert_allclose(positions_tf.apply_rope_half(tf.constant(x), pos).numpy(), half, atol=1e-5)
    np.testing.assert_allclose(positions_torch.sinusoidal_positions(9, 6).numpy(), sinusoidal_positions(9, 6), atol=1e-6)
    np.testing.assert_allclose(positions_tf.alibi_bias(4, 5).numpy(), alibi_bias(4, 5), atol=1e-7)


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="d even"):
        apply_rope(np.zeros((3, 5)))
    with pytest.raises(ValueError, match="positions must have shape"):
        apply_rope(np.zeros((3, 4)), np.arange(4))
    with pytest.raises(ValueError, match="m \\(keys\\) must be >= n"):
        alibi_bias(2, 5, 3)
    with pytest.raises(ValueError, match="d_model must be even"):
        sinusoidal_positions(4, 5)
