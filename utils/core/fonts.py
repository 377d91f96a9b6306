"""A CJK font for matplotlib, so Chinese labels (poems, the Chinese edition) render as glyphs.

The font is Noto Sans CJK SC (SIL Open Font License), shipped inside the pinned PyPI package
`mplfonts`; nothing is downloaded. It is registered as a *fallback*: Latin text keeps
matplotlib's default DejaVu Sans, and only glyphs DejaVu lacks come from Noto.
"""

from __future__ import annotations

from importlib import resources

import matplotlib as mpl
from matplotlib import font_manager

CJK_FONT_FILE = "NotoSansCJKsc-Regular.otf"
CJK_FAMILY = "Noto Sans CJK SC"


def cjk_font_path() -> str:
    """Path of the bundled Noto Sans CJK SC file; a clear error if the package is missing."""
    try:
        path = resources.files("mplfonts") / "fonts" / CJK_FONT_FILE
    except ModuleNotFoundError as exc:
        raise RuntimeError("the CJK font comes with the pinned package mplfonts: run `make venv`") from exc
    if not path.is_file():
        raise RuntimeError(f"mplfonts is installed but has no {CJK_FONT_FILE}")
    return str(path)


def use_cjk_fallback() -> None:
    """Register the CJK font and put it after the default family, as a glyph fallback."""
    path = cjk_font_path()
    if CJK_FAMILY not in {f.name for f in font_manager.fontManager.ttflist}:
        font_manager.fontManager.addfont(path)
    # matplotlib falls back along the *family list*, glyph by glyph
    mpl.rcParams["font.family"] = ["DejaVu Sans", CJK_FAMILY]
