"""Chapter 10 exercises: the next-character loss, temperature with top-k, RoPE positions after a cache,
and the bytes of a (sliding-window) GQA cache."""

from __future__ import annotations

import numpy as np

from utils.efficient.positions_numpy import apply_rope
from utils.exercises.core import Case, Exercise, mistake, register

# ---------------------------------------------------------------- 10.1 next-character loss


def _log_softmax(x: np.ndarray) -> np.ndarray:
    x = x - x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


def _nll(logits: np.ndarray, targets: np.ndarray) -> float:
    return float(-np.take_along_axis(_log_softmax(logits), targets[..., None], axis=-1).mean())


def _next_char_loss(logits, tokens):
    return _nll(np.asarray(logits, dtype=np.float64)[:, :-1], np.asarray(tokens)[:, 1:])


def _loss_cases() -> list[Case]:
    rng = np.random.default_rng(101)

    def case(label, b, t, v, scale=1.0):
        return Case(label, (rng.normal(scale=scale, size=(b, t, v)), rng.integers(0, v, size=(b, t))))

    return [case("batch 2, t=6, vocab 5", 2, 6, 5), case("one window", 1, 9, 7),
            case("large logits (needs a stable log-softmax)", 3, 4, 6, scale=400.0)]


@mistake("shift the targets: the logits at position i predict "
         "tokens[:, i + 1], so compare logits[:, :-1] with tokens[:, 1:].",
         zh="目标要错开一位：位置 i 的 logits 预测 tokens[:, i + 1]，应比较 logits[:, :-1] 与 tokens[:, 1:]。")
def _loss_unshifted(logits, tokens):
    return _nll(np.asarray(logits, float), np.asarray(tokens))


@mistake("the shift goes the other way: logits[:, :-1] against tokens[:, 1:] "
         "(a model predicts the NEXT character, not the previous one).",
         zh="方向反了：应是 logits[:, :-1] 对 tokens[:, 1:]（模型预测下一个字，而不是上一个字）。")
def _loss_shifted_backwards(logits, tokens):
    return _nll(np.asarray(logits, float)[:, 1:], np.asarray(tokens)[:, :-1])


@mistake("report nats (natural log), not bits: do not divide by ln 2.",
         zh="用奈特（自然对数），不要除以 ln 2 换成比特。")
def _loss_in_bits(logits, tokens):
    return _next_char_loss(logits, tokens) / np.log(2)


@mistake("take the mean over all predictions, not the sum.", zh="对所有预测取平均，而不是求和。")
def _loss_summed(logits, tokens):
    return _next_char_loss(logits, tokens) * np.asarray(tokens)[:, 1:].size


register(Exercise(
    id="10.1", title="the next-character loss", title_zh="下一个字的损失",
    reference=_next_char_loss, cases=_loss_cases, rtol=1e-6, atol=1e-9,
    mistakes=[_loss_unshifted, _loss_shifted_backwards, _loss_in_bits, _loss_summed]))

# ---------------------------------------------------------------- 10.2 temperature and top-k


def _top_k_probs(logits, temperature, k):
    z = np.asarray(logits, dtype=np.float64) / temperature
    keep = np.argsort(z)[-k:]
    p = np.zeros_like(z)
    p[keep] = np.exp(z[keep] - z[keep].max())
    return p / p.sum()


def _top_k_cases() -> list[Case]:
    rng = np.random.default_rng(102)
    return [Case("vocab 10, T=0.7, k=3", (rng.normal(size=10), 0.7, 3)),
            Case("T=2, k=5", (rng.normal(size=8), 2.0, 5)),
            Case("k = vocab (no cut)", (rng.normal(size=6), 1.0, 6)),
            Case("k=1 (greedy)", (rng.normal(size=7), 0.5, 1)),
            Case("large logits", (rng.normal(scale=300, size=9), 1.3, 4))]


@mistake("renormalise after the cut: the k kept probabilities must sum to 1.",
         zh="截断之后要重新归一化：保留的 k 个概率之和必须为 1。")
def _top_k_not_renormalised(logits, temperature, k):
    z = np.asarray(logits, dtype=np.float64) / temperature
    p = np.exp(z - z.max())
    p /= p.sum()
    out = np.zeros_like(p)
    keep = np.argsort(z)[-k:]
    out[keep] = p[keep]
    return out


@mistake("divide the logits by the temperature (a small T sharpens); do not multiply.",
         zh="logits 除以温度（T 越小分布越尖锐），不是乘以温度。")
def _top_k_temperature_multiplied(logits, temperature, k):
    return _top_k_probs(np.asarray(logits) * temperature * temperature, temperature, k)


@mistake("apply the temperature to the logits, before the softmax, not to the probabilities.",
         zh="温度作用在 softmax 之前的 logits 上，而不是作用在概率上。")
def _top_k_temperature_ignored(logits, temperature, k):
    return _top_k_probs(logits, 1.0, k)


