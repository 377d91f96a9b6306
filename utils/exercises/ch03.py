"""Chapter 03 exercises: another similarity for step 1, with loops and with matrices; counting work."""

from __future__ import annotations

import numpy as np

from utils.exercises.core import Case, Exercise, mistake, register, wrong_values


def _distance_cases() -> list[Case]:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(6, 16))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return [
        Case("queries (3, 4), keys (5, 4)", (rng.normal(size=(3, 4)), rng.normal(size=(5, 4)))),
        Case("self-attention on unit vectors (6, 16)", (x, x)),
        Case("one query (1, 3), keys (4, 3)", (rng.normal(size=(1, 3)), rng.normal(size=(4, 3)))),
        Case("d = 1", (rng.normal(size=(2, 1)), 5.0 * rng.normal(size=(3, 1)))),
    ]


def _neg_sq_distance(q, k):
    return -np.sum((q[:, None, :] - k[None, :, :]) ** 2, axis=-1)


@mistake("closer keys must score HIGHER: the score is minus the squared distance.",
         zh="越近的键分数应越“高”：分数是负的平方距离。")
def _distance_sign_flipped(q, k):
    return -_neg_sq_distance(q, k)


@mistake("use the squared distance, without the square root.", zh="用平方距离，不要开平方根。")
def _distance_square_rooted(q, k):
    return -np.sqrt(-_neg_sq_distance(q, k))


@mistake("rows are queries and columns keys: the result has shape (n_q, n_k), scores[i, j] for query i, key j.",
         zh="行对应查询、列对应键：结果形状是 (n_q, n_k)，scores[i, j] 是查询 i 与键 j 的分数。")
def _distance_transposed(q, k):
    return _neg_sq_distance(q, k).T


register(Exercise(
    id="03.1", title="distance scores with explicit loops", title_zh="用显式循环计算距离分数",
    reference=_neg_sq_distance, cases=_distance_cases, loops="required",
    mistakes=[_distance_sign_flipped, _distance_square_rooted, _distance_transposed]))


@mistake("-|q - k|² = 2 q·k - |q|² - |k|²: the cross term has a factor 2.",
         zh="-|q - k|² = 2 q·k - |q|² - |k|²：交叉项带系数 2。")
def _distance_cross_term_once(q, k):
    return q @ k.T - np.sum(q**2, -1)[:, None] - np.sum(k**2, -1)[None, :]


@mistake("you dropped the -|k_j|² term: it differs from key to key, so it changes the weights.",
         zh="你漏掉了 -|k_j|² 这一项：它随键而变，所以会改变权重。")
def _distance_no_key_norm(q, k):
    return 2 * q @ k.T - np.sum(q**2, -1)[:, None]


@mistake("you dropped the -|q_i|² term. (A softmax over keys would not notice, but the scores differ.)",
         zh="你漏掉了 -|q_i|² 这一项。（对键做 softmax 时看不出差别，但分数本身不同。）")
def _distance_no_query_norm(q, k):
    return 2 * q @ k.T - np.sum(k**2, -1)[None, :]


register(Exercise(
    id="03.2", title="distance scores as matrix products", title_zh="用矩阵乘法计算距离分数",
    reference=_neg_sq_distance, cases=_distance_cases, loops="forbidden",
    mistakes=[_distance_cross_term_once, _distance_no_key_norm, _distance_no_query_norm]))


register(Exercise(
    id="03.3", title="multiply-adds of the score matrix", title_zh="分数矩阵的乘加次数",
    reference=9 * 9 * 16, kind="value",
    mistakes=wrong_values({
        2 * 9 * 9 * 16: ("2n²d is the chapter's count for steps 1 and 4 together (n²d each); "
                         "step 1 alone is n·n dot products of d multiply-adds each.",
                         "2n²d 是本章对第 1 步和第 4 步合计的计数（各 n²d）；"
                         "只算第 1 步是 n·n 个点积，每个 d 次乘加。"),
        81: ("there are n*n = 81 scores, each a dot product of d = 16 multiply-adds.",
             "共有 n*n = 81 个分数，每个都是一次 d = 16 次乘加的点积。"),
        9 * 16: ("every one of the n*n pairs (not just n tokens) needs its own d-long dot product.",
                 "n*n 个词元对（而不只是 n 个词元）中的每一对都需要一次长度为 d 的点积。"),
    })))
