"""The paged KV cache: equal to chapter 08b's contiguous cache, copy-on-write, the serving simulation."""

import numpy as np
import pytest

from utils.core.attention_numpy import causal_mask, scaled_dot_product_attention
from utils.distributed.paged_kv_numpy import (
    PagedKVCache,
    paged_attention,
    simulate_server,
    wasted_percent,
)
from utils.efficient.gqa_numpy import repeat_kv
from utils.efficient.kv_cache_numpy import KVCache
from utils.exercises import evaluate

RNG = np.random.default_rng(3)


def _tokens(t, g=2, d=4):
    return RNG.standard_normal((2, t, g, d)).astype(np.float32)  # keys and values, (t, g, d) each


def test_paged_cache_equals_the_contiguous_cache():
    paged, contiguous = PagedKVCache(32, 4, 2, 4), KVCache(1)
    for t in (5, 1, 3, 1, 8):
        k_new, v_new = _tokens(t)
        paged.append("a", k_new, v_new)
        k, v = contiguous.append(0, k_new.transpose(1, 0, 2)[None], v_new.transpose(1, 0, 2)[None])
        q = RNG.standard_normal((4, t, 4)).astype(np.float32)  # 4 query heads, 2 key/value heads
        expected, _ = scaled_dot_product_attention(q[None], repeat_kv(k, 2), repeat_kv(v, 2), causal_mask(t, k.shape[-2]))
        assert np.array_equal(paged.gather("a")[0], k[0]) and np.array_equal(paged.gather("a")[1], v[0])
        assert np.abs(paged_attention(q, paged, "a") - expected[0]).max() <= 1e-6
    assert len(paged.tables["a"]) == paged.blocks_in_use == -(-18 // 4)


def test_blocks_are_not_contiguous_and_are_reused():
    cache = PagedKVCache(8, 2, 1, 2)
    for seq in ("a", "b", "a", "b"):
        cache.append(seq, *_tokens(2, 1, 2))
    assert cache.tables == {"a": [0, 2], "b": [1, 3]}
    cache.release("a")
    cache.append("c", *_tokens(1, 1, 2))
    assert cache.tables["c"] == [2] and cache.blocks_in_use == 3


def test_fork_shares_blocks_and_copies_on_write():
    cache = PagedKVCache(16, 4, 1, 2)
    cache.append("parent", *_tokens(6, 1, 2))                 # blocks 0 (full) and 1 (half full)
    before = [a.copy() for a in cache.gather("parent")]
    cache.fork("parent", "child")
    assert cache.blocks_in_use == 2 and cache.refs[:2].tolist() == [2, 2]
    cache.append("child", *_tokens(1, 1, 2))                  # writes into the shared block 1: copy it first
    assert cache.tables["child"] == [0, 2] and cache.refs[:3].tolist() == [2, 1, 1]
    assert all(np.array_equal(a, b) for a, b in zip(before, cache.gather("parent")))   # parent unchanged
    assert np.array_equal(cache.gather("child")[0][:, :6], before[0])                 # shared prefix kept
    cache.release("parent")
    assert cache.refs[:3].tolist() == [1, 0, 1] and 1 in cache.free


def test_a_full_pool_says_so():
    cache = PagedKVCache(1, 2, 1, 2)
    with pytest.raises(MemoryError, match="1 blocks are all in use"):
        cache.append("a", *_tokens(3, 1, 2))


def test_server_simulation():
    r = simulate_server(steps=600, arrival_rate=0.2, seed=0)
    assert r == simulate_server(steps=600, arrival_rate=0.2, seed=0) and r["requests"] > 50
    assert r["used"] <= r["paged"] < r["used"] + 16 * r["requests"] * 600 and r["paged"] < r["contiguous"]
    assert wasted_percent(r["contiguous"], r["used"]) > 50 and wasted_percent(r["paged"], r["used"]) < 5
    assert wasted_percent(0, 0) == 0.0 and wasted_percent(4, 3) == 25.0


def test_block_table_exercise():
    def right(table, length, bs):
        return np.array([table[p // bs] * bs + p % bs for p in range(length)])

    assert evaluate("08c.4", right).solved
    assert evaluate("08c.4", lambda t, n, b: None).status == "not attempted"
    v = evaluate("08c.4", lambda t, n, b: np.asarray(t)[np.arange(n) // b] + np.arange(n) % b)
    assert v.status == "wrong" and "block_id * block_size" in v.hint
