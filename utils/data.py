"""Load the course's data files, verified against their sha256, and regenerate them.

Every file in `data/` is made by a seeded generator in `utils.datagen` (one module per
dataset family, each exposing `FILES = {filename: function returning bytes}`). The
checksums live in `data/SHA256SUMS`; `data/README.md` documents each file.

    python -m utils.data regenerate   # rewrite data/ and data/SHA256SUMS from the generators
    python -m utils.data verify       # check every file against its checksum
"""

from __future__ import annotations

import hashlib
import importlib
import pkgutil
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
SUMS_FILE = "SHA256SUMS"
REGENERATE = "python -m utils.data regenerate"


class DataFileError(RuntimeError):
    """A data file is missing, unknown or does not match its recorded sha256."""


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of some bytes."""
    return hashlib.sha256(data).hexdigest()


def generators() -> dict[str, Callable[[], bytes]]:
    """Map every data filename to the seeded function that produces its bytes."""
    import utils.datagen as package

    found: dict[str, Callable[[], bytes]] = {}
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"utils.datagen.{info.name}")
        for name, fn in getattr(module, "FILES", {}).items():
            if name in found:
                raise ValueError(f"data file {name!r} is produced by two generators")
            found[name] = fn
    return found


def recorded_sums(data_dir: Path = DATA_DIR) -> dict[str, str]:
    """Read data/SHA256SUMS into {filename: sha256}."""
    path = data_dir / SUMS_FILE
    if not path.exists():
        raise DataFileError(f"{path.name} is missing from data/; run `{REGENERATE}`")
    sums = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            sums[name.strip()] = digest
    return sums


def data_path(name: str, data_dir: Path = DATA_DIR) -> Path:
    """Return the path of data file `name` after verifying its sha256."""
    sums = recorded_sums(data_dir)
    if name not in sums:
        raise DataFileError(f"unknown data file {name!r}; known files: {sorted(sums)}")
    path = data_dir / name
    if not path.exists():
        raise DataFileError(f"data file data/{name} is missing; regenerate it with `{REGENERATE}`")
    digest = sha256_bytes(path.read_bytes())
    if digest != sums[name]:
        raise DataFileError(
            f"data file data/{name} does not match its recorded sha256 "
            f"(expected {sums[name][:12]}…, found {digest[:12]}…); it was altered or is stale. "
            f"Regenerate it with `{REGENERATE}`"
        )
    return path


def load_text(name: str) -> str:
    """Return the text of a verified data file."""
    return data_path(name).read_text(encoding="utf-8")


def load_arrays(name: str) -> dict[str, np.ndarray]:
    """Return the arrays of a verified .npz data file (never unpickled)."""
    with np.load(data_path(name), allow_pickle=False) as npz:
        return {key: npz[key] for key in npz.files}


def regenerate(data_dir: Path = DATA_DIR) -> dict[str, str]:
    """Write every generated file and SHA256SUMS into `data_dir`; return {name: sha256}."""
    data_dir.mkdir(parents=True, exist_ok=True)
    sums = {}
    for name, fn in sorted(generators().items()):
        data = fn()
        (data_dir / name).write_bytes(data)
        sums[name] = sha256_bytes(data)
    (data_dir / SUMS_FILE).write_text("".join(f"{d}  {n}\n" for n, d in sorted(sums.items())), encoding="utf-8")
    return sums


def run_command(argv: list[str], commands: dict[str, Callable[[], None]], usage: str | None) -> int:
    """Run the command named by argv[0] and return 0; print the usage and return 2 for anything else."""
    if len(argv) == 1 and argv[0] in commands:
        commands[argv[0]]()
        return 0
    print(usage)
    return 2


def _print_regenerated() -> None:
    for name, digest in regenerate().items():
        print(f"{digest}  {name}")


def _print_verified() -> None:
    for name in recorded_sums():
        data_path(name)
        print(f"ok  {name}")


def main(argv: list[str]) -> int:
    """Command line: `regenerate` or `verify`."""
    return run_command(argv, {"regenerate": _print_regenerated, "verify": _print_verified}, __doc__)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
