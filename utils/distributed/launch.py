"""Start P processes on this machine, joined in one `torch.distributed` process group (gloo, 127.0.0.1).

`launch(jobs, P)` runs a list of jobs, in order, in the same group of P fresh processes (started with
the "spawn" method, so each imports torch once) and returns, per job, the list of the P results.
A job is `(fn, args_per_rank)`: `fn` is a module-level function (pickled by name, so nothing depends
on notebook code) called as `fn(*args_per_rank[rank])` in process `rank`; each process receives only
its own arguments (its shard). Every process uses one thread, a free port on 127.0.0.1, and destroys
its process group when done. An error in any process is raised in the caller with its traceback.
"""

from __future__ import annotations

import multiprocessing as mp
import queue as queue_module
import socket
import time
import traceback
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

Job = tuple[Callable[..., Any], Sequence[tuple]]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bytes_written() -> int | None:
    """Bytes this process has passed to write() and writev(), sockets included (Linux /proc/self/io wchar).

    None where the operating system does not count them (macOS, Windows)."""
    try:
        with open("/proc/self/io", encoding="ascii") as fh:
            return next(int(line.split()[1]) for line in fh if line.startswith("wchar:"))
    except (OSError, StopIteration):
        return None


def bytes_since(start: int | None) -> int | None:
    """Bytes written since `start = bytes_written()`, or None where they are not counted."""
    now = bytes_written()
    return None if start is None or now is None else now - start


def _entry(rank: int, world: int, port: int, jobs: list[tuple[Callable[..., Any], tuple]], results: Any) -> None:
    """Body of each process: join the group, run the jobs, report, leave the group."""
    import torch
    import torch.distributed as dist
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(1)
    threadpool_limits(1)
    try:
        dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world,
                                timeout=timedelta(seconds=120))
        try:
            results.put((rank, [fn(*args) for fn, args in jobs], None))
        finally:
            dist.destroy_process_group()
    except BaseException:  # noqa: BLE001  (reported to the caller, who raises it)
        results.put((rank, None, traceback.format_exc()))


def launch(jobs: Sequence[Job], P: int, timeout: float = 300.0) -> list[list[Any]]:
    """Run each job `(fn, args_per_rank)` in P processes of one gloo group; per job, the P results by rank."""
    if P < 1 or any(len(args) != P for _, args in jobs):
        raise ValueError(f"every job needs one argument tuple per rank (P={P}); got {[len(a) for _, a in jobs]}")
    ctx = mp.get_context("spawn")
    results, port = ctx.Queue(), free_port()
    procs = [ctx.Process(target=_entry, args=(rank, P, port, [(fn, args[rank]) for fn, args in jobs], results),
                         daemon=True) for rank in range(P)]
    for p in procs:
        p.start()
    by_rank: dict[int, list[Any]] = {}
    deadline, ok = time.monotonic() + timeout, False
    try:
        while len(by_rank) < P:
            try:
                rank, value, error = results.get(timeout=1.0)
            except queue_module.Empty:
                dead = [i for i, p in enumerate(procs) if p.exitcode not in (None, 0) and i not in by_rank]
                if dead:
                    raise RuntimeError(f"process {dead[0]} of {P} died (exit code {procs[dead[0]].exitcode})") from None
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{P - len(by_rank)} of {P} processes sent no result within {timeout} s") from None
                continue
            if error is not None:
                raise RuntimeError(f"process {rank} of {P} failed:\n{error}")
            by_rank[rank] = value
        ok = True
    finally:
        for p in procs:
            p.join(timeout=30 if ok else 0)        # on an error, do not wait for the others
            if p.is_alive():
                p.terminate()
                p.join()
    return [[by_rank[rank][j] for rank in range(P)] for j in range(len(jobs))]
