"""Chapter 08b exercises: the reference passes, stubs are not attempted, realistic mistakes are caught."""

import numpy as np

from utils.exercises import evaluate


def _verdict(eid, fn):
    return evaluate(eid, fn)


def _stub(*args):
    ...


def _sdpa(q, k, v, scale=True):
    s = q @ np.swapaxes(k, -1, -2) / (np.sqrt(q.shape[-1]) if scale else 1.0)
    w = np.exp(s - s.max(-1, keepdims=True))
    return (w / w.sum(-1, keepdims=True)) @ v


def test_decode_step():
    def right(q, k_new, v_new, kc, vc):
        k, v = np.concatenate([kc, k_new], -2), np.concatenate([vc, v_new], -2)
        return _sdpa(q, k, v), k, v

    def before_append(q, k_new, v_new, kc, vc):
        return _sdpa(q, kc, vc), np.concatenate([kc, k_new], -2), np.concatenate([vc, v_new], -2)

    def prepend(q, k_new, v_new, kc, vc):
        k, v = np.concatenate([k_new, kc], -2), np.concatenate([v_new, vc], -2)
        return _sdpa(q, k, v), k, v

    def no_scale(q, k_new, v_new, kc, vc):
        k, v = np.concatenate([kc, k_new], -2), np.concatenate([vc, v_new], -2)
        return _sdpa(q, k, v, scale=False), k, v

    assert _verdict("08b.1", right).solved
    assert _verdict("08b.1", _stub).status == "not attempted"
    for wrong, word in ((before_append, "BEFORE"), (prepend, "END"), (no_scale, "√d_k")):
        v = _verdict("08b.1", wrong)
        assert v.status == "wrong" and word in v.hint


def test_gqa_mapping():
    assert _verdict("08b.2", lambda h, g: np.arange(h) // (h // g)).solved
    assert _verdict("08b.2", lambda h, g: [i * g // h for i in range(h)]).solved
    assert _verdict("08b.2", _stub).status == "not attempted"
    v = _verdict("08b.2", lambda h, g: np.array([i % g for i in range(h)]))
    assert v.status == "wrong" and "round-robin" in v.hint
    v = _verdict("08b.2", lambda h, g: np.arange(h) // g)
    assert v.status == "wrong" and "group size" in v.hint


def _rope(x, positions, sign=1.0, factor=2.0, half=False):
    d = x.shape[-1]
    theta = 10000.0 ** (-factor * np.arange(d // 2) / d)
    a = sign * positions[:, None] * theta
    if half:
        x1, x2 = x[:, : d // 2], x[:, d // 2:]
        return np.concatenate([x1 * np.cos(a) - x2 * np.sin(a), x1 * np.sin(a) + x2 * np.cos(a)], axis=1)
    out = x.copy()
    out[:, 0::2] = x[:, 0::2] * np.cos(a) - x[:, 1::2] * np.sin(a)
    out[:, 1::2] = x[:, 0::2] * np.sin(a) + x[:, 1::2] * np.cos(a)
    return out


def test_rope():
    assert _verdict("08b.3", _rope).solved
    assert _verdict("08b.3", _stub).status == "not attempted"
    for kwargs, word in (({"sign": -1.0}, "+angle"), ({"factor": 1.0}, "factor 2"), ({"half": True}, "adjacent")):
        v = _verdict("08b.3", lambda x, p, kw=kwargs: _rope(x, p, **kw))
        assert v.status == "wrong" and word in v.hint, kwargs


def test_mistral_cache_value():
    assert _verdict("08b.4", 536_870_912).solved
    assert _verdict("08b.4", ...).status == "not attempted"
    assert "AND values" in _verdict("08b.4", 268_435_456).hint
    assert "8 key/value heads" in _verdict("08b.4", 2_147_483_648).hint
    assert _verdict("08b.4", 512).status == "wrong"


def test_linear_step():
    def right(fq, fk, v, s, z):
        s = s + fk[:, None] * v[None, :]
        z = z + fk
        return fq @ s / (fq @ z), s, z

    def late(fq, fk, v, s, z):
        return fq @ s / (fq @ z), s + fk[:, None] * v[None, :], z + fk

    def unnormalised(fq, fk, v, s, z):
        s = s + fk[:, None] * v[None, :]
        return fq @ s, s, z + fk

    assert _verdict("08b.5", right).solved
    assert _verdict("08b.5", _stub).status == "not attempted"
    v = _verdict("08b.5", late)
    assert v.status == "wrong" and "before reading" in v.hint
    v = _verdict("08b.5", unnormalised)
    assert v.status == "wrong" and "normaliser" in v.hint
