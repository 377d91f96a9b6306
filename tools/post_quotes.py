"""Open every chapter with the source post's section, in Chinese and English (`python -m tools.post_quotes`).

The post ships in two files, `docs/source_post_zh.md` (the original) and `docs/source_post_en.md`
(our translation), with the same headings (`## 3. ...`, `### 4.1 ...`) and the same numbered items.
Each chapter's second cell is a markdown cell generated from them: a collapsible `<details>` block
that quotes the chapter's part of the post in both languages, then links to the whole post, the
glossary and the corrections. `SECTIONS` says which part each chapter quotes:

    "3"       the whole of section 3 (with its subsections)
    "8[2,3]"  section 8's opening paragraph and its numbered items 2 and 3
    "5[]"     section 5's opening paragraph only
    "toc"     the list of the post's sections (a chapter with no section of its own)

    python -m tools.post_quotes          # insert or rewrite the quote cell of every chapter
    python -m tools.post_quotes --check  # list chapters whose quote cell is missing or stale; exit 1 if any

Edit the two docs files, never the generated cells, then run the command.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
ZH = ROOT / "docs" / "source_post_zh.md"
EN = ROOT / "docs" / "source_post_en.md"
MARKER = "<!-- post-quote:"
CELL_ID = "post-quote"

SECTIONS = {
    "00": "toc", "01": "1", "02": "2", "03": "3", "04": "4", "05": "5", "06": "6", "07": "7",
    "07b": "9[4]", "08a": "8[1]", "08aa": "8[1]", "08b": "8[2,3]", "08c": "8[1,3]", "09": "9", "10": "5[]",
}

HEADING = re.compile(r"^(?P<level>#{2,3}) (?P<number>\d+(?:\.\d+)?)\.? (?P<title>.+)$")
ITEM = re.compile(r"^(?P<number>\d+)\. ")
SPEC = re.compile(r"^(?P<key>\d+)(?:\[(?P<items>[\d,]*)\])?$")


@dataclass
class Section:
    """One `## N.` section of the post: its title, its opening text, its items, its full body."""

    number: str
    title: str
    body: list[str] = field(default_factory=list)

    def intro(self) -> str:
        """The text before the first numbered item or subsection."""
        lines = []
        for line in self.body:
            if ITEM.match(line) or line.startswith("### "):
                break
            lines.append(line)
        return "\n".join(lines).strip()

    def items(self) -> dict[int, str]:
        """The top-level numbered items: an item runs over blank and indented lines."""
        found: dict[int, list[str]] = {}
        current = None
        for line in self.body:
            match = ITEM.match(line)
            if match:
                current = found.setdefault(int(match["number"]), [])
            elif line and not line.startswith(" "):
                current = None
            if current is not None:
                current.append(line)
        return {k: "\n".join(v).strip() for k, v in found.items()}

    def subsections(self) -> list[str]:
        """The numbers of its `###` subsections."""
        return [m["number"] for line in self.body if (m := HEADING.match(line)) and m["level"] == "###"]


def parse_post(path: Path) -> dict[str, Section]:
    """The post's `##` sections by number; the text before the first one (our note) is skipped."""
    sections: dict[str, Section] = {}
    current = None
    for line in path.read_text(encoding="utf-8").splitlines():
        match = HEADING.match(line)
        if match and match["level"] == "##":
            current = sections[match["number"]] = Section(match["number"], match["title"].strip())
        elif current is not None:
            current.body.append(line)
    return sections


def _quoted(text: str) -> str:
    """Subsection headings become bold lines, so the quote adds no headings to the chapter."""
    out = []
    for line in text.splitlines():
        match = HEADING.match(line)
        out.append(f"**{match['number']} {match['title']}**" if match else line)
    return "\n".join(out).strip()


def excerpt(section: Section, items: list[int] | None) -> str:
    """The whole section (items=None), or its opening text and the listed items."""
    if items is None:
        return _quoted("\n".join(section.body))
    chosen = section.items()
    missing = [i for i in items if i not in chosen]
    if missing:
        raise KeyError(f"section {section.number} has no item {missing}")
    return "\n\n".join([section.intro()] + [chosen[i] for i in items])


def _toc(post: dict[str, Section]) -> str:
    return "\n".join(f"{n}. {s.title}" for n, s in post.items())


