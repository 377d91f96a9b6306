"""Ring attention in real processes: one process per shard, K/V blocks passed with `torch.distributed`.

The arithmetic is the simulation's (`utils.distributed.ring_numpy`: `compute_on_device`, which uses
chapter 08a's online-softmax update); what is new is the communication. Each process posts the
send of the K/V block it holds to its right neighbour and the receive from its left one
(`batch_isend_irecv`), computes on the block while they travel, then waits and swaps buffers.
`ring_worker` runs inside a process started by `utils.distributed.launch.launch`; `ring_job`
and `gather_outputs` are used by the caller.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from utils.bench.measure import peak_rss_mib
from utils.distributed.launch import Job, bytes_since, bytes_written
from utils.distributed.ring_numpy import compute_on_device, finish, new_device, shard_positions


def exchange(k_send: torch.Tensor, v_send: torch.Tensor, k_recv: torch.Tensor, v_recv: torch.Tensor) -> list:
    """Post the sends of this process's K/V block to the right neighbour and the receives from the left."""
    rank, world = dist.get_rank(), dist.get_world_size()
    right, left = (rank + 1) % world, (rank - 1) % world
    ops = [dist.P2POp(dist.isend, t, right) for t in (k_send, v_send)]
    ops += [dist.P2POp(dist.irecv, t, left) for t in (k_recv, v_recv)]
    return dist.batch_isend_irecv(ops)                               # requests to wait on


def ring_attention_process(q: np.ndarray, k: np.ndarray, v: np.ndarray, positions: list[np.ndarray],
                           causal: bool) -> tuple[np.ndarray, int]:
    """Ring attention as one process of the group runs it: (output of its queries, score entries computed)."""
    rank, world = dist.get_rank(), dist.get_world_size()
    dev, work = new_device(q, positions[rank], v.shape[-1]), 0
    k_cur, v_cur = torch.from_numpy(k), torch.from_numpy(v)
    for step in range(world):
        last = step == world - 1
        if not last:                                                 # start passing the block on ...
            k_next, v_next = torch.empty_like(k_cur), torch.empty_like(v_cur)
            requests = exchange(k_cur, v_cur, k_next, v_next)
        owner = (rank - step) % world                                # ... while computing on it
        work += compute_on_device(dev, k_cur.numpy(), v_cur.numpy(), positions[owner], causal)
        if not last:
            for request in requests:
                request.wait()
            k_cur, v_cur = k_next, v_next
    return finish(dev), work


def ring_worker(q: np.ndarray, k: np.ndarray, v: np.ndarray, positions: list[np.ndarray], causal: bool) -> dict:
    """One process's job: ring attention on its shard; its seconds, peak memory (MiB above its start), bytes sent."""
    box: dict[str, Any] = {}
    dist.barrier()                                                   # start together
    sent, start = bytes_written(), time.perf_counter()
    peak = peak_rss_mib(lambda: box.setdefault("res", ring_attention_process(q, k, v, positions, causal)))
    seconds, sent = time.perf_counter() - start, bytes_since(sent)
    out, work = box["res"]
    return {"out": out, "work": work, "seconds": seconds, "peak_mib": peak, "bytes_sent": sent}


def ring_job(q: np.ndarray, k: np.ndarray, v: np.ndarray, P: int, causal: bool = False,
             layout: str = "contiguous") -> Job:
    """The job for `launch`: process i gets only the q, k, v rows of the positions it owns."""
    q, k, v = (np.ascontiguousarray(a, dtype=np.float32) for a in (q, k, v))
    if q.shape != k.shape or k.shape[:-1] != v.shape[:-1]:
        raise ValueError(f"need q, k (..., n, d) and v (..., n, d_v); got q {q.shape}, k {k.shape}, v {v.shape}")
    positions = shard_positions(q.shape[-2], P, layout)
    return ring_worker, [tuple(a[..., pos, :].copy() for a in (q, k, v)) + (positions, causal)
                         for pos in positions]


def gather_outputs(results: list[dict], job: Job) -> np.ndarray:
    """Put the processes' output shards back in token order, (..., n, d_v)."""
    positions = job[1][0][3]
    first = results[0]["out"]
    out = np.empty(first.shape[:-2] + (sum(p.size for p in positions), first.shape[-1]), first.dtype)
    for pos, r in zip(positions, results):
        out[..., pos, :] = r["out"]
    return out