@mistake("keep exactly the k largest logits (off by one?).", zh="只保留最大的 k 个 logits（是否差了一个？）。")
def _top_k_one_extra(logits, temperature, k):
    return _top_k_probs(logits, temperature, min(k + 1, len(logits)))


@mistake("keep the k LARGEST logits, not the smallest.", zh="保留最大的 k 个 logits，而不是最小的。")
def _top_k_smallest(logits, temperature, k):
    z = np.asarray(logits, dtype=np.float64) / temperature
    keep = np.argsort(z)[:k]
    p = np.zeros_like(z)
    p[keep] = np.exp(z[keep] - z[keep].max())
    return p / p.sum()


register(Exercise(
    id="10.2", title="temperature and top-k sampling", title_zh="温度与 top-k 采样",
    reference=_top_k_probs, cases=_top_k_cases, rtol=1e-6, atol=1e-9,
    mistakes=[_top_k_not_renormalised, _top_k_temperature_multiplied, _top_k_temperature_ignored, _top_k_one_extra,
              _top_k_smallest]))

# ---------------------------------------------------------------- 10.3 RoPE after a cache


def _rotate_new(x_new, cache_length):
    x_new = np.asarray(x_new)
    return apply_rope(x_new, np.arange(cache_length, cache_length + x_new.shape[-2]))


def _rope_cases() -> list[Case]:
    rng = np.random.default_rng(103)
    return [Case("one new token after 7 cached", (rng.normal(size=(2, 1, 8)), 7)),
            Case("3 new tokens after 20 cached", (rng.normal(size=(4, 3, 4)), 20)),
            Case("empty cache (the prompt)", (rng.normal(size=(1, 5, 6)), 0))]


@mistake("the new tokens are not at positions 0, 1, ...: they come after the cache_length cached ones.",
         zh="新 token 的位置不是 0, 1, ...：它们排在已缓存的 cache_length 个 token 之后。")
def _rope_from_zero(x_new, cache_length):
    return apply_rope(np.asarray(x_new))


@mistake("positions start at cache_length (0-based), not cache_length + 1.",
         zh="位置从 cache_length 开始（从 0 计数），不是 cache_length + 1。")
def _rope_one_late(x_new, cache_length):
    start = cache_length + 1
    return apply_rope(np.asarray(x_new), np.arange(start, start + np.shape(x_new)[-2]))


@mistake("each new token has its own position: cache_length, cache_length + 1, ...",
         zh="每个新 token 各有自己的位置：cache_length、cache_length + 1、……")
def _rope_same_position(x_new, cache_length):
    return apply_rope(np.asarray(x_new), np.full(np.shape(x_new)[-2], cache_length))


register(Exercise(
    id="10.3", title="RoPE positions after a KV cache", title_zh="KV 缓存之后的 RoPE 位置",
    reference=_rotate_new, cases=_rope_cases,
    mistakes=[_rope_from_zero, _rope_one_late, _rope_same_position]))

# ---------------------------------------------------------------- 10.4 cache bytes


def _cache_bytes(n_layers, n_kv_heads, d_head, n_tokens, bytes_per_value, window=None):
    kept = n_tokens if window is None else min(n_tokens, window)
    return 2 * n_layers * n_kv_heads * d_head * kept * bytes_per_value


def _bytes_cases() -> list[Case]:
    return [Case("this chapter's model, 512 tokens, float32", (2, 2, 16, 512, 4)),
            Case("a 7B-like model, 4096 tokens, float16", (32, 8, 128, 4096, 2)),
            Case("window 64, 512 tokens", (2, 2, 16, 512, 4), {"window": 64}),
            Case("window longer than the text", (2, 2, 16, 30, 4), {"window": 64})]


@mistake("the cache holds keys AND values: multiply by 2.", zh="缓存里既有键也有值：要乘以 2。")
def _bytes_keys_only(*args, **kwargs):
    return _cache_bytes(*args, **kwargs) // 2


@mistake("a sliding window keeps only the last `window` positions: use min(n_tokens, window).",
         zh="滑动窗口只保留最后 window 个位置：用 min(n_tokens, window)。")
def _bytes_no_window(*args, **kwargs):
    return _cache_bytes(*args)


@mistake("a window longer than the text keeps n_tokens positions, not `window`.",
         zh="窗口比文本长时，只保留 n_tokens 个位置，而不是 window 个。")
def _bytes_window_not_clipped(*args, window=None):
    return _cache_bytes(*args[:3], window or args[3], args[4])


register(Exercise(
    id="10.4", title="the bytes of a GQA cache, with and without a window", title_zh="GQA 缓存的字节数（含滑动窗口）",
    reference=_cache_bytes, cases=_bytes_cases, rtol=0.0, atol=0.0,
    compare=lambda got, expected: isinstance(got, int | np.integer) and int(got) == expected,
    mistakes=[_bytes_keys_only, _bytes_no_window, _bytes_window_not_clipped]))
