"""Ulysses sequence parallelism in real processes (gloo): equal to full attention, bytes as counted."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from utils.distributed.launch import launch
from utils.distributed.ring_numpy import ring_bytes_per_process
from utils.distributed.ulysses_torch import ulysses_bytes_per_process, ulysses_job

RNG = np.random.default_rng(2)
Q = RNG.standard_normal((1, 4, 256, 16)).astype(np.float32)                     # (batch, heads, n, d)
K, V = (RNG.standard_normal((1, 2, 256, 16)).astype(np.float32) for _ in range(2))  # 2 key/value heads (GQA)


@pytest.fixture(scope="module")
def results():
    return launch([ulysses_job(Q, K, V, 2, causal) for causal in (False, True)], 2, timeout=120)


@pytest.mark.parametrize("causal", [False, True])
def test_ulysses_equals_full_attention(results, causal):
    ref = F.scaled_dot_product_attention(*(torch.from_numpy(a) for a in (Q, K, V)), is_causal=causal,
                                         enable_gqa=True).numpy()
    out = np.concatenate([r["out"] for r in results[int(causal)]], axis=-2)
    assert out.shape == ref.shape and np.abs(out - ref).max() <= 1e-5


def test_ulysses_bytes_match_the_formula(results):
    expected = ulysses_bytes_per_process(256, 2, 16, heads=4, kv_heads=2)
    assert expected == 128 * (8 + 4) * 16 * 4 // 2  # (n/P) tokens · (2h + 2g) · d floats, half of them leave
    for r in results[0] + results[1]:
        assert expected <= r["bytes_sent"] <= 1.05 * expected


def test_ulysses_moves_less_than_the_ring_for_many_processes_without_gqa():
    # per process: ring ~ 2·n·h·d (constant in P), Ulysses ~ 4·n·h·d / P
    for P in (4, 8, 16):
        assert ulysses_bytes_per_process(65536, P, 128, 32) < ring_bytes_per_process(65536, P, 128, 32)
    assert ulysses_bytes_per_process(65536, 2, 128, 32) == ring_bytes_per_process(65536, 2, 128, 32)
    # with 8 key/value heads for 32 query heads (GQA) the ring sends less at P = 4
    assert ring_bytes_per_process(65536, 4, 128, 8) < ulysses_bytes_per_process(65536, 4, 128, 32, kv_heads=8)


def test_bad_shapes_are_named():
    with pytest.raises(ValueError, match="divisible by P=3"):
        ulysses_job(Q, K, V, 3)
