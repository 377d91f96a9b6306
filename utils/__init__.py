"""Shared code for the course "Attention in large language models: from theory to practice".

Importing `utils` is cheap: it only sets environment variables that must be in place
before TensorFlow or Keras is imported. NumPy, TensorFlow and PyTorch are imported by
the modules that need them.
"""

from __future__ import annotations

import os

# Keras 3 runs on TensorFlow in this course; TF's C++ logging is silenced before TF loads.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KINETO_LOG_LEVEL", "6")  # torch.profiler: no "USDT: profiler_start" lines on stderr
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from utils.seed import set_seed  # noqa: E402

__all__ = ["set_seed"]
