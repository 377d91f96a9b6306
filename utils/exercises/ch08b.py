"""Chapter 08b exercises: greedy generation with the KV cache, mean-pooling MHA heads into GQA,
RoPE with position interpolation, the KV-cache size of a real model, and one step of causal
linear attention with a decay."""

from __future__ import annotations

import numpy as np

from utils.efficient.kv_cache_numpy import (
    DecoderConfig,
    KVCache,
    decode_step,
    generate_greedy,
    init_decoder_params,
)
from utils.efficient.positions_numpy import apply_rope, apply_rope_half
from utils.exercises.core import Case, Exercise, mistake, register, wrong_values

# ---------------------------------------------------------------- 08b.1 greedy generation with the KV cache


def _generate(params, prompt, n_new, cfg):
    cache = KVCache(cfg.n_layers)
    return generate_greedy(params, prompt, n_new, cfg, cache=cache), cache


def _generate_cases() -> list[Case]:
    small = DecoderConfig(vocab=32, d_model=16, n_heads=4, n_kv_heads=2, n_layers=2, max_len=32)
    mha = DecoderConfig(vocab=24, d_model=16, n_heads=2, n_kv_heads=2, n_layers=1, max_len=32)
    return [Case("batch 2, prompt of 3, 6 new tokens", (init_decoder_params(small, 1), np.array([[1, 2, 3], [9, 8, 7]]),
                                                          6, small)),
            Case("a one-token prompt", (init_decoder_params(mha, 2), np.array([[5]]), 8, mha)),
            Case("one new token", (init_decoder_params(small, 3), np.array([[4, 4, 0, 1]]), 1, small))]


def _same_generation(got, expected) -> bool:
    """Same tokens, and a cache that holds every fed position (feeding the last token too is fine)."""
    tokens, cache = got
    return (np.array_equal(np.asarray(tokens), expected[0])
            and expected[1].length <= cache.length <= expected[1].length + 1)


def _greedy_variant(params, prompt, n_new, cfg, position=-1, prefill=True):
    cache, tokens = KVCache(cfg.n_layers), prompt
    logits = decode_step(params, prompt if prefill else prompt[:, -1:], cache, cfg)
    for step in range(n_new):
        nxt = logits[:, position].argmax(-1)[:, None]
        tokens = np.concatenate([tokens, nxt], axis=1)
        if step + 1 < n_new:
            logits = decode_step(params, nxt, cache, cfg)
    return tokens, cache


@mistake("the next token comes from the logits of the LAST position, logits[:, -1]: position t predicts token t + 1.",
         zh="下一个词元来自最后一个位置的 logits，即 logits[:, -1]：位置 t 预测的是第 t + 1 个词元。")
def _generate_first_position(params, prompt, n_new, cfg):
    return _greedy_variant(params, prompt, n_new, cfg, position=0)


@mistake("feed the whole prompt to decode_step first (the prefill): every "
         "prompt position must be in the cache before the first new token.",
         zh="先把整个提示一次送进 decode_step（预填充）：生成第一个新词元之前，缓存里必须有提示的每个位置。")
def _generate_no_prefill(params, prompt, n_new, cfg):
    return _greedy_variant(params, prompt, n_new, cfg, prefill=False)


@mistake("the tokens are right but the cache is empty: generate with decode_step, "
         "which stores each token's keys and values, instead of recomputing the prefix.",
         zh="词元是对的，但缓存是空的：请用 decode_step 生成（它会存下每个词元的键和值），"
            "而不是每一步重新计算整个前缀。")
def _generate_without_cache(params, prompt, n_new, cfg):
    return generate_greedy(params, prompt, n_new, cfg, use_cache=False), KVCache(cfg.n_layers)


register(Exercise(
    id="08b.1", title="greedy generation with the KV cache", title_zh="用 KV 缓存做贪心生成",
    reference=_generate, cases=_generate_cases, compare=_same_generation, results=("tokens", "cache"),
    mistakes=[_generate_first_position, _generate_no_prefill, _generate_without_cache]))

# ---------------------------------------------------------------- 08b.2 from MHA to GQA by mean-pooling heads


def _mean_pool_kv(W, n_heads, n_kv_heads):
    d_model, width = W.shape
    d_head, group = width // n_heads, n_heads // n_kv_heads
    return W.reshape(d_model, n_kv_heads, group, d_head).mean(axis=2).reshape(d_model, n_kv_heads * d_head)


