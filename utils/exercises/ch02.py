"""Chapter 02 exercises: kernel-regression weights, hard lookup, the causal mask, shapes."""

from __future__ import annotations

import numpy as np

from utils.core.attention_numpy import causal_mask, softmax
from utils.exercises.core import Case, Exercise, mistake, register, wrong_values

# ---------------------------------------------------------------- 02.1 kernel-regression weights


def _kernel_weights(x_query, x_train, sigma):
    scores = -((x_query[:, None] - x_train[None, :]) ** 2) / (2.0 * sigma**2)
    return softmax(scores, axis=-1)


def _kernel_cases() -> list[Case]:
    rng = np.random.default_rng(3)
    return [
        Case("3 queries, 5 training points, sigma=1",
             (np.array([0.0, 1.0, 2.5]), np.array([0.0, 0.5, 1.0, 2.0, 4.0]), 1.0)),
        Case("sigma=0.5", (np.array([0.2, 3.0]), np.array([0.0, 1.0, 2.0, 3.0]), 0.5)),
        Case("one training point: weight 1", (np.array([0.0, 7.0]), np.array([1.5]), 2.0)),
        Case("tiny sigma=0.001 (plain exp underflows to 0/0)",
             (np.array([0.0, 0.3, 1.0]), np.array([0.0, 0.5, 1.0]), 0.001)),
        Case("random, 6 queries, 20 points, sigma=0.3",
             (rng.uniform(0, 5, size=6), np.sort(rng.uniform(0, 5, size=20)), 0.3)),
    ]


@mistake("the Gaussian kernel's exponent is -(x - xᵢ)² / (2σ²): you left out the 2.",
         zh="高斯核的指数是 -(x - xᵢ)² / (2σ²)：你漏掉了系数 2。")
def _kernel_no_two(x_query, x_train, sigma):
    return softmax(-((x_query[:, None] - x_train[None, :]) ** 2) / sigma**2, axis=-1)


@mistake("square the distance: -(x - xᵢ)², not -|x - xᵢ|.", zh="距离要平方：-(x - xᵢ)²，而不是 -|x - xᵢ|。")
def _kernel_abs(x_query, x_train, sigma):
    return softmax(-np.abs(x_query[:, None] - x_train[None, :]) / (2.0 * sigma**2), axis=-1)


@mistake("normalise each query's row over the training points (axis=-1), not over the queries.",
         zh="每个查询所在的行要在训练点上归一化（axis=-1），而不是在查询之间归一化。")
def _kernel_axis0(x_query, x_train, sigma):
    return softmax(-((x_query[:, None] - x_train[None, :]) ** 2) / (2.0 * sigma**2), axis=0)


@mistake("the weights of each query must sum to 1: divide by the row sum (or use a softmax).",
         zh="每个查询的权重之和必须为 1：除以行和（或直接用 softmax）。")
def _kernel_unnormalised(x_query, x_train, sigma):
    return np.exp(-((x_query[:, None] - x_train[None, :]) ** 2) / (2.0 * sigma**2))


@mistake("exp underflows to 0 for a tiny σ, giving 0/0 = NaN: subtract the row max first (a stable softmax).",
         zh="σ 很小时 exp 会下溢为 0，得到 0/0 = NaN：先减去每行的最大值（数值稳定的 softmax）。")
def _kernel_naive(x_query, x_train, sigma):
    k = np.exp(-((x_query[:, None] - x_train[None, :]) ** 2) / (2.0 * sigma**2))
    return k / k.sum(axis=-1, keepdims=True)


register(Exercise(
    id="02.1", title="Nadaraya–Watson weights as a softmax", title_zh="把 Nadaraya–Watson 权重写成 softmax",
    reference=_kernel_weights, cases=_kernel_cases,
    mistakes=[_kernel_no_two, _kernel_abs, _kernel_axis0, _kernel_unnormalised, _kernel_naive]))

# ---------------------------------------------------------------- 02.2 hard lookup


def _hard_lookup(q, keys, values):
    idx = np.argmax(q @ keys.T, axis=-1)  # (n_q,)
    return values[idx]


def _hard_cases() -> list[Case]:
    rng = np.random.default_rng(4)
    keys = np.eye(3)
    return [
        Case("one-hot keys, d_v = d_k = 3", (np.array([[0.1, 2.0, 0.3]]), keys, rng.normal(size=(3, 3)))),
        Case("keys of different length (dot product, not distance)",
             (np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([[3.0, 0.0], [0.9, 0.1], [0.0, 0.5]]),
              np.array([[10.0, 1.0], [20.0, 2.0], [30.0, 3.0]]))),
        Case("d_v != d_k, 4 queries, 6 keys", (rng.normal(size=(4, 5)), rng.normal(size=(6, 5)), rng.normal(size=(6, 2)))),
        Case("more queries than keys", (rng.normal(size=(7, 3)), rng.normal(size=(2, 3)), rng.normal(size=(2, 4)))),
        Case("a near tie: scores 1.0 and 0.999 (a sharp softmax still mixes)",
             (np.array([[1.0, 0.0]]), np.array([[1.0, 0.0], [0.999, 0.0]]), np.array([[1.0, 0.0], [0.0, 1.0]]))),
    ]


