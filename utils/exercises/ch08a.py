"""Chapter 08a exercises: the cost of attention, the online softmax and FlashAttention's block step."""

from __future__ import annotations

import numpy as np

from utils.efficient.tiled_numpy import SKIPPED, causal_block_schedule, online_softmax_update
from utils.exercises.core import Case, Exercise, Mistake, register

# ---------------------------------------------------------------- 08a.1 attention FLOPs


def _flops(n, d, causal):
    flops = 4 * n * n * d  # 2·n²·d for Q Kᵀ plus 2·n²·d for P V
    return flops // 2 if causal else flops


def _flops_cases() -> list[Case]:
    return [Case(f"n={n}, d={d}, causal={c}", (n, d, c)) for n, d, c in
            [(4, 2, False), (1024, 64, False), (1024, 64, True), (1, 8, False), (4096, 128, True)]]


register(Exercise(
    id="08a.1",
    title="count the FLOPs of one attention head", title_zh="统计一个注意力头的 FLOPs",
    reference=_flops,
    cases=_flops_cases,
    mistakes=[
        Mistake("there are TWO matmuls, Q Kᵀ and P V, and a multiply-add is 2 FLOPs: 2·n²·d each, 4·n²·d in all.",
                lambda n, d, causal: (2 * n * n * d) // (2 if causal else 1),
                hint_zh="有“两次”矩阵乘法，Q Kᵀ 和 P V，一次乘加是 2 FLOPs：各 2·n²·d，合计 4·n²·d。"),
        Mistake("count 2 FLOPs per multiply-add (one multiply, one add) in each of the two matmuls.",
                lambda n, d, causal: (n * n * d) // (2 if causal else 1),
                hint_zh="两次矩阵乘法中，每次乘加都算 2 FLOPs（一次乘法、一次加法）。"),
        Mistake("causal attention skips the half above the diagonal: divide by 2 when causal=True.",
                lambda n, d, causal: 4 * n * n * d,
                hint_zh="因果注意力跳过对角线以上的一半：causal=True 时要除以 2。"),
    ],
))

# ---------------------------------------------------------------- 08a.2 the online-softmax update


def _update_cases() -> list[Case]:
    rng = np.random.default_rng(82)
    m0 = rng.normal(size=3) * 3
    l0 = rng.uniform(0.5, 3.0, size=3)
    return [
        Case("first block: m = -inf, l = 0", (np.full(3, -np.inf), np.zeros(3), rng.normal(size=(3, 4)))),
        Case("a later block whose max is smaller than m", (m0 + 20, l0, rng.normal(size=(3, 2)))),
        Case("a later block whose max is LARGER than m", (m0, l0, rng.normal(size=(3, 5)) * 3 + 8)),
        Case("huge scores (exp would overflow)", (np.array([1000.0]), np.array([1.0]), np.array([[1003.0, 999.0]]))),
        Case("a masked row: scores all -inf", (np.array([0.5, -np.inf]), np.array([2.0, 0.0]),
                                               np.full((2, 3), -np.inf))),
    ]


def _update_no_rescale(m, l, scores):
    m_new = np.maximum(m, scores.max(axis=-1))
    shift = np.where(np.isfinite(m_new), m_new, 0.0)
    return m_new, l + np.exp(scores - shift[..., None]).sum(axis=-1)


def _update_inverted_rescale(m, l, scores):
    m_new = np.maximum(m, scores.max(axis=-1))
    shift = np.where(np.isfinite(m_new), m_new, 0.0)
    alpha = np.exp(np.where(np.isfinite(m), shift - m, 0.0))
    return m_new, l * alpha + np.exp(scores - shift[..., None]).sum(axis=-1)


def _update_block_max(m, l, scores):
    m_blk = scores.max(axis=-1)
    shift = np.where(np.isfinite(m_blk), m_blk, 0.0)
    return np.maximum(m, m_blk), l + np.exp(scores - shift[..., None]).sum(axis=-1)


