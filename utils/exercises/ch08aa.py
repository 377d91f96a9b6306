"""Chapter 08aa exercises: the two new quantities of FlashAttention's backward pass, D and dS."""

from __future__ import annotations

import numpy as np

from utils.exercises.core import Case, Exercise, mistake, register

# ---------------------------------------------------------------- 08aa.1 D = rowsum(dO ∘ O)


def _delta(do, o):
    return (do * o).sum(axis=-1)


def _delta_cases() -> list[Case]:
    rng = np.random.default_rng(801)
    return [Case("a (5, 3) block of dO and O", (rng.normal(size=(5, 3)), rng.normal(size=(5, 3)))),
            Case("more rows than columns: (7, 2)", (rng.normal(size=(7, 2)), rng.normal(size=(7, 2)))),
            Case("a fully masked row (O = 0)", (rng.normal(size=(3, 4)), np.vstack([rng.normal(size=(2, 4)),
                                                                                    np.zeros((1, 4))])))]


@mistake("D has one entry per QUERY (row): sum over the last axis, the feature axis d_v, not over the rows.",
         zh="D 每个查询（每行）一个数：沿最后一维 d_v 求和，而不是沿行求和。")
def _delta_over_rows(do, o):
    return (do * o).sum(axis=0)


@mistake("multiply element by element, then sum each row: rowsum(dO) · rowsum(O) is a different number.",
         zh="先逐元素相乘再按行求和：rowsum(dO) · rowsum(O) 是另一个数。")
def _delta_product_of_sums(do, o):
    return do.sum(axis=-1) * o.sum(axis=-1)


@mistake("dO Oᵀ is an (n, n) matrix, the very thing FlashAttention avoids; D is only its diagonal.",
         zh="dO Oᵀ 是 (n, n) 矩阵，正是 FlashAttention 要避免的；D 只是它的对角线。")
def _delta_full_matrix(do, o):
    return do @ o.T


@mistake("one number per query ROW: sum over the last axis only, not over the whole array.",
         zh="每个查询（每行）一个数：只沿最后一维求和，不要对整个数组求和。")
def _delta_total(do, o):
    return (do * o).sum()


@mistake("a sum, not a mean: D = Σ_c dO_ic O_ic, because Σ_j P_ij dP_ij has no 1/d factor.",
         zh="是求和不是平均：D = Σ_c dO_ic O_ic，Σ_j P_ij dP_ij 里没有 1/d。")
def _delta_mean(do, o):
    return (do * o).mean(axis=-1)


register(Exercise(
    id="08aa.1", title="D = rowsum(dO ∘ O), one number per query", title_zh="D = rowsum(dO ∘ O)：每个查询一个数",
    reference=_delta, cases=_delta_cases,
    mistakes=[_delta_over_rows, _delta_product_of_sums, _delta_full_matrix, _delta_total, _delta_mean]))

# ---------------------------------------------------------------- 08aa.2 dS from P, dP and D


def _ds(p, dp, d):
    return p * (dp - d[:, None])


def _ds_cases() -> list[Case]:
    rng = np.random.default_rng(802)
    cases = []
    for label, rows, n_k, cols in [("a whole row of keys in one tile", 3, 5, slice(0, 5)),
                                   ("one tile of 3 of the 8 keys", 4, 8, slice(2, 5))]:
        s = rng.normal(size=(rows, n_k)) * 2
        p_full = np.exp(s - s.max(axis=1, keepdims=True))
        p_full /= p_full.sum(axis=1, keepdims=True)
        dp_full = rng.normal(size=(rows, n_k))
        d = (dp_full * p_full).sum(axis=1)  # = rowsum(dO ∘ O) for the whole row
        cases.append(Case(label, (p_full[:, cols], dp_full[:, cols], d)))
    return cases


@mistake("you forgot D: the softmax couples every score of a row, dS = P ∘ (dP − D), not P ∘ dP.",
         zh="忘了 D：softmax 把一行的所有分数耦合在一起，dS = P ∘ (dP − D)，而不是 P ∘ dP。")
def _ds_without_d(p, dp, d):
    return p * dp


@mistake("rowsum(dP ∘ P) over this tile sees only its own keys: use the D you were given, "
         "which covers the whole row (it comes from O and dO, so no other tile is needed).",
         zh="只在本分块上算的 rowsum(dP ∘ P) 只看到这块的键：请用给定的 D，它覆盖整行。")
def _ds_tile_rowsum(p, dp, d):
    return p * (dp - (dp * p).sum(axis=1, keepdims=True))


@mistake("the sign: dS = P ∘ (dP − D), so where dP equals D the gradient is zero.",
         zh="符号：dS = P ∘ (dP − D)，dP 等于 D 时梯度为零。")
def _ds_sign_flipped(p, dp, d):
    return p * (d[:, None] - dp)


@mistake("multiply by P: the softmax's Jacobian is P_ij (δ_jk − P_ik), so every "
         "entry of dS carries a factor P_ij (masked keys, P = 0, get no gradient).",
         zh="要乘以 P：softmax 的雅可比是 P_ij (δ_jk − P_ik)，dS 的每一项都带因子 P_ij。")
def _ds_without_p(p, dp, d):
    return dp - d[:, None]


@mistake("P multiplies the whole bracket: dS = P ∘ (dP − D), so D is scaled by P too.",
         zh="P 乘的是整个括号：dS = P ∘ (dP − D)，D 也要乘以 P。")
def _ds_d_unscaled(p, dp, d):
    return p * dp - d[:, None]


register(Exercise(
    id="08aa.2", title="dS of one tile from P, dP and D", title_zh="由 P、dP 和 D 求一个分块的 dS",
    reference=_ds, cases=_ds_cases,
    mistakes=[_ds_without_d, _ds_tile_rowsum, _ds_sign_flipped, _ds_without_p, _ds_d_unscaled]))
