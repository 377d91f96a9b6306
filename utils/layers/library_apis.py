"""The libraries' attention APIs: mask conventions, layouts, which kernel runs, and where the time goes.

The course's own mask is boolean with True = "may attend" (like PyTorch SDPA's boolean mask).
The converters below turn it into each library's convention, so a mask is never passed raw:

    to_keras_mask        Keras MultiHeadAttention `attention_mask`: True/1 = attend, (batch, n_q, n_k)
    to_torch_mha_mask    torch.nn.MultiheadAttention `attn_mask`: True = BLOCKED
    to_torch_key_padding_mask  torch.nn.MultiheadAttention `key_padding_mask`: True = padding (blocked)
    to_additive_mask     a float mask for SDPA: 0 where attend, -inf where blocked (float masks are ADDED)

`future_leaks` is the test that catches an inverted causal mask: it perturbs later tokens and
reports every earlier output that moved. TensorFlow and PyTorch are imported only inside functions.
"""

from __future__ import annotations

import glob
import os
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from utils.core.frameworks import to_numpy
from utils.core.validation import check_mask_dtype


def _bool_mask(mask: Any, name: str = "mask") -> np.ndarray:
    """Return mask as a NumPy bool array (at least 2-D), refusing non-boolean dtypes."""
    m = to_numpy(mask)
    check_mask_dtype(m.dtype.name)
    if m.ndim < 2:
        raise ValueError(f"{name} must have shape (..., n_q, n_k), got shape {m.shape}")
    return m


def to_keras_mask(mask: Any, batch_size: int | None = None) -> np.ndarray:
    """Course mask (True = may attend) -> Keras MHA `attention_mask` (batch, n_q, n_k), True = attend.

    Accepts (n_q, n_k), (batch, n_q, n_k) or (batch, 1, n_q, n_k). Keras applies one mask to
    every head, so a mask that differs between heads raises ValueError.
    """
    m = _bool_mask(mask)
    if m.ndim == 4:
        if m.shape[1] != 1 and not (m == m[:, :1]).all():
            raise ValueError(f"Keras MultiHeadAttention applies one mask to all heads; got a per-head mask of shape {m.shape}")
        m = m[:, 0]
    if m.ndim == 2:
        m = m[None]
    if m.ndim != 3:
        raise ValueError(f"mask must have shape (n_q, n_k), (batch, n_q, n_k) or (batch, 1, n_q, n_k), got {m.shape}")
    if batch_size is not None:
        if m.shape[0] not in (1, batch_size):
            raise ValueError(f"mask of shape {m.shape} does not broadcast to batch_size={batch_size}")
        m = np.broadcast_to(m, (batch_size, *m.shape[1:]))
    return np.ascontiguousarray(m)


def to_torch_mha_mask(mask: Any, n_heads: int | None = None) -> Any:
    """Course mask (True = may attend) -> nn.MultiheadAttention `attn_mask` (True = BLOCKED), a torch bool tensor.

    (n_q, n_k) stays 2-D. (batch, n_q, n_k) and (batch, heads or 1, n_q, n_k) become
    (batch * n_heads, n_q, n_k), batch-major, as PyTorch expects; these need `n_heads`
    unless the mask already has a heads axis of that size.
    """
    import torch

    m = _bool_mask(mask)
    if m.ndim == 2:
        return torch.from_numpy(~m)
    if m.ndim == 3:
        m = m[:, None]
    if m.ndim != 4:
        raise ValueError(f"mask must have shape (n_q, n_k), (batch, n_q, n_k) or (batch, heads, n_q, n_k), got {m.shape}")
    heads = m.shape[1] if n_heads is None else n_heads
    if heads == 1 and n_heads is None and m.shape[1] == 1:
        raise ValueError(f"a batched mask of shape {m.shape} needs n_heads: PyTorch wants (batch * n_heads, n_q, n_k)")
    if m.shape[1] not in (1, heads):
        raise ValueError(f"mask has {m.shape[1]} heads (shape {m.shape}) but n_heads={heads}")
    m = np.broadcast_to(m, (m.shape[0], heads, *m.shape[2:]))
    return torch.from_numpy(np.ascontiguousarray(~m).reshape(-1, *m.shape[2:]))


def to_torch_key_padding_mask(key_mask: Any) -> Any:
    """Course key mask (batch, n_k), True = real token -> `key_padding_mask`, True = padding (blocked)."""
    import torch

    m = to_numpy(key_mask)
    check_mask_dtype(m.dtype.name)
    if m.ndim != 2:
        raise ValueError(f"key_mask must have shape (batch, n_k), got {m.shape}")
    return torch.from_numpy(~m)


def to_additive_mask(mask: Any, dtype: Any = np.float32) -> np.ndarray:
    """Course mask -> float mask to ADD to the scores: 0.0 where True (attend), -inf where False."""
    m = _bool_mask(mask)
    return np.where(m, 0.0, -np.inf).astype(dtype)


def swap_heads_and_seq(x: Any) -> np.ndarray:
    """(batch, heads, seq, d_head) <-> (batch, seq, heads, d_head): swap axes 1 and 2 (keras.ops layout)."""
    x = to_numpy(x)
    if x.ndim != 4:
        raise ValueError(f"x must have 4 dimensions (batch, heads, seq, d_head), got shape {x.shape}")
    return np.ascontiguousarray(np.swapaxes(x, 1, 2))


