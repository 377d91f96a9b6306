"""Chapter 08c's benchmark group `ring`, appended to `python -m utils.bench.run` (not a test).

Ring attention (`utils.distributed.ring_torch`) in P real processes (gloo on 127.0.0.1, one
thread each), P in {1, 2, 4}, n in {4096, 16384}, one head, d = 64, float32, no mask. One record
per (P, n): `seconds` (the slowest process's ring pass), `peak_mib_per_process` (the largest
rise in resident memory of a process during its pass: its (n/P)² score block dominates),
`bytes_sent_per_process` (the most any process wrote to its sockets, /proc/self/io) and
`bytes_formula` (`ring_bytes_per_process`). With more processes than cores the timings are
noisy and say nothing about speed-up; the memory and byte figures do not depend on the load.
"""

from __future__ import annotations

import numpy as np

from utils.distributed.launch import launch
from utils.distributed.ring_numpy import ring_bytes_per_process
from utils.distributed.ring_torch import ring_job

D_HEAD = 64
PROCESSES = (1, 2, 4)
SIZES = (4096, 16384)


def run_ring(sizes: tuple[int, ...] = SIZES, processes: tuple[int, ...] = PROCESSES, seed: int = 0) -> list[dict]:
    """One record per (P, n); all sizes of one P run in the same group of P processes."""
    rng = np.random.default_rng(seed)
    inputs = {n: [rng.standard_normal((1, n, D_HEAD), dtype=np.float32) for _ in range(3)] for n in sizes}
    records = []
    for P in processes:
        results = launch([ring_job(*inputs[n], P) for n in sizes], P)
        for n, per_rank in zip(sizes, results):
            records.append({"group": "ring", "P": P, "n": n, "seconds": max(r["seconds"] for r in per_rank),
                            "peak_mib_per_process": max(r["peak_mib"] for r in per_rank),
                            "bytes_sent_per_process": max(r["bytes_sent"] for r in per_rank),
                            "bytes_formula": ring_bytes_per_process(n, P, D_HEAD)})
    return records


def target_checks(records: list[dict]) -> list[str]:
    """Chapter 08c's targets, met or missed, as lines for the benchmark report."""
    at = {(r["P"], r["n"]): r for r in records if r.get("group") == "ring"}
    lines = []
    if (1, 16384) in at and (4, 16384) in at:
        ratio = at[4, 16384]["peak_mib_per_process"] / at[1, 16384]["peak_mib_per_process"]
        lines.append(f"ring peak MiB per process, P=4 / P=1 at n=16384: {ratio:.3f} (target <= 0.35) -> "
                     f"{'met' if ratio <= 0.35 else 'MISSED'}")
    for (P, n), r in sorted(at.items()):
        if P > 1:
            err = abs(r["bytes_sent_per_process"] / r["bytes_formula"] - 1)
            lines.append(f"ring bytes sent per process, P={P}, n={n}: {r['bytes_sent_per_process']} vs formula "
                         f"{r['bytes_formula']} ({100 * err:.2f} %, target <= 5 %) -> {'met' if err <= 0.05 else 'MISSED'}")
    return lines


def run(quick: bool) -> list[dict]:
    """The ring group; quick mode only n = 4096 (the memory target, at n = 16384, is then not judged)."""
    return run_ring(sizes=(4096,) if quick else SIZES)


if __name__ == "__main__":
    recs = run(quick=False)
    for record in recs:
        print(record)
    print("\n".join(target_checks(recs)))
