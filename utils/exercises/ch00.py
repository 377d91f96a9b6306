"""Chapter 00 exercises: the warm-up."""

from __future__ import annotations

import numpy as np

from utils.core.attention_numpy import softmax
from utils.exercises.core import Case, Exercise, mistake, register


def _softmax_cases() -> list[Case]:
    rng = np.random.default_rng(0)
    return [
        Case("random (3, 5)", (rng.normal(size=(3, 5)).astype(np.float32),), label_zh="随机 (3, 5)"),
        Case("single row", (np.array([1.0, 2.0, 3.0]),), label_zh="单行"),
        Case("large logits", (np.array([[1000.0, 1001.0, 1002.0]]),), label_zh="很大的 logits"),
        Case("rows of very different size", (np.array([[1000.0, 1001.0], [-1000.0, -999.0]]),),
             label_zh="大小相差悬殊的两行"),
        Case("batch (2, 4, 6)", (rng.normal(scale=5.0, size=(2, 4, 6)),), label_zh="批量 (2, 4, 6)"),
        Case("wide rows: only the row max keeps exp finite",
             (np.array([[-1000.0, 0.0, 1000.0], [0.0, 800.0, 1600.0]]),),
             label_zh="跨度很大的行：只有减去行最大值才能让 exp 保持有限"),
    ]


@mistake("exp overflows for large logits: subtract the row max before np.exp.",
         zh="logits 很大时 exp 会上溢：先减去每行的最大值，再调用 np.exp。")
def _naive(x):
    e = np.exp(x)
    return e / e.sum(axis=-1, keepdims=True)


@mistake("softmax must normalise along the last axis (axis=-1), not axis 0.",
         zh="softmax 要沿最后一个轴（axis=-1）归一化，而不是 axis 0。")
def _wrong_axis(x):
    e = np.exp(x - x.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


@mistake("subtract each row's own max (x.max(axis=-1, keepdims=True)), not the max of the whole array.",
         zh="减去每一行自己的最大值（x.max(axis=-1, keepdims=True)），而不是整个数组的最大值。")
def _global_max(x):
    e = np.exp(x - x.max())
    return e / e.sum(axis=-1, keepdims=True)


@mistake("divide by the row sum: each row of a softmax sums to 1.", zh="还要除以行和：softmax 的每一行之和都是 1。")
def _unnormalised(x):
    return np.exp(x - x.max(axis=-1, keepdims=True))


register(Exercise(
    id="00.1", title="numerically stable softmax", title_zh="数值稳定的 softmax",
    reference=lambda x: softmax(x, axis=-1), cases=_softmax_cases,
    mistakes=[_naive, _wrong_axis, _global_max, _unnormalised]))
