"""Chapter 10 exercises: independent solutions pass, realistic mistakes get their hint.

(That every reference solves its exercise and every stub is not attempted is tested in test_checker.py.)
"""

import numpy as np

from utils.efficient.positions_numpy import apply_rope
from utils.exercises import evaluate


def _log_softmax(x):
    m = x.max(-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(-1, keepdims=True))


def test_next_char_loss():
    def right(logits, tokens):
        lp = _log_softmax(np.asarray(logits, float))[:, :-1]
        b, t = np.indices(tokens[:, 1:].shape)
        return -lp[b, t, tokens[:, 1:]].mean()

    def unshifted(logits, tokens):
        lp = _log_softmax(np.asarray(logits, float))
        b, t = np.indices(tokens.shape)
        return -lp[b, t, tokens].mean()

    assert evaluate("10.1", right).solved
    v = evaluate("10.1", unshifted)
    assert v.status == "wrong" and "shift" in v.hint
    v = evaluate("10.1", lambda lg, tk: right(lg, tk) / np.log(2))
    assert v.status == "wrong" and "bits" in v.hint


def test_top_k():
    def right(logits, temperature, k):
        z = np.asarray(logits) / temperature
        cut = np.sort(z)[-k]
        p = np.where(z >= cut, np.exp(z - z.max()), 0.0)
        return p / p.sum()

    def no_renorm(logits, temperature, k):
        z = np.asarray(logits) / temperature
        p = np.exp(z - z.max())
        p /= p.sum()
        return np.where(z >= np.sort(z)[-k], p, 0.0)

    assert evaluate("10.2", right).solved
    v = evaluate("10.2", no_renorm)
    assert v.status == "wrong" and "renormalise" in v.hint
    v = evaluate("10.2", lambda lg, t, k: right(np.asarray(lg) * t * t, t, k))
    assert v.status == "wrong" and "divide" in v.hint


def test_rope_after_cache():
    assert evaluate("10.3", lambda x, c: apply_rope(x, c + np.arange(x.shape[-2]))).solved
    v = evaluate("10.3", lambda x, c: apply_rope(x))
    assert v.status == "wrong" and "after the cache_length" in v.hint


def test_cache_bytes():
    def right(n_layers, n_kv_heads, d_head, n_tokens, bytes_per_value, window=None):
        return 2 * n_layers * n_kv_heads * d_head * min(n_tokens, window or n_tokens) * bytes_per_value

    assert evaluate("10.4", right).solved
    v = evaluate("10.4", lambda *a, window=None: right(*a))
    assert v.status == "wrong" and "min(n_tokens, window)" in v.hint
    v = evaluate("10.4", lambda *a, **kw: float(right(*a, **kw)))
    assert v.status == "wrong"
