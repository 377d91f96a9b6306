"""Chapter 08b exercises: independent solutions pass, realistic mistakes are caught with their hint.

(That every reference solves its exercise and every stub is not attempted is tested in test_checker.py.)
"""

import numpy as np

from utils.efficient.kv_cache_numpy import KVCache, decode_step, decoder_logits
from utils.efficient.positions_numpy import apply_rope
from utils.exercises import evaluate


def _generate(params, prompt, n_new, cfg, first_position=False, prefill=True, feed_last=False):
    cache, tokens = KVCache(cfg.n_layers), prompt
    logits = decode_step(params, prompt if prefill else prompt[:, -1:], cache, cfg)
    for step in range(n_new):
        nxt = logits[:, 0 if first_position else -1].argmax(-1)[:, None]
        tokens = np.concatenate([tokens, nxt], axis=1)
        if step + 1 < n_new or feed_last:
            logits = decode_step(params, nxt, cache, cfg)
    return tokens, cache


def test_generate_with_the_cache():
    assert evaluate("08b.1", _generate).solved
    assert evaluate("08b.1", lambda *a: _generate(*a, feed_last=True)).solved  # one extra cached token is fine
    for kwargs, word in (({"first_position": True}, "LAST position"), ({"prefill": False}, "prefill")):
        v = evaluate("08b.1", lambda *a, kw=kwargs: _generate(*a, **kw))
        assert v.status == "wrong" and word in v.hint, kwargs

    def recompute(params, prompt, n_new, cfg):
        tokens = prompt
        for _ in range(n_new):
            tokens = np.concatenate([tokens, decoder_logits(params, tokens, cfg)[:, -1:].argmax(-1)], axis=1)
        return tokens, KVCache(cfg.n_layers)

    v = evaluate("08b.1", recompute)
    assert v.status == "wrong" and "cache is empty" in v.hint


def _pool(W, h, g, order="group", how="mean"):
    d_model, width = W.shape
    d_head = width // h
    heads = W.reshape(d_model, h, d_head)
    groups = [heads[:, [i for i in range(h) if (i // (h // g) if order == "group" else i % g) == j]] for j in range(g)]
    pooled = [grp.mean(1) if how == "mean" else grp.sum(1) if how == "sum" else grp[:, 0] for grp in groups]
    return np.concatenate(pooled, axis=1)


def test_mean_pool_heads():
    assert evaluate("08b.2", _pool).solved
    for kwargs, word in (({"order": "round"}, "consecutive"), ({"how": "first"}, "average"), ({"how": "sum"}, "sum")):
        v = evaluate("08b.2", lambda W, h, g, kw=kwargs: _pool(W, h, g, **kw))
        assert v.status == "wrong" and word in v.hint, kwargs


def _rope_pi(x, train_len, always=False, half=False):
    n, d = x.shape
    pos = np.arange(n) * (train_len / n if always or n > train_len else 1.0)
    if half:
        p = np.concatenate([np.arange(0, d, 2), np.arange(1, d, 2)])
        inv = np.argsort(p)
        return apply_rope(x[:, inv], pos)[:, p]
    return apply_rope(x, pos)


def test_rope_interpolation():
    assert evaluate("08b.3", _rope_pi).solved
    assert evaluate("08b.3", lambda x, L: apply_rope(x)).status == "wrong"  # no interpolation at all
    for kwargs, word in (({"always": True}, "only squeeze"), ({"half": True}, "interleaved")):
        v = evaluate("08b.3", lambda x, L, kw=kwargs: _rope_pi(x, L, **kw))
        assert v.status == "wrong" and word in v.hint, kwargs


def test_mistral_cache_value():
    assert evaluate("08b.4", 536_870_912).solved
    assert "AND values" in evaluate("08b.4", 268_435_456).hint
    assert "8 key/value heads" in evaluate("08b.4", 2_147_483_648).hint
    assert evaluate("08b.4", 512).status == "wrong"


def test_decayed_linear_step():
    def step(fq, fk, v, s, z, gamma, decay_z=True, late=False):
        new_s, new_z = gamma * s + fk[:, None] * v[None, :], (gamma * z if decay_z else z) + fk
        read_s, read_z = (s, z) if late else (new_s, new_z)
        return fq @ read_s / (fq @ read_z), new_s, new_z

    assert evaluate("08b.5", step).solved
    for kwargs, word in (({"decay_z": False}, "decay z"), ({"late": True}, "before reading")):
        v = evaluate("08b.5", lambda *a, kw=kwargs: step(*a, **kw))
        assert v.status == "wrong" and word in v.hint, kwargs
