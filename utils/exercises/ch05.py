"""Chapter 05 exercises: head split and merge, a decoder mask, weights into a library layer, parameter count."""

from __future__ import annotations

import numpy as np

from utils.exercises.core import Case, Exercise, mistake, register, wrong_values
from utils.layers.library_layers import torch_mha_state
from utils.layers.multihead_numpy import init_mha_params, merge_heads, mha_param_count, split_heads

FRAMEWORKS = ("numpy", "tensorflow", "torch")


# ---------------------------------------------------------------- 05.1 split heads


def _split_cases() -> list[Case]:
    rng = np.random.default_rng(51)
    return [
        Case("x (2, 3, 8), 2 heads", (rng.normal(size=(2, 3, 8)).astype(np.float32), 2)),
        Case("x (1, 5, 12), 3 heads", (rng.normal(size=(1, 5, 12)).astype(np.float32), 3)),
        Case("d_head = 1: x (3, 2, 4), 4 heads", (rng.normal(size=(3, 2, 4)).astype(np.float32), 4)),
        Case("one head: x (2, 4, 6), 1 head", (rng.normal(size=(2, 4, 6)).astype(np.float32), 1)),
    ]


@mistake("a reshape alone mixes sequence positions into the heads: reshape to (batch, seq, heads, d_head), then transpose seq and heads.",
         zh="只做 reshape 会把序列位置混进各个头：先 reshape 成 (batch, seq, heads, d_head)，再交换 seq 和 heads 两个轴。")
