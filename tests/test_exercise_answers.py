"""Every exercise against answers a learner could write: wrong ones are rejected (with the right hint when one
is registered), correct alternatives are accepted.

Each entry of WRONG is (label, answer, part of the hint that must be shown, or None for "no hint"). Together with
the registered mistakes (tested in test_checker.py) every exercise has at least five known-wrong answers.
"""

from __future__ import annotations

import datetime

import numpy as np
import pytest

from utils.core.attention_numpy import causal_mask, softmax
from utils.datagen.applications import MONTHS
from utils.demos.applications import EOS
from utils.exercises import evaluate, get_exercise, load_all

EXERCISES = load_all()


@pytest.fixture(autouse=True)
def _english(monkeypatch):
    """The hints are compared in English, whatever COURSE_LANG says."""
    from utils.exercises import messages

    monkeypatch.setitem(messages._state, "language", "en")


def _sm(x, axis=-1):
    m = np.max(x, axis=axis, keepdims=True)
    e = np.exp(x - np.where(np.isfinite(m), m, 0.0))
    t = e.sum(axis=axis, keepdims=True)
    return np.divide(e, t, out=np.zeros_like(e), where=t > 0)


def _shifted_softmax(x, shift):
    e = np.exp(x - shift)
    return e / e.sum(axis=-1, keepdims=True)


def _valid(x, lengths, extra=0):
    return np.arange(x.shape[1])[None, :] < np.asarray(lengths)[:, None] + extra


def _month(m):
    return next(names.index(m) + 1 for names in MONTHS.values() if m in names)


def _neg_sq(q, k):
    return -((q[:, None, :] - k[None, :, :]) ** 2).sum(-1)


def _loops(q, k, f):
    out = np.zeros((len(q), len(k)))
    for i in range(len(q)):
        for j in range(len(k)):
            out[i, j] = f(q[i], k[j])
    return out


def _masked_array(x):
    return np.ma.masked_array(x, mask=np.zeros_like(x, dtype=bool))


def _in_place_softmax(x):
    x -= x.max(axis=-1, keepdims=True)
    np.exp(x, out=x)
    x /= x.sum(axis=-1, keepdims=True)
    return x


def _printing(x):
    print(_sm(x), end="")  # noqa: T201  (a learner who prints instead of returning)


def _rope(x, positions, base=10000.0, sign=1.0, swap=False):
    d = x.shape[-1]
    a = sign * np.asarray(positions)[:, None] * base ** (-np.arange(0, d, 2) / d)
    c, s = (np.sin(a), np.cos(a)) if swap else (np.cos(a), np.sin(a))
    out = np.empty_like(x)
    out[:, 0::2] = x[:, 0::2] * c - x[:, 1::2] * s
    out[:, 1::2] = x[:, 0::2] * s + x[:, 1::2] * c
    return out


def _sdpa(q, k, v, axis=-1):
    return _sm(q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1]), axis=axis) @ v


def _att_sum(w, s, agg=np.sum):
    w = agg(np.asarray(w), axis=0)
    return int(np.argmax([w[s == k].sum() for k in range(s.max() + 1)]))


def _flash(m, l, acc, s, v, flip=False, l_rescale=True, pv=True):
    m_new = np.maximum(m, s.max(-1))
    shift = np.where(np.isfinite(m_new), m_new, 0.0)
    p = np.exp(s - shift[:, None])
    alpha = np.exp(np.where(np.isfinite(m), (shift - m) if flip else (m - shift), 0.0))
    return m_new, (alpha * l if l_rescale else l) + p.sum(-1), alpha[:, None] * acc + (p @ v if pv else p.sum(-1)[:, None])


def _prev(w, lengths, pick=lambda w, i: w[..., i, i - 1], agg="mean"):
    vals = [pick(w[:, b], i) for b in range(len(lengths)) for i in range(1, int(lengths[b]))]
    return np.mean(vals, axis=0) if agg == "mean" else np.max(vals, axis=0)


