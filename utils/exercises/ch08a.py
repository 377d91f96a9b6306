"""Chapter 08a exercises: the cost of attention, merging partial softmax results, FlashAttention's block step."""

from __future__ import annotations

import numpy as np

from utils.efficient.tiled_numpy import SKIPPED, causal_block_schedule
from utils.exercises.core import Case, Exercise, mistake, register, wrong_values

# ---------------------------------------------------------------- 08a.1 attention FLOPs


def _flops(n, d, causal):
    flops = 4 * n * n * d  # 2·n²·d for Q Kᵀ plus 2·n²·d for P V
    return flops // 2 if causal else flops


def _flops_cases() -> list[Case]:
    return [Case(f"n={n}, d={d}, causal={c}", (n, d, c)) for n, d, c in
            [(4, 2, False), (1024, 64, False), (1024, 64, True), (1, 8, False), (4096, 128, True)]]


@mistake("there are TWO matmuls, Q Kᵀ and P V, and a multiply-add is 2 FLOPs: 2·n²·d each, 4·n²·d in all.",
         zh="有“两次”矩阵乘法，Q Kᵀ 和 P V，一次乘加是 2 FLOPs：各 2·n²·d，合计 4·n²·d。")
def _flops_one_matmul(n, d, causal):
    return (2 * n * n * d) // (2 if causal else 1)


@mistake("count 2 FLOPs per multiply-add (one multiply, one add) in each of the two matmuls.",
         zh="两次矩阵乘法中，每次乘加都算 2 FLOPs（一次乘法、一次加法）。")
def _flops_no_factor_two(n, d, causal):
    return (n * n * d) // (2 if causal else 1)


@mistake("causal attention skips the half above the diagonal: divide by 2 when causal=True.",
         zh="因果注意力跳过对角线以上的一半：causal=True 时要除以 2。")
def _flops_causal_not_halved(n, d, causal):
    return 4 * n * n * d


register(Exercise(
    id="08a.1", title="count the FLOPs of one attention head", title_zh="统计一个注意力头的 FLOPs",
    reference=_flops, cases=_flops_cases,
    mistakes=[_flops_one_matmul, _flops_no_factor_two, _flops_causal_not_halved]))

# ---------------------------------------------------------------- 08a.2 merge two partial results


def _common_max(m1, m2):
    """The merged row max, and the shift to subtract: the max, or 0 where both halves are fully masked
    (m = -inf), which keeps everything at 0 instead of exp(-inf - (-inf)) = NaN."""
    m = np.maximum(m1, m2)
    return m, np.where(np.isfinite(m), m, 0.0)


def _merge(m1, l1, o1, m2, l2, o2):
    m, shift = _common_max(m1, m2)
    w1, w2 = l1 * np.exp(m1 - shift), l2 * np.exp(m2 - shift)  # each half's normaliser against the common max
    l = w1 + w2
    o = np.divide(w1[:, None] * o1 + w2[:, None] * o2, l[:, None], out=np.zeros_like(o1), where=l[:, None] > 0)
    return m, l, o


def _partial(s, v):
    """(m, l, o) of one key block: its row max, its normaliser and its NORMALISED output."""
    m = s.max(axis=1)
    shift = np.where(np.isfinite(m), m, 0.0)
    p = np.exp(s - shift[:, None])
    l = p.sum(axis=1)
    return m, l, np.divide(p @ v, l[:, None], out=np.zeros((len(s), v.shape[1])), where=l[:, None] > 0)


def _merge_cases() -> list[Case]:
    rng = np.random.default_rng(82)
    cases = []
    for label, shift2, rows, n1, n2 in [("two random halves", 0.0, 3, 4, 5),
                                        ("the second half has much larger scores", 9.0, 3, 3, 2),
                                        ("scores of order 1e4", 1e4, 2, 4, 4)]:
        s1 = rng.normal(size=(rows, n1)) * 2 + (shift2 if label.startswith("scores") else 0)
        s2 = rng.normal(size=(rows, n2)) * 2 + shift2
        v1, v2 = rng.normal(size=(n1, 3)), rng.normal(size=(n2, 3))
        cases.append(Case(label, (*_partial(s1, v1), *_partial(s2, v2))))
    s1, s2 = rng.normal(size=(2, 3)), np.full((2, 4), -np.inf)
    s1[1] = -np.inf  # row 1 sees no key in either half
    cases.append(Case("a fully masked second half, and a row masked in both",
                      (*_partial(s1, rng.normal(size=(3, 3))), *_partial(s2, rng.normal(size=(4, 3))))))
    return cases