def quote_markdown(chapter: str, zh: dict[str, Section] | None = None, en: dict[str, Section] | None = None) -> str:
    """The generated quote cell of one chapter (`chapter` is its number, e.g. '08b')."""
    zh = parse_post(ZH) if zh is None else zh
    en = parse_post(EN) if en is None else en
    spec = SECTIONS[chapter]
    if spec == "toc":
        summary = "The source post this course follows: its nine sections"
        zh_text, en_text = _toc(zh), _toc(en)
    else:
        match = SPEC.match(spec)
        key = match["key"]
        items = None if match["items"] is None else [int(i) for i in match["items"].split(",") if i]
        part = "" if items is None else (" (its opening)" if not items else f" (its opening, and item{'s' * (len(items) > 1)} "
                                         + " and ".join(map(str, items)) + ")")
        summary = f"What the source post says: §{key} {zh[key].title} · {en[key].title}{part}"
        zh_text, en_text = excerpt(zh[key], items), excerpt(en[key], items)
    return "\n".join([
        f"{MARKER} generated by `python -m tools.post_quotes` from docs/source_post_zh.md and "
        "docs/source_post_en.md; edit those, not this cell -->",
        "<details>",
        f"<summary><b>{summary}</b> (中文 and English; click to open)</summary>",
        "",
        "**中文原文**",
        "",
        zh_text,
        "",
        "**English** (our translation)",
        "",
        en_text,
        "",
        "</details>",
        "",
        "The whole post: [中文](../docs/source_post_zh.md) · [English](../docs/source_post_en.md) · "
        "terms: [glossary, English ↔ 中文](../docs/glossary.md) · "
        "the post's errors: [corrections](../docs/corrections.md)",
    ])


def chapter_number(path: Path) -> str:
    """'08b' for chapters/08b_long_context.ipynb."""
    return path.name.split("_", 1)[0]


def chapters() -> list[Path]:
    """The English chapters that have a post section assigned."""
    return sorted(p for p in (ROOT / "chapters").glob("*.ipynb") if chapter_number(p) in SECTIONS)


def quote_cells(nb) -> list[int]:
    """Indices of the cells that hold a generated quote."""
    return [i for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and c.source.startswith(MARKER)]


def stale(path: Path) -> str | None:
    """Why the chapter's quote cell is not current, or None when it is."""
    nb = nbformat.read(path, as_version=4)
    found = quote_cells(nb)
    if len(found) != 1:
        return f"{len(found)} quote cells (want exactly 1)"
    if found[0] != 1:
        return f"the quote is cell {found[0]}, not cell 1 (right after the title)"
    if nb.cells[1].source != quote_markdown(chapter_number(path)):
        return "the quote differs from docs/source_post_*.md: run `python -m tools.post_quotes`"
    return None


def write(path: Path) -> bool:
    """Insert or rewrite the chapter's quote cell right after the title; True when the file changed."""
    nb = nbformat.read(path, as_version=4)
    text = quote_markdown(chapter_number(path))
    found = quote_cells(nb)
    if found == [1] and nb.cells[1].source == text:
        return False
    for i in reversed(found):
        del nb.cells[i]
    cell = nbformat.v4.new_markdown_cell(text)
    cell.id = CELL_ID
    nb.cells.insert(1, cell)
    nbformat.write(nb, path)
    return True


def check_post() -> list[str]:
    """Differences in structure between the Chinese post and the translation (empty when complete)."""
    zh, en = parse_post(ZH), parse_post(EN)
    problems = []
    if list(zh) != list(en):
        problems.append(f"sections differ: 中文 {list(zh)} vs English {list(en)}")
    for key in zh.keys() & en.keys():
        a, b = zh[key], en[key]
        if a.subsections() != b.subsections():
            problems.append(f"§{key}: subsections {a.subsections()} vs {b.subsections()}")
        if sorted(a.items()) != sorted(b.items()):
            problems.append(f"§{key}: numbered items {sorted(a.items())} vs {sorted(b.items())}")
        if not b.intro() and a.intro():
            problems.append(f"§{key}: the translation has no opening text")
        code_a = re.findall(r"```.*?```", "\n".join(a.body), re.S)
        code_b = re.findall(r"```.*?```", "\n".join(b.body), re.S)
        if code_a != code_b:
            problems.append(f"§{key}: code blocks differ")
    return problems


def main(argv: list[str]) -> int:
    """Command line entry point."""
    problems = check_post()
    if problems:
        print("the translation does not match the post:\n  " + "\n  ".join(problems))
        return 1
    if argv[:1] == ["--check"]:
        bad = [(p, why) for p in chapters() if (why := stale(p))]
        for path, why in bad:
            print(f"{path.relative_to(ROOT)}: {why}")
        return 1 if bad else 0
    for path in argv or chapters():
        path = Path(path).resolve()
        if write(path):
            print(f"wrote the quote cell of {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
