"""唐诗三百首 (300 Tang poems) from Debian's `fortunes-zh` package: parsed, split by poem, encoded by character.

The poems are public domain (their authors died more than a thousand years ago). The package's
own work (selection, simplified-character transcription, fortune formatting) is © 2001–2021
Yu Guanghui, Mo Zhou and xiao sheng wen under GPL-3.0-or-later (its debian/copyright).

    python -m utils.datagen.poems fetch   # apt-get download fortunes-zh into build/, rebuild data/tang300.tsv

`fetch` checks the .deb and the `tang300` file inside it against DEB_SHA256 and SOURCE_SHA256,
so the shipped corpus is exactly what this parser makes from that package. The .deb is read in
Python (an `ar` archive holding `data.tar.xz`), so no `dpkg` is needed.

`python -m utils.data regenerate` runs offline: it rebuilds the file from the .deb when
build/fortunes-zh/ holds it, and otherwise keeps the shipped file, after checking it against
CORPUS_SHA256 (`tests/test_poems.py` tests the parser on a small fixture).
"""

from __future__ import annotations

import hashlib
import io
import lzma
import re
import subprocess
import sys
import tarfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent.parent
DEB_DIR = ROOT / "build" / "fortunes-zh"
DEB_NAME = "fortunes-zh_2.98_all.deb"
DEB_SHA256 = "211c5ddee59d0ae74ce01cbfd02f7c8714740bae1835d5661eb2254edd739105"
SOURCE_MEMBER = "./usr/share/games/fortunes/tang300"
SOURCE_SHA256 = "b69cab0cb84c49dc1808d95aea7156c8911a7022ec630e194eecf360b78feff5"
CORPUS_FILE = "tang300.tsv"
CORPUS_SHA256 = "6425fb12b6780d7ca853a2f201e0e4992829ba9fadb5b13d671e02486ff3d6e2"
HEADER = "title\tauthor\ttext\n"
ANSI = re.compile(r"\x1b\[[0-9;]*m")  # the package colours titles and authors with terminal escapes

SEPARATOR = "\n"   # one token between poems: the model learns where a poem ends
UNKNOWN = "□"      # stands for every character seen fewer than min_count times in training


@dataclass(frozen=True)
class Poem:
    """One poem: title, author and text (its lines joined, punctuation kept, no line breaks)."""

    title: str
    author: str
    text: str


def parse_fortunes(raw: str) -> list[Poem]:
    """Poems of a fortune file: entries split by lines holding only '%', each title / 作者：author / lines."""
    poems = []
    for i, entry in enumerate(re.split(r"^%$", raw, flags=re.MULTILINE)):
        lines = [ANSI.sub("", line).strip() for line in entry.splitlines()]
        lines = [line for line in lines if line]
        if not lines:
            continue
        if len(lines) < 3 or not lines[0].startswith("《") or not lines[1].startswith("作者："):
            raise ValueError(f"fortune entry {i} is not '《title》 / 作者：author / lines': {lines[:3]}")
        poems.append(Poem(lines[0].strip("《》"), lines[1].removeprefix("作者："), "".join(lines[2:])))
    return poems


def poems_to_tsv(poems: list[Poem]) -> bytes:
    """UTF-8 TSV with header title, author, text; one poem per row."""
    for p in poems:
        if any(c in "\t\n" for c in p.title + p.author + p.text):
            raise ValueError(f"poem {p.title!r} contains a tab or newline")
    return (HEADER + "".join(f"{p.title}\t{p.author}\t{p.text}\n" for p in poems)).encode("utf-8")


def read_tsv(text: str) -> list[Poem]:
    """The poems of a tang300.tsv text."""
    if not text.startswith(HEADER):
        raise ValueError(f"expected the header {HEADER!r}, got {text[:40]!r}")
    return [Poem(*row.split("\t")) for row in text[len(HEADER):].splitlines()]


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def member_of_deb(deb: bytes, member: str = SOURCE_MEMBER) -> bytes:
    """The bytes of one file inside a .deb (an ar archive with data.tar.xz), read without dpkg."""
    if not deb.startswith(b"!<arch>\n"):
        raise ValueError("not a .deb: the ar magic '!<arch>' is missing")
    pos = 8
    while pos + 60 <= len(deb):
        name, size = deb[pos:pos + 16].decode().strip().rstrip("/"), int(deb[pos + 48:pos + 58])
        body = deb[pos + 60:pos + 60 + size]
        if name == "data.tar.xz":
            with tarfile.open(fileobj=io.BytesIO(lzma.decompress(body))) as tar:
                return tar.extractfile(member).read()
        pos += 60 + size + size % 2
    raise ValueError("the .deb holds no data.tar.xz")


