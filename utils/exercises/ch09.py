"""Chapter 09 exercises: a self-check quiz (value answers), explained in the solutions notebook."""

from __future__ import annotations

from utils.exercises.core import Exercise, Mistake, register

register(Exercise(
    id="09.1",
    title="the variance of q·k",
    title_zh="q·k 的方差",
    kind="value",
    reference=256,
    mistakes=[
        Mistake("16 = √256 is the standard deviation of q·k; the question asks for the variance.", 16,
                hint_zh="16 = √256 是 q·k 的标准差；题目问的是方差。"),
        Mistake("4 is the variance AFTER dividing by √d_k = 8; the question asks about the raw dot product.", 4,
                hint_zh="4 是除以 √d_k = 8 之后的方差；题目问的是原始点积。"),
        Mistake("each product q_i·k_i has variance Var(q_i)·Var(k_i) = 4·1 = 4, not 1: the 64 terms add up to 256.",
                64, hint_zh="每一项 q_i·k_i 的方差是 Var(q_i)·Var(k_i) = 4·1 = 4，而不是 1：64 项相加得 256。"),
    ],
))

register(Exercise(
    id="09.2",
    title="an nn.MultiheadAttention causal mask passed to scaled_dot_product_attention", title_zh="把 nn.MultiheadAttention 的因果掩码传给 scaled_dot_product_attention",
    kind="value",
    reference="c",
    mistakes=[
        Mistake("SDPA reads a boolean mask as True = MAY attend, so triu(diagonal=1) allows exactly the future.", "a",
                hint_zh="SDPA 把布尔掩码的 True 理解为“可以关注”，所以 triu(diagonal=1) 放开的恰好是未来的位置。"),
        Mistake("no error is raised: the shape and dtype are valid, which is why this bug is silent.", "b",
                hint_zh="不会报错：形状和 dtype 都合法，这正是这个 bug 悄无声息的原因。"),
        Mistake("SDPA returns zeros, not NaN, for the one fully masked row (the last query); the other rows "
                "are finite but look only at later tokens.", "d",
                hint_zh="对唯一一行全被屏蔽的行（最后一个查询），SDPA 返回全 0 而不是 NaN；其他行是有限值，但只看后面的词元。"),
    ],
))

register(Exercise(
    id="09.3",
    title="the shape of cross-attention weights", title_zh="交叉注意力权重的形状",
    kind="value",
    reference=(2, 4, 3, 7),
    mistakes=[
        Mistake("rows are queries (3 decoder positions), columns are keys (7 encoder positions).", (2, 4, 7, 3),
                hint_zh="行对应查询（解码器的 3 个位置），列对应键（编码器的 7 个位置）。"),
        Mistake("that is self-attention's shape: in cross-attention the keys come from the other sequence.",
                (2, 4, 3, 3),
                hint_zh="这是自注意力的形状：交叉注意力中的键来自另一个序列。"),
        Mistake("that is torch.nn.MultiheadAttention's default (average_attn_weights=True averages over heads); "
                "per head the weights are (batch, heads, n_q, n_k).", (2, 3, 7),
                hint_zh="这是 torch.nn.MultiheadAttention 的默认行为（average_attn_weights=True 会对头取平均）；按头分开时权重形状是 (batch, heads, n_q, n_k)。"),
    ],
))

register(Exercise(
    id="09.4",
    title="a fully masked row in keras.ops.dot_product_attention",
    title_zh="keras.ops.dot_product_attention 中整行被屏蔽的查询",
    kind="value",
    reference="b",
    mistakes=[
        Mistake("zeros is what the course (and SDPA, pinned version, CPU) returns; keras.ops fills blocked scores with "
                "a large negative number, so a fully blocked row becomes uniform.", "a",
                hint_zh="返回 0 的是本课程（以及固定版本、CPU 上的 SDPA）；keras.ops 用一个很大的负数填充被屏蔽的分数，"
                "所以整行被屏蔽时权重变为均匀分布。"),
        Mistake("NaN comes from nn.MultiheadAttention with need_weights=True; keras.ops gives no NaN here.", "c",
                hint_zh="NaN 来自 need_weights=True 时的 nn.MultiheadAttention；keras.ops 在这里不会产生 NaN。"),
    ],
))

register(Exercise(
    id="09.5",
    title="KV-cache size with grouped-query attention (MiB)",
    title_zh="分组查询注意力的 KV 缓存大小（MiB）",
    kind="value",
    reference=1280,
    mistakes=[
        Mistake("5120 MiB is the cache with 32 key/value heads (plain MHA); GQA stores only the 8 KV heads.", 5120,
                hint_zh="5120 MiB 是 32 个键/值头（普通多头注意力）的缓存；GQA 只存 8 个键/值头。"),
        Mistake("count both K and V: the cache holds 2 tensors per layer.", 640,
                hint_zh="K 和 V 都要算：每层缓存两个张量。"),
        Mistake("float16 takes 2 bytes per number, not 4.", 2560, hint_zh="float16 每个数占 2 字节，不是 4 字节。"),
        Mistake("MQA (one KV head) would be 160 MiB; the question has 8 KV heads.", 160,
                hint_zh="MQA（一个键/值头）是 160 MiB；题目中有 8 个键/值头。"),
    ],
))

register(Exercise(
    id="09.6",
    title="the same comparison in float64",
    title_zh="换成 float64 后的差异",
    kind="value",
    reference="b",
    mistakes=[
        Mistake("the summation order still differs in float64, but each rounding is about 2^29 times finer "
                "(ε₆₄ ≈ 2.2e-16), so the differences shrink to about 1e-16 to 1e-15, not 1e-7.", "a",
                hint_zh="在 float64 中求和顺序仍然不同，但每次舍入约精细 2^29 倍（ε₆₄ ≈ 2.2e-16），"
                "所以差异缩小到约 1e-16 到 1e-15，而不是 1e-7。"),
        Mistake("float64 is still rounded: the libraries still add in different orders, so results are not "
                "bit-identical in general.", "c",
                hint_zh="float64 仍然有舍入：各库的求和顺序仍然不同，所以结果一般不会逐位相同。"),
    ],
))
