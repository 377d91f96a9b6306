"""Chapter 01 exercises: the fixed-size bottleneck (mean pooling) and attention retrieval."""

from __future__ import annotations

import numpy as np

from utils.core.attention_numpy import scaled_dot_product_attention
from utils.exercises.core import Case, Exercise, mistake, register

# ---------------------------------------------------------------- 01.1 masked mean pooling


def _mean_pool(x, lengths):
    valid = np.arange(x.shape[1])[None, :] < lengths[:, None]  # (batch, n)
    total = (x * valid[:, :, None]).sum(axis=1)
    count = np.maximum(lengths, 1)[:, None]  # an empty sequence pools to zeros, not NaN
    return total / count


def _mean_pool_cases() -> list[Case]:
    rng = np.random.default_rng(1)
    return [
        Case("batch of 3, lengths (4, 2, 3), n=4, d=2",
             (rng.normal(size=(3, 4, 2)), np.array([4, 2, 3]))),
        Case("no padding (all lengths = n)", (rng.normal(size=(2, 5, 3)), np.array([5, 5]))),
        Case("length 1", (rng.normal(size=(2, 6, 4)), np.array([1, 6]))),
        Case("an empty sequence (length 0) pools to zeros", (rng.normal(size=(2, 3, 2)), np.array([0, 3]))),
        Case("random (4, 10, 8)", (rng.normal(size=(4, 10, 8)).astype(np.float32), rng.integers(1, 11, size=4))),
        Case("every sequence padded: lengths (2, 3), n=6", (rng.normal(size=(2, 6, 3)), np.array([2, 3]))),
    ]


@mistake("padding positions must not count: average only the first lengths[b] positions.",
         zh="填充位置不能计入：只对前 lengths[b] 个位置求平均。")
def _pool_includes_padding(x, lengths):
    return x.mean(axis=1)


@mistake("divide by the number of valid positions (lengths[b]), not by the padded length n.",
         zh="除以有效位置的个数（lengths[b]），而不是填充后的长度 n。")
def _pool_divides_by_n(x, lengths):
    valid = np.arange(x.shape[1])[None, :] < lengths[:, None]
    return (x * valid[:, :, None]).sum(axis=1) / x.shape[1]


@mistake("a mean divides the sum by the count of valid positions; you returned the sum.",
         zh="平均值是总和除以有效位置的个数；你返回的是总和。")
def _pool_sums(x, lengths):
    valid = np.arange(x.shape[1])[None, :] < lengths[:, None]
    return (x * valid[:, :, None]).sum(axis=1)


@mistake("off-by-one: position i is valid when i < lengths[b], not i <= lengths[b].",
         zh="差一错误：位置 i 有效的条件是 i < lengths[b]，而不是 i <= lengths[b]。")
def _pool_off_by_one(x, lengths):
    valid = np.arange(x.shape[1])[None, :] <= lengths[:, None]
    return (x * valid[:, :, None]).sum(axis=1) / np.maximum(lengths, 1)[:, None]


register(Exercise(
    id="01.1", title="a masked mean-pooled summary", title_zh="带掩码的平均池化摘要",
    reference=_mean_pool, cases=_mean_pool_cases,
    mistakes=[_pool_includes_padding, _pool_divides_by_n, _pool_sums, _pool_off_by_one]))

# ---------------------------------------------------------------- 01.2 attention retrieval


def _retrieve(q, keys, values):
    out, _ = scaled_dot_product_attention(q[:, None, :], keys, values)
    return out[:, 0, :]


def _retrieve_cases() -> list[Case]:
    rng = np.random.default_rng(2)
    q_small = rng.normal(size=(2, 4))
    return [
        Case("batch 2, n=3, d_k=4, d_v=4", (q_small, rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 3, 4)))),
        Case("d_v != d_k: (3, 5, 8) keys, (3, 5, 2) values",
             (rng.normal(size=(3, 8)), rng.normal(size=(3, 5, 8)), rng.normal(size=(3, 5, 2)))),
        Case("one key: the output is its value", (rng.normal(size=(1, 3)), rng.normal(size=(1, 1, 3)), rng.normal(size=(1, 1, 2)))),
        Case("large scores (overflow without the max trick)",
             (30 * rng.normal(size=(2, 16)), 30 * rng.normal(size=(2, 6, 16)), rng.normal(size=(2, 6, 3)))),
        Case("sequences with very different score ranges (a max per sequence, not one for the batch)",
             (np.array([[40.0, 0.0], [-40.0, 0.0]]), np.array([[[40.0, 0.0], [39.0, 1.0]], [[40.0, 0.0], [39.0, 1.0]]]),
              np.array([[[1.0], [2.0]], [[3.0], [4.0]]]))),
    ]


@mistake("divide the scores q·k by √d_k before the softmax.", zh="在 softmax 之前把分数 q·k 除以 √d_k。")
def _retrieve_unscaled(q, keys, values):
    s = np.einsum("bd,bnd->bn", q, keys)
    w = np.exp(s - s.max(axis=-1, keepdims=True))
    return np.einsum("bn,bnv->bv", w / w.sum(axis=-1, keepdims=True), values)


@mistake("the softmax runs over the n keys of each sequence (axis=-1), not over the batch.",
         zh="softmax 作用在每个序列的 n 个键上（axis=-1），而不是沿批量维。")
def _retrieve_batch_axis(q, keys, values):
    s = np.einsum("bd,bnd->bn", q, keys) / np.sqrt(q.shape[-1])
    w = np.exp(s - s.max(axis=0, keepdims=True))
    return np.einsum("bn,bnv->bv", w / w.sum(axis=0, keepdims=True), values)


@mistake("this is a hard lookup (argmax); attention takes a softmax-weighted average of all values.",
         zh="这是硬查找（argmax）；注意力是对所有值按 softmax 权重做加权平均。")
def _retrieve_hard(q, keys, values):
    idx = np.argmax(np.einsum("bd,bnd->bn", q, keys), axis=-1)
    return values[np.arange(len(idx)), idx]


@mistake("normalise the weights: divide exp(scores) by their sum over the keys.",
         zh="要把权重归一化：用 exp(scores) 除以它在所有键上的和。")
def _retrieve_unnormalised(q, keys, values):
    s = np.einsum("bd,bnd->bn", q, keys) / np.sqrt(q.shape[-1])
    return np.einsum("bn,bnv->bv", np.exp(s - s.max(axis=-1, keepdims=True)), values)


register(Exercise(
    id="01.2", title="retrieve a value with attention", title_zh="用注意力检索一个值",
    reference=_retrieve, cases=_retrieve_cases,
    forbidden=("utils.core.attention_numpy.scaled_dot_product_attention", "utils.core.attention_numpy.softmax"),
    mistakes=[_retrieve_unscaled, _retrieve_batch_axis, _retrieve_hard, _retrieve_unnormalised]))
