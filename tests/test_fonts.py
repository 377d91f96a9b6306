"""Chinese labels render with real glyphs (no tofu boxes)."""

from __future__ import annotations

import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.font_manager import FontProperties, findfont  # noqa: E402
from matplotlib.ft2font import FT2Font  # noqa: E402

from utils.core.fonts import CJK_FAMILY, cjk_font_path, use_cjk_fallback  # noqa: E402


def missing_glyph_warnings(title: str) -> list[str]:
    """Draw a figure with this title; return matplotlib's "missing from font" warnings."""
    fig, ax = plt.subplots()
    ax.set_title(title)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig.canvas.draw()
    plt.close(fig)
    return [str(w.message) for w in caught if "missing from font" in str(w.message)]


def test_the_bundled_font_has_the_glyphs_of_a_chinese_label():
    font = FT2Font(cjk_font_path())
    label = "注意力权重 床前明月光"
    missing = [ch for ch in label if ch != " " and font.get_char_index(ord(ch)) == 0]
    assert not missing, f"no glyph for {missing}"


def test_a_chinese_label_renders_without_missing_glyph_warnings():
    use_cjk_fallback()
    assert findfont(FontProperties(family=CJK_FAMILY), fallback_to_default=False).endswith(".otf")
    missing = missing_glyph_warnings("注意力权重 (attention weights)")
    assert not missing, missing


def test_without_the_fallback_the_same_label_would_be_tofu():
    saved = matplotlib.rcParams["font.family"]
    matplotlib.rcParams["font.family"] = ["DejaVu Sans"]
    try:
        missing = missing_glyph_warnings("注意力")
    finally:
        matplotlib.rcParams["font.family"] = saved
    assert missing
