"""Re-execute notebooks in place, each in a fresh kernel, top to bottom (`make refresh`).

    python -m tools.notebooks refresh                     # every chapter and solution
    python -m tools.notebooks refresh chapters/03_*.ipynb # just these
"""

from __future__ import annotations

import hashlib
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def all_notebooks() -> list[Path]:
    """Every notebook in chapters/ and solutions/, in name order."""
    return sorted((ROOT / "chapters").glob("*.ipynb")) + sorted((ROOT / "solutions").glob("*.ipynb"))


def ensure_cell_ids(nb, name: str) -> None:
    """Give every cell a stable id (nbformat 4.5): the Chinese edition's catalogue is keyed by it."""
    nb.nbformat, nb.nbformat_minor = 4, max(nb.get("nbformat_minor", 5), 5)
    seen = set()
    for i, cell in enumerate(nb.cells):
        if not cell.get("id") or cell["id"] in seen:
            cell["id"] = hashlib.sha1(f"{name}:{i}:{cell.source}".encode()).hexdigest()[:8]
        seen.add(cell["id"])


def refresh(path: Path, timeout: int = 900) -> float:
    """Execute one notebook in a fresh kernel in its own folder and save it; return seconds."""
    nb = nbformat.read(path, as_version=4)
    ensure_cell_ids(nb, path.name)
    nb.metadata["kernelspec"] = KERNELSPEC
    nb.metadata.pop("widgets", None)
    start = time.perf_counter()
    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}},
        record_timing=False, store_widget_state=True,  # nbclient's Output-widget hook needs it
    )
    client.execute()
    seconds = time.perf_counter() - start
    nb.metadata.pop("widgets", None)  # widget state is large, random and not needed for a static read
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
    nbformat.write(nb, path)
    return seconds


def main(argv: list[str]) -> int:
    """Command line entry point."""
    if not argv or argv[0] != "refresh":
        print(__doc__)
        return 2
    paths = [Path(p).resolve() for p in argv[1:]] or all_notebooks()
    for path in paths:
        seconds = refresh(path)
        shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name
        print(f"{seconds:6.1f} s  {shown}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
