"""Figures the chapters share: attention heatmaps with tokens on the axes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from utils.core.frameworks import to_numpy


def plot_attention(
    weights: Any,
    query_tokens: Sequence[str] | None = None,
    key_tokens: Sequence[str] | None = None,
    title: str = "Attention weights",
    head_titles: Sequence[str] | None = None,
    ncols: int = 4,
    cmap: str = "viridis",
    annotate: bool = False,
) -> Figure:
    """Heatmap of (n_q, n_k) weights, or a grid for (heads, n_q, n_k); returns the Figure."""
    w = to_numpy(weights).astype(float)
    if w.ndim == 2:
        w = w[None]
    if w.ndim != 3:
        raise ValueError(f"weights must have shape (n_q, n_k) or (heads, n_q, n_k), got {w.shape}")
    heads, n_q, n_k = w.shape
    if query_tokens is not None and len(query_tokens) != n_q:
        raise ValueError(f"query_tokens has {len(query_tokens)} tokens but weights have n_q={n_q} (shape {w.shape})")
    if key_tokens is not None and len(key_tokens) != n_k:
        raise ValueError(f"key_tokens has {len(key_tokens)} tokens but weights have n_k={n_k} (shape {w.shape})")
    if head_titles is not None and len(head_titles) != heads:
        raise ValueError(f"head_titles has {len(head_titles)} entries for {heads} heads")
    ncols = min(ncols, heads)
    nrows = int(np.ceil(heads / ncols))
    cell = min(max(0.28 * max(n_q, n_k), 2.2), 5.0)
    fig, axes = plt.subplots(nrows, ncols, figsize=(cell * ncols + 1.2, cell * nrows + 0.8), squeeze=False,
                             sharex=True, sharey=True, layout="constrained")
    vmax = float(w.max()) if w.size else 1.0
    for h, ax in enumerate(axes.flat):
        if h >= heads:
            ax.axis("off")
            continue
        im = ax.imshow(w[h], cmap=cmap, vmin=0.0, vmax=vmax, aspect="auto")
        if key_tokens is not None:
            ax.set_xticks(range(n_k), key_tokens, rotation=90, fontsize=8)
        if query_tokens is not None:
            ax.set_yticks(range(n_q), query_tokens, fontsize=8)
        if h // ncols == nrows - 1 or h + ncols >= heads:  # the lowest axes of its column
            ax.set_xlabel("key")
            ax.tick_params(axis="x", labelbottom=True)
        else:
            ax.tick_params(axis="x", labelbottom=False)
        if h % ncols == 0:
            ax.set_ylabel("query")
        else:
            ax.tick_params(axis="y", labelleft=False)
        if heads > 1:
            ax.set_title(head_titles[h] if head_titles is not None else f"head {h}", fontsize=9)
        if annotate:
            for i in range(n_q):
                for j in range(n_k):
                    ax.text(j, i, f"{w[h, i, j]:.2f}", ha="center", va="center", fontsize=8,
                            color="white" if w[h, i, j] < 0.6 * vmax else "black")
    fig.suptitle(title)
    fig.colorbar(im, ax=axes.ravel().tolist(), shrink=0.8, label="weight")
    return fig