def _pool_cases() -> list[Case]:
    rng = np.random.default_rng(82)
    return [Case("h=8, g=2, d_head=4", (rng.normal(size=(16, 32)), 8, 2)),
            Case("h=12, g=3, d_head=2", (rng.normal(size=(6, 24)), 12, 3)),
            Case("MHA, h=g=4 (nothing to pool)", (rng.normal(size=(8, 8)), 4, 4)),
            Case("MQA, h=6, g=1", (rng.normal(size=(5, 18)), 6, 1))]


@mistake("consecutive query heads form a group (heads 0-3 -> kv head 0 when h=8, g=2), not "
         "every g-th head: reshape the columns as (g, h/g, d_head), not (h/g, g, d_head).",
         zh="一组是相邻的查询头（h=8、g=2 时，头 0-3 对应键值头 0），"
            "不是每隔 g 个取一个：把列重排成 (g, h/g, d_head)，而不是 (h/g, g, d_head)。")
def _pool_round_robin(W, n_heads, n_kv_heads):
    d_model, width = W.shape
    d_head, group = width // n_heads, n_heads // n_kv_heads
    return W.reshape(d_model, group, n_kv_heads, d_head).mean(axis=1).reshape(d_model, n_kv_heads * d_head)


@mistake("average the h/g heads of each group; keeping only the first head throws the others away.",
         zh="对每组的 h/g 个头取平均；只保留第一个头会丢掉其他头。")
def _pool_first_head(W, n_heads, n_kv_heads):
    d_model, width = W.shape
    d_head, group = width // n_heads, n_heads // n_kv_heads
    return W.reshape(d_model, n_kv_heads, group, d_head)[:, :, 0].reshape(d_model, n_kv_heads * d_head)


@mistake("take the mean, not the sum: a sum makes the keys h/g times larger.",
         zh="要取平均而不是求和：求和会让键放大 h/g 倍。")
