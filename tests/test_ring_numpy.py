"""Ring attention simulated in NumPy: exact, the causal work per device, the byte formula, the exercises."""

import numpy as np
import pytest

from utils.core.attention_numpy import causal_mask, scaled_dot_product_attention
from utils.distributed.ring_numpy import (
    LAYOUTS,
    compute_on_device,
    finish,
    new_device,
    ring_attention_simulated,
    ring_block_step,
    ring_bytes_per_process,
    shard_positions,
)
from utils.exercises import evaluate

RNG = np.random.default_rng(0)
Q, K, V = (RNG.standard_normal((2, 3, 48, 8)).astype(np.float32) for _ in range(3))  # (batch, heads, n, d)


@pytest.mark.parametrize("P", [1, 2, 3, 4])
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("causal", [False, True])
def test_ring_simulation_equals_full_attention(P, layout, causal):
    ref, _ = scaled_dot_product_attention(Q, K, V, causal_mask(48) if causal else None)
    out, _ = ring_attention_simulated(Q, K, V, P, causal, layout)
    assert out.shape == ref.shape and np.abs(out - ref).max() <= 1e-5


def test_shards_partition_the_sequence():
    for layout in LAYOUTS:
        pos = shard_positions(24, 3, layout)
        assert sorted(np.concatenate(pos).tolist()) == list(range(24)) and all(p.size == 8 for p in pos)
    assert [p.tolist() for p in shard_positions(8, 2, "zigzag")] == [[0, 1, 6, 7], [2, 3, 4, 5]]
    with pytest.raises(ValueError, match="divisible by 2P"):
        shard_positions(10, 3)
    with pytest.raises(ValueError, match="layout"):
        shard_positions(8, 2, "striped")


@pytest.mark.parametrize("P", [2, 4, 8])
def test_causal_work_contiguous_unbalanced_zigzag_balanced(P):
    n = 16 * P
    s = n // P
    _, contiguous = ring_attention_simulated(Q[0, 0, :1].repeat(n, 0), K[0, 0, :1].repeat(n, 0),
                                             V[0, 0, :1].repeat(n, 0), P, True, "contiguous")
    _, zigzag = ring_attention_simulated(Q[0, 0, :1].repeat(n, 0), K[0, 0, :1].repeat(n, 0),
                                         V[0, 0, :1].repeat(n, 0), P, True, "zigzag")
    # device i sees i full blocks and its own triangle
    assert contiguous.tolist() == [i * s * s + s * (s + 1) // 2 for i in range(P)]
    assert len(set(zigzag.tolist())) == 1 and zigzag.sum() == contiguous.sum() == n * (n + 1) // 2


def test_non_causal_work_is_n_squared_over_P():
    _, work = ring_attention_simulated(Q, K, V, 4)
    assert work.tolist() == [48 * 48 // 4] * 4


def test_fully_masked_rows_stay_zero_without_nan():
    dev = new_device(Q[0, 0, :4], np.arange(4), 8)
    assert compute_on_device(dev, K[0, 0, 4:8], V[0, 0, 4:8], np.arange(4, 8), causal=True) == 0  # skipped
    allowed = np.zeros((4, 4), bool)
    allowed[0, 0] = True
    m, l, acc = ring_block_step(Q[0, 0, :4], K[0, 0, :4], V[0, 0, :4], dev.m, dev.l, dev.acc, allowed)
    dev.m, dev.l, dev.acc = m, l, acc
    out = finish(dev)
    assert np.isfinite(out).all() and np.all(out[1:] == 0) and np.allclose(out[0], V[0, 0, 0])


def test_ring_bytes_formula():
    assert ring_bytes_per_process(4096, 4, 64) == 3 * 2 * 1024 * 64 * 4
    assert ring_bytes_per_process(4096, 1, 64) == 0
    assert ring_bytes_per_process(1024, 2, 16, kv_heads=8, itemsize=2, batch=3) == 2 * 3 * 8 * 512 * 16 * 2


def test_bad_shapes_are_named():
    with pytest.raises(ValueError, match="q .* k .*"):
        ring_attention_simulated(Q, K[..., :4], V, 2)


# ---------------------------------------------------------------- exercises 08c.1 - 08c.3


def _stub(*args):
    ...


def test_merge_exercise():
    def right(o1, m1, l1, o2, m2, l2):
        m = np.maximum(m1, m2)
        a1 = l1 * np.exp(m1 - np.where(np.isfinite(m), m, 0))
        a2 = l2 * np.exp(m2 - np.where(np.isfinite(m), m, 0))
        return (o1 * a1[:, None] + o2 * a2[:, None]) / (a1 + a2)[:, None], m, a1 + a2

    def no_rescale(o1, m1, l1, o2, m2, l2):
        return (o1 * l1[:, None] + o2 * l2[:, None]) / (l1 + l2)[:, None], np.maximum(m1, m2), l1 + l2

    assert evaluate("08c.1", right).solved
    assert evaluate("08c.1", _stub).status == "not attempted"
    v = evaluate("08c.1", no_rescale)
    assert v.status == "wrong" and "exp(m_i - m)" in v.hint


def test_striped_exercise():
    assert evaluate("08c.2", lambda n, P: np.stack([np.arange(i, n, P) for i in range(P)])).solved
    assert evaluate("08c.2", _stub).status == "not attempted"
    v = evaluate("08c.2", lambda n, P: np.arange(n).reshape(P, n // P))
    assert v.status == "wrong" and "contiguous" in v.hint


def test_ring_step_bytes_exercise():
    assert evaluate("08c.3", 2 * 16384 * 8 * 128 * 2).solved
    v = evaluate("08c.3", 16384 * 8 * 128 * 2)
    assert v.status == "wrong" and "AND" in v.hint
    assert evaluate("08c.3", 2 * 16384 * 32 * 128 * 2).status == "wrong"