@mistake("return the VALUE stored under the best key, not the key itself.", zh="返回最佳键对应的“值”，而不是键本身。")
def _hard_returns_key(q, keys, values):
    return keys[np.argmax(q @ keys.T, axis=-1)]


@mistake("the best match has the LARGEST score q·k: use argmax, not argmin.",
         zh="最佳匹配是分数 q·k 最大的那个：用 argmax，而不是 argmin。")
def _hard_argmin(q, keys, values):
    return values[np.argmin(q @ keys.T, axis=-1)]


@mistake("score with the dot product q·k as attention does, not with Euclidean distance.",
         zh="像注意力那样用点积 q·k 打分，而不是用欧氏距离。")
def _hard_distance(q, keys, values):
    dist = ((q[:, None, :] - keys[None, :, :]) ** 2).sum(-1)
    return values[np.argmin(dist, axis=-1)]


@mistake("that is the soft lookup (attention); here return exactly one value per query.",
         zh="这是软查找（即注意力）；这里每个查询只返回恰好一个值。")
def _hard_soft(q, keys, values):
    return softmax(q @ keys.T / np.sqrt(q.shape[-1]), axis=-1) @ values


register(Exercise(
    id="02.2", title="a hard dictionary lookup", title_zh="硬字典查找",
    reference=_hard_lookup, cases=_hard_cases,
    mistakes=[_hard_returns_key, _hard_argmin, _hard_distance, _hard_soft]))

# ---------------------------------------------------------------- 02.3 causal mask


def _causal_cases() -> list[Case]:
    return [Case("n=4", (4,)), Case("n=1", (1,)), Case("n=2", (2,)), Case("n=7", (7,))]


@mistake("off-by-one: a token may attend to itself, so the diagonal is True (np.tril with k=0).",
         zh="差一错误：词元可以关注自己，所以对角线应为 True（np.tril 取 k=0）。")
def _causal_strict(n):
    return np.tril(np.ones((n, n), dtype=bool), k=-1)


@mistake("rows are queries: query i may see keys j <= i, the LOWER triangle (you allowed the future).",
         zh="行对应查询：查询 i 只能看到 j <= i 的键，也就是下三角（你放开了未来的位置）。")
def _causal_upper(n):
    return np.triu(np.ones((n, n), dtype=bool))


@mistake("polarity: in this course True = may attend "
         "(as in PyTorch's scaled_dot_product_attention); you returned True = blocked.",
         zh="极性反了：本课程中 True 表示“可以关注”（与 PyTorch 的 scaled_dot_product_attention 一致），"
            "你返回的是 True 表示“屏蔽”。")
def _causal_inverted(n):
    return ~np.tril(np.ones((n, n), dtype=bool))


@mistake("return a boolean mask (dtype bool), not 0/1 floats: float masks are ambiguous.",
         zh="请返回布尔掩码（dtype bool），而不是 0/1 浮点数：浮点掩码的含义有歧义。")
def _causal_float(n):
    return np.tril(np.ones((n, n)))


register(Exercise(
    id="02.3", title="the causal mask", title_zh="因果掩码",
    reference=lambda n: causal_mask(n), cases=_causal_cases, forbidden=("utils.core.attention_numpy.causal_mask",),
    mistakes=[_causal_strict, _causal_upper, _causal_inverted, _causal_float]))

# ---------------------------------------------------------------- 02.4 cross-attention shapes

register(Exercise(
    id="02.4", title="the shape of cross-attention weights", title_zh="交叉注意力权重的形状",
    reference=(7, 12), kind="value",
    mistakes=wrong_values({
        (12, 7): ("rows are queries (the 7 decoder positions), columns are keys (the 12 encoder positions).",
                  "行对应查询（解码器的 7 个位置），列对应键（编码器的 12 个位置）。"),
        (7, 7): ("in cross-attention the keys come from the encoder (12 positions), not from the decoder.",
                 "交叉注意力中的键来自编码器（12 个位置），而不是解码器。"),
        (7, 64): ("that is the shape of the output, (n_q, d_v); the weights are (n_q, n_k).",
                  "这是输出的形状 (n_q, d_v)；权重的形状是 (n_q, n_k)。"),
    })))