@mistake("the two halves do not count equally: weight each normalised output "
         "by its share of the softmax mass, l·exp(m - m_new), not 1/2.",
         zh="两半的权重不相等：每个归一化输出要按它占的 softmax 质量 l·exp(m - m_new) 加权，而不是各占 1/2。")
def _merge_average(m1, l1, o1, m2, l2, o2):
    m, l, _ = _merge(m1, l1, o1, m2, l2, o2)
    return m, l, (o1 + o2) / 2


@mistake("each l was summed against its OWN max: rescale it by exp(m_half - m_new) "
         "before adding or weighting (l1 + l2 mixes two different reference points).",
         zh="每个 l 是相对于它自己的最大值求和的：相加或加权之前先乘以 exp(m_half - m_new)。")
def _merge_unrescaled(m1, l1, o1, m2, l2, o2):
    m, l = np.maximum(m1, m2), l1 + l2
    return m, l, (l1[:, None] * o1 + l2[:, None] * o2) / l[:, None]


@mistake("a row that saw no key has m = -inf in both halves: exp(-inf - (-inf)) is "
         "NaN. Shift by 0 where the new max is -inf, and return o = 0 where l = 0.",
         zh="两半都被完全遮蔽的行 m = -inf，exp(-inf - (-inf)) 是 NaN：此时用 0 作平移，l = 0 时输出 0。")
def _merge_no_masked_rows(m1, l1, o1, m2, l2, o2):
    m = np.maximum(m1, m2)
    w1, w2 = l1 * np.exp(m1 - m), l2 * np.exp(m2 - m)
    return m, w1 + w2, (w1[:, None] * o1 + w2[:, None] * o2) / (w1 + w2)[:, None]


@mistake("o1 and o2 are already normalised: after weighting them by "
         "w = l·exp(m_half - m_new), divide by the new l = w1 + w2.",
         zh="o1、o2 已经归一化：按 w = l·exp(m_half - m_new) 加权后，还要除以新的 l = w1 + w2。")
def _merge_not_divided(m1, l1, o1, m2, l2, o2):
    m, shift = _common_max(m1, m2)
    w1, w2 = l1 * np.exp(m1 - shift), l2 * np.exp(m2 - shift)
    return m, w1 + w2, w1[:, None] * o1 + w2[:, None] * o2


@mistake("exp(m_half - m_new) alone is not a half's share: a half with more "
         "keys (a larger l) counts more, so weight by l·exp(m_half - m_new).",
         zh="只用 exp(m_half - m_new) 不是这一半的权重：键越多（l 越大）权重越大，要用 l·exp(m_half - m_new)。")
def _merge_without_l(m1, l1, o1, m2, l2, o2):
    m, shift = _common_max(m1, m2)
    e1, e2 = np.exp(m1 - shift), np.exp(m2 - shift)
    o = np.divide(e1[:, None] * o1 + e2[:, None] * o2, (e1 + e2)[:, None], out=np.zeros_like(o1),
                  where=(e1 + e2)[:, None] > 0)
    return m, l1 * e1 + l2 * e2, o


register(Exercise(
    id="08a.2", title="merge two partial results computed on disjoint key blocks",
    title_zh="合并在不相交键块上算出的两个部分结果",
    reference=_merge, cases=_merge_cases, results=("m", "l", "o"),
    mistakes=[_merge_average, _merge_unrescaled, _merge_no_masked_rows, _merge_not_divided, _merge_without_l]))

# ---------------------------------------------------------------- 08a.3 one FlashAttention block step


