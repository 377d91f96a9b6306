"""Chapter 08c exercises: merging two partial attention results, the striped shard layout,
the bytes of one ring step, and the block-table lookup of a paged KV cache."""

from __future__ import annotations

import numpy as np

from utils.exercises.core import Case, Exercise, mistake, register, wrong_values

# ---------------------------------------------------------------- 08c.1 merge two partial results


def _partial(s: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(o, m, l) of attention over one part of the keys: normalised output, row max, row normaliser."""
    m = s.max(axis=-1) if s.shape[-1] else np.full(s.shape[0], -np.inf)
    shift = np.where(np.isfinite(m), m, 0.0)
    e = np.exp(s - shift[:, None])
    l = e.sum(axis=-1)
    o = np.divide(e @ v, l[:, None], out=np.zeros((s.shape[0], v.shape[1])), where=l[:, None] > 0)
    return o, m, l


def _merge(o1, m1, l1, o2, m2, l2):
    m = np.maximum(m1, m2)
    shift = np.where(np.isfinite(m), m, 0.0)
    w1, w2 = l1 * np.exp(m1 - shift), l2 * np.exp(m2 - shift)     # each part's weight under the common max
    l = w1 + w2
    o = (o1 * w1[:, None] + o2 * w2[:, None]) / np.where(l > 0, l, 1.0)[:, None]
    return o, m, l


def _merge_cases() -> list[Case]:
    rng = np.random.default_rng(181)

    def case(label, rows, n1, n2, d, scale=1.0):
        s = rng.normal(scale=scale, size=(rows, n1 + n2))
        v = rng.normal(size=(n1 + n2, d))
        return Case(label, _partial(s[:, :n1], v[:n1]) + _partial(s[:, n1:], v[n1:]))

    return [case("4 rows, keys split 3 + 5", 4, 3, 5, 6), case("very different maxima", 3, 4, 4, 2, scale=20.0),
            case("second part empty", 2, 5, 0, 3), case("one key each", 5, 1, 1, 4)]


@mistake("l1 and l2 were summed under different maxima: rescale each by exp(m_i - m), m = max(m1, m2), before adding.",
         zh="l1 和 l2 是在不同的最大值下求和的：相加之前，先各乘以 exp(m_i - m)，其中 m = max(m1, m2)。")
def _merge_ignoring_maxima(o1, m1, l1, o2, m2, l2):
    return (o1 * l1[:, None] + o2 * l2[:, None]) / (l1 + l2)[:, None], np.maximum(m1, m2), l1 + l2


@mistake("a plain average ignores how much weight each part carries: weight o_i by l_i · exp(m_i - m).",
         zh="简单平均忽略了每一部分所占的权重：o_i 的权重应为 l_i · exp(m_i - m)。")
def _merge_average(o1, m1, l1, o2, m2, l2):
    m = np.maximum(m1, m2)
    return (o1 + o2) / 2, m, l1 * np.exp(m1 - m) + l2 * np.exp(m2 - m)


@mistake("each part's weight is its normaliser l_i times exp(m_i - m), not exp(m_i - m) alone.",
         zh="每一部分的权重是其归一化因子 l_i 乘以 exp(m_i - m)，而不只是 exp(m_i - m)。")
def _merge_without_l(o1, m1, l1, o2, m2, l2):
    m = np.maximum(m1, m2)
    a1, a2 = np.exp(m1 - m), np.exp(m2 - m)
    return (o1 * a1[:, None] + o2 * a2[:, None]) / (a1 + a2)[:, None], m, l1 * a1 + l2 * a2


register(Exercise(
    id="08c.1", title="merge two partial attention results", title_zh="合并两个部分注意力结果",
    reference=_merge, cases=_merge_cases, results=("o", "m", "l"),
    mistakes=[_merge_ignoring_maxima, _merge_average, _merge_without_l]))

# ---------------------------------------------------------------- 08c.2 the striped layout


def _same_integers(got, expected) -> bool:
    """The expected integer positions (as an array or a list of ints)."""
    return np.asarray(got).dtype.kind in "iu" and np.array_equal(np.asarray(got), expected)


def _striped(n, P):
    return np.arange(n).reshape(n // P, P).T


def _striped_cases() -> list[Case]:
    return [Case("n=16, P=4", (16, 4)), Case("n=12, P=3", (12, 3)), Case("n=8, P=1", (8, 1)),
            Case("n=6, P=6", (6, 6))]


@mistake("that is the contiguous layout: in the striped one device i owns tokens i, i + P, i + 2P, ...",
         zh="这是连续分片：条带式分片中，设备 i 拥有第 i、i + P、i + 2P、…… 个词元。")
def _striped_contiguous(n, P):
    return np.arange(n).reshape(P, n // P)


@mistake("return one row per device: shape (P, n // P), row i = the positions device i owns.",
         zh="每个设备一行：形状为 (P, n // P)，第 i 行是设备 i 拥有的位置。")
def _striped_transposed(n, P):
    return np.arange(n).reshape(n // P, P)


register(Exercise(
    id="08c.2", title="the striped shard layout", title_zh="条带式分片",
    reference=_striped, cases=_striped_cases, compare=_same_integers,
    mistakes=[_striped_contiguous, _striped_transposed]))

# ---------------------------------------------------------------- 08c.3 the bytes of one ring step

RING_STEP_BYTES = 2 * (131072 // 8) * 8 * 128 * 2

register(Exercise(
    id="08c.3", title="the bytes of one ring step", title_zh="环形注意力一步发送的字节数",
    reference=RING_STEP_BYTES, kind="value", rtol=0.0, atol=0.0,
    mistakes=wrong_values({
        RING_STEP_BYTES // 2: ("a device passes on its keys AND its values: multiply by 2.",
                               "设备要传递键和值两者：乘以 2。"),
        RING_STEP_BYTES * 4: ("only the 8 key/value heads travel, not the 32 "
                              "query heads: queries never leave their device.",
                              "只有 8 个键/值头被传递，而不是 32 个查询头：查询从不离开自己的设备。"),
        RING_STEP_BYTES * 2: ("bfloat16 takes 2 bytes per value, not 4.", "bfloat16 每个数占 2 字节，而不是 4 字节。"),
        RING_STEP_BYTES * 8: ("a device holds n / P tokens, not all n.",
                              "每个设备只持有 n / P 个词元，而不是全部 n 个。"),
        RING_STEP_BYTES * 7: ("that is the whole pass (P - 1 steps); the question asks for one step.",
                              "这是整轮传递（P - 1 步）；题目问的是一步。"),
        RING_STEP_BYTES * 32: ("that is all 32 layers; the question asks for one layer.",
                               "这是全部 32 层；题目问的是一层。"),
    })))

# ---------------------------------------------------------------- 08c.4 block-table lookup


def _rows(block_table, length, block_size):
    pos = np.arange(length)
    return np.asarray(block_table)[pos // block_size] * block_size + pos % block_size


def _rows_cases() -> list[Case]:
    return [Case("3 blocks of 16, 40 tokens", ([7, 2, 9], 40, 16)), Case("one token", ([5], 1, 4)),
            Case("two full blocks", ([3, 0], 8, 4)), Case("block size 1", ([4, 1, 3, 0], 4, 1))]


@mistake("the tokens are not stored in order in the pool: look each block up in the block table.",
         zh="词元在池中并不是按顺序存放的：要在块表中查出每个块。")
def _rows_in_order(t, n, b):
    return np.arange(n)


@mistake("the block is position // block_size and the offset position % block_size, not the other way round.",
         zh="块号是 position // block_size，块内偏移是 position % block_size，不要颠倒。")
def _rows_block_offset_swapped(t, n, b):
    return np.asarray(t)[np.arange(n) % b % len(t)] * b + np.arange(n) // b


@mistake("a block id counts blocks, not rows: the block starts at row block_id * block_size.",
         zh="块号数的是块而不是行：该块从第 block_id * block_size 行开始。")
def _rows_block_id_as_row(t, n, b):
    return np.asarray(t)[np.arange(n) // b] + np.arange(n) % b


register(Exercise(
    id="08c.4", title="the block-table lookup", title_zh="块表查找",
    reference=_rows, cases=_rows_cases, compare=_same_integers,
    mistakes=[_rows_in_order, _rows_block_offset_swapped, _rows_block_id_as_row]))
