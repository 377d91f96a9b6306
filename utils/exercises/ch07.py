"""Chapter 07 exercises: translating the course's conventions into the libraries' ones."""

from __future__ import annotations

import numpy as np

from utils.core.attention_numpy import causal_mask
from utils.core.frameworks import to_numpy
from utils.exercises.core import Case, Exercise, mistake, register
from utils.layers.library_apis import swap_heads_and_seq, to_additive_mask

# ---------------------------------------------------------------- 07.1 an additive mask for SDPA


def _additive_cases() -> list[Case]:
    rng = np.random.default_rng(71)
    padded = np.ones((2, 1, 3, 5), dtype=bool)
    padded[1, ..., 3:] = False  # second sequence: the last two keys are padding
    empty_row = causal_mask(4)
    empty_row[2] = False  # a query that may attend to nothing
    return [
        Case("causal (4, 4)", (causal_mask(4),)),
        Case("random (3, 6)", (rng.random((3, 6)) < 0.6,)),
        Case("padding (2, 1, 3, 5)", (padded,)),
        Case("a fully masked row", (empty_row,)),
        Case("(1, 1), may attend", (np.ones((1, 1), dtype=bool),)),
    ]


def _additive_equal(got, expected) -> bool:
    """0 where expected is 0 (finite entries equal); a very negative number or -inf where expected is -inf."""
    g, e = to_numpy(got), to_numpy(expected)
    if g.shape != e.shape or g.dtype.kind != e.dtype.kind:
        return False
    if e.dtype.kind != "f":
        return bool(np.array_equal(g, e))
    g, e = g.astype(np.float64), e.astype(np.float64)
    blocked = np.isneginf(e)
    return bool(np.allclose(g[~blocked], e[~blocked], atol=1e-6) and (g[blocked] <= -1e9).all())


@mistake("SDPA ADDS a float mask to the scores: 0/1 floats only nudge the scores by 1 "
         "and block nothing. Use 0.0 where the mask is True and -inf where it is False.",
         zh="SDPA 会把浮点掩码“加”到分数上：0/1 浮点数只会让分数变动 1，"
            "什么也屏蔽不了。掩码为 True 处用 0.0，为 False 处用 -inf。")
def _additive_zero_one(mask):
    return mask.astype(np.float32)


@mistake("polarity inverted: put -inf where the mask is False (blocked) and 0.0 where it is True.",
         zh="极性反了：掩码为 False（屏蔽）处放 -inf，为 True 处放 0.0。")
def _additive_inverted(mask):
    return np.where(mask, -np.inf, 0.0).astype(np.float32)


@mistake("a penalty of -1 is far too small: blocked keys keep a large share of the weight; use -inf.",
         zh="-1 的惩罚太小了：被屏蔽的键仍会分到很大一部分权重；请用 -inf。")
def _additive_minus_one(mask):
    return np.where(mask, 0.0, -1.0).astype(np.float32)


@mistake("return floats (0.0 and -inf), not a boolean array: a bool mask is a different argument type.",
         zh="请返回浮点数（0.0 和 -inf），而不是布尔数组：布尔掩码是另一种参数类型。")
def _additive_bool(mask):
    return mask.copy()


register(Exercise(
    id="07.1", title="an additive float mask for scaled_dot_product_attention",
    title_zh="scaled_dot_product_attention 的加性浮点掩码",
    reference=lambda mask: to_additive_mask(mask), cases=_additive_cases, compare=_additive_equal,
    mistakes=[_additive_zero_one, _additive_inverted, _additive_minus_one, _additive_bool]))

# ---------------------------------------------------------------- 07.2 the keras.ops layout


def _layout_cases() -> list[Case]:
    rng = np.random.default_rng(72)
    return [
        Case("(batch=2, heads=3, seq=5, d_head=4)", (rng.normal(size=(2, 3, 5, 4)).astype(np.float32),)),
        Case("(1, 2, 6, 3)", (rng.normal(size=(1, 2, 6, 3)).astype(np.float32),)),
        Case("heads = seq (4, 4)", (rng.normal(size=(1, 4, 4, 2)),)),
        Case("one head", (rng.normal(size=(3, 1, 5, 2)),)),
    ]


