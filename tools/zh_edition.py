"""The Chinese edition (中文版), generated from the English notebooks and a translation catalogue.

Each English notebook `chapters/X.ipynb` (and `solutions/X.ipynb`) has a catalogue
`i18n/zh/chapters/X.json`: for every markdown cell, keyed by the cell's id, the English
text it was translated from, its sha256, and the Chinese text. The Chinese notebook
`chapters/zh/X.ipynb` is then made mechanically:
- markdown cells: the catalogue's Chinese text (relative links adjusted for the zh/ folder);
- code cells: identical to the English ones, except that the first code cell starts with
  the line `%env COURSE_LANG=zh`, which makes the exercise checker answer in Chinese;
- outputs: produced by `make refresh-zh` (they differ from the English ones where the
  checker prints its verdicts).

Updating a translation after an English edit (three steps):
    1. python -m tools.zh_edition status    # names every cell whose English changed
    2. edit the "zh" text of those entries in i18n/zh/... (the entry shows the new English)
    3. make zh                              # regenerate and re-run the Chinese notebooks

    python -m tools.zh_edition status    # missing or stale translations; exit 1 if any
    python -m tools.zh_edition prepare   # add/refresh catalogue entries to translate ("zh": null)
    python -m tools.zh_edition export NB OUT.md   # the cells still to translate, as one Markdown file
    python -m tools.zh_edition import NB OUT.md   # read them back once translated
    python -m tools.zh_edition build     # write chapters/zh and solutions/zh (sources only)
    python -m tools.zh_edition make      # build, then re-execute the notebooks that changed (`make zh`)
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = ROOT / "i18n" / "zh"
LANGUAGE_LINE = "%env COURSE_LANG=zh"
FOLDERS = ("chapters", "solutions")


# The cell that quotes the post (made by tools/post_quotes.py) is already bilingual: the
# Chinese edition only swaps its English framing words, mechanically, with no catalogue entry.
QUOTE_CELL_ID = "post-quote"
QUOTE_FRAMING = {
    "What the source post says: ": "原文怎么说：",
    "(中文 and English; click to open)": "（中文原文与英文译文；点击展开）",
    "**English** (our translation)": "**English**（我们的译文）",
    "The whole post: ": "全文：",
    " · terms: [glossary, English ↔ 中文]": " · 术语：[中英术语表]",
    " · the post's errors: [corrections]": " · 原文的错误：[勘误表]",
}


def localize_quote(text: str) -> str:
    for en, zh in QUOTE_FRAMING.items():
        text = text.replace(en, zh)
    return text


def english_notebooks() -> list[Path]:
    """Every English chapter and solutions notebook, in order."""
    return [p for folder in FOLDERS for p in sorted((ROOT / folder).glob("*.ipynb"))]


def zh_path(english: Path) -> Path:
    return english.parent / "zh" / english.name


def catalogue_path(english: Path) -> Path:
    return CATALOGUE / english.parent.name / (english.stem + ".json")


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _read(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def load_catalogue(english: Path) -> dict[str, dict]:
    path = catalogue_path(english)
    return _read(path)["cells"] if path.exists() else {}


@dataclass
class Problem:
    notebook: Path
    index: int
    cell_id: str
    kind: str  # "missing", "stale" or "untranslated"
    first_line: str

    def __str__(self) -> str:
        rel = self.notebook.relative_to(ROOT)
        return f"{rel} cell {self.index} (id {self.cell_id}) {self.kind}: {self.first_line[:70]!r}"


def problems(notebooks: list[Path] | None = None) -> list[Problem]:
    """Every English markdown cell without a current translation."""
    out = []
    for nb_path in notebooks or english_notebooks():
        entries = load_catalogue(nb_path)
        for i, cell in enumerate(_read(nb_path)["cells"]):
            if cell["cell_type"] != "markdown" or cell.get("id") == QUOTE_CELL_ID:
                continue
            text = "".join(cell["source"])
            first = text.strip().split("\n", 1)[0]
            if "id" not in cell:
                out.append(Problem(nb_path, i, "?", "without a cell id (run `make refresh NB=...`)", first))
                continue
            entry = entries.get(cell["id"])
            if entry is None:
                out.append(Problem(nb_path, i, cell["id"], "missing", first))
            elif entry.get("en_sha256") != sha(text):
                out.append(Problem(nb_path, i, cell["id"], "stale", first))
            elif not entry.get("zh"):
                out.append(Problem(nb_path, i, cell["id"], "untranslated", first))
    return out


def prepare(notebooks: list[Path] | None = None) -> int:
    """Write catalogue entries for missing and stale cells ("zh": null, the old one kept as "zh_old")."""
    count = 0
    for nb_path in notebooks or english_notebooks():
        entries = load_catalogue(nb_path)
        cells = [c for c in _read(nb_path)["cells"] if c["cell_type"] == "markdown" and c.get("id") != QUOTE_CELL_ID]
        new: dict[str, dict] = {}
        for cell in cells:
            if "id" not in cell:
                raise ValueError(f"{nb_path.name} has cells without an id: run `make refresh NB={nb_path}`")
            text = "".join(cell["source"])
            entry = entries.get(cell["id"])
            if entry is None or entry.get("en_sha256") != sha(text):
                count += 1
                entry = {"en_sha256": sha(text), "en": text, "zh": None,
                         **({"zh_old": entry["zh"], "en_old": entry["en"]} if entry and entry.get("zh") else {})}
            new[cell["id"]] = entry
        _write_json(catalogue_path(nb_path), {"source": str(nb_path.relative_to(ROOT)), "cells": new})
    return count


_LINK = re.compile(r"\]\((?!https?://|#|mailto:|attachment:)([^)\s]+)\)")


def adjust_links(text: str) -> str:
    """Relative links from chapters/zh/ instead of chapters/: notebooks go to their zh twins."""
    def fix(m: re.Match) -> str:
        target = m.group(1)
        path, _, anchor = target.partition("#")
        anchor = f"#{anchor}" if anchor else ""
        if path.endswith(".ipynb"):
            if path.startswith("../"):  # ../solutions/X.ipynb -> ../../solutions/zh/X.ipynb
                folder, _, name = path[3:].rpartition("/")
                return f"](../../{folder}/zh/{name}{anchor})"
            return f"]({path}{anchor})"  # a sibling notebook: its zh twin is a sibling too
        return f"](../{path}{anchor})"
    return _LINK.sub(fix, text)


def build_notebook(english: Path) -> dict:
    """The Chinese notebook's JSON (sources only; outputs are kept from the current zh file)."""
    nb = _read(english)
    entries = load_catalogue(english)
    old = _read(zh_path(english)) if zh_path(english).exists() else None
    old_outputs = {c["id"]: c for c in old["cells"]} if old else {}
    first_code = True
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown" and cell.get("id") == QUOTE_CELL_ID:
            cell["source"] = adjust_links(localize_quote("".join(cell["source"]))).splitlines(keepends=True)
        elif cell["cell_type"] == "markdown":
            entry = entries.get(cell["id"])
            if not entry or not entry.get("zh") or entry["en_sha256"] != sha("".join(cell["source"])):
                raise ValueError(f"{english.relative_to(ROOT)}: cell {cell['id']} has no current translation; "
                                 "run `python -m tools.zh_edition status`")
            cell["source"] = adjust_links(entry["zh"]).splitlines(keepends=True)
        elif cell["cell_type"] == "code":
            if first_code:
                cell["source"] = [LANGUAGE_LINE + "\n", *cell["source"]]
                first_code = False
            prev = old_outputs.get(cell["id"])
            if prev is not None and prev.get("source") == cell["source"]:
                cell["outputs"], cell["execution_count"] = prev["outputs"], prev["execution_count"]
            else:
                cell["outputs"], cell["execution_count"] = [], None
    return nb