WRONG = {
    "00.1": [
        ("shift by the row mean", lambda x: _shifted_softmax(x, x.mean(-1, keepdims=True)), None),
        ("shift by the row min", lambda x: _shifted_softmax(x, x.min(-1, keepdims=True)), None),
        ("a 1-tuple", lambda x: (_sm(x),), None),
        ("a masked array", lambda x: _masked_array(_sm(x)), None),
        ("changes its input", _in_place_softmax, None),
        ("prints instead of returning", _printing, None),
        ("log-softmax", lambda x: np.log(_sm(x)), None),
    ],
    "01.1": [
        ("NaN for an empty sequence", lambda x, n: (x * _valid(x, n)[..., None]).sum(1) / n[:, None], None),
        ("crops to the longest length", lambda x, n: x[:, : n.max()].mean(1), None),
        ("all positions summed, divided by length",
         lambda x, n: x.sum(1) / np.maximum(n, 1)[:, None], None),
        ("the first sequence's length for all", lambda x, n: (x * _valid(x, np.full_like(n, n[0]))[..., None]).sum(1)
         / max(int(n[0]), 1), None),
        ("returns (batch, 1, d)", lambda x, n: ((x * _valid(x, n)[..., None]).sum(1) / np.maximum(n, 1)[:, None])
         [:, None], None),
        ("max pooling", lambda x, n: np.where(_valid(x, n)[..., None], x, -np.inf).max(1).clip(-1e9), None),
    ],
    "01.2": [
        ("no max subtraction", lambda q, k, v: np.einsum("bn,bnv->bv", _shifted_softmax(
            np.einsum("bd,bnd->bn", q, k) / np.sqrt(q.shape[-1]), 0.0), v), None),
        ("one global max for the batch", lambda q, k, v: np.einsum("bn,bnv->bv", _shifted_softmax(
            s := np.einsum("bd,bnd->bn", q, k) / np.sqrt(q.shape[-1]), s.max()), v), None),
        ("scaled by sqrt(n)", lambda q, k, v: np.einsum("bn,bnv->bv", _sm(
            np.einsum("bd,bnd->bn", q, k) / np.sqrt(k.shape[1])), v), None),
        ("scaled by d_k", lambda q, k, v: np.einsum("bn,bnv->bv", _sm(
            np.einsum("bd,bnd->bn", q, k) / q.shape[-1]), v), None),
        ("averages the keys, not the values", lambda q, k, v: np.einsum("bn,bnv->bv", _sm(
            np.einsum("bd,bnd->bn", q, k) / np.sqrt(q.shape[-1])), k), None),
        ("a sharp softmax", lambda q, k, v: np.einsum("bn,bnv->bv", _sm(50 * np.einsum("bd,bnd->bn", q, k)), v), None),
    ],
    "02.1": [
        ("operator precedence: /2*sigma**2", lambda xq, xt, s: _sm(-np.subtract.outer(xq, xt) ** 2 / 2 * s**2), None),
        ("sigma, not sigma squared", lambda xq, xt, s: _sm(-np.subtract.outer(xq, xt) ** 2 / (2 * s)), None),
        ("transposed", lambda xq, xt, s: _sm(-np.subtract.outer(xq, xt) ** 2 / (2 * s**2)).T, None),
        ("global max shift", lambda xq, xt, s: _shifted_softmax(z := -np.subtract.outer(xq, xt) ** 2 / (2 * s**2),
                                                                z.max()), None),
        ("positive exponent", lambda xq, xt, s: _sm(np.subtract.outer(xq, xt) ** 2 / (2 * s**2)), None),
    ],
    "02.2": [
        ("a sharp softmax", lambda q, k, v: _sm(50 * q @ k.T) @ v, None),
        ("argmax over the queries", lambda q, k, v: v[np.argmax(q @ k.T, axis=0)][: len(q)], None),
        ("returns the index", lambda q, k, v: np.argmax(q @ k.T, axis=-1), None),
        ("largest key norm", lambda q, k, v: np.repeat(v[None, np.argmax((k**2).sum(-1))], len(q), 0), None),
        ("cosine similarity", lambda q, k, v: v[np.argmax(q @ (k / np.linalg.norm(k, axis=1, keepdims=True)).T, -1)],
         None),
        ("a tuple of rows", lambda q, k, v: tuple(v[np.argmax(q @ k.T, axis=-1)]), None),
    ],
    "02.3": [
        ("calls causal_mask", lambda n: causal_mask(n), None),
        ("0/1 integers", lambda n: np.tril(np.ones((n, n), dtype=int)), "boolean"),
        ("a nested list", lambda n: [[j <= i for j in range(n)] for i in range(n)], None),
        ("a 1-tuple", lambda n: (np.tril(np.ones((n, n), dtype=bool)),), None),
        ("upper triangle by transposing", lambda n: np.tril(np.ones((n, n), dtype=bool)).T, "LOWER"),
        ("float 0/1 via np.tri", lambda n: np.tri(n), "boolean"),
    ],
    "03.1": [
        ("vectorised, no loops", _neg_sq, None),
        ("dot products with loops", lambda q, k: _loops(q, k, lambda a, b: a @ b), None),
        ("absolute differences", lambda q, k: _loops(q, k, lambda a, b: -np.abs(a - b).sum()), None),
        ("loops, transposed", lambda q, k: _loops(k, q, lambda a, b: -((a - b) ** 2).sum()), None),
        ("loops, positive squared distance", lambda q, k: _loops(q, k, lambda a, b: ((a - b) ** 2).sum()), "HIGHER"),
    ],
    "03.2": [
        ("loops", lambda q, k: _loops(q, k, lambda a, b: -((a - b) ** 2).sum()), None),
        ("norms not squared", lambda q, k: 2 * q @ k.T - np.linalg.norm(q, axis=1)[:, None]
         - np.linalg.norm(k, axis=1)[None, :], None),
        ("transposed", lambda q, k: _neg_sq(q, k).T, None),
        ("plus the norms", lambda q, k: 2 * q @ k.T + (q**2).sum(1)[:, None] + (k**2).sum(1)[None, :], None),
        ("norms broadcast the wrong way", lambda q, k: 2 * q @ k.T - (q**2).sum(1)[None, :] - (k**2).sum(1)[:, None],
         None),
    ],
    "04.1": [
        ("scaled by sqrt(n_q)", lambda q, k: q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-2]), None),
        ("multiplied by sqrt(d_k)", lambda q, k: q @ np.swapaxes(k, -1, -2) * np.sqrt(q.shape[-1]), None),
        ("k.T on batched inputs", lambda q, k: q @ k.T / np.sqrt(q.shape[-1]), None),
        ("np.dot on batched inputs", lambda q, k: np.dot(q, np.swapaxes(k, -1, -2)) / np.sqrt(q.shape[-1]), None),
        ("softmax applied", lambda q, k: _sm(q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])), None),
    ],
    "04.2": [
        ("0 instead of -inf", lambda s, m: _sm(np.where(m, s, 0.0)), None),
        ("scores times mask", lambda s, m: _sm(s * m), None),
        ("renormalised after softmax", lambda s, m: (p := _sm(s) * m) / p.sum(-1, keepdims=True), None),
        ("NaN for a fully masked row", lambda s, m: _shifted_softmax(z := np.where(m, s, -np.inf),
                                                                     z.max(-1, keepdims=True)), "NaN"),
        ("unstable exp", lambda s, m: (e := np.exp(s) * m) / np.maximum(e.sum(-1, keepdims=True), 1e-300), None),
        ("-1e4 instead of -inf", lambda s, m: _sm(np.where(m, s, -1e4)), "fully masked"),
    ],
    "04.3": [
        ("calls softmax_backward", lambda p, dp: __import__("utils.core.attention_grad_numpy", fromlist=["x"])
         .softmax_backward(p, dp), None),
        ("p inside the sum forgotten", lambda p, dp: p * (dp - dp.sum(-1, keepdims=True)), None),
        ("one global sum", lambda p, dp: p * (dp - (dp * p).sum()), None),
        ("p(1-p) only", lambda p, dp: p * (1 - p) * dp, None),
        ("sum over axis 0", lambda p, dp: p * (dp - (dp * p).sum(0, keepdims=True)), None),
        ("sign flipped", lambda p, dp: p * ((dp * p).sum(-1, keepdims=True) - dp), None),
    ],
    "04.4": [
        ("calls attention_backward", lambda *a: __import__("utils.core.attention_grad_numpy", fromlist=["x"])
         .attention_backward(*a), None),
        ("dQ and dK swapped", lambda do, q, k, v: (lambda g: (g[1], g[0], g[2]))(_bw(do, q, k, v)), None),
        ("dV = V-side transposed", lambda do, q, k, v: (*_bw(do, q, k, v)[:2], _sm(q @ k.T / np.sqrt(q.shape[1])) @ v),
         None),
        ("only dK scaled", lambda do, q, k, v: (lambda g: (g[0] * np.sqrt(q.shape[1]), g[1], g[2]))(_bw(do, q, k, v)),
         None),
        ("softmax backward over axis 0", lambda do, q, k, v: _bw(do, q, k, v, axis=0), None),
        ("dV = W dO", lambda do, q, k, v: (*_bw(do, q, k, v)[:2], _sm(q @ k.T / np.sqrt(q.shape[1])) @ do), None),
    ],
}