@mistake("reshape keeps the memory order, so it scrambles heads and positions: "
         "move the axes with a transpose (axes (0, 2, 1, 3)), not a reshape.",
         zh="reshape 保持内存顺序，会把头和位置打乱：要用转置移动轴（axes (0, 2, 1, 3)），而不是 reshape。")
def _layout_reshaped(x):
    return x.reshape(x.shape[0], x.shape[2], x.shape[1], x.shape[3])


@mistake("only the heads and seq axes swap; d_head stays last: transpose(0, 2, 1, 3).",
         zh="只交换 heads 和 seq 两个轴，d_head 仍在最后：transpose(0, 2, 1, 3)。")
def _layout_d_head_moved(x):
    return np.transpose(x, (0, 2, 3, 1))


@mistake("nothing moved: keras.ops.dot_product_attention wants (batch, seq, heads, d_head).",
         zh="什么都没变：keras.ops.dot_product_attention 需要的是 (batch, seq, heads, d_head)。")
def _layout_unchanged(x):
    return x


register(Exercise(
    id="07.2", title="(batch, heads, seq, d_head) to keras.ops' (batch, seq, heads, d_head)",
    title_zh="从 (batch, heads, seq, d_head) 转成 keras.ops 的 (batch, seq, heads, d_head)",
    reference=swap_heads_and_seq, cases=_layout_cases, frameworks=("numpy", "tensorflow", "torch"),
    mistakes=[_layout_reshaped, _layout_d_head_moved, _layout_unchanged]))

# ---------------------------------------------------------------- 07.3 causal mask for a KV cache


def _kv_causal_cases() -> list[Case]:
    return [
        Case("square n_q = n_k = 4", (4, 4)),
        Case("one new token, 5 keys (decoding)", (1, 5)),
        Case("2 new tokens, 6 keys", (2, 6)),
        Case("3 new tokens, 7 keys", (3, 7)),
        Case("1 x 1", (1, 1)),
    ]


@mistake("that is the top-left alignment that is_causal=True gives in PyTorch and Keras: query i is "
         "position n_k - n_q + i, so it may see keys 0 .. n_k - n_q + i (np.tril(..., k=n_k - n_q)).",
         zh="这是 PyTorch 和 Keras 中 is_causal=True 给出的左上角对齐：查询 i 位于位置 n_k - n_q + i，"
            "所以它能看到键 0 .. n_k - n_q + i（np.tril(..., k=n_k - n_q)）。")
def _kv_causal_top_left(n_q, n_k):
    return np.tril(np.ones((n_q, n_k), dtype=bool))


@mistake("polarity inverted: the course's mask is True where a query "
         "MAY attend (this is nn.MultiheadAttention's True = blocked).",
         zh="极性反了：本课程的掩码在查询“可以关注”处为 True（你写的是 nn.MultiheadAttention 的 True = 屏蔽）。")
def _kv_causal_inverted(n_q, n_k):
    return ~np.tril(np.ones((n_q, n_k), dtype=bool), k=n_k - n_q)


@mistake("off by one: a query may attend to its own position (the diagonal is True).",
         zh="差一错误：查询可以关注自己的位置（对角线为 True）。")
def _kv_causal_strict(n_q, n_k):
    return np.tril(np.ones((n_q, n_k), dtype=bool), k=n_k - n_q - 1)


@mistake("off by one: the query may not see the key right after it.", zh="差一错误：查询不能看到紧挨在它后面的那个键。")
def _kv_causal_one_ahead(n_q, n_k):
    return np.tril(np.ones((n_q, n_k), dtype=bool), k=n_k - n_q + 1)


register(Exercise(
    id="07.3", title="causal mask when the queries are the last n_q of n_k positions",
    title_zh="查询是 n_k 个位置中最后 n_q 个时的因果掩码",
    reference=lambda n_q, n_k: causal_mask(n_q, n_k), cases=_kv_causal_cases,
    forbidden=("utils.core.attention_numpy.causal_mask",),
    mistakes=[_kv_causal_top_left, _kv_causal_inverted, _kv_causal_strict, _kv_causal_one_ahead]))
