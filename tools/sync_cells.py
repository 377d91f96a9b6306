"""Keep the code shown in the chapters identical to the package (`make sync`).

The course shows every algorithm it teaches in the chapter that teaches it, and the package
`utils` holds the same code once, for the other chapters, the tests and the benchmarks.
The package is the source: a code cell whose first line is a *source line*

    # source: utils/efficient/tiled_numpy.py · online_softmax_update, flash_attention

holds exactly the named top-level definitions (functions or classes) of that file, in that
order, separated by one blank line, as `inspect` would print them. Nothing else goes in such
a cell: the demo that uses the code goes in the next cell.

    python -m tools.sync_cells          # rewrite every marked cell from the package
    python -m tools.sync_cells --check  # list the cells that differ; exit 1 if any

To change a shown algorithm, edit the package file, run `make sync`, then `make refresh NB=...`.
"""

from __future__ import annotations

import ast
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE_LINE = re.compile(r"^# source: (?P<path>utils/[\w/]+\.py) · (?P<names>[\w, .]+)$")


class SyncError(ValueError):
    """A source line names a file or a definition that does not exist."""


@dataclass
class ShownCell:
    """One marked cell: where it is, what it names, and what it holds now."""

    notebook: Path
    index: int  # position among the notebook's cells
    path: str
    names: list[str]
    source: str

    def where(self) -> str:
        shown = self.notebook.relative_to(ROOT) if self.notebook.is_relative_to(ROOT) else self.notebook.name
        return f"{shown} cell {self.index} ({self.path} · {', '.join(self.names)})"


def definition_source(path: str, name: str) -> str:
    """The exact text of the top-level `def`/`class` called `name` in `path`, decorators included."""
    file = ROOT / path
    if not file.is_file():
        raise SyncError(f"source line names {path}, which does not exist")
    text = file.read_text(encoding="utf-8")
    lines = text.splitlines()
    for node in ast.parse(text).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and node.name == name:
            start = min([node.lineno] + [d.lineno for d in node.decorator_list])
            return "\n".join(lines[start - 1 : node.end_lineno])
    raise SyncError(f"{path} has no top-level def or class named {name!r}")


def expected_cell(path: str, names: list[str]) -> str:
    """What a marked cell must hold: its source line, then the definitions."""
    header = f"# source: {path} · {', '.join(names)}"
    return "\n\n".join([header + "\n" + definition_source(path, names[0])]
                       + [definition_source(path, n) for n in names[1:]])


def notebooks() -> list[Path]:
    """Every notebook of the course, English and other editions."""
    return sorted(p for folder in ("chapters", "solutions") for p in (ROOT / folder).glob("**/*.ipynb")
                  if ".ipynb_checkpoints" not in p.parts)


def shown_cells(paths: list[Path] | None = None) -> list[ShownCell]:
    """Every code cell that starts with a source line."""
    found = []
    for nb_path in paths or notebooks():
        nb = json.loads(nb_path.read_text(encoding="utf-8"))
        for i, cell in enumerate(nb["cells"]):
            if cell["cell_type"] != "code":
                continue
            source = "".join(cell["source"])
            first = source.split("\n", 1)[0]
            m = SOURCE_LINE.match(first)
            if m:
                names = [n.strip() for n in m["names"].split(",") if n.strip()]
                found.append(ShownCell(nb_path, i, m["path"], names, source))
    return found


def stale(paths: list[Path] | None = None) -> list[str]:
    """One line per marked cell that differs from the package."""
    out = []
    for cell in shown_cells(paths):
        try:
            want = expected_cell(cell.path, cell.names)
        except SyncError as err:
            out.append(f"{cell.where()}: {err}")
            continue
        if cell.source.rstrip("\n") != want:
            out.append(f"{cell.where()}: differs from the package; run `make sync`")
    return out


def sync(paths: list[Path] | None = None) -> list[Path]:
    """Rewrite every marked cell from the package; return the notebooks changed."""
    changed = []
    for nb_path in paths or notebooks():
        nb = json.loads(nb_path.read_text(encoding="utf-8"))
        dirty = False
        for cell in shown_cells([nb_path]):
            want = expected_cell(cell.path, cell.names)
            if cell.source.rstrip("\n") != want:
                nb["cells"][cell.index]["source"] = want.splitlines(keepends=True)
                dirty = True
        if dirty:
            nb_path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
            changed.append(nb_path)
    return changed


def main(argv: list[str]) -> int:
    """Command line entry point."""
    if argv[:1] == ["--check"]:
        problems = stale()
        print("\n".join(problems) or f"all {len(shown_cells())} shown cells match the package")
        return 1 if problems else 0
    for path in sync():
        print(f"synced {path.relative_to(ROOT)} (re-run it: make refresh NB={path.relative_to(ROOT)})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