register(Exercise(
    id="08a.2",
    title="the online-softmax update of (m, l)", title_zh="(m, l) 的在线 softmax 更新",
    reference=online_softmax_update,
    results=("m", "l"),
    cases=_update_cases,
    mistakes=[
        Mistake("when the max rises, the old normaliser was computed against the old max: multiply l by "
                "exp(m - m_new) before adding the block's sum.", _update_no_rescale,
                hint_zh="最大值变大时，旧的归一化项是按旧的最大值算的：先把 l 乘以 exp(m - m_new)，再加上本块的和。"),
        Mistake("the rescale factor is exp(m_old - m_new) <= 1, not exp(m_new - m_old).", _update_inverted_rescale,
                hint_zh="重缩放因子是 exp(m_old - m_new) <= 1，而不是 exp(m_new - m_old)。"),
        Mistake("shift the block by the RUNNING max m_new = max(m, block max), not by the block's own max, "
                "and rescale l.", _update_block_max,
                hint_zh="本块要减去“当前累计”的最大值 m_new = max(m, 块内最大值)，而不是块自己的最大值，并且要重缩放 l。"),
    ],
))

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


def _step_normalised(m, l, acc, s, v_blk):
    m_new, l_new, acc_new = _flash_step(m, l, acc, s, v_blk)
    return m_new, l_new, acc_new / l_new[..., None]


def _step_no_acc_rescale(m, l, acc, s, v_blk):
    m_new, l_new, _ = _flash_step(m, l, acc, s, v_blk)
    shift = np.where(np.isfinite(m_new), m_new, 0.0)
    return m_new, l_new, acc + np.exp(s - shift[..., None]) @ v_blk


def _step_unshifted(m, l, acc, s, v_blk):
    m_new = np.maximum(m, s.max(axis=-1))
    p = np.exp(s)
    return m_new, l + p.sum(axis=-1), acc + p @ v_blk


register(Exercise(
    id="08a.3",
    title="one FlashAttention-2 block step", title_zh="FlashAttention-2 的一个分块步骤",
    reference=_flash_step,
    results=("m", "l", "acc"),
    cases=_step_cases,
    mistakes=[
        Mistake("keep the accumulator UNnormalised: FlashAttention-2 divides by l once, after the last block.",
                _step_normalised,
                hint_zh="累加器要保持“未归一化”：FlashAttention-2 在最后一块之后才除以 l，而且只除一次。"),
        Mistake("rescale the accumulator too: acc must be multiplied by exp(m - m_new), like l.",
                _step_no_acc_rescale,
                hint_zh="累加器也要重缩放：acc 要像 l 一样乘以 exp(m - m_new)。"),
        Mistake("subtract the running max before exp: exp(s) overflows for large scores.", _step_unshifted,
                hint_zh="求 exp 之前先减去累计最大值：分数很大时 exp(s) 会上溢。"),
    ],
    frameworks=("numpy", "tensorflow", "torch"),
    rtol=1e-5, atol=1e-5,
))

# ---------------------------------------------------------------- 08a.4 causal blocks computed

_N, _B = 4096, 128
register(Exercise(
    id="08a.4",
    title="how many causal blocks are computed", title_zh="因果注意力要计算多少个块",
    kind="value",
    reference=int((causal_block_schedule(_N, _N, _B, _B) != SKIPPED).sum()),  # 32·33/2 = 528
    mistakes=[
        Mistake("blocks ON the diagonal are only partly masked: they must be computed too.", 32 * 31 // 2,
                hint_zh="对角线“上”的块只是部分被屏蔽：它们也必须计算。"),
        Mistake("half of the 32×32 = 1024 blocks is 512, but the 32 diagonal blocks are computed in full "
                "(they are partial, not skipped): count 32·33/2.", 512,
                hint_zh="32×32 = 1024 个块的一半是 512，但对角线上的 32 个块要完整计算（它们是部分屏蔽，而不是跳过）：应算 32·33/2。"),
        Mistake("causal tiling skips the blocks above the diagonal: not all 1024 are computed.", 1024,
                hint_zh="因果分块会跳过对角线以上的块：并不是 1024 个块都要计算。"),
    ],
))
