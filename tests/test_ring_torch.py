"""Ring attention in real processes (gloo): equal to single-process SDPA, bytes as counted, errors reported."""

import os

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from utils.distributed.launch import free_port, launch
from utils.distributed.ring_numpy import ring_attention_simulated, ring_bytes_per_process
from utils.distributed.ring_torch import gather_outputs, ring_job

RNG = np.random.default_rng(1)
Q, K, V = (RNG.standard_normal((2, 64, 16)).astype(np.float32) for _ in range(3))  # (heads, n, d)
CASES = [(False, "contiguous"), (True, "contiguous"), (True, "zigzag")]


@pytest.fixture(scope="module")
def two_processes():
    """One group of 2 processes runs every case (starting processes is the slow part)."""
    jobs = [ring_job(Q, K, V, 2, causal, layout) for causal, layout in CASES]
    return jobs, launch(jobs, 2, timeout=120)


@pytest.mark.parametrize("case", range(len(CASES)))
def test_ring_processes_equal_sdpa(two_processes, case):
    jobs, results = two_processes
    causal, layout = CASES[case]
    ref = F.scaled_dot_product_attention(*(torch.from_numpy(a) for a in (Q, K, V)), is_causal=causal).numpy()
    out = gather_outputs(results[case], jobs[case])
    assert np.abs(out - ref).max() <= 1e-5
    _, work = ring_attention_simulated(Q, K, V, 2, causal, layout)
    assert [r["work"] for r in results[case]] == work.tolist()  # the processes did what the simulation counts


def test_ring_bytes_sent_match_the_formula(two_processes):
    _, results = two_processes
    expected = ring_bytes_per_process(64, 2, 16, kv_heads=2)
    for per_rank in results:
        for r in per_rank:
            assert expected <= r["bytes_sent"] <= 1.05 * expected  # gloo adds a small header per message
            assert r["peak_mib"] >= 0 and r["seconds"] > 0


def _fails(x):
    raise ValueError(f"bad shard {x}")


def _dies(code):
    os._exit(code)


def test_an_error_in_a_process_reaches_the_caller():
    with pytest.raises(RuntimeError, match="(?s)process 0 of 1 failed.*bad shard 7"):
        launch([(_fails, [(7,)])], 1, timeout=120)
    with pytest.raises(RuntimeError, match="process 0 of 1 died \\(exit code 3\\)"):
        launch([(_dies, [(3,)])], 1, timeout=120)
    with pytest.raises(ValueError, match="one argument tuple per rank"):
        launch([(_fails, [(1,)])], 2)
    assert 0 < free_port() < 65536
