"""utils.core.plotting: attention heatmaps and the multi-head schematic are readable and say what they show."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from utils.core.plotting import HEAD_COLOURS, draw_multihead_schematic, plot_attention  # noqa: E402


def _texts(fig):
    return [t for ax in fig.axes for t in ax.texts] + [ax.title for ax in fig.axes]


@pytest.mark.parametrize("seq, d_model, n_heads", [(4, 8, 2), (3, 12, 3)])
def test_schematic_draws_every_cell_coloured_by_its_head(seq, d_model, n_heads):
    fig = draw_multihead_schematic(seq, d_model, n_heads)
    (ax,) = fig.axes
    cells = [p for p in ax.patches if isinstance(p, Rectangle)]
    d_head = d_model // n_heads
    # x, Q, K, V, merged, output: seq * d_model each; per head Q_h, K_h, V_h: seq * d_head each
    assert len(cells) == 6 * seq * d_model + n_heads * 3 * seq * d_head
    colours = {to_hex(p.get_facecolor()) for p in cells}
    assert {c.lower() for c in HEAD_COLOURS[:n_heads]} <= colours
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [f"head {h}" for h in range(n_heads)]
    assert min(t.get_fontsize() for t in _texts(fig) if t.get_text()) >= 8


def test_schematic_rejects_heads_that_do_not_divide_d_model():
    with pytest.raises(ValueError, match="n_heads=3"):
        draw_multihead_schematic(4, 8, 3)


def test_heatmap_has_a_labelled_colour_bar_and_token_ticks():
    w = np.full((2, 3, 3), 1 / 3)
    fig = plot_attention(w, list("abc"), list("xyz"), title="t")
    colourbars = [ax for ax in fig.axes if ax.get_ylabel() == "weight"]
    assert len(colourbars) == 1
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == list("xyz")
