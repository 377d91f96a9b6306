"""Chapter 06 exercises: the ISO date target, exact match with <eos>, and the supporting-fact metric."""

from __future__ import annotations

import numpy as np

from utils.datagen.applications import MONTHS
from utils.demos.applications import EOS, PAD, attended_sentence, exact_match_ids
from utils.exercises.core import Case, Exercise, mistake, register

# ---------------------------------------------------------------- 06.1 the ISO 8601 target


def _month_number(month: str) -> int:
    for names in MONTHS.values():
        if month in names:
            return names.index(month) + 1
    raise ValueError(f"unknown month name {month!r}")


def _iso(day, month, year):
    return f"{int(year):04d}-{_month_number(month):02d}-{int(day):02d}"


def _iso_cases() -> list[Case]:
    return [
        Case("28 novembre 2026", (28, "novembre", 2026)),
        Case("5 March 1999 (one-digit day and month)", (5, "March", 1999)),
        Case("Dec 31, 2049", (31, "Dec", 2049)),
        Case("1. Januar 1950", (1, "Januar", 1950)),
        Case("9 de septiembre de 2001", (9, "septiembre", 2001)),
        Case("year 987 (pad to four digits)", (14, "août", 987)),
    ]


@mistake("list.index() counts from 0: January is month 01, so add 1 to the index.",
         zh="list.index() 从 0 开始计数：一月是 01 月，所以索引要加 1。")
def _iso_zero_based(day, month, year):
    for names in MONTHS.values():
        if month in names:
            return f"{int(year):04d}-{names.index(month):02d}-{int(day):02d}"
    raise ValueError(month)


@mistake("ISO 8601 pads: month and day always have two digits (f'{m:02d}'), the year four.",
         zh="ISO 8601 要补零：月和日总是两位（f'{m:02d}'），年是四位。")
def _iso_unpadded(day, month, year):
    return f"{int(year)}-{_month_number(month)}-{int(day)}"


@mistake("ISO 8601 is year-MONTH-day: the month comes before the day.", zh="ISO 8601 的顺序是 年-月-日：月在日之前。")
def _iso_day_month_swapped(day, month, year):
    return f"{int(year):04d}-{int(day):02d}-{_month_number(month):02d}"


@mistake("the year has four digits in ISO 8601 too: 987 is written 0987 (f'{year:04d}').",
         zh="ISO 8601 中年份也是四位：987 要写成 0987（f'{year:04d}'）。")
def _iso_year_unpadded(day, month, year):
    return f"{int(year)}-{_month_number(month):02d}-{int(day):02d}"


register(Exercise(
    id="06.1", title="the ISO 8601 target of a date", title_zh="日期的 ISO 8601 目标格式",
    reference=_iso, cases=_iso_cases,
    mistakes=[_iso_zero_based, _iso_unpadded, _iso_day_month_swapped, _iso_year_unpadded]))

# ---------------------------------------------------------------- 06.2 exact match with <eos>


def _em_cases() -> list[Case]:
    rng = np.random.default_rng(6)
    target = np.array([[5, 6, 7, EOS, PAD, PAD],
                       [5, 6, 7, EOS, PAD, PAD],
                       [8, 9, EOS, PAD, PAD, PAD],
                       [8, 9, EOS, PAD, PAD, PAD],
                       [4, 4, 4, 4, 4, EOS]])
    predicted = np.array([[5, 6, 7, EOS, 9, 9],      # right, junk after <eos>
                          [5, 6, 7, 7, EOS, PAD],    # one token too many
                          [8, 9, EOS, PAD, PAD, PAD],  # right
                          [8, 8, EOS, PAD, PAD, PAD],  # one token wrong
                          [4, 4, 4, 4, 4, 4]])       # never stops
    rand_t = rng.integers(4, 9, size=(8, 7))
    rand_t[np.arange(8), rng.integers(1, 7, size=8)] = EOS
    rand_t = np.where(np.cumsum(rand_t == EOS, axis=1) - (rand_t == EOS) > 0, PAD, rand_t)
    rand_p = rand_t.copy()
    rand_p[::3, 0] = 3  # every third row wrong at the first token
    rand_p[1::3] = np.where(rand_p[1::3] == PAD, 7, rand_p[1::3])  # junk after <eos> only
    return [
        Case("hand-made: junk after <eos>, too long, wrong token, no stop", (predicted, target)),
        Case("all right", (target.copy(), target.copy())),
        Case("seeded random (8, 7)", (rand_p, rand_t)),
    ]


@mistake("return one bool per sequence (shape (batch,)), not one "
         "per token: a sequence is right only if all its tokens are.",
         zh="每个序列返回一个布尔值（形状 (batch,)），而不是每个词元一个：只有所有词元都对，序列才算对。")
def _em_token_accuracy(predicted, target):
    return np.asarray(predicted) == np.asarray(target)


@mistake("what comes after the target's <eos> is not part of the answer: "
         "ignore those positions (a model may write anything after it stops).",
         zh="目标中 <eos> 之后的内容不属于答案：忽略这些位置（模型停下之后写什么都可以）。")
def _em_whole_row(predicted, target):
    return (np.asarray(predicted) == np.asarray(target)).all(axis=1)