def _pool_sum(W, n_heads, n_kv_heads):
    return _mean_pool_kv(W, n_heads, n_kv_heads) * (n_heads // n_kv_heads)


register(Exercise(
    id="08b.2", title="from multi-head to grouped-query attention", title_zh="从多头注意力到分组查询注意力",
    reference=_mean_pool_kv, cases=_pool_cases,
    mistakes=[_pool_round_robin, _pool_first_head, _pool_sum]))

# ---------------------------------------------------------------- 08b.3 RoPE with position interpolation


def _interpolated_positions(n, train_len):
    """Positions 0 .. n-1, squeezed into the training length when the sequence is longer."""
    return np.arange(n) * min(1.0, train_len / n)


def _rope_interpolated(x, train_len):
    return apply_rope(x, _interpolated_positions(x.shape[0], train_len))


def _rope_cases() -> list[Case]:
    rng = np.random.default_rng(83)
    return [Case("n=8, d=4, train_len=4 (squeeze by 2)", (rng.normal(size=(8, 4)), 4)),
            Case("n=64, d=8, train_len=16", (rng.normal(size=(64, 8)), 16)),
            Case("n=5 <= train_len=16: plain RoPE", (rng.normal(size=(5, 6)), 16)),
            Case("n = train_len = 3", (rng.normal(size=(3, 2)), 3))]


@mistake("only squeeze when n > train_len: a sequence that fits the training length keeps its positions 0 .. n-1.",
         zh="只有 n > train_len 时才压缩：长度不超过训练长度的序列保持位置 0 .. n-1。")
def _rope_always_scaled(x, train_len):
    return apply_rope(x, np.arange(x.shape[0]) * train_len / x.shape[0])


@mistake("multiply the positions by train_len / n (< 1), which "
         "squeezes them; n / train_len stretches them further out.",
         zh="位置要乘以 train_len / n（小于 1），这样才是压缩；乘以 n / train_len 会把位置拉得更远。")
def _rope_inverted(x, train_len):
    n = x.shape[0]
    return apply_rope(x, np.arange(n) * max(1.0, n / train_len))


@mistake("this exercise uses the interleaved layout, pairs (2i, 2i+1) "
         "as in `apply_rope`, not the half-split pairs (i, i + d/2).",
         zh="本练习使用交错布局，即 `apply_rope` 的 (2i, 2i+1) 成对方式，而不是 (i, i + d/2) 的前后半分方式。")
def _rope_half_layout(x, train_len):
    return apply_rope_half(x, _interpolated_positions(x.shape[0], train_len))


register(Exercise(
    id="08b.3", title="RoPE with position interpolation", title_zh="带位置插值的 RoPE",
    reference=_rope_interpolated, cases=_rope_cases,
    mistakes=[_rope_always_scaled, _rope_inverted, _rope_half_layout]))

# ---------------------------------------------------------------- 08b.4 KV-cache size of Mistral 7B

MISTRAL_CACHE_BYTES = 2 * 32 * 1 * 4096 * 8 * 128 * 2

register(Exercise(
    id="08b.4", title="the KV cache of Mistral 7B at 4096 tokens", title_zh="Mistral 7B 在 4096 个词元时的 KV 缓存",
    reference=MISTRAL_CACHE_BYTES, kind="value", rtol=0.0, atol=0.0,
    mistakes=wrong_values({
        MISTRAL_CACHE_BYTES // 2: ("the cache holds keys AND values: multiply by 2.", "缓存里既有键也有值：要乘以 2。"),
        MISTRAL_CACHE_BYTES * 4: ("count the 8 key/value heads, not the 32 query heads: that is what GQA saves.",
                                  "要数 8 个键值头，而不是 32 个查询头：这正是 GQA 省下的部分。"),
        MISTRAL_CACHE_BYTES * 2: ("float16 takes 2 bytes per value, not 4.", "float16 每个值占 2 个字节，不是 4 个。"),
    })))

# ---------------------------------------------------------------- 08b.5 causal linear attention with a decay


def _decayed_step(phi_q, phi_k, v, state, z, gamma):
    state = gamma * state + np.outer(phi_k, v)
    z = gamma * z + phi_k
    return phi_q @ state / (phi_q @ z), state, z


def _decay_cases() -> list[Case]:
    rng = np.random.default_rng(85)

    def case(label, m, d, gamma, empty=False):
        state = np.zeros((m, d)) if empty else rng.random((m, d))
        z = np.zeros(m) if empty else rng.random(m) + 1
        return Case(label, (rng.random(m) + 0.1, rng.random(m) + 0.1, rng.normal(size=d), state, z, gamma))

    return [case("m=4, d=3, γ=0.9", 4, 3, 0.9), case("first token (empty state), γ=0.5", 5, 2, 0.5, empty=True),
            case("γ=1: no forgetting", 8, 8, 1.0), case("γ=0: only the current token", 3, 4, 0.0)]


@mistake("decay the OLD state, then add the current token at full weight: S_t = γ·S_{t-1} + φ(k_t) v_tᵀ.",
         zh="先衰减旧状态，再以完整权重加上当前词元：S_t = γ·S_{t-1} + φ(k_t) v_tᵀ。")
def _decay_after_adding(phi_q, phi_k, v, state, z, gamma):
    state = gamma * (state + np.outer(phi_k, v))
    z = gamma * (z + phi_k)
    return phi_q @ state / (phi_q @ z), state, z


@mistake("decay z as well: the normaliser must add up the same weights γ^(t-j) as "
         "the state, or the output is no longer a weighted average of the values.",
         zh="z 也要衰减：归一化项必须累加与状态相同的权重 γ^(t-j)，否则输出就不再是值的加权平均。")
def _decay_state_only(phi_q, phi_k, v, state, z, gamma):
    state = gamma * state + np.outer(phi_k, v)
    z = z + phi_k
    return phi_q @ state / (phi_q @ z), state, z


@mistake("update the state before reading it: token t attends to itself.",
         zh="先更新状态再读取：第 t 个词元也要关注它自己。")
def _decay_read_before_update(phi_q, phi_k, v, state, z, gamma):
    out = phi_q @ state / (phi_q @ z)
    return out, gamma * state + np.outer(phi_k, v), gamma * z + phi_k


register(Exercise(
    id="08b.5", title="one step of causal linear attention with a decay", title_zh="带衰减的因果线性注意力的一步",
    reference=_decayed_step, cases=_decay_cases, results=("out", "state", "z"),
    mistakes=[_decay_after_adding, _decay_state_only, _decay_read_before_update]))