def _flash_step(m, l, acc, s, v_blk):
    m_new = np.maximum(m, s.max(axis=-1))
    shift = np.where(np.isfinite(m_new), m_new, 0.0)
    p = np.exp(s - shift[..., None])
    alpha = np.exp(m - shift)
    return m_new, alpha * l + p.sum(axis=-1), alpha[..., None] * acc + p @ v_blk


def _step_cases() -> list[Case]:
    rng = np.random.default_rng(83)
    rows, bk, d = 3, 4, 2
    first = (np.full(rows, -np.inf), np.zeros(rows), np.zeros((rows, d)))
    later = (rng.normal(size=rows), rng.uniform(1, 2, size=rows), rng.normal(size=(rows, d)))
    return [
        Case("first key block (m = -inf, l = 0, acc = 0)", (*first, rng.normal(size=(rows, bk)), rng.normal(size=(bk, d)))),
        Case("later block, max rises", (*later, rng.normal(size=(rows, bk)) + 5, rng.normal(size=(bk, d)))),
        Case("later block, max stays", (*later, rng.normal(size=(rows, bk)) - 5, rng.normal(size=(bk, d)))),
        Case("scores of order 1e4", (np.array([1e4]), np.array([1.0]), np.array([[0.5, -0.5]]),
                                     np.array([[1e4 + 3, 1e4 - 3]]), np.array([[1.0, 2.0], [3.0, 4.0]]))),
    ]


@mistake("keep the accumulator UNnormalised: FlashAttention-2 divides by l once, after the last block.",
         zh="累加器要保持“未归一化”：FlashAttention-2 在最后一块之后才除以 l，而且只除一次。")
def _step_normalised(m, l, acc, s, v_blk):
    m_new, l_new, acc_new = _flash_step(m, l, acc, s, v_blk)
    return m_new, l_new, acc_new / l_new[..., None]


@mistake("rescale the accumulator too: acc must be multiplied by exp(m - m_new), like l.",
         zh="累加器也要重缩放：acc 要像 l 一样乘以 exp(m - m_new)。")
def _step_no_acc_rescale(m, l, acc, s, v_blk):
    m_new, l_new, _ = _flash_step(m, l, acc, s, v_blk)
    shift = np.where(np.isfinite(m_new), m_new, 0.0)
    return m_new, l_new, acc + np.exp(s - shift[..., None]) @ v_blk


@mistake("subtract the running max before exp: exp(s) overflows for large scores.",
         zh="求 exp 之前先减去累计最大值：分数很大时 exp(s) 会上溢。")
def _step_unshifted(m, l, acc, s, v_blk):
    m_new = np.maximum(m, s.max(axis=-1))
    p = np.exp(s)
    return m_new, l + p.sum(axis=-1), acc + p @ v_blk


register(Exercise(
    id="08a.3", title="one FlashAttention-2 block step", title_zh="FlashAttention-2 的一个分块步骤",
    reference=_flash_step, results=("m", "l", "acc"), cases=_step_cases, frameworks=("numpy", "tensorflow", "torch"),
    rtol=1e-5, atol=1e-5,
    mistakes=[_step_normalised, _step_no_acc_rescale, _step_unshifted]))

# ---------------------------------------------------------------- 08a.4 causal blocks computed

_N, _B = 4096, 128
register(Exercise(
    id="08a.4", title="how many causal blocks are computed", title_zh="因果注意力要计算多少个块",
    kind="value", reference=int((causal_block_schedule(_N, _N, _B, _B) != SKIPPED).sum()),
    mistakes=wrong_values({
        32 * 31 // 2: ("blocks ON the diagonal are only partly masked: they must be computed too.",
                       "对角线“上”的块只是部分被屏蔽：它们也必须计算。"),
        512: ("half of the 32×32 = 1024 blocks is 512, but the 32 diagonal blocks "
              "are computed in full (they are partial, not skipped): count 32·33/2.",
              "32×32 = 1024 个块的一半是 512，"
              "但对角线上的 32 个块要完整计算（它们是部分屏蔽，而不是跳过）：应算 32·33/2。"),
        1024: ("causal tiling skips the blocks above the diagonal: not all 1024 are computed.",
               "因果分块会跳过对角线以上的块：并不是 1024 个块都要计算。"),
    })))