# ---------------------------------------------------------------- the test that catches an inverted mask


def future_leaks(
    attend: Callable[[np.ndarray], Any], seq_len: int = 6, d_model: int = 4, seed: int = 0, tol: float = 1e-6
) -> list[tuple[int, int]]:
    """(i, j) pairs with j > i where changing token j changes output i; [] for a causal layer.

    `attend` maps x (1, seq_len, d_model) float32 to outputs (1, seq_len, ...), any framework.
    Raises ValueError if an output is not finite (a fully masked row gave NaN).
    """
    if seq_len < 2 or d_model < 1:
        raise ValueError(f"seq_len must be >= 2 and d_model >= 1, got seq_len={seq_len}, d_model={d_model}")
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(1, seq_len, d_model)).astype(np.float32)
    base = to_numpy(attend(x)).astype(np.float64)
    if base.shape[:2] != (1, seq_len):
        raise ValueError(f"attend must return shape (1, seq_len={seq_len}, ...), got {base.shape}")
    leaks = []
    for j in range(seq_len):
        x2 = x.copy()
        x2[0, j] += rng.normal(size=d_model).astype(np.float32)
        out = to_numpy(attend(x2)).astype(np.float64)
        for y in (base, out):
            if not np.isfinite(y).all():
                rows = sorted({int(i) for i in np.argwhere(~np.isfinite(y[0]))[:, 0]})
                raise ValueError(f"attend returned NaN/inf at positions {rows}: a fully masked row?")
        moved = np.abs(out[0] - base[0]).reshape(seq_len, -1).max(axis=1) > tol
        leaks += [(i, j) for i in range(j) if moved[i]]
    return leaks


# ---------------------------------------------------------------- which SDPA kernel runs, and profiling


_SDPA_KERNELS = {  # substring of the aten op -> torch.nn.attention.SDPBackend name
    "flash_attention": "FLASH_ATTENTION",
    "efficient_attention": "EFFICIENT_ATTENTION",
    "cudnn_attention": "CUDNN_ATTENTION",
    "attention_math": "MATH",
    "overrideable": "OVERRIDEABLE",
}


@dataclass
class OpStat:
    """One row of a profile: an op's name, how often it ran, and its own time in microseconds."""

    name: str
    calls: int
    self_us: float


def torch_op_table(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> list[OpStat]:
    """Run fn(*args, **kwargs) once under torch.profiler; return its ops, most self CPU time first."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        fn(*args, **kwargs)
    rows = [OpStat(e.key, int(e.count), float(e.self_cpu_time_total)) for e in prof.key_averages()]
    return sorted(rows, key=lambda r: -r.self_us)


def sdpa_backend(q: Any, k: Any, v: Any, **kwargs: Any) -> str:
    """Name of the SDPBackend PyTorch runs for F.scaled_dot_product_attention(q, k, v, **kwargs)."""
    import torch.nn.functional as F

    ops = [r.name for r in torch_op_table(F.scaled_dot_product_attention, q, k, v, **kwargs)]
    for op in ops:
        if op.startswith("aten::_scaled_dot_product"):
            for key, backend in _SDPA_KERNELS.items():
                if key in op:
                    return backend
    raise RuntimeError(f"no SDPA kernel found among the profiled ops {ops}")


def tf_op_table(fn: Callable[..., Any], *args: Any, runs: int = 1) -> list[OpStat]:
    """Run fn(*args) `runs` times under TensorFlow's profiler; return its kernels by op type, most time first.

    Kernel names are TensorFlow's (for example `_MklBatchMatMulV2`, a oneDNN kernel). Call fn once
    before, so tracing a tf.function is not profiled.
    """
    from utils.core.frameworks import import_tensorflow

    tf = import_tensorflow()
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    with tempfile.TemporaryDirectory() as logdir:
        tf.profiler.experimental.start(logdir)
        try:
            for _ in range(runs):
                fn(*args)
        finally:
            tf.profiler.experimental.stop()
        paths = glob.glob(os.path.join(logdir, "**", "*.xplane.pb"), recursive=True)
        if not paths:
            raise RuntimeError("TensorFlow's profiler wrote no trace")
        space = xplane_pb2.XSpace()
        with open(paths[0], "rb") as fh:
            space.ParseFromString(fh.read())
    times: Counter[str] = Counter()
    calls: Counter[str] = Counter()
    for plane in space.planes:
        for line in plane.lines:
            if not line.name.startswith("tf_Compute"):
                continue
            for event in line.events:
                name = plane.event_metadata[event.metadata_id].name
                if ":" in name and "::" not in name:  # "node:kernel", e.g. "MatMul_1:_MklBatchMatMulV2"
                    kernel = name.split(":", 1)[1]
                    times[kernel] += event.duration_ps
                    calls[kernel] += 1
    return [OpStat(k, calls[k], times[k] / 1e6) for k, _ in times.most_common()]


def print_op_table(rows: list[OpStat], title: str, top: int = 6) -> None:
    """Print the `top` ops with their call counts and share of the total time."""
    total = sum(r.self_us for r in rows) or 1.0
    print(title)
    for r in rows[:top]:
        print(f"  {r.name:<52} {r.calls:>3} call(s) {r.self_us:9.0f} µs {100 * r.self_us / total:5.1f} %")