def tang300_from_deb(path: Path) -> bytes:
    """Rebuild tang300.tsv from the .deb at `path`, checking the package and the source file."""
    deb = path.read_bytes()
    if _sha256(deb) != DEB_SHA256:
        raise ValueError(f"{path.name}: sha256 {_sha256(deb)[:12]}… is not the recorded {DEB_SHA256[:12]}…")
    raw = member_of_deb(deb)
    if _sha256(raw) != SOURCE_SHA256:
        raise ValueError(f"tang300 inside {path.name} changed: sha256 {_sha256(raw)[:12]}…")
    return poems_to_tsv(parse_fortunes(raw.decode("utf-8")))


def tang300_bytes() -> bytes:
    """data/tang300.tsv: rebuilt from build/fortunes-zh/*.deb if present, else the shipped file, verified."""
    deb = DEB_DIR / DEB_NAME
    if deb.exists():
        return tang300_from_deb(deb)
    shipped = (ROOT / "data" / CORPUS_FILE).read_bytes()
    if _sha256(shipped) != CORPUS_SHA256:
        raise ValueError(f"data/{CORPUS_FILE} does not match CORPUS_SHA256; run `python -m utils.datagen.poems fetch`")
    return shipped


FILES = {CORPUS_FILE: tang300_bytes}


def fetch() -> str:
    """apt-get download fortunes-zh into build/fortunes-zh/, rebuild data/tang300.tsv; return its sha256."""
    DEB_DIR.mkdir(parents=True, exist_ok=True)
    subprocess.run(["apt-get", "download", "fortunes-zh=2.98"], cwd=DEB_DIR, check=True)
    data = tang300_from_deb(DEB_DIR / DEB_NAME)
    (ROOT / "data" / CORPUS_FILE).write_bytes(data)
    return _sha256(data)


# ---------------------------------------------------------------- the course's view: split and encode


def split_poems(poems: list[Poem], n_val: int, seed: int) -> tuple[list[Poem], list[Poem]]:
    """(train, validation): n_val whole poems drawn with np.random.default_rng(seed), never a poem cut in two."""
    if not 0 < n_val < len(poems):
        raise ValueError(f"n_val must be in (0, {len(poems)}), got {n_val}")
    val_idx = set(np.random.default_rng(seed).choice(len(poems), size=n_val, replace=False).tolist())
    train = [p for i, p in enumerate(poems) if i not in val_idx]
    return train, [p for i, p in enumerate(poems) if i in val_idx]


def build_vocab(train: list[Poem], min_count: int = 2) -> list[str]:
    """Characters of the training poems seen at least min_count times, plus SEPARATOR and UNKNOWN (sorted)."""
    counts = Counter("".join(p.text for p in train))
    return sorted({c for c, n in counts.items() if n >= min_count} | {SEPARATOR, UNKNOWN})


def encode(poems: list[Poem], vocab: list[str]) -> np.ndarray:
    """int64 ids of SEPARATOR + poem + SEPARATOR + poem ...; characters outside vocab become UNKNOWN."""
    index = {c: i for i, c in enumerate(vocab)}
    unk = index[UNKNOWN]
    stream = "".join(SEPARATOR + p.text for p in poems)
    return np.array([index.get(c, unk) for c in stream], dtype=np.int64)


def decode(ids: np.ndarray, vocab: list[str]) -> str:
    """The text of a sequence of ids."""
    return "".join(vocab[int(i)] for i in np.asarray(ids).ravel())


def load_split(n_val: int = 31, seed: int = 10, min_count: int = 2) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(train ids, validation ids, vocab) of the verified data/tang300.tsv, split by poem."""
    from utils.data import load_text

    train, val = split_poems(read_tsv(load_text(CORPUS_FILE)), n_val, seed)
    vocab = build_vocab(train, min_count)
    return encode(train, vocab), encode(val, vocab), vocab


def main(argv: list[str]) -> int:
    """Command line: `fetch`."""
    from utils.data import run_command

    return run_command(argv, {"fetch": lambda: print(f"{fetch()}  {CORPUS_FILE}")}, __doc__)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