def sources(nb: dict) -> list[tuple[str, str]]:
    return [(c["cell_type"], "".join(c["source"])) for c in nb["cells"]]


def build(notebooks: list[Path] | None = None) -> list[Path]:
    """Write the Chinese notebooks whose sources changed; return them."""
    written = []
    for english in notebooks or english_notebooks():
        nb = build_notebook(english)
        target = zh_path(english)
        if target.exists() and sources(_read(target)) == sources(nb):
            continue
        _write_json(target, nb)
        written.append(target)
    return written


MARK = re.compile(r"^<!-- cell (?P<id>[\w-]+) -->$", re.MULTILINE)


def export(english: Path, out: Path) -> int:
    """Write the cells still to translate as one Markdown file: a `<!-- cell ID -->` line, then the English."""
    prepare([english])
    todo = {k: v for k, v in load_catalogue(english).items() if not v.get("zh")}
    out.write_text("".join(f"<!-- cell {k} -->\n{v['en'].rstrip()}\n\n" for k, v in todo.items()), encoding="utf-8")
    return len(todo)


def import_translations(english: Path, translated: Path) -> int:
    """Read a file in `export`'s form whose English was replaced by Chinese; fill the catalogue."""
    prepare([english])
    data = _read(catalogue_path(english))
    text = translated.read_text(encoding="utf-8")
    marks = list(MARK.finditer(text))
    for m, nxt in zip(marks, [*marks[1:], None]):
        body = text[m.end():nxt.start() if nxt else len(text)].strip("\n")
        if m["id"] not in data["cells"]:
            raise ValueError(f"{translated}: cell {m['id']} is not a markdown cell of {english.name}")
        data["cells"][m["id"]]["zh"] = body
        data["cells"][m["id"]].pop("zh_old", None)
        data["cells"][m["id"]].pop("en_old", None)
    _write_json(catalogue_path(english), data)
    return len(marks)


def unexecuted() -> list[Path]:
    """Chinese notebooks with a code cell that has not been run."""
    return [zh_path(e) for e in english_notebooks() if zh_path(e).exists()
            and any(c["cell_type"] == "code" and c["execution_count"] is None and "".join(c["source"]).strip()
                    for c in _read(zh_path(e))["cells"])]


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "status"
    if command == "status":
        found = problems()
        print("\n".join(map(str, found)) or "every markdown cell has a current Chinese translation")
        return 1 if found else 0
    if command == "prepare":
        print(f"{prepare()} catalogue entries to translate (\"zh\": null) in {CATALOGUE.relative_to(ROOT)}")
        return 0
    if command == "export":  # export NOTEBOOK OUT.md
        print(f"{export(Path(argv[1]).resolve(), Path(argv[2]))} cells to translate in {argv[2]}")
        return 0
    if command == "import":  # import NOTEBOOK TRANSLATED.md
        print(f"{import_translations(Path(argv[1]).resolve(), Path(argv[2]))} cells translated")
        return 0
    if command in ("build", "make"):  # optionally only the English notebooks named
        written = build([Path(a).resolve() for a in argv[1:]] or None)
        for path in written:
            print(f"wrote {path.relative_to(ROOT)}", flush=True)
        if command == "make":  # then re-run every notebook with a code cell that changed (or never ran):
            from tools.notebooks import refresh  # a prose-only change keeps the stored outputs

            for path in unexecuted():
                print(f"{refresh(path):6.1f} s  {path.relative_to(ROOT)}", flush=True)
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
