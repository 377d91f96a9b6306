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


HEAD_COLOURS = ("#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860")


def _grid(ax: Any, x0: float, y0: float, rows: int, cols: int, colours: Sequence[str], label: str,
          cell: float = 0.22) -> tuple[float, float, float, float]:
    """Draw a rows x cols matrix of cells (column c filled with colours[c]) with its label above; return its box."""
    from matplotlib.patches import Rectangle

    for r in range(rows):
        for c in range(cols):
            ax.add_patch(Rectangle((x0 + c * cell, y0 - (r + 1) * cell), cell, cell, facecolor=colours[c],
                                   edgecolor="white", linewidth=0.8))
    ax.text(x0 + cols * cell / 2, y0 + 0.08, label, ha="center", va="bottom", fontsize=8)
    return x0, y0 - rows * cell, x0 + cols * cell, y0


def _arrow(ax: Any, start: tuple[float, float], end: tuple[float, float], text: str = "") -> None:
    ax.annotate("", xy=end, xytext=start, arrowprops={"arrowstyle": "->", "color": "0.35", "lw": 1.0})
    if text:
        ax.text((start[0] + end[0]) / 2, (start[1] + end[1]) / 2 + 0.12, text, ha="center", va="bottom", fontsize=8)


def draw_multihead_schematic(seq: int = 4, d_model: int = 8, n_heads: int = 2) -> Figure:
    """Schematic of multi-head attention: x -> Q, K, V -> split into heads -> attention per head -> merge -> W_O.

    Cells are coloured by the head that owns their column, so the picture shows which slice of
    Q, K and V each head reads and where its output lands after the merge.
    """
    if n_heads < 1 or d_model % n_heads or n_heads > len(HEAD_COLOURS) or seq < 1:
        raise ValueError(f"need seq >= 1 and 1 <= n_heads <= {len(HEAD_COLOURS)} dividing d_model; "
                         f"got seq={seq}, d_model={d_model}, n_heads={n_heads}")
    d_head, cell = d_model // n_heads, 0.22
    by_head = [HEAD_COLOURS[c // d_head] for c in range(d_model)]
    width, height = d_model * cell, seq * cell
    row_gap = height + 0.75
    top = (3 * row_gap) / 2 + 0.2  # Q, K, V stacked around y = 0
    fig, ax = plt.subplots(figsize=(10.5, 4.2), layout="constrained")
    x_box = _grid(ax, 0.0, height / 2, seq, d_model, ["0.7"] * d_model, "x (seq, d_model)")
    col2 = width + 1.3
    qkv = {}
    for i, name in enumerate("QKV"):
        y0 = top - 0.3 - i * row_gap
        qkv[name] = _grid(ax, col2, y0, seq, d_model, by_head, f"{name} = x $W_{name}$ + $b_{name}$")
        _arrow(ax, (x_box[2] + 0.05, 0.0), (col2 - 0.05, y0 - height / 2))
    col3 = col2 + width + 1.5
    head_rows = np.linspace(top - 0.3, top - 0.3 - 2 * row_gap, n_heads) if n_heads > 1 else [0.0 + height / 2]
    col4 = col3 + 3 * (d_head * cell + 0.25) + 1.6
    for h, y0 in enumerate(head_rows):
        colour = [HEAD_COLOURS[h]] * d_head
        x = col3
        for name in "QKV":
            box = _grid(ax, x, y0, seq, d_head, colour, f"{name}$_{h}$")
            x = box[2] + 0.25
        _arrow(ax, (qkv["Q"][2] + 0.05, qkv["Q"][1] + height / 2), (col3 - 0.05, y0 - height / 2))
        _arrow(ax, (qkv["V"][2] + 0.05, qkv["V"][1] + height / 2), (col3 - 0.05, y0 - height / 2))
        ax.text(x + 0.05, y0 - height / 2, f"softmax(Q$_{h}$K$_{h}^T$/√d_head) V$_{h}$", fontsize=8, va="center")
        _arrow(ax, (x + 0.05, y0 - height / 2 - 0.25), (col4 - 0.05, 0.0))
    merged = _grid(ax, col4, height / 2, seq, d_model, by_head, "merge_heads: (seq, heads · d_head)")
    out = _grid(ax, merged[2] + 1.2, height / 2, seq, d_model, ["0.45"] * d_model, "output (seq, d_model)")
    _arrow(ax, (merged[2] + 0.05, 0.0), (out[0] - 0.05, 0.0), "× $W_O$ + $b_O$")
    ax.text(col2 + width + 0.75, qkv["V"][1] - 0.35, f"split_heads: head h owns columns h·d_head … (h+1)·d_head − 1\n"
            f"(here d_model = {d_model}, {n_heads} heads, d_head = {d_head})", ha="center", va="top", fontsize=8)
    for h in range(n_heads):
        ax.plot([], [], "s", color=HEAD_COLOURS[h], label=f"head {h}")
    ax.legend(loc="lower right", fontsize=8, frameon=False)
    ax.set_xlim(-0.2, out[2] + 0.2)
    ax.set_ylim(qkv["V"][1] - 1.0, top + 0.2)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title("Multi-head attention: one projection per Q, K, V, split into heads, merged back", fontsize=9)
    return fig
