"""Chapter 04 exercises: scaled scores, masked softmax, and the backward pass of attention."""

from __future__ import annotations

import numpy as np

from utils.core.attention_grad_numpy import attention_backward, softmax_backward
from utils.core.attention_numpy import softmax
from utils.exercises.core import Case, Exercise, mistake, register


def _score_cases() -> list[Case]:
    rng = np.random.default_rng(4)
    return [
        Case("Q (3, 4), K (5, 4)", (rng.normal(size=(3, 4)), rng.normal(size=(5, 4)))),
        Case("batched (2, 3, 6, 8)", (rng.normal(size=(2, 3, 6, 8)), rng.normal(size=(2, 3, 6, 8)))),
        Case("d_k = 64", (rng.normal(size=(4, 64)), rng.normal(size=(4, 64)))),
        Case("d_k = 1", (rng.normal(size=(2, 1)), rng.normal(size=(3, 1)))),
    ]


def _scores_reference(q, k):
    return np.matmul(q, np.swapaxes(k, -1, -2)) / np.sqrt(q.shape[-1])


@mistake("missing 1/sqrt(d_k): divide Q Kᵀ by the square root of d_k.",
         zh="缺少 1/sqrt(d_k)：要把 Q Kᵀ 除以 d_k 的平方根。")
def _scores_no_scale(q, k):
    return np.matmul(q, np.swapaxes(k, -1, -2))


@mistake("divide by sqrt(d_k), not by d_k.", zh="除以 sqrt(d_k)，而不是 d_k。")
def _scores_over_d_k(q, k):
    return np.matmul(q, np.swapaxes(k, -1, -2)) / q.shape[-1]


@mistake("d_k is the feature dimension Q.shape[-1], not the number of keys.",
         zh="d_k 是特征维度 Q.shape[-1]，不是键的个数。")
def _scores_over_n_keys(q, k):
    return np.matmul(q, np.swapaxes(k, -1, -2)) / np.sqrt(k.shape[-2])


@mistake("rows are queries and columns keys: compute Q Kᵀ, not K Qᵀ.",
         zh="行对应查询、列对应键：计算 Q Kᵀ，而不是 K Qᵀ。")
def _scores_keys_as_rows(q, k):
    return np.matmul(k, np.swapaxes(q, -1, -2)) / np.sqrt(q.shape[-1])


register(Exercise(
    id="04.1", title="scaled dot-product scores", title_zh="缩放点积分数",
    reference=_scores_reference, cases=_score_cases, frameworks=("numpy", "tensorflow", "torch"),
    mistakes=[_scores_no_scale, _scores_over_d_k, _scores_over_n_keys, _scores_keys_as_rows]))


def _mask_cases() -> list[Case]:
    rng = np.random.default_rng(5)
    causal = np.tril(np.ones((4, 4), dtype=bool))
    partial = np.ones((3, 5), dtype=bool)
    partial[:, 3:] = False  # padding: the last two keys
    full_row = causal.copy()
    full_row[0] = False  # a query that may attend to nothing
    return [
        Case("causal (4, 4)", (rng.normal(size=(4, 4)), causal)),
        Case("padding (3, 5)", (rng.normal(size=(3, 5)), partial)),
        Case("a fully masked row", (rng.normal(size=(4, 4)), full_row)),
        Case("large scores, batch (2, 4, 4)", (rng.normal(scale=50.0, size=(2, 4, 4)), causal)),
        Case("scores of order 1000 (exp overflows without the max)",
             (np.array([[1000.0, 999.0, 0.0, -5.0], [-1000.0, -999.0, -998.0, 3.0], [800.0, -800.0, 1.0, 2.0]]),
              causal[1:])),
    ]


def _masked_reference(scores, mask):
    return softmax(np.where(mask, scores, -np.inf), axis=-1)


@mistake("mask applied after softmax: the kept weights no longer "
         "sum to 1. Set masked scores to -inf BEFORE the softmax.",
         zh="掩码放在了 softmax 之后：保留下来的权重之和不再是 1。要在 softmax 之前把被屏蔽的分数设为 -inf。")
def _mask_after_softmax(scores, mask):
    return softmax(scores, axis=-1) * mask


@mistake("a fully masked row must give all-zero weights; filling with -1e9 makes "
         "it uniform. Use -inf and a softmax that maps an all -inf row to zeros.",
         zh="整行都被屏蔽时权重应全为 0；用 -1e9 填充会得到均匀分布。"
            "请用 -inf，并用能把全 -inf 行映射为全 0 的 softmax。")
def _mask_minus_1e9(scores, mask):
    return softmax(np.where(mask, scores, -1e9), axis=-1)


@mistake("mask polarity: in this course True = may attend, so keep the scores where mask is True.",
         zh="掩码极性：本课程中 True 表示“可以关注”，所以要保留 mask 为 True 处的分数。")
def _mask_inverted(scores, mask):
    return softmax(np.where(mask, -np.inf, scores), axis=-1)


@mistake("softmax over the last axis (the keys), not axis -2.",
         zh="softmax 要作用在最后一个轴（键）上，而不是 axis -2。")
def _mask_wrong_axis(scores, mask):
    return softmax(np.where(mask, scores, -np.inf), axis=-2)


@mistake("a fully masked row: its maximum is -inf and -inf - (-inf) is NaN. Give such rows all-zero "
         "weights (for example, subtract 0 instead of the maximum where the whole row is masked).",
         zh="整行被屏蔽时最大值是 -inf，而 -inf - (-inf) 得到 NaN。"
            "请让这样的行的权重全为 0（例如在整行被屏蔽时减去 0 而不是最大值）。")
