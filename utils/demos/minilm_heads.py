"""Measure what real attention heads do: how much weight each head puts on a target pattern.

A pattern is a boolean (batch, seq, seq) array: targets[b, i, j] is True when key j is what
query i "should" look at under that behaviour (the previous token, [CLS], [SEP], the same word).
A head's score is its average weight on the targets, over every real query that has a target.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from utils.models.minilm_weights import CLS_ID, SEP_ID

PATTERNS = ("previous", "next", "cls", "sep", "same word", "self")


def pattern_targets(input_ids: np.ndarray, lengths: np.ndarray, kind: str) -> np.ndarray:
    """Boolean (batch, seq, seq) targets of behaviour `kind` (one of PATTERNS) among real tokens."""
    input_ids, lengths = np.asarray(input_ids), np.asarray(lengths)
    if kind not in PATTERNS:
        raise ValueError(f"kind must be one of {PATTERNS}, got {kind!r}")
    if input_ids.ndim != 2 or lengths.shape != input_ids.shape[:1]:
        raise ValueError(f"input_ids (batch, seq) and lengths (batch,) must agree; got {input_ids.shape}, {lengths.shape}")
    b, n = input_ids.shape
    real = np.arange(n)[None, :] < lengths[:, None]  # (batch, seq)
    pair = real[:, :, None] & real[:, None, :]  # both query and key are real tokens
    i, j = np.arange(n)[:, None], np.arange(n)[None, :]
    if kind == "previous":
        t = np.broadcast_to(j == i - 1, (b, n, n))
    elif kind == "next":
        t = np.broadcast_to(j == i + 1, (b, n, n))
    elif kind == "self":
        t = np.broadcast_to(j == i, (b, n, n))
    elif kind == "cls":
        t = np.broadcast_to(j == 0, (b, n, n))
    elif kind == "sep":
        t = j[None] == (lengths[:, None, None] - 1)
    else:  # the same word elsewhere: same token id at another position, special tokens excluded
        ordinary = (input_ids != CLS_ID) & (input_ids != SEP_ID)
        t = (input_ids[:, :, None] == input_ids[:, None, :]) & (i != j)[None]
        t = t & ordinary[:, :, None] & ordinary[:, None, :]
    return t & pair


def head_scores(attentions: Any, targets: np.ndarray) -> np.ndarray:
    """(layers, heads) mean weight on the targets, over queries that have at least one target.

    attentions: (layers, batch, heads, seq, seq), or a list of per-layer (batch, heads, seq, seq).
    """
    w = np.stack([np.asarray(a) for a in attentions]) if isinstance(attentions, list | tuple) else np.asarray(attentions)
    if w.ndim != 5 or w.shape[1] != targets.shape[0] or w.shape[-2:] != targets.shape[-2:]:
        raise ValueError(f"attentions (layers, batch, heads, seq, seq) {w.shape} and targets (batch, seq, seq) "
                         f"{targets.shape} do not agree")
    on_target = (w * targets[None, :, None]).sum(axis=-1)  # (layers, batch, heads, seq)
    rows = targets.any(axis=-1)  # (batch, seq): queries that have a target
    return (on_target * rows[None, :, None]).sum(axis=(1, 3)) / rows.sum()


def uniform_baseline(targets: np.ndarray, lengths: np.ndarray) -> float:
    """The score a head would get by attending uniformly to all real tokens."""
    rows = targets.any(axis=-1)
    share = targets.sum(axis=-1) / np.asarray(lengths)[:, None]  # (batch, seq)
    return float(share[rows].mean())


def top_heads(scores: np.ndarray, k: int = 3) -> list[tuple[int, int, float]]:
    """The k (layer, head, score) with the highest scores, best first."""
    order = np.argsort(scores, axis=None)[::-1][:k]
    return [(int(i // scores.shape[1]), int(i % scores.shape[1]), float(scores.flat[i])) for i in order]
