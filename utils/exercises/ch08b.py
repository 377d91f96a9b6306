"""Chapter 08b exercises: a KV-cache decode step, the GQA head mapping, a RoPE rotation,
the KV-cache size of a real model, and one step of causal linear attention."""

from __future__ import annotations

import numpy as np

from utils.core.attention_numpy import scaled_dot_product_attention
from utils.efficient.gqa_numpy import kv_head_index
from utils.efficient.positions_numpy import apply_rope
from utils.exercises.core import Case, Exercise, Mistake, register

# ---------------------------------------------------------------- 08b.1 KV-cache decode step


def _decode_step(q_new, k_new, v_new, k_cache, v_cache):
    k_cache = np.concatenate([k_cache, k_new], axis=-2)
    v_cache = np.concatenate([v_cache, v_new], axis=-2)
    out, _ = scaled_dot_product_attention(q_new, k_cache, v_cache)
    return out, k_cache, v_cache


def _decode_cases() -> list[Case]:
    rng = np.random.default_rng(81)

    def case(label, b, h, t, d):
        return Case(label, tuple(rng.normal(size=s) for s in [(b, h, 1, d)] * 3 + [(b, h, t, d)] * 2))

    return [case("batch 2, 3 heads, 4 cached", 2, 3, 4, 8), case("one cached token", 1, 2, 1, 4),
            case("long cache", 1, 1, 30, 16)]


def _attend_before_append(q_new, k_new, v_new, k_cache, v_cache):
    out, _ = scaled_dot_product_attention(q_new, k_cache, v_cache)
    return out, np.concatenate([k_cache, k_new], axis=-2), np.concatenate([v_cache, v_new], axis=-2)


def _no_scale(q_new, k_new, v_new, k_cache, v_cache):
    k, v = np.concatenate([k_cache, k_new], axis=-2), np.concatenate([v_cache, v_new], axis=-2)
    out, _ = scaled_dot_product_attention(q_new * np.sqrt(q_new.shape[-1]), k, v)
    return out, k, v


def _prepend(q_new, k_new, v_new, k_cache, v_cache):
    k, v = np.concatenate([k_new, k_cache], axis=-2), np.concatenate([v_new, v_cache], axis=-2)
    out, _ = scaled_dot_product_attention(q_new, k, v)
    return out, k, v


register(Exercise(
    id="08b.1", title="a KV-cache decode step", reference=_decode_step, cases=_decode_cases, rtol=1e-5, atol=1e-8,
    mistakes=[
        Mistake("append the new key and value to the cache BEFORE attending: the new token must see itself.",
                _attend_before_append),
        Mistake("divide the scores by √d_k (d_k = q_new.shape[-1]).", _no_scale),
        Mistake("the output is right, but the cache is in the wrong order: append at the END of the sequence "
                "axis (axis=-2), so position t is at index t.", _prepend),
    ],
))

# ---------------------------------------------------------------- 08b.2 GQA head mapping


def _heads_cases() -> list[Case]:
    return [Case("h=8, g=2", (8, 2)), Case("h=12, g=3", (12, 3)), Case("MHA, h=g=4", (4, 4)),
            Case("MQA, h=6, g=1", (6, 1))]