def _mask_naive_nan(scores, mask):
    masked = np.where(mask, scores, -np.inf)
    with np.errstate(invalid="ignore"):
        e = np.exp(masked - masked.max(axis=-1, keepdims=True))  # an all -inf row: -inf - (-inf) = NaN
        return e / e.sum(axis=-1, keepdims=True)


register(Exercise(
    id="04.2", title="mask before softmax", title_zh="先掩码，再 softmax",
    reference=_masked_reference, cases=_mask_cases, forbidden=("utils.core.attention_numpy.softmax",),
    mistakes=[_mask_after_softmax, _mask_minus_1e9, _mask_inverted, _mask_wrong_axis, _mask_naive_nan]))


def _softmax_backward_cases() -> list[Case]:
    rng = np.random.default_rng(6)
    p = softmax(rng.normal(size=(3, 5)), axis=-1)
    peaked = softmax(np.array([[20.0, 0.0, 0.0, 0.0]]), axis=-1)
    masked = softmax(np.where(np.tril(np.ones((4, 4), dtype=bool)), rng.normal(size=(4, 4)), -np.inf), axis=-1)
    return [
        Case("P (3, 5)", (p, rng.normal(size=(3, 5)))),
        Case("batched (2, 4, 6)", (softmax(rng.normal(size=(2, 4, 6)), axis=-1), rng.normal(size=(2, 4, 6)))),
        Case("a saturated row", (peaked, rng.normal(size=(1, 4)))),
        Case("causal weights with zeros", (masked, rng.normal(size=(4, 4)))),
    ]


@mistake("the softmax Jacobian is diag(p) - p pᵀ: you kept only "
         "the diagonal (P * dP); subtract P * sum(dP * P) as well.",
         zh="softmax 的雅可比矩阵是 diag(p) - p pᵀ：你只保留了对角部分（P * dP），还要减去 P * sum(dP * P)。")
def _softmax_grad_diagonal_only(p, dp):
    return p * dp


@mistake("sum dP * P over the last axis (each row is its own softmax), with keepdims=True.",
         zh="dP * P 要沿最后一个轴求和（每一行各自是一个 softmax），并设 keepdims=True。")
def _softmax_grad_wrong_axis(p, dp):
    return p * (dp - np.sum(dp * p, axis=-2, keepdims=True))


@mistake("multiply by P: dS = P * (dP - sum(dP * P)).", zh="还要乘以 P：dS = P * (dP - sum(dP * P))。")
def _softmax_grad_without_p(p, dp):
    return dp - np.sum(dp * p, axis=-1, keepdims=True)


register(Exercise(
    id="04.3", title="backward of softmax", title_zh="softmax 的反向传播",
    reference=softmax_backward, cases=_softmax_backward_cases,
    forbidden=("utils.core.attention_grad_numpy.softmax_backward",),
    mistakes=[_softmax_grad_diagonal_only, _softmax_grad_wrong_axis, _softmax_grad_without_p]))


def _backward_cases() -> list[Case]:
    rng = np.random.default_rng(7)

    def qkv_do(n_q, n_k, d_k, d_v, scale=1.0):
        return (rng.normal(size=(n_q, d_v)), scale * rng.normal(size=(n_q, d_k)),
                scale * rng.normal(size=(n_k, d_k)), rng.normal(size=(n_k, d_v)))

    return [
        Case("self-attention n=4, d_k=8", qkv_do(4, 4, 8, 3)),
        Case("cross-attention n_q=3, n_k=5", qkv_do(3, 5, 4, 2)),
        Case("d_k = 1", qkv_do(3, 3, 1, 2)),
        Case("peaked weights", qkv_do(4, 4, 16, 2, scale=2.0)),
    ]


@mistake("missing 1/sqrt(d_k): S = Q Kᵀ / sqrt(d_k), so dQ and dK carry the factor 1/sqrt(d_k).",
         zh="缺少 1/sqrt(d_k)：S = Q Kᵀ / sqrt(d_k)，所以 dQ 和 dK 都带有因子 1/sqrt(d_k)。")
def _backward_no_scale(d_o, q, k, v):
    d_q, d_k, d_v = attention_backward(d_o, q, k, v)
    s = np.sqrt(q.shape[-1])
    return d_q * s, d_k * s, d_v


@mistake("go through the softmax: dS = P * (dP - sum(dP * P, -1)), not dS = dP.",
         zh="梯度要穿过 softmax：dS = P * (dP - sum(dP * P, -1))，而不是 dS = dP。")
def _backward_no_softmax(d_o, q, k, v):
    w = softmax(q @ k.T / np.sqrt(q.shape[-1]), axis=-1)
    d_s = (d_o @ v.T) / np.sqrt(q.shape[-1])
    return d_s @ k, d_s.T @ q, w.T @ d_o


@mistake("dK = dSᵀ Q (keys are the columns of S), not dS Q.", zh="dK = dSᵀ Q（键对应 S 的列），而不是 dS Q。")
def _backward_dk_untransposed(d_o, q, k, v):
    w = softmax(q @ k.T / np.sqrt(q.shape[-1]), axis=-1)
    d_s = softmax_backward(w, d_o @ v.T) / np.sqrt(q.shape[-1])
    return d_s @ k, d_s @ q, w.T @ d_o


register(Exercise(
    id="04.4", title="the backward pass of attention", title_zh="注意力的反向传播",
    reference=attention_backward, cases=_backward_cases,
    forbidden=("utils.core.attention_grad_numpy.attention_backward",), atol=1e-8,
    mistakes=[_backward_no_scale, _backward_no_softmax, _backward_dk_untransposed]))