@mistake("the <eos> itself must match too: a prediction that does not stop where "
         "the target stops ('2026-11-28' followed by more digits) is wrong.",
         zh="<eos> 本身也必须匹配：没有在目标停止处停下的预测（'2026-11-28' 后面还跟着数字）是错的。")
def _em_before_eos_only(predicted, target):
    predicted, target = np.asarray(predicted), np.asarray(target)
    ok = []
    for p, t in zip(predicted, target):
        n = int(np.argmax(t == EOS))
        ok.append(bool((p[:n] == t[:n]).all()))
    return np.array(ok)


register(Exercise(
    id="06.2", title="exact match up to <eos>", title_zh="截至 <eos> 的完全匹配",
    reference=exact_match_ids, cases=_em_cases,
    mistakes=[_em_token_accuracy, _em_whole_row, _em_before_eos_only]))

# ---------------------------------------------------------------- 06.3 the supporting-fact metric


def _att_cases() -> list[Case]:
    rng = np.random.default_rng(60)
    # 3 sentences of 4, 6 and 2 tokens, then 3 question tokens (sentence id -1).
    sent = np.array([0] * 4 + [1] * 6 + [2] * 2 + [-1] * 3)
    # The single largest weight is in sentence 2, but sentence 1 gets the most mass in total.
    spread = np.array([[.02, .02, .02, .02, .11, .11, .11, .11, .11, .11, .20, .01, .02, .02, .01],
                       [.02, .02, .02, .02, .10, .10, .10, .10, .10, .10, .19, .01, .03, .03, .03]])
    # Head 0 prefers sentence 0; head 1 prefers sentence 2 more strongly; summed, sentence 2 wins.
    heads = np.zeros((2, 15))
    heads[0, :4], heads[0, 4:10], heads[0, 12:] = 0.15, 0.04 / 6, 0.12
    heads[1, 10:12], heads[1, 4:10], heads[1, 12:] = 0.40, 0.02 / 6, 0.06
    # The short sentence 2 has the highest weight per token, the long sentence 1 the most in total.
    short = np.array([[.02, .02, .02, .02, .12, .08, .08, .08, .08, .08, .10, .10, .2 / 3, .2 / 3, .2 / 3]])
    # The question tokens take most of the mass: the answer is still a story sentence.
    question = np.zeros((1, 15))
    question[0, :12] = np.linspace(0.01, 0.05, 12)
    question[0, 12:] = (1 - question[0, :12].sum()) / 3
    rand = rng.dirichlet(np.ones(15), size=4)
    return [
        Case("total mass beats the single largest weight", (spread, sent)),
        Case("heads disagree: sum over heads", (heads, sent)),
        Case("a short sentence with high weights", (short, sent)),
        Case("question tokens do not count", (question, sent)),
        Case("seeded random, 4 heads", (rand, sent)),
        Case("one head peaks on sentence 0, two heads share sentence 1 (sum, not max)", (_sum_not_max(), sent)),
    ]


def _sum_not_max():
    w = np.zeros((3, 15))
    w[0, :4], w[0, 12:] = 0.9 / 4, 0.1 / 3  # head 0: sentence 0 gets 0.9
    w[1:, 4:10], w[1:, 12:] = 0.6 / 6, 0.4 / 3  # heads 1 and 2: sentence 1 gets 0.6 each
    return w


@mistake("add up the weights of ALL tokens of a sentence; the sentence holding "
         "the single largest weight is not always the one with the most mass.",
         zh="要把一个句子中“所有”词元的权重加起来；含有单个最大权重的句子，不一定是总权重最大的句子。")
def _att_max_token(weights, sent_ids):
    w = np.asarray(weights).sum(axis=0)
    w = np.where(np.asarray(sent_ids) >= 0, w, -np.inf)
    return int(np.asarray(sent_ids)[np.argmax(w)])


@mistake("sum over every head (axis 0), not just head 0: heads attend to different places.",
         zh="要对所有头求和（axis 0），而不只是第 0 个头：不同的头关注不同的位置。")
def _att_first_head(weights, sent_ids):
    return attended_sentence(np.asarray(weights)[0], sent_ids)


@mistake("sum the weights of a sentence, do not average them: the mean favours short sentences.",
         zh="对句子的权重求和，不要求平均：平均值会偏向短句子。")
def _att_mean_per_sentence(weights, sent_ids):
    w, s = np.asarray(weights).sum(axis=0), np.asarray(sent_ids)
    return int(np.argmax([w[s == k].mean() for k in range(s.max() + 1)]))


@mistake("tokens with sentence id -1 (the question, padding) belong to no sentence: leave them out.",
         zh="句子编号为 -1 的词元（问题、填充）不属于任何句子：把它们排除在外。")
def _att_counts_question(weights, sent_ids):
    w, s = np.asarray(weights).sum(axis=0), np.asarray(sent_ids)
    return int(np.argmax(np.bincount(s + 1, weights=w))) - 1


register(Exercise(
    id="06.3", title="which sentence gets the attention?", title_zh="哪个句子得到了注意力？",
    reference=attended_sentence, cases=_att_cases,
    mistakes=[_att_max_token, _att_first_head, _att_mean_per_sentence, _att_counts_question]))
