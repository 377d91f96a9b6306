"""Figures for chapter 08b, drawn by code: masks as masks, GQA's shared heads, the KV cache, the RoPE rotation."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, Patch, Rectangle

from utils.efficient.gqa_numpy import kv_head_index

ALLOWED, BLOCKED = "#3B7DD8", "#EDEDED"
KV_COLOURS = ("#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3", "#8C8C8C")


def plot_masks(masks: np.ndarray, titles: Sequence[str], suptitle: str = "") -> Figure:
    """Boolean masks (k, n, m) side by side, two colours (may attend / blocked) and a legend."""
    masks = np.asarray(masks)
    if masks.ndim != 3 or masks.dtype != bool or len(titles) != masks.shape[0]:
        raise ValueError(f"masks must be bool (k, n, m) with k titles; got {masks.dtype} {masks.shape}, "
                         f"{len(titles)} titles")
    fig, axes = plt.subplots(1, len(masks), figsize=(3.2 * len(masks), 3.6), layout="constrained", squeeze=False)
    for ax, mask, title in zip(axes[0], masks, titles):
        ax.imshow(mask, cmap=ListedColormap([BLOCKED, ALLOWED]), vmin=0, vmax=1)
        ax.set(title=title, xlabel="key position j", ylabel="query position i")
    fig.legend(handles=[Patch(color=ALLOWED, label="may attend (True)"), Patch(color=BLOCKED, label="blocked (False)")],
               loc="outside lower center", ncols=2, fontsize=8, frameon=False)
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def _box(ax: plt.Axes, x: float, y: float, text: str, colour: str, w: float = 0.8, h: float = 0.5) -> None:
    ax.add_patch(Rectangle((x - w / 2, y - h / 2), w, h, facecolor=colour, edgecolor="0.3", alpha=0.9))
    ax.text(x, y, text, ha="center", va="center", fontsize=8, color="white" if colour != BLOCKED else "black")


def draw_gqa_heads(n_heads: int = 8, kv_options: Sequence[int] = (8, 2, 1)) -> Figure:
    """One panel per g: the h query heads on top, the g key/value heads below, a line for each read."""
    fig, axes = plt.subplots(1, len(kv_options), figsize=(3.6 * len(kv_options), 2.6), layout="constrained")
    for ax, g in zip(np.atleast_1d(axes), kv_options):
        kv = kv_head_index(n_heads, g)
        kv_x = [np.mean(np.flatnonzero(kv == j)) for j in range(g)]     # each K/V head under its group
        for i, j in enumerate(kv):
            ax.plot([i, kv_x[j]], [1.75, 0.25], color=KV_COLOURS[j % len(KV_COLOURS)], lw=1.2)
            _box(ax, i, 2.0, f"q{i}", KV_COLOURS[j % len(KV_COLOURS)])
        for j, x in enumerate(kv_x):
            _box(ax, x, 0.0, f"kv{j}", KV_COLOURS[j % len(KV_COLOURS)], w=0.9)
        name = "MHA" if g == n_heads else "MQA" if g == 1 else "GQA"
        ax.set_title(f"{name}: h = {n_heads} query heads, g = {g}", fontsize=9)
        ax.set_xlim(-0.7, n_heads - 0.3)
        ax.set_ylim(-0.5, 2.5)
        ax.axis("off")
    return fig


def draw_kv_cache(t: int = 5) -> Figure:
    """Decode step t: keys and values 0..t-1 come from the cache, only token t's q, k, v are computed."""
    fig, ax = plt.subplots(figsize=(8.5, 2.8), layout="constrained")
    for row, name in ((1.0, "K"), (0.0, "V")):
        ax.text(-0.9, row, f"{name} cache", ha="right", va="center", fontsize=9)
        for j in range(t + 1):
            new = j == t
            _box(ax, j, row, f"{name.lower()}{j}", ALLOWED if new else "#9A9A9A", w=0.85)
    _box(ax, t, 2.2, f"q{t}", "#C44E52", w=0.85)
    for j in range(t + 1):
        ax.add_patch(FancyArrowPatch((t, 1.95), (j, 1.3), arrowstyle="->", color="#C44E52", lw=0.9,
                                     connectionstyle="arc3,rad=0.0", mutation_scale=8))
    ax.text(t + 0.7, 2.2, f"the new token at position {t}: compute q, k, v for it alone", fontsize=8, va="center")
    ax.text(t + 0.7, 0.5, "append k, v at the end,\nthen attend over all\n"
            f"{t + 1} cached keys", fontsize=8, va="center")
    ax.text((t - 1) / 2, -0.65, f"positions 0 … {t - 1}: computed at earlier steps, read from the cache",
            ha="center", fontsize=8)
    ax.set_xlim(-2.6, t + 6.2)
    ax.set_ylim(-0.9, 2.6)
    ax.axis("off")
    ax.set_title(f"One decode step with a KV cache (step {t})", fontsize=10)
    return fig


def draw_rope_rotation(pairs: np.ndarray, thetas: Sequence[float], positions: Sequence[int]) -> Figure:
    """pairs (k, len(positions), 2): one feature pair per panel, drawn as a vector at each position."""
    pairs = np.asarray(pairs)
    fig, axes = plt.subplots(1, len(pairs), figsize=(3.4 * len(pairs), 3.4), layout="constrained", squeeze=False)
    colours = plt.get_cmap("viridis")(np.linspace(0, 0.9, len(positions)))
    for i, (ax, pts, theta) in enumerate(zip(axes[0], pairs, thetas)):
        lim = 1.25 * np.abs(pts).max()
        ax.add_patch(plt.Circle((0, 0), np.linalg.norm(pts[0]), fill=False, ls=":", color="0.6"))
        for p, (x, y), c in zip(positions, pts, colours):
            ax.annotate("", xy=(x, y), xytext=(0, 0), arrowprops={"arrowstyle": "->", "color": c, "lw": 1.4})
            ax.text(1.1 * x, 1.1 * y, f"p={p}", fontsize=8, color=c, ha="center", va="center")
        ax.set(xlim=(-lim, lim), ylim=(-lim, lim), aspect="equal", xlabel=f"feature {2 * i} (interleaved layout)",
               ylabel=f"feature {2 * i + 1}", title=f"pair {i}: $\\theta_{i}$ = {theta:g} rad per position")
        ax.tick_params(labelsize=8)
    return fig
