"""Attention beyond one device (chapter 08c): ring attention, Ulysses sequence parallelism, a paged KV cache.

- `ring_numpy`: ring attention simulated in one process, P "devices" as a list of shards.
- `launch`: start P real processes joined in a `torch.distributed` gloo group on 127.0.0.1.
- `ring_torch`: the per-process ring worker (K/V blocks passed with `batch_isend_irecv`).
- `ulysses_torch`: DeepSpeed-Ulysses, `all_to_all` from sequence shards to head shards and back.
- `paged_kv_numpy`: a KV cache in fixed-size blocks found through block tables (PagedAttention).
"""
