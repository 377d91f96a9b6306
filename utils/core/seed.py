"""One call that seeds every random number generator the course uses."""

from __future__ import annotations

import random
import sys

import numpy as np


def set_seed(seed: int) -> None:
    """Seed Python's `random`, NumPy, and TensorFlow/PyTorch if they are imported."""
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed)
    # Lazy: a NumPy-only chapter never pays TensorFlow's or PyTorch's import time.
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)
    if "tensorflow" in sys.modules:
        sys.modules["tensorflow"].random.set_seed(seed)
    if "keras" in sys.modules:
        sys.modules["keras"].utils.set_random_seed(seed)
