"""Shared code for the course "Attention in large language models: from theory to practice".

The package is grouped by role (CONTRIBUTING.md has the map):
`core/` (attention references and twins, masks, validation, comparison, plotting),
`layers/`, `models/`, `efficient/`, `demos/` (one chapter's helpers), `bench/`,
`exercises/`, and `data` / `datagen/`.

**The only effects of `import utils`** are these environment defaults, set with
`setdefault` (a value you set yourself wins). They must be in place before TensorFlow,
Keras or Hugging Face libraries are imported, which is why they live here:

| variable | value | why |
|---|---|---|
| `KERAS_BACKEND` | `tensorflow` | Keras 3 runs on TensorFlow in this course |
| `TF_CPP_MIN_LOG_LEVEL` | `3` | no TensorFlow C++ start-up log lines in notebook outputs |
| `KINETO_LOG_LEVEL` | `6` | `torch.profiler` prints no "USDT: profiler_start" lines |
| `HF_HUB_OFFLINE`, `TRANSFORMERS_OFFLINE` | `1` | chapter 07b loads its model from disk; nothing is downloaded |

NumPy, TensorFlow and PyTorch are imported only by the modules that need them.
"""

from __future__ import annotations

import os

_ENVIRONMENT_DEFAULTS = {
    "KERAS_BACKEND": "tensorflow",
    "TF_CPP_MIN_LOG_LEVEL": "3",
    "KINETO_LOG_LEVEL": "6",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
}
for _name, _value in _ENVIRONMENT_DEFAULTS.items():
    os.environ.setdefault(_name, _value)

from utils.core.seed import set_seed  # noqa: E402

__all__ = ["set_seed"]