WRONG.update({
    "05.1": [
        ("reshape (b, s, h, dh) only", lambda x, h: x.reshape(x.shape[0], x.shape[1], h, -1), None),
        ("a list of heads", lambda x, h: np.split(x, h, axis=-1), None),
        ("(b·h, s, dh)", lambda x, h: x.reshape(x.shape[0], x.shape[1], h, -1).transpose(0, 2, 1, 3)
         .reshape(-1, x.shape[1], x.shape[2] // h), None),
        ("heads stacked first", lambda x, h: np.stack(np.split(x, h, axis=-1), axis=0), None),
        ("Fortran-order reshape", lambda x, h: x.reshape(x.shape[0], x.shape[1], h, -1, order="F")
         .transpose(0, 2, 1, 3), None),
    ],
    "05.2": [
        ("sum over heads", lambda x: x.sum(axis=1), None),
        ("concatenate along seq", lambda x: np.concatenate(list(np.moveaxis(x, 1, 0)), axis=1), None),
        ("(b, s·h, dh)", lambda x: x.transpose(0, 2, 1, 3).reshape(x.shape[0], -1, x.shape[3]), None),
        ("Fortran-order reshape", lambda x: x.transpose(0, 2, 1, 3).reshape(x.shape[0], x.shape[2], -1, order="F"),
         None),
        ("mean over heads", lambda x: x.mean(axis=1), None),
    ],
    "05.3": [
        ("ignores n", lambda lengths, n: (lambda m: (np.tril(np.ones((m, m), bool))[None]
                                                     & (np.arange(m) < lengths[:, None])[:, None, :])[:, None])
         (int(np.max(lengths))), None),
        ("0/1 floats", lambda lengths, n: get_exercise("05.3").reference(lengths, n).astype(np.float32), "boolean"),
        ("no head axis", lambda lengths, n: get_exercise("05.3").reference(lengths, n)[:, 0], None),
        ("padding off by one", lambda lengths, n: (np.tril(np.ones((n, n), bool))[None]
                                                   & (np.arange(n) <= lengths[:, None])[:, None, :])[:, None], None),
        ("padding on queries and keys", lambda lengths, n: get_exercise("05.3").reference(lengths, n)
         & (np.arange(n) < lengths[:, None])[:, None, :, None], None),
    ],
    "05.4": [
        ("calls torch_mha_state", lambda p: tuple(__import__("utils.layers.library_layers", fromlist=["x"])
                                                  .torch_mha_state(p).values()), None),
        ("biases in the order k, q, v", lambda p: (np.concatenate([p["W_q"].T, p["W_k"].T, p["W_v"].T]),
                                                   np.concatenate([p["b_k"], p["b_q"], p["b_v"]]), p["W_o"].T, p["b_o"]),
         None),
        ("weights in the order q, v, k", lambda p: (np.concatenate([p["W_q"].T, p["W_v"].T, p["W_k"].T]),
                                                    np.concatenate([p["b_q"], p["b_k"], p["b_v"]]), p["W_o"].T,
                                                    p["b_o"]), None),
        ("a dict", lambda p: {"in_proj_weight": np.concatenate([p["W_q"].T, p["W_k"].T, p["W_v"].T])}, None),
        ("three results", lambda p: (np.concatenate([p["W_q"].T, p["W_k"].T, p["W_v"].T]),
                                     np.concatenate([p["b_q"], p["b_k"], p["b_v"]]), p["W_o"].T), None),
        ("output bias zero", lambda p: (np.concatenate([p["W_q"].T, p["W_k"].T, p["W_v"].T]),
                                        np.concatenate([p["b_q"], p["b_k"], p["b_v"]]), p["W_o"].T,
                                        np.zeros_like(p["b_o"])), None),
    ],
    "06.1": [
        ("a datetime.date", lambda d, m, y: datetime.date(int(y), _month(m), int(d)), None),
        ("day first", lambda d, m, y: f"{int(d):02d}-{_month(m):02d}-{int(y):04d}", None),
        ("slashes", lambda d, m, y: f"{int(y):04d}/{_month(m):02d}/{int(d):02d}", None),
        ("a tuple", lambda d, m, y: (int(y), _month(m), int(d)), None),
        ("English months only", lambda d, m, y: f"{int(y):04d}-{['January', 'February', 'March'].index(m) + 1:02d}"
         f"-{int(d):02d}", None),
        ("year unpadded", lambda d, m, y: f"{int(y)}-{_month(m):02d}-{int(d):02d}", "four digits"),
    ],
    "06.2": [
        ("0/1 integers", lambda p, t: get_exercise("06.2").reference(p, t).astype(int), "boolean"),
        ("mean accuracy", lambda p, t: float(get_exercise("06.2").reference(p, t).mean()), None),
        ("a list of bools", lambda p, t: [bool(b) for b in get_exercise("06.2").reference(p, t)], None),
        ("up to the predicted <eos>", lambda p, t: np.array([bool((pp[: int(np.argmax(pp == EOS)) + 1]
                                                                   == tt[: int(np.argmax(pp == EOS)) + 1]).all())
                                                             for pp, tt in zip(p, t)]), None),
        ("ignores <eos> and padding", lambda p, t: np.all((p == t) | (t == EOS) | (t == 0), axis=1), None),
    ],
    "06.3": [
        ("max over heads", lambda w, s: _att_sum(w, s, np.max), None),
        ("mean over heads, largest token", lambda w, s: int(s[np.argmax(np.where(s >= 0, np.mean(w, 0), -1))]), None),
        ("least attention", lambda w, s: int(np.argmin([np.sum(w, 0)[s == k].sum() for k in range(s.max() + 1)])),
         None),
        ("counts tokens", lambda w, s: int(np.argmax(np.bincount(s[s >= 0]))), None),
        ("a str", lambda w, s: str(_att_sum(w, s)), None),
        ("first head only", lambda w, s: _att_sum(np.asarray(w)[:1], s), "every head"),
    ],
    "07.1": [
        ("NaN for blocked", lambda m: np.where(m, 0.0, np.nan), None),
        ("-1e4 penalty", lambda m: np.where(m, 0.0, -1e4), None),
        ("0/1 integers", lambda m: m.astype(int), None),
        ("a masked array", lambda m: np.ma.masked_array(np.where(m, 0.0, -np.inf), mask=~m), None),
        ("a 1-tuple", lambda m: (np.where(m, 0.0, -np.inf),), None),
        ("+inf for blocked", lambda m: np.where(m, 0.0, np.inf), None),
    ],
    "07.2": [
        ("swap axes 1 and 3", lambda x: np.swapaxes(x, 1, 3), None),
        ("swap the last two", lambda x: np.swapaxes(x, 2, 3), None),
        ("reverse every axis", lambda x: np.transpose(x), None),
        ("move heads last", lambda x: np.moveaxis(x, 1, 3), None),
        ("a 1-tuple", lambda x: (np.swapaxes(x, 1, 2),), None),
    ],
    "07.3": [
        ("calls causal_mask", lambda n_q, n_k: causal_mask(n_q, n_k), None),
        ("offset sign flipped", lambda n_q, n_k: np.tril(np.ones((n_q, n_k), bool), k=n_q - n_k), None),
        ("0/1 floats", lambda n_q, n_k: np.tri(n_q, n_k, k=n_k - n_q), None),
        ("square (n_k, n_k)", lambda n_q, n_k: np.tril(np.ones((n_k, n_k), bool)), None),
        ("first n_q rows of the square mask", lambda n_q, n_k: np.tril(np.ones((n_k, n_k), bool))[:n_q], "top-left"),
    ],
    "07b.1": [
        ("a str", lambda name: name.split(".")[2] if name.startswith("encoder.layer.") else "-1", None),
        ("None outside the encoder", lambda name: int(name.split(".")[2]) if name.startswith("encoder.") else None,
         None),
        ("any name with 'layer'", lambda name: int(name.split(".")[2]) if "layer" in name.lower() else -1, None),
        ("a float", lambda name: float(name.split(".")[2]) if name.startswith("encoder.layer.") else -1.5, None),
        ("every number is a layer", lambda name: int(name.split(".")[2]), None),
    ],
    "07b.2": [
        ("a square mask per sentence", lambda ids: np.broadcast_to((ids != 0)[:, None, None, :],
                                                                   (ids.shape[0], 1, ids.shape[1], ids.shape[1])),
         None),
        ("[SEP] masked too", lambda ids: ((ids != 0) & (ids != 102))[:, None, None, :], None),
        ("0/1 floats", lambda ids: (ids != 0).astype(np.float32)[:, None, None, :], "boolean"),
        ("a masked array", lambda ids: np.ma.masked_array((ids != 0)[:, None, None, :]), None),
        ("(batch, 1, seq)", lambda ids: (ids != 0)[:, None, :], None),
    ],
    "07b.3": [
        ("max, not mean", lambda w, n: _prev(w, n, agg="max"), None),
        ("the diagonal (self)", lambda w, n: _prev(w, n, pick=lambda w, i: w[..., i, i]), None),
        ("(heads, layers)", lambda w, n: _prev(w, n).T, None),
        ("includes the padded last query", lambda w, n: _prev(w, np.minimum(n + 1, w.shape[-1])), None),
        ("two back", lambda w, n: _prev(w, n, pick=lambda w, i: w[..., i, max(i - 2, 0)]), None),
    ],
    "08a.1": [
        ("causal divided by 4", lambda n, d, c: 4 * n * n * d // (4 if c else 1), None),
        ("causal keeps the diagonal", lambda n, d, c: 2 * n * (n + 1) * d if c else 4 * n * n * d, None),
        ("softmax counted too", lambda n, d, c: (4 * n * n * d + n * n) // (2 if c else 1), None),
        ("a str", lambda n, d, c: str(4 * n * n * d // (2 if c else 1)), None),
        ("n·d", lambda n, d, c: 4 * n * d // (2 if c else 1), None),
    ],
    "08a.3": [
        ("inverted rescale", lambda *a: _flash(*a, flip=True), None),
        ("l not rescaled", lambda *a: _flash(*a, l_rescale=False), None),
        ("p summed, not times V", lambda *a: _flash(*a, pv=False), None),
        ("m not updated", lambda m, l, acc, s, v: (m, *_flash(m, l, acc, s, v)[1:]), None),
        ("a list of two", lambda *a: list(_flash(*a)[1:]), None),
    ],
    "08b.2": [
        ("floats", lambda h, g: np.arange(h) // (h / g), None),
        ("length g", lambda h, g: np.arange(g), None),
        ("tiled", lambda h, g: np.tile(np.arange(g), h // g), "round-robin"),
        ("reversed", lambda h, g: (np.arange(h) // (h // g))[::-1], None),
        ("a str", lambda h, g: " ".join(str(i // (h // g)) for i in range(h)), None),
    ],
    "08b.3": [
        ("positions ignored", lambda x, p: _rope(x, np.arange(len(x))), None),
        ("base 1000", lambda x, p: _rope(x, p, base=1000.0), None),
        ("cos and sin swapped", lambda x, p: _rope(x, p, swap=True), None),
        ("no rotation", lambda x, p: x.copy(), None),
        ("rotated in place", lambda x, p: _rope_in_place(x, p), None),
    ],
    "08b.5": [
        ("z not updated", lambda fq, fk, v, s, z: (lambda s2: (fq @ s2 / (fq @ (z + fk)), s2, z))(s + np.outer(fk, v)),
         None),
        ("state transposed", lambda fq, fk, v, s, z: (lambda s2: (fq @ s2 / (fq @ (z + fk)), s2.T, z + fk))(
            s + np.outer(fk, v)), None),
        ("normalised by phi_k", lambda fq, fk, v, s, z: (lambda s2, z2: (fq @ s2 / (fk @ z2), s2, z2))(
            s + np.outer(fk, v), z + fk), None),
        ("state replaced, not added", lambda fq, fk, v, s, z: (lambda s2, z2: (fq @ s2 / (fq @ z2), s2, z2))(
            np.outer(fk, v), fk), None),
        ("a 2-tuple", lambda fq, fk, v, s, z: (fq @ (s + np.outer(fk, v)) / (fq @ (z + fk)), s + np.outer(fk, v)),
         None),
    ],
})

def _rope_in_place(x, positions):
    x[:] = _rope(x, positions)
    return x




def _value_wrongs(ref):
    """Answers of the wrong type or off by a little, for any value exercise."""
    if isinstance(ref, str):
        return [("a number", 2, None), ("a list", [ref], None), ("True", True, None), ("another letter", "z", None),
                ("two letters", f"{ref}, z", None)]
    if isinstance(ref, tuple):
        return [("an array", np.array(ref), None), ("a str", str(ref), None), ("reversed", ref[::-1], None),
                ("one more axis", (1, *ref), None), ("a nested tuple", (ref,), None)]
    return [("a str", str(ref), None), ("plus one", ref + 1, None), ("plus a half", ref + 0.5, None),
            ("a 1-tuple", (ref,), None), ("an array", np.array([ref]), None), ("a bool", True, None)]


for _eid, _ex in EXERCISES.items():
    if _ex.kind == "value":
        WRONG.setdefault(_eid, []).extend(_value_wrongs(_ex.reference))


def _bw(do, q, k, v, axis=-1):
    scale = 1 / np.sqrt(q.shape[1])
    w = _sm(q @ k.T * scale)
    dw = do @ v.T
    ds = w * (dw - (dw * w).sum(axis, keepdims=True)) * scale
    return ds @ k, ds.T @ q, w.T @ do


# The hand-written answers above fit the exercise as it was titled when they were written; an exercise that was
# rewritten since (another title) is skipped here, and needs its own answers.
WRITTEN_FOR = {
    "00.1": "numerically stable softmax", "01.1": "a masked mean-pooled summary",
    "01.2": "retrieve a value with attention", "02.1": "Nadaraya–Watson weights as a softmax",
    "02.2": "a hard dictionary lookup", "02.3": "the causal mask", "03.1": "distance scores with explicit loops",
    "03.2": "distance scores as matrix products", "04.1": "scaled dot-product scores", "04.2": "mask before softmax",
    "04.3": "backward of softmax", "04.4": "the backward pass of attention",
    "05.1": "split the model dimension into heads", "05.2": "merge the heads back into the model dimension",
    "05.3": "a causal mask with padding for the decoder", "05.4": "our weights in torch.nn.MultiheadAttention's layout",
    "06.1": "the ISO 8601 target of a date", "06.2": "exact match up to <eos>",
    "06.3": "which sentence gets the attention?", "07.1": "an additive float mask for scaled_dot_product_attention",
    "07.2": "(batch, heads, seq, d_head) to keras.ops' (batch, seq, heads, d_head)",
    "07.3": "causal mask when the queries are the last n_q of n_k positions",
    "07b.1": "which layer does a weight belong to?", "07b.2": "the key padding mask of a batch",
    "07b.3": "score every head for attending to the previous token", "08a.1": "count the FLOPs of one attention head",
    "08a.3": "one FlashAttention-2 block step",
    "08b.2": "grouped-query head mapping", "08b.3": "a RoPE rotation",
    "08b.5": "one step of causal linear attention",
}


def _current(eid):
    ex = EXERCISES.get(eid)
    return ex is not None and (ex.kind == "value" or WRITTEN_FOR.get(eid) == ex.title)


# ---------------------------------------------------------------- exercises of chapters 08a (backward), 08b, 08c and 10


def _merge_parts(o1, m1, l1, o2, m2, l2, shift_by=None, weights="l"):
    m = np.maximum(m1, m2)
    shift = np.where(np.isfinite(m), m, 0.0) if shift_by is None else shift_by(m)
    w1, w2 = (l1 * np.exp(m1 - shift), l2 * np.exp(m2 - shift)) if weights == "l" else (l1, l2)
    l = w1 + w2
    return (o1 * w1[:, None] + o2 * w2[:, None]) / np.where(l > 0, l, 1.0)[:, None], m, l


def _rope_pi(x, train_len, factor=None):
    from utils.efficient.positions_numpy import apply_rope

    n = x.shape[0]
    return apply_rope(x, np.arange(n) * (min(1.0, train_len / n) if factor is None else factor(n, train_len)))


def _nll_mean(logits, targets, log=np.log):
    z = logits - logits.max(-1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
    picked = np.take_along_axis(logp, targets[..., None], -1)[..., 0]
    return float(-picked.mean()) if log is np.log else float(-(picked / np.log(10)).mean())


WRONG.update({
    "08aa.1": [
        ("sum over every entry", lambda do, o: (do * o).sum(), None),
        ("column sums", lambda do, o: (do * o).sum(axis=0), None),
        ("mean, not sum", lambda do, o: (do * o).mean(axis=-1), None),
        ("keepdims", lambda do, o: (do * o).sum(axis=-1, keepdims=True), None),
    ],
    "08aa.2": [
        ("D broadcast along the keys", lambda p, dp, d: p * (dp - d), None),
        ("P not multiplied", lambda p, dp, d: dp - d[:, None], None),
        ("D times P", lambda p, dp, d: p * dp - d[:, None], None),
        ("a transposed tile", lambda p, dp, d: (p * (dp - d[:, None])).T, None),
    ],
    "08b.2": [
        ("the last head of each group", lambda W, h, g: W.reshape(W.shape[0], g, h // g, -1)[:, :, -1]
         .reshape(W.shape[0], -1), None),
        ("pooled over the feature axis", lambda W, h, g: W.reshape(W.shape[0], g, h // g, -1).mean(axis=3)
         .reshape(W.shape[0], -1), None),
        ("mean over all heads", lambda W, h, g: np.tile(W.reshape(W.shape[0], h, -1).mean(1), (1, g)), None),
    ],
    "08b.3": [
        ("no squeeze at all", lambda x, t: _rope_pi(x, t, lambda n, t: 1.0), None),
        ("squeeze by n / train_len", lambda x, t: _rope_pi(x, t, lambda n, t: n / t), None),
        ("integer positions after squeezing", lambda x, t: __import__("utils.efficient.positions_numpy", fromlist=["x"])
         .apply_rope(x, np.floor(np.arange(x.shape[0]) * min(1.0, t / x.shape[0]))), None),
    ],
    "08b.5": [
        ("γ on the new token too", lambda fq, fk, v, s, z, g: (lambda s2, z2: (fq @ s2 / (fq @ z2), s2, z2))(
            g * (s + np.outer(fk, v)), g * (z + fk)), None),
        ("no normaliser", lambda fq, fk, v, s, z, g: (lambda s2, z2: (fq @ s2, s2, z2))(
            g * s + np.outer(fk, v), g * z + fk), None),
        ("γ squared", lambda fq, fk, v, s, z, g: (lambda s2, z2: (fq @ s2 / (fq @ z2), s2, z2))(
            g * g * s + np.outer(fk, v), g * g * z + fk), None),
    ],
    "08c.1": [
        ("shift by the smaller max", lambda *a: _merge_parts(*a, shift_by=lambda m: 0.0 * m), None),
        ("weights without the max", lambda *a: _merge_parts(*a, weights="plain"), None),
        ("m and l in the wrong order", lambda *a: (lambda o, m, l: (o, l, m))(*_merge_parts(*a)), None),
    ],
    "08c.2": [
        ("contiguous", lambda n, P: np.arange(n).reshape(P, n // P), "contiguous"),
        ("(n // P, P)", lambda n, P: np.arange(n).reshape(n // P, P), None),
        ("floats", lambda n, P: np.arange(n, dtype=float).reshape(n // P, P).T, None),
    ],
    "08c.4": [
        ("block id plus offset", lambda bt, n, b: np.asarray(bt)[np.arange(n) // b] + np.arange(n) % b, None),
        ("floats", lambda bt, n, b: (np.asarray(bt)[np.arange(n) // b] * b + np.arange(n) % b).astype(float), None),
        ("one row too many", lambda bt, n, b: np.asarray(bt)[np.arange(n + 1) // b] * b + np.arange(n + 1) % b, None),
    ],
    "10.1": [
        ("log base 10", lambda lg, tk: _nll_mean(lg[:, :-1], tk[:, 1:], log=None), None),
        ("per-sequence losses", lambda lg, tk: np.array([_nll_mean(lg[i:i + 1, :-1], tk[i:i + 1, 1:])
                                                         for i in range(len(tk))]), None),
    ],
    "10.3": [
        ("positions counted back from the cache", lambda x, c: __import__("utils.efficient.positions_numpy",
                                                                          fromlist=["x"]).apply_rope(
            x, c - np.arange(x.shape[-2])), None),
        ("no rotation", lambda x, c: np.asarray(x).copy(), None),
        ("positions one too small", lambda x, c: __import__("utils.efficient.positions_numpy", fromlist=["x"])
         .apply_rope(x, np.arange(c - 1, c - 1 + x.shape[-2])), None),
    ],
    "10.4": [
        ("bits, not bytes", lambda L, g, d, n, b, window=None: 16 * L * g * d * (n if window is None else min(n, window))
         * b, None),
        ("a float", lambda L, g, d, n, b, window=None: 2.0 * L * g * d * (n if window is None else min(n, window))
         * b + 0.5, None),
        ("window ignored", lambda L, g, d, n, b, window=None: 2 * L * g * d * n * b, None),
    ],
})
_ref = EXERCISES["08b.1"].reference if "08b.1" in EXERCISES else None


def _reordered(shift_by=None, weights="l", swap=False):
    def merge(m1, l1, o1, m2, l2, o2):
        o, m, l = _merge_parts(o1, m1, l1, o2, m2, l2, shift_by=shift_by, weights=weights)
        return (m, o, l) if swap else (m, l, o)
    return merge


WRONG.update({
    "08b.1": [
        ("tokens only", lambda *a: _ref(*a)[0], None),
        ("the new tokens only", lambda params, prompt, n, cfg: (lambda t, c: (t[:, prompt.shape[1]:], c))(
            *_ref(params, prompt, n, cfg)), None),
        ("one token too many", lambda params, prompt, n, cfg: _ref(params, prompt, n + 1, cfg), None),
    ],
    "08a.2": [
        ("shift by 0", _reordered(shift_by=lambda m: 0.0 * m), None),
        ("l used without the max", _reordered(weights="plain"), None),
        ("results in another order", _reordered(swap=True), None),
    ],
})
WRITTEN_FOR.update({"08b.1": "greedy generation with the KV cache",
                    "08a.2": "merge two partial results computed on disjoint key blocks"})
for _eid, _title in {"08aa.1": "D = rowsum(dO ∘ O), one number per query", "08aa.2": "dS of one tile from P, dP and D",
                     "08b.2": "from multi-head to grouped-query attention", "08b.3": "RoPE with position interpolation",
                     "08b.5": "one step of causal linear attention with a decay",
                     "08c.1": "merge two partial attention results", "08c.2": "the striped shard layout",
                     "08c.4": "the block-table lookup", "10.1": "the next-character loss",
                     "10.3": "RoPE positions after a KV cache",
                     "10.4": "the bytes of a GQA cache, with and without a window"}.items():
    WRITTEN_FOR[_eid] = _title


RIGHT = {
    "00.1": [lambda x: np.exp(x - np.logaddexp.reduce(x, axis=-1, keepdims=True))],
    "01.1": [lambda x, n: np.stack([x[b, :k].sum(0) / max(k, 1) for b, k in enumerate(n)])],
    "01.2": [lambda q, k, v: np.stack([_sm(k[b] @ q[b] / np.sqrt(q.shape[1])) @ v[b] for b in range(len(q))])],
    "02.1": [lambda xq, xt, s: np.exp((z := -np.subtract.outer(xq, xt) ** 2 / (2 * s * s))
                                      - np.logaddexp.reduce(z, axis=1, keepdims=True))],
    "02.2": [lambda q, k, v: np.stack([v[int(np.argmax([qi @ kj for kj in k]))] for qi in q])],
    "02.3": [lambda n: np.arange(n)[None, :] <= np.arange(n)[:, None]],
    "03.1": [lambda q, k: _loops(q, k, lambda a, b: -sum((a[t] - b[t]) ** 2 for t in range(len(a))))],
    "03.2": [lambda q, k: 2 * q @ k.T - (q * q).sum(1, keepdims=True) - (k * k).sum(1)],
    "04.2": [lambda s, m: _sm(np.where(m, s, -np.inf))],
    "04.3": [lambda p, dp: p * dp - p * (p * dp).sum(-1, keepdims=True)],
    "04.4": [_bw],
    "05.3": [lambda lengths, n: np.stack([[[j <= i and j < b for j in range(n)] for i in range(n)]
                                          for b in lengths])[:, None]],
    "06.2": [lambda p, t: np.array([bool((pp[: k + 1] == tt[: k + 1]).all())
                                    for pp, tt in zip(p, t) for k in [int(np.argmax(tt == EOS))]])],
    "06.3": [lambda w, s: _att_sum(w, s)],
    "07.1": [lambda m: np.log(m.astype(np.float32)), lambda m: np.where(m, 0.0, -1e9).astype(np.float32)],
    "07.3": [lambda n_q, n_k: np.tril(np.ones((n_k, n_k), bool))[n_k - n_q:]],
    "07b.3": [lambda w, n: _prev(w, n)],
    "08a.1": [lambda n, d, c: 4 * n * n * d * (0.5 if c else 1.0)],
    "08a.3": [lambda *a: _flash(*a)],
    "08c.2": [lambda n, P: [list(range(i, n, P)) for i in range(P)]],  # a list of lists is accepted
}
for _eid, _ex in EXERCISES.items():
    if _ex.kind == "value" and isinstance(_ex.reference, int | str | tuple):
        RIGHT[_eid] = [float(_ex.reference) if isinstance(_ex.reference, int) else
                       f" {_ex.reference.upper()} " if isinstance(_ex.reference, str) else list(_ex.reference)]


def _wrong_params():
    return [pytest.param(eid, i, id=f"{eid}-{label}") for eid in sorted(WRONG) for i, (label, _, _) in
            enumerate(WRONG[eid]) if _current(eid)]


@pytest.mark.parametrize(("exercise_id", "index"), _wrong_params())
def test_a_known_wrong_answer_is_rejected(exercise_id, index):
    label, answer, hint_part = WRONG[exercise_id][index]
    verdict = evaluate(exercise_id, answer)
    assert verdict.status == "wrong", f"{exercise_id}: the wrong answer '{label}' passes: {verdict.message}"
    if hint_part is None:
        assert verdict.hint is None or exercise_id not in HINT_FREE, verdict.hint
    else:
        shown = (verdict.hint or "") + verdict.message
        assert hint_part in shown, (label, verdict.hint, verdict.message)


HINT_FREE: set[str] = set()


def test_every_exercise_has_five_known_wrong_answers():
    counts = {eid: len(ex.mistakes) + (len(WRONG.get(eid, [])) if _current(eid) else 0)
              for eid, ex in EXERCISES.items()}
    short = {eid: n for eid, n in counts.items() if n < 5}
    assert not short, f"exercises with fewer than 5 known-wrong answers (registered mistakes + WRONG): {short}"


@pytest.mark.parametrize(("exercise_id", "index"), [(e, i) for e in sorted(RIGHT) for i in range(len(RIGHT[e]))
                                                     if _current(e)])
def test_a_correct_alternative_is_accepted(exercise_id, index):
    verdict = evaluate(exercise_id, RIGHT[exercise_id][index])
    assert verdict.solved, verdict.message


# ---------------------------------------------------------------- other frameworks


def test_tensorflow_and_torch_answers():
    import torch

    from utils.core.frameworks import import_tensorflow

    tf = import_tensorflow()
    assert evaluate("04.1", lambda q, k: tf.matmul(q, k, transpose_b=True) / np.sqrt(q.shape[-1]), "tensorflow").solved
    assert evaluate("04.1", lambda q, k: q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5, "torch").solved
    split = {"tensorflow": lambda x, h: tf.transpose(tf.reshape(x, (*x.shape[:2], h, -1)), (0, 2, 1, 3)),
             "torch": lambda x, h: x.view(*x.shape[:2], h, -1).permute(0, 2, 1, 3)}
    for framework, fn in split.items():
        assert evaluate("05.1", fn, framework).solved
    assert evaluate("05.1", lambda x, h: x.reshape(x.shape[0], h, x.shape[1], -1), "torch").status == "wrong"
    assert evaluate("05.2", lambda x: x.permute(0, 2, 1, 3).reshape(x.shape[0], x.shape[2], -1), "torch").solved
    assert evaluate("05.3", lambda n, s: (torch.ones(s, s, dtype=torch.bool).tril()
                                          & (torch.arange(s)[None, :] < n[:, None])[:, None, :]).unsqueeze(1),
                    "torch").solved
    v = evaluate("05.3", lambda n, s: (torch.ones(s, s).tril() * (torch.arange(s)[None, :] < n[:, None])[:, None, :])
                 .unsqueeze(1), "torch")
    assert v.status == "wrong" and "boolean" in v.message
    assert evaluate("07.2", lambda x: tf.transpose(x, (0, 2, 1, 3)), "tensorflow").solved
    assert evaluate("07.2", lambda x: torch.transpose(x, 1, 2), "torch").solved

    def step(m, l, acc, s, v_blk):
        m_new = torch.maximum(m, s.amax(dim=-1))
        shift = torch.nan_to_num(m_new, neginf=0.0)
        p = torch.exp(s - shift[:, None])
        alpha = torch.exp(m - shift)
        return m_new, alpha * l + p.sum(-1), alpha[:, None] * acc + p @ v_blk

    if "torch" in EXERCISES["08a.3"].frameworks:
        assert evaluate("08a.3", step, framework="torch").solved


def test_05_4_reference_really_loads_into_torch():
    import torch

    from utils.layers.multihead_numpy import init_mha_params, multi_head_attention

    p = init_mha_params(8, seed=0)
    w, b, wo, bo = get_exercise("05.4").reference(p)
    m = torch.nn.MultiheadAttention(8, 2, batch_first=True)
    m.load_state_dict({"in_proj_weight": torch.from_numpy(w), "in_proj_bias": torch.from_numpy(b),
                       "out_proj.weight": torch.from_numpy(wo), "out_proj.bias": torch.from_numpy(bo)})
    x = torch.from_numpy(np.random.default_rng(0).normal(size=(1, 3, 8)).astype(np.float32))
    np.testing.assert_allclose(m(x, x, x)[0].detach().numpy(), multi_head_attention(x.numpy(), None, p, 2)[0],
                               atol=1e-5)


def test_softmax_helper_of_these_tests_is_right():
    x = np.random.default_rng(0).normal(size=(3, 4))
    np.testing.assert_allclose(_sm(x), softmax(x, axis=-1))


# ---------------------------------------------------------------- generic wrong answers, for every function exercise


def _perturb(x):
    """The same output with one value changed, or None when nothing in it can be changed."""
    if isinstance(x, tuple | list):
        for i, item in enumerate(x):
            changed = _perturb(item)
            if changed is not None:
                return type(x)([*x[:i], changed, *x[i + 1:]])
        return None
    if isinstance(x, bool | np.bool_):
        return not x
    if isinstance(x, int | np.integer):
        return x + 1
    if isinstance(x, float | np.floating):
        return x * 1.01 + 0.01
    if isinstance(x, str):
        return x + "x"
    if isinstance(x, np.ndarray) and x.size:
        y = x.copy()
        flat = y.reshape(-1)
        if y.dtype == bool:
            flat[-1] = ~flat[-1]
        elif y.dtype.kind in "iu":
            flat[-1] += 1
        elif y.dtype.kind == "f":
            finite = np.flatnonzero(np.isfinite(flat))
            if not finite.size:
                return None
            flat[finite[-1]] = flat[finite[-1]] * 1.01 + 0.01
        else:
            return None
        return y
    return None


def _generic_wrongs(ex):
    ref = ex.reference

    def wrapped(*args, **kwargs):
        return (ref(*args, **kwargs),)

    def off(*args, **kwargs):
        out = ref(*args, **kwargs)
        changed = _perturb(out)
        return out if changed is None else changed

    def in_place(*args, **kwargs):
        import copy

        out = ref(*copy.deepcopy(args), **copy.deepcopy(kwargs))
        for a in args:
            if isinstance(a, np.ndarray) and a.size and a.dtype.kind in "biuf":
                a.reshape(-1)[0] = ~a.reshape(-1)[0] if a.dtype == bool else a.reshape(-1)[0] + 1
                break
        return out

    def no_return(*args, **kwargs):
        ref(*args, **kwargs)  # computed, then dropped: `return` forgotten

    answers = [("wrapped in a 1-tuple", wrapped), ("forgets return", no_return)]
    sample = ex.cases()[0] if ex.cases else None
    if sample is not None and _perturb(ref(*sample.args, **sample.kwargs)) is not None:
        answers.append(("one value off", off))
    if sample is not None and any(isinstance(a, np.ndarray) and a.size for a in sample.args):
        answers.append(("changes its input in place", in_place))
    return answers


GENERIC = [pytest.param(eid, i, id=f"{eid}-{label}") for eid, ex in sorted(EXERCISES.items()) if ex.kind == "function"
           for i, (label, _) in enumerate(_generic_wrongs(ex))]


@pytest.mark.parametrize(("exercise_id", "index"), GENERIC)
def test_a_generic_wrong_answer_is_rejected(exercise_id, index):
    label, answer = _generic_wrongs(EXERCISES[exercise_id])[index]
    verdict = evaluate(exercise_id, answer, rules=False)
    assert verdict.status == "wrong", f"{exercise_id}: '{label}' passes: {verdict.message}"
    if label == "forgets return":
        assert "forget `return`" in verdict.message
    if label == "changes its input in place":
        assert "in place" in verdict.message
