"""Seeded digit-sequence tasks for the small Transformer (chapter 05): reverse (or sort) 3–8 digits.

Token ids are shared by source and target: PAD=0, BOS=1, EOS=2, digit k = DIGIT0 + k.
Arrays in the .npz (int64): src (n, max_len) digits then PAD; tgt_in (n, max_len + 1) = BOS + answer,
then PAD; tgt_out (n, max_len + 1) = answer + EOS, then PAD. Test sequences never occur in train.
"""

from __future__ import annotations

import io
import zipfile

import numpy as np

PAD, BOS, EOS, DIGIT0 = 0, 1, 2, 3
VOCAB = ["<pad>", "<bos>", "<eos>"] + [str(k) for k in range(10)]


def seq_task_arrays(kind: str = "reverse", n_train: int = 6000, n_test: int = 500, min_len: int = 3,
                    max_len: int = 8, seed: int = 0) -> dict[str, np.ndarray]:
    """{"src_train", "tgt_in_train", "tgt_out_train", "src_test", ...}: distinct sequences, test unseen in train."""
    if kind not in ("reverse", "sort"):
        raise ValueError(f"kind must be 'reverse' or 'sort', got {kind!r}")
    rng = np.random.default_rng(seed)
    seen: set[tuple[int, ...]] = set()
    rows: list[tuple[int, ...]] = []
    while len(rows) < n_train + n_test:
        seq = tuple(int(d) for d in rng.integers(0, 10, size=int(rng.integers(min_len, max_len + 1))))
        if seq not in seen:
            seen.add(seq)
            rows.append(seq)
    n = len(rows)
    src = np.full((n, max_len), PAD, dtype=np.int64)
    tgt_in = np.full((n, max_len + 1), PAD, dtype=np.int64)
    tgt_out = np.full((n, max_len + 1), PAD, dtype=np.int64)
    for i, seq in enumerate(rows):
        answer = [DIGIT0 + d for d in (seq[::-1] if kind == "reverse" else sorted(seq))]
        src[i, : len(seq)] = [DIGIT0 + d for d in seq]
        tgt_in[i, : len(seq) + 1] = [BOS, *answer]
        tgt_out[i, : len(seq) + 1] = [*answer, EOS]
    out = {}
    for split, sl in (("train", slice(0, n_train)), ("test", slice(n_train, n))):
        out |= {f"src_{split}": src[sl], f"tgt_in_{split}": tgt_in[sl], f"tgt_out_{split}": tgt_out[sl]}
    return out


def tokens_to_text(tokens: np.ndarray) -> str:
    """Digits of one token row as a string, stopping at EOS and skipping PAD/BOS: [3, 4, 2] -> "01"."""
    text = []
    for t in np.asarray(tokens).tolist():
        if t == EOS:
            break
        if t >= DIGIT0:
            text.append(VOCAB[t])
    return "".join(text)


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """A .npz archive with fixed timestamps, so the bytes (and sha256) are reproducible."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(arrays):
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            array_buffer = io.BytesIO()
            np.lib.format.write_array(array_buffer, np.ascontiguousarray(arrays[name]), allow_pickle=False)
            zf.writestr(info, array_buffer.getvalue())
    return buffer.getvalue()


def digits_reverse_bytes() -> bytes:
    """data/digits_reverse.npz: 6000 train + 500 test digit sequences (length 3–8) and their reversals."""
    return npz_bytes(seq_task_arrays("reverse", seed=5))


FILES = {"digits_reverse.npz": digits_reverse_bytes}
