"""Notebook conventions in one call, and a way to show an error that a cell expects."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import matplotlib as mpl
import numpy as np

from utils.core.fonts import use_cjk_fallback


def setup_notebook(precision: int = 4) -> None:
    """Rounded NumPy printing, and deterministic figures at 110 dpi (readable on a laptop and HiDPI)."""
    np.set_printoptions(precision=precision, suppress=True, linewidth=100)
    mpl.rcParams.update({
        "figure.dpi": 110,
        "savefig.dpi": 110,
        "figure.max_open_warning": 0,
        "axes.grid": False,
        "font.size": 9,
        "svg.hashsalt": "attention-course",
    })
    use_cjk_fallback()  # Chinese labels (poems, the Chinese edition) render as glyphs, not boxes
    try:  # inside IPython: close figures after display so memory stays flat
        from IPython import get_ipython

        shell = get_ipython()
        if shell is not None:
            shell.run_line_magic("config", "InlineBackend.figure_format = 'png'")
            shell.run_line_magic("config", "InlineBackend.close_figures = True")
    except ImportError:
        pass


@contextlib.contextmanager
def expect_error(*exc_types: type[BaseException]) -> Iterator[None]:
    """Run a block that must raise one of `exc_types`; print the error, fail if none is raised.

    Used where a chapter shows broken code (for example the post's own), so the notebook
    documents the failure, keeps running, and breaks loudly if the code ever stops failing.
    """
    if not exc_types:
        raise ValueError("expect_error needs at least one exception type")
    try:
        yield
    except exc_types as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        print(f"raised as expected: {type(exc).__name__}: {message}"[:400])
    else:
        raise AssertionError(f"expected {', '.join(t.__name__ for t in exc_types)}, but nothing was raised")
