"""Compare the same computation across NumPy, TensorFlow and PyTorch, and assert the tolerance."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from utils.core.frameworks import to_numpy


def max_abs_diff(a: Any, b: Any) -> float:
    """Max |a - b| after converting both to NumPy; raises if the shapes differ."""
    a, b = to_numpy(a), to_numpy(b)
    if a.shape != b.shape:
        raise ValueError(f"cannot compare arrays of different shapes: {a.shape} vs {b.shape}")
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64))))


def _bucket(diff: float, floor: float) -> str:
    """A difference as its order of magnitude, never finer than `floor`, so outputs are stable across CPUs.

    Rounding noise (and an exact 0 on one machine, 1e-16 on another) all print as "< floor".
    """
    if not math.isfinite(diff):
        return str(diff)
    if diff < floor:
        return f"< {floor:.0e}"
    return f"< 1e{math.floor(math.log10(diff)) + 1:+03d}"


def compare_frameworks(
    results: dict[str, Any], reference: str = "numpy", atol: float = 1e-5, label: str = ""
) -> dict[str, float]:
    """Print a table of max |Δ| against `results[reference]` and assert each is <= atol.

    Each difference prints as an order of magnitude, floored at atol/10: "< 1e-06" for atol=1e-5
    means "below a tenth of the tolerance", whatever the CPU's rounding.

    `results` maps a framework name to an array, a tensor, or a tuple of them (for example
    (output, weights)); tuples are compared element by element. Returns the differences.
    """
    if reference not in results:
        raise ValueError(f"reference {reference!r} is not one of the results {list(results)}")
    ref = results[reference]
    ref_parts = ref if isinstance(ref, tuple | list) else (ref,)
    diffs: dict[str, float] = {}
    title = f"{label}: " if label else ""
    print(f"{title}max |difference| vs {reference} (tolerance {atol:g})")
    for name, value in results.items():
        if name == reference:
            continue
        parts = value if isinstance(value, tuple | list) else (value,)
        if len(parts) != len(ref_parts):
            raise ValueError(f"{name} returned {len(parts)} results, {reference} returned {len(ref_parts)}")
        diffs[name] = max(max_abs_diff(p, r) for p, r in zip(parts, ref_parts))
        verdict = "ok" if diffs[name] <= atol else "TOO LARGE"
        print(f"  {name:<12} {_bucket(diffs[name], atol / 10):>8}  {verdict}")
    bad = {k: v for k, v in diffs.items() if not v <= atol}
    assert not bad, f"{title}differences above {atol:g}: {bad}"
    return diffs
