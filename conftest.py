"""Repository-wide pytest configuration: make nbval run notebooks the way Jupyter does.

Two adjustments to nbval 0.11, both so that `make test` compares exactly what
`make refresh` (a normal Jupyter kernel run) stores:
- stderr is not compared: warnings and library notices vary by machine, and the course's
  contract is that only stdout and rich outputs are compared;
- cells run with `store_history=True`, as in Jupyter. nbval's default (False) stops IPython
  from seeing a trailing `;`, so a cell like `plot(...);` would show an extra repr under test.
"""

from __future__ import annotations

import utils  # noqa: F401  (sets TF/Keras environment variables before any kernel starts)

try:
    import nbval.kernel as _nbval_kernel
    import nbval.plugin as _nbval_plugin
except ImportError:  # nbval not installed: nothing to adjust
    _nbval_plugin = None

if _nbval_plugin is not None:
    _original_transform = _nbval_plugin.transform_streams_for_comparison

    def _drop_stderr(outputs):
        kept = [o for o in outputs if not (o.get("output_type") == "stream" and o.get("name") == "stderr")]
        return _original_transform(kept)

    def _execute_like_jupyter(self, cell_input, allow_stdin=None):
        return self.kc.execute(cell_input, store_history=True, allow_stdin=allow_stdin, stop_on_error=False)

    _nbval_plugin.transform_streams_for_comparison = _drop_stderr
    _nbval_kernel.RunningKernel.execute_cell_input = _execute_like_jupyter
