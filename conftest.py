"""Repository-wide pytest configuration.

nbval compares every stored output stream, stderr included. The course's contract is that
stderr is *not* compared (warnings and library notices vary by machine), so stderr streams
are dropped from both sides before nbval compares a cell.
"""

from __future__ import annotations

import utils  # noqa: F401  (sets TF/Keras environment variables before any kernel starts)

try:
    import nbval.plugin as _nbval_plugin
except ImportError:  # nbval not installed: nothing to patch
    _nbval_plugin = None

if _nbval_plugin is not None:
    _original_transform = _nbval_plugin.transform_streams_for_comparison

    def _drop_stderr(outputs):
        kept = [o for o in outputs if not (o.get("output_type") == "stream" and o.get("name") == "stderr")]
        return _original_transform(kept)

    _nbval_plugin.transform_streams_for_comparison = _drop_stderr