def _split_reshape_only(x, n_heads):
    b, s, d = x.shape
    return x.reshape(b, n_heads, s, d // n_heads)


@mistake("head h owns the contiguous columns h*d_head:(h+1)*d_head: reshape to (batch, seq, heads, d_head), not (batch, seq, d_head, heads).",
         zh="第 h 个头拥有连续的列 h*d_head:(h+1)*d_head：要 reshape 成 (batch, seq, heads, d_head)，而不是 (batch, seq, d_head, heads)。")
def _split_interleaved(x, n_heads):
    b, s, d = x.shape
    return x.reshape(b, s, d // n_heads, n_heads).transpose(0, 3, 1, 2)


@mistake("the result is (batch, heads, seq, d_head): swap only axes 1 and 2, (0, 2, 1, 3).",
         zh="结果形状是 (batch, heads, seq, d_head)：只交换第 1、2 个轴，即 (0, 2, 1, 3)。")
def _split_d_head_before_seq(x, n_heads):
    b, s, d = x.shape
    return x.reshape(b, s, n_heads, d // n_heads).transpose(0, 2, 3, 1)


register(Exercise(
    id="05.1", title="split the model dimension into heads", title_zh="把模型维度拆分成多个头",
    reference=split_heads, cases=_split_cases, frameworks=FRAMEWORKS,
    mistakes=[_split_reshape_only, _split_interleaved, _split_d_head_before_seq]))


# ---------------------------------------------------------------- 05.2 merge heads


def _merge_cases() -> list[Case]:
    rng = np.random.default_rng(52)
    return [
        Case("x (2, 2, 3, 4)", (rng.normal(size=(2, 2, 3, 4)).astype(np.float32),)),
        Case("x (1, 3, 5, 4)", (rng.normal(size=(1, 3, 5, 4)).astype(np.float32),)),
        Case("d_head = 1: x (3, 4, 2, 1)", (rng.normal(size=(3, 4, 2, 1)).astype(np.float32),)),
        Case("one head: x (2, 1, 4, 6)", (rng.normal(size=(2, 1, 4, 6)).astype(np.float32),)),
    ]


@mistake("a reshape alone mixes heads and positions: first transpose to (batch, seq, heads, d_head), then reshape.",
         zh="只做 reshape 会把头和位置混在一起：先转置成 (batch, seq, heads, d_head)，再 reshape。")
def _merge_reshape_only(x):
    b, h, s, dh = x.shape
    return x.reshape(b, s, h * dh)


@mistake("concatenate whole heads: transpose with (0, 2, 1, 3), not "
         "(0, 2, 3, 1), so each head's d_head values stay together.",
         zh="要整头拼接：用 (0, 2, 1, 3) 转置，而不是 (0, 2, 3, 1)，这样每个头的 d_head 个值才会连在一起。")
def _merge_interleaved(x):
    b, h, s, dh = x.shape
    return x.transpose(0, 2, 3, 1).reshape(b, s, h * dh)


register(Exercise(
    id="05.2", title="merge the heads back into the model dimension", title_zh="把多个头合并回模型维度",
    reference=merge_heads, cases=_merge_cases, frameworks=FRAMEWORKS,
    mistakes=[_merge_reshape_only, _merge_interleaved]))


# ---------------------------------------------------------------- 05.3 decoder mask


def _decoder_mask_reference(lengths, n):
    lengths = np.asarray(lengths)
    causal = np.tril(np.ones((n, n), dtype=bool))
    keys_real = np.arange(n)[None, :] < lengths[:, None]  # (batch, n)
    return (causal[None] & keys_real[:, None, :])[:, None]  # (batch, 1, n, n)


def _decoder_mask_cases() -> list[Case]:
    return [
        Case("lengths [3, 5], n=5", (np.array([3, 5]), 5)),
        Case("one token: lengths [1], n=1", (np.array([1]), 1)),
        Case("an empty sequence: lengths [0, 4], n=4", (np.array([0, 4]), 4)),
        Case("lengths [6, 2, 4], n=6", (np.array([6, 2, 4]), 6)),
        Case("padded beyond every length: lengths [2, 3], n=5", (np.array([2, 3]), 5)),
    ]


@mistake("off by one: a query may attend to its own position, so keep the diagonal (key j <= query i).",
         zh="差一错误：查询可以关注自己的位置，所以要保留对角线（键 j <= 查询 i）。")
def _mask_strict(lengths, n):
    keys_real = np.arange(n)[None, :] < np.asarray(lengths)[:, None]
    return (np.tril(np.ones((n, n), dtype=bool), -1)[None] & keys_real[:, None, :])[:, None]


@mistake("that mask lets queries see the future: use the lower triangle (np.tril), not np.triu.",
         zh="这个掩码让查询看到了未来：要用下三角（np.tril），而不是 np.triu。")
def _mask_future(lengths, n):
    keys_real = np.arange(n)[None, :] < np.asarray(lengths)[:, None]
    return (np.triu(np.ones((n, n), dtype=bool))[None] & keys_real[:, None, :])[:, None]


@mistake("padding keys (positions >= length) must be blocked too: combine the causal mask with the padding mask.",
         zh="填充位置的键（位置 >= length）也必须屏蔽：把因果掩码和填充掩码合起来。")
def _mask_no_padding(lengths, n):
    return np.broadcast_to(np.tril(np.ones((n, n), dtype=bool)), (len(lengths), 1, n, n))


@mistake("padding belongs on the keys (last axis), not on the queries: mask[b, 0, i, j] needs j < length.",
         zh="填充掩码作用在键上（最后一个轴），而不是查询上：mask[b, 0, i, j] 要求 j < length。")
def _mask_padding_on_queries(lengths, n):
    real = np.arange(n)[None, :] < np.asarray(lengths)[:, None]
    return (np.tril(np.ones((n, n), dtype=bool))[None] & real[:, :, None])[:, None]


register(Exercise(
    id="05.3", title="a causal mask with padding for the decoder", title_zh="解码器的带填充因果掩码",
    reference=_decoder_mask_reference, cases=_decoder_mask_cases, frameworks=FRAMEWORKS,
    mistakes=[_mask_strict, _mask_future, _mask_no_padding, _mask_padding_on_queries]))


# ---------------------------------------------------------------- 05.4 weights into torch.nn.MultiheadAttention


def _torch_state_reference(params):
    s = torch_mha_state(params)
    return s["in_proj_weight"], s["in_proj_bias"], s["out_proj.weight"], s["out_proj.bias"]


def _state_cases() -> list[Case]:
    return [Case("d_model=8", (init_mha_params(8, seed=54),)), Case("d_model=6", (init_mha_params(6, seed=55),))]


@mistake("PyTorch stores weights as (out, in) and computes x @ W.T: transpose each of W_q, W_k, W_v and W_o.",
         zh="PyTorch 按 (out, in) 存权重并计算 x @ W.T：W_q、W_k、W_v 和 W_o 都要转置。")
def _state_untransposed(p):
    return (np.concatenate([p["W_q"], p["W_k"], p["W_v"]], axis=0), np.concatenate([p["b_q"], p["b_k"], p["b_v"]]),
            p["W_o"], p["b_o"])


@mistake("in_proj_weight is (3·d_model, d_model): stack W_qᵀ, W_kᵀ, W_vᵀ along rows (axis 0).",
         zh="in_proj_weight 的形状是 (3·d_model, d_model)：把 W_qᵀ、W_kᵀ、W_vᵀ 沿行（axis 0）堆叠。")
def _state_columns(p):
    return (np.concatenate([p["W_q"], p["W_k"], p["W_v"]], axis=1), np.concatenate([p["b_q"], p["b_k"], p["b_v"]]),
            p["W_o"].T, p["b_o"])


@mistake("out_proj is an nn.Linear too: its weight is W_o transposed.",
         zh="out_proj 也是一个 nn.Linear：它的权重是 W_o 的转置。")
def _state_out_untransposed(p):
    return (np.concatenate([p["W_q"].T, p["W_k"].T, p["W_v"].T], axis=0),
            np.concatenate([p["b_q"], p["b_k"], p["b_v"]]), p["W_o"], p["b_o"])


register(Exercise(
    id="05.4", title="our weights in torch.nn.MultiheadAttention's layout",
    title_zh="把我们的权重换成 torch.nn.MultiheadAttention 的布局",
    reference=_torch_state_reference, cases=_state_cases, forbidden=("utils.layers.library_layers.torch_mha_state",),
    results=("in_proj_weight", "in_proj_bias", "out_proj_weight", "out_proj_bias"),
    mistakes=[_state_untransposed, _state_columns, _state_out_untransposed]))


# ---------------------------------------------------------------- 05.5 the post's parameter count

register(Exercise(
    id="05.5", title="parameters of the post's MultiHeadAttention(num_heads=8, key_dim=512) at d_model=512",
    title_zh="原文中 MultiHeadAttention(num_heads=8, key_dim=512) 在 d_model=512 时的参数量",
    reference=mha_param_count(512, 8, key_dim=512), kind="value",
    mistakes=wrong_values({
        mha_param_count(512, 8): ("that is the standard layer with key_dim = d_model / num_heads "
                                  "= 64; the post passes key_dim=d_model, and key_dim is per head.",
                                  "这是 key_dim = d_model / num_heads = 64 的标准层；"
                                  "原文传的是 key_dim=d_model，而 key_dim 是每个头的维度。"),
        4 * 8 * 512 * 512: ("count the biases too: 3 × 8 × 512 for Q, K, V and 512 for the output.",
                            "偏置也要算上：Q、K、V 共 3 × 8 × 512 个，输出还有 512 个。"),
        3 * (512 * 4096 + 4096) + 512 * 512 + 512:
            ("the output projection maps num_heads × key_dim = 4096 features back to 512: it is 8× bigger too.",
             "输出投影把 num_heads × key_dim = 4096 个特征映射回 512：它同样大了 8 倍。"),
    })))
