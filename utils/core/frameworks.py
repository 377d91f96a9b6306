"""Import TensorFlow and PyTorch quietly, and move arrays between the three frameworks."""

from __future__ import annotations

import os
import sys
from typing import Any

import numpy as np

import utils  # noqa: F401  (sets TF_CPP_MIN_LOG_LEVEL and KERAS_BACKEND first)


def import_tensorflow() -> Any:
    """Import and return `tensorflow` with its C++/absl start-up logging silenced."""
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    # TF prints a oneDNN notice through absl before any Python setting can reach it,
    # so file descriptor 2 is pointed at /dev/null for the duration of the import.
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        sys.stderr.flush()
        os.dup2(devnull, 2)
        import tensorflow as tf
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    tf.get_logger().setLevel("ERROR")
    return tf


def import_torch() -> Any:
    """Import and return `torch`."""
    import torch

    return torch


def to_numpy(x: Any) -> np.ndarray:
    """Convert a NumPy array, TF tensor, PyTorch tensor or nested list to a NumPy array."""
    if isinstance(x, np.ndarray):
        return x
    if hasattr(x, "detach"):  # torch.Tensor
        return x.detach().cpu().numpy()
    if hasattr(x, "numpy"):  # tf.Tensor, tf.Variable
        return np.asarray(x.numpy())
    return np.asarray(x)


def from_numpy(x: Any, framework: str) -> Any:
    """Convert a NumPy array (or a tuple/list/dict of them) to `framework` tensors."""
    if framework not in ("numpy", "tensorflow", "torch"):
        raise ValueError(f"framework must be 'numpy', 'tensorflow' or 'torch', got {framework!r}")
    if isinstance(x, tuple | list):
        return type(x)(from_numpy(item, framework) for item in x)
    if isinstance(x, dict):
        return {key: from_numpy(val, framework) for key, val in x.items()}
    if not isinstance(x, np.ndarray) or framework == "numpy":
        return x
    if framework == "torch":
        return import_torch().from_numpy(np.ascontiguousarray(x).copy())
    return import_tensorflow().convert_to_tensor(x)