register(Exercise(
    id="08b.2", title="grouped-query head mapping", reference=lambda h, g: kv_head_index(h, g), cases=_heads_cases,
    compare=lambda got, expected: np.array_equal(np.asarray(got), np.asarray(expected)),  # a list is fine too
    mistakes=[
        Mistake("consecutive query heads share a key/value head (0,0,0,0,1,1,1,1), not round-robin: "
                "use i // (h // g), not i % g.", lambda h, g: np.arange(h) % g),
        Mistake("divide by the group size h // g, not by g.", lambda h, g: np.arange(h) // g),
    ],
))

# ---------------------------------------------------------------- 08b.3 RoPE rotation


def _rope_cases() -> list[Case]:
    rng = np.random.default_rng(83)
    return [Case("n=5, d=8", (rng.normal(size=(5, 8)), np.arange(5))),
            Case("positions far apart", (rng.normal(size=(3, 4)), np.array([0, 7, 1000]))),
            Case("d=2", (rng.normal(size=(4, 2)), np.array([3, 2, 1, 0])))]


def _rope_half_split(x, positions):
    d = x.shape[-1]
    theta = 10000.0 ** (-np.arange(0, d, 2) / d)
    a = positions[:, None] * theta[None, :]
    x1, x2 = x[..., : d // 2], x[..., d // 2:]
    return np.concatenate([x1 * np.cos(a) - x2 * np.sin(a), x1 * np.sin(a) + x2 * np.cos(a)], axis=-1)


def _rope_wrong_sign(x, positions):
    return apply_rope(x, -np.asarray(positions))


def _rope_wrong_exponent(x, positions):
    d = x.shape[-1]
    theta = 10000.0 ** (-np.arange(d // 2) / d)
    a = positions[:, None] * theta[None, :]
    out = np.empty_like(x)
    out[..., 0::2] = x[..., 0::2] * np.cos(a) - x[..., 1::2] * np.sin(a)
    out[..., 1::2] = x[..., 0::2] * np.sin(a) + x[..., 1::2] * np.cos(a)
    return out


register(Exercise(
    id="08b.3", title="a RoPE rotation", reference=lambda x, positions: apply_rope(x, positions), cases=_rope_cases,
    mistakes=[
        Mistake("rotate adjacent pairs (x[2i], x[2i+1]) as in Su et al., not (x[i], x[i + d/2]).", _rope_half_split),
        Mistake("rotate by +angle: new_even = x_even·cos − x_odd·sin, new_odd = x_even·sin + x_odd·cos.",
                _rope_wrong_sign),
        Mistake("θ_i = base^(−2i/d) for pair i (i = 0 .. d/2 − 1): the exponent has a factor 2.",
                _rope_wrong_exponent),
    ],
))

# ---------------------------------------------------------------- 08b.4 KV-cache size of Mistral 7B

MISTRAL_CACHE_BYTES = 2 * 32 * 1 * 4096 * 8 * 128 * 2

register(Exercise(
    id="08b.4", title="the KV cache of Mistral 7B at 4096 tokens", reference=MISTRAL_CACHE_BYTES, kind="value",
    rtol=0.0, atol=0.0,
    mistakes=[
        Mistake("the cache holds keys AND values: multiply by 2.", MISTRAL_CACHE_BYTES // 2),
        Mistake("count the 8 key/value heads, not the 32 query heads: that is what GQA saves.",
                MISTRAL_CACHE_BYTES * 4),
        Mistake("float16 takes 2 bytes per value, not 4.", MISTRAL_CACHE_BYTES * 2),
    ],
))

# ---------------------------------------------------------------- 08b.5 causal linear attention step


def _linear_step(phi_q, phi_k, v, state, z):
    state = state + np.outer(phi_k, v)
    z = z + phi_k
    return phi_q @ state / (phi_q @ z), state, z


def _linear_cases() -> list[Case]:
    rng = np.random.default_rng(85)

    def case(label, m, d, empty=False):
        state = np.zeros((m, d)) if empty else rng.random((m, d))
        z = np.zeros(m) if empty else rng.random(m) + 1
        return Case(label, (rng.random(m) + 0.1, rng.random(m) + 0.1, rng.normal(size=d), state, z))

    return [case("m=4, d=3", 4, 3), case("first token (empty state)", 5, 2, empty=True), case("m=8, d=8", 8, 8)]


def _linear_update_after(phi_q, phi_k, v, state, z):
    out = phi_q @ state / (phi_q @ z)
    return out, state + np.outer(phi_k, v), z + phi_k


def _linear_unnormalised(phi_q, phi_k, v, state, z):
    state = state + np.outer(phi_k, v)
    return phi_q @ state, state, z + phi_k


register(Exercise(
    id="08b.5", title="one step of causal linear attention", reference=_linear_step, cases=_linear_cases,
    mistakes=[
        Mistake("add the current token's φ(k_t) v_tᵀ and φ(k_t) to the state before reading it: token t "
                "attends to itself.", _linear_update_after),
        Mistake("divide by the normaliser φ(q_t)·z_t, the linear-attention version of softmax's row sum.",
                _linear_unnormalised),
    ],
))
