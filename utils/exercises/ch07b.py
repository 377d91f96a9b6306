"""Chapter 07b exercises: reading a real model's weights, its padding mask, and its previous-token head."""

from __future__ import annotations

import re

import numpy as np

from utils.core.attention_numpy import softmax
from utils.demos.minilm_heads import head_scores, pattern_targets
from utils.exercises.core import Case, Exercise, mistake, register, wrong_values
from utils.models.minilm_weights import PAD_ID, weight_role

# ---------------------------------------------------------------- 07b.1 weight name -> layer

_NAMES = [
    "encoder.layer.3.attention.self.query.weight",
    "encoder.layer.0.output.LayerNorm.bias",
    "embeddings.word_embeddings.weight",
    "encoder.layer.5.attention.output.dense.weight",
    "pooler.dense.bias",
    "encoder.layer.11.intermediate.dense.weight",  # a 12-layer BERT uses the same names
    "embeddings.position_ids",
    "embeddings.LayerNorm.weight",
    "encoder.layer.10.attention.self.value.bias",
]


@mistake("read the whole number after 'encoder.layer.': layer 11 has two digits.",
         zh="要读出 'encoder.layer.' 后面的完整数字：第 11 层是两位数。")
def _first_digit(name):
    m = re.search(r"\d", name)
    return int(m.group()) if m else -1


@mistake("the file numbers its layers from 0 (encoder.layer.0 is the first layer).",
         zh="文件中的层从 0 开始编号（encoder.layer.0 是第一层）。")
def _one_based(name):
    return int(name.split(".")[2]) + 1 if name.startswith("encoder.layer.") else -1


@mistake("weights outside encoder.layer.N (embeddings, pooler, buffers) belong to no layer: return -1.",
         zh="encoder.layer.N 之外的权重（嵌入、pooler、缓冲区）不属于任何层：返回 -1。")
def _zero_outside(name):
    return int(name.split(".")[2]) if name.startswith("encoder.layer.") else 0


register(Exercise(
    id="07b.1", title="which layer does a weight belong to?", title_zh="一个权重属于哪一层？",
    reference=lambda name: weight_role(name)[0], cases=lambda: [Case(repr(n), (n,)) for n in _NAMES],
    mistakes=[_first_digit, _one_based, _zero_outside]))

# ---------------------------------------------------------------- 07b.2 padding mask for a batch


def _mask_cases() -> list[Case]:
    rng = np.random.default_rng(72)
    random_ids = rng.integers(1000, 30000, size=(4, 9))
    random_ids[:, 0], lengths = 101, np.array([9, 5, 3, 7])
    for row, length in enumerate(lengths):
        random_ids[row, length - 1], random_ids[row, length:] = 102, PAD_ID
    return [
        Case("two sentences, padded", (np.array([[101, 7592, 2088, 102, 0, 0], [101, 1996, 4937, 2938, 1012, 102]]),)),
        Case("no padding at all", (np.array([[101, 2023, 102], [101, 2008, 102]]),)),
        Case("one sentence", (np.array([[101, 2307, 1012, 102, 0]]),)),
        Case("random batch of 4, lengths 9, 5, 3, 7", (random_ids,)),
    ]


def _same_dtype_and_values(got, expected) -> bool:
    got, expected = np.asarray(got), np.asarray(expected)
    return got.dtype == expected.dtype and got.shape == expected.shape and np.array_equal(got, expected)


@mistake("True must mean 'may attend' (a real token); you marked the [PAD] positions instead.",
         zh="True 必须表示“可以关注”（真实词元）；你标记的却是 [PAD] 位置。")
def _pad_mask_inverted(ids):
    return (ids == PAD_ID)[:, None, None, :]


@mistake("mask the keys (last axis): shape (batch, 1, 1, seq), not (batch, 1, seq, 1), which masks queries.",
         zh="要屏蔽的是键（最后一个轴）：形状为 (batch, 1, 1, seq)，而不是会屏蔽查询的 (batch, 1, seq, 1)。")
def _pad_mask_on_queries(ids):
    return (ids != PAD_ID)[:, None, :, None]


@mistake("a (batch, seq) mask broadcasts against the last two axes (n_q, n_k) "
         "of the weights: add the heads and query axes, mask[:, None, None, :].",
         zh="(batch, seq) 的掩码会与权重的最后两个轴 (n_q, n_k)"
            " 广播：要补上头和查询两个轴，即 mask[:, None, None, :]。")
def _pad_mask_2d(ids):
    return ids != PAD_ID


@mistake("return a boolean mask: the course's attention refuses 0/1 numbers (their polarity is ambiguous).",
         zh="请返回布尔掩码：本课程的注意力函数不接受 0/1 数值（它们的极性有歧义）。")
def _pad_mask_ints(ids):
    return (ids != PAD_ID).astype(np.int64)[:, None, None, :]


register(Exercise(
    id="07b.2", title="the key padding mask of a batch", title_zh="一个批量的键填充掩码",
    reference=lambda input_ids: (np.asarray(input_ids) != PAD_ID)[:, None, None, :], cases=_mask_cases,
    compare=_same_dtype_and_values,
    mistakes=[_pad_mask_inverted, _pad_mask_on_queries, _pad_mask_2d, _pad_mask_ints]))

# ---------------------------------------------------------------- 07b.3 the previous-token head


def _weights(rng, layers, lengths, heads, seq):
    logits = rng.normal(scale=2.0, size=(layers, len(lengths), heads, seq, seq))
    keys = np.arange(seq)[None, :] < np.asarray(lengths)[:, None]  # (batch, seq)
    return softmax(np.where(keys[None, :, None, None, :], logits, -np.inf), axis=-1)


def _previous_cases() -> list[Case]:
    rng = np.random.default_rng(73)
    w1 = _weights(rng, 2, [6, 4, 3], 4, 6)
    w2 = _weights(rng, 3, [5, 5], 2, 5)
    w2[1, :, 0] = np.eye(5, k=-1)  # layer 1, head 0: a perfect previous-token head (query 0 looks at itself)
    w2[1, :, 0, 0, 0] = 1.0
    w3 = _weights(rng, 1, [7, 2, 1, 5], 3, 7)  # a one-token sentence has no previous token
    return [
        Case("2 layers, 3 sentences of lengths 6, 4, 3", (w1, np.array([6, 4, 3]))),
        Case("a perfect previous-token head at layer 1, head 0", (w2, np.array([5, 5]))),
        Case("lengths 7, 2, 1, 5", (w3, np.array([7, 2, 1, 5]))),
    ]


def _reference_previous(weights, lengths):
    weights, lengths = np.asarray(weights), np.asarray(lengths)
    return head_scores(weights, pattern_targets(np.zeros(weights.shape[1:2] + weights.shape[-1:], int), lengths,
                                                "previous"))


@mistake("the previous token of query i is key i-1 "
         "(np.diagonal(w, offset=-1, axis1=-2, axis2=-1)); you measured the next token, key i+1.",
         zh="查询 i 的前一个词元是键 i-1（np.diagonal(w, offset=-1, axis1=-2, axis2=-1)）；"
            "你量的是后一个词元，即键 i+1。")
def _next_token(weights, lengths):
    return _reference_previous(np.swapaxes(weights, -1, -2), lengths)


@mistake("average only over real queries 1..length-1: padded positions are not part of the sentence.",
         zh="只对真实查询 1..length-1 求平均：填充位置不属于句子。")
def _with_padding(weights, lengths):
    return np.diagonal(weights, offset=-1, axis1=-2, axis2=-1).mean(axis=(1, 3))


@mistake("query 0 ([CLS]) has no previous token: leave it out of the count you divide by.",
         zh="查询 0（[CLS]）没有前一个词元：作除数的计数里不要算它。")
def _with_query_zero(weights, lengths):
    diag = np.diagonal(weights, offset=-1, axis1=-2, axis2=-1)  # (layers, batch, heads, seq-1)
    real = np.arange(1, weights.shape[-1])[None, :] < np.asarray(lengths)[:, None]
    return (diag * real[None, :, None]).sum(axis=(1, 3)) / np.asarray(lengths).sum()


@mistake("pool every (sentence, query) pair and average once; a "
         "mean of per-sentence means weights short sentences more.",
         zh="把所有（句子, 查询）对汇总后只求一次平均；先按句子求平均再平均，会让短句子的权重偏大。")
def _mean_of_means(weights, lengths):
    diag = np.diagonal(weights, offset=-1, axis1=-2, axis2=-1)
    real = np.arange(1, weights.shape[-1])[None, :] < np.asarray(lengths)[:, None]
    per = (diag * real[None, :, None]).sum(axis=3) / np.maximum(real.sum(axis=1), 1)[None, :, None]
    keep = np.asarray(lengths) > 1
    return per[:, keep].mean(axis=1)


register(Exercise(
    id="07b.3", title="score every head for attending to the previous token",
    title_zh="给每个头关注前一个词元的程度打分",
    reference=_reference_previous, cases=_previous_cases,
    mistakes=[_next_token, _with_padding, _with_query_zero, _mean_of_means]))

# ---------------------------------------------------------------- 07b.4 parameters used

register(Exercise(
    id="07b.4", title="how many numbers does the forward pass use?", title_zh="前向计算用到了多少个数？",
    kind="value", reference=22_565_376,
    mistakes=wrong_values({
        22_713_728: ("that counts every number in the file: pooler.dense is unused "
                     "(mean pooling), and embeddings.position_ids is a buffer, not a weight.",
                     "这把文件里的每个数都算进去了：pooler.dense 没有用到（用的是平均池化），"
                     "embeddings.position_ids 是缓冲区，不是权重。"),
        22_713_216: ("pooler.dense is in the file, but sentence-transformers mean-pools and never uses it.",
                     "pooler.dense 在文件里，但 sentence-transformers 用平均池化，从不使用它。"),
        22_565_888: ("embeddings.position_ids holds the integers 0..511: a buffer, not a learned weight.",
                     "embeddings.position_ids 存的是整数 0..511：它是缓冲区，不是学到的权重。"),
        22_565_376 - 30522 * 384 - 512 * 384 - 2 * 384:
            ("the embedding tables are weights too: word, position and token-type rows are learned.",
             "嵌入表也是权重：词、位置和词元类型的每一行都是学出来的。"),
    })))
