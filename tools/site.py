"""Build the course website from the notebooks' stored outputs (`make site`); nothing is executed.

    python -m tools.site            # every language that has chapters; open build/site/index.html
    python -m tools.site --clean    # forget the previous build first

For each language this stages its pages under build/site-src/<lang>/ (the notebooks in sorted
order, the docs pages that exist, a generated index with the tables of contents, MathJax) and runs
Sphinx with MyST-NB and the configuration in docs/conf.py, writing build/site/<lang>/.
build/site/index.html sends a visitor to the first language.

A language is one entry of LANGUAGES. English is always built; another language is built as soon as
its chapters folder holds a notebook, and then every page of every language carries a switch to the
same page in the others (docs/_templates/lang-switch.html). Its pages keep the English file names
(chapters/zh/03_x.ipynb is staged as chapters/03_x.ipynb), so the switch finds them.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import posixpath
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STAGE = ROOT / "build" / "site-src"
OUT = ROOT / "build" / "site"
ASSETS = STAGE / "_assets"
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp"}
NBVAL_MARKER = re.compile(r"^#\s*NBVAL_[A-Z_]+\s*$")
MD_LINK = re.compile(r"(!?)\[((?:[^\[\]]|\[[^\]]*\])*)\]\(\s*<?([^)\s>]+)>?(\s+\"[^\"]*\")?\s*\)")
HTML_LINK = re.compile(r"""\b(src|href)=(["'])([^"']+)\2""")


@dataclass(frozen=True)
class Language:
    """One edition of the site: where its notebooks and pages live, and its words for the site."""

    code: str
    label: str
    chapters: str
    solutions: str
    index: str
    docs: str  # a page docs/<name>.md is replaced by <docs>/<name>.md where that exists
    captions: tuple[str, str, str]  # chapters, reference pages, solutions
    widget_note: str


LANGUAGES = (
    Language("en", "English", "chapters", "solutions", "docs/index.md", "docs",
             ("Chapters", "Reference", "Worked solutions"),
             "This cell shows an interactive widget (sliders and menus) when the notebook runs in "
             "JupyterLab; a static page cannot run it. Clone the course and start <code>make lab</code> "
             "to use it."),
    Language("zh", "中文", "chapters/zh", "solutions/zh", "docs/zh/index.md", "docs/zh",
             ("章节", "参考资料", "习题解答"),
             "这个单元在 JupyterLab 中运行时会显示一个交互控件（滑块和菜单）；静态网页无法运行它。"
             "请克隆本课程并运行 <code>make lab</code> 来使用它。"),
)
DOC_PAGES = ("docs/source_post_zh.md", "docs/source_post_en.md", "docs/corrections.md",
             "docs/glossary.md", "docs/benchmarks.md", "CONTRIBUTING.md")


def languages_to_build() -> list[Language]:
    """English, then every other language whose chapters folder holds a notebook."""
    return [lang for lang in LANGUAGES
            if lang.code == "en" or any((ROOT / lang.chapters).glob("*.ipynb"))]


def page_plan(lang: Language) -> dict[str, str]:
    """Repository path -> staged path of every page of `lang`, in reading order."""
    plan = {}
    for folder, staged in ((lang.chapters, "chapters"), (lang.solutions, "solutions")):
        for nb in sorted((ROOT / folder).glob("*.ipynb")):
            plan[nb.relative_to(ROOT).as_posix()] = f"{staged}/{nb.name}"
    for page in DOC_PAGES:
        own = f"{lang.docs}/{Path(page).name}" if page.startswith("docs/") else page
        source = own if (ROOT / own).is_file() else page
        if (ROOT / source).is_file():
            plan[source] = page
    return plan


def repo_url() -> str | None:
    """The repository's web address: SITE_REPO_URL, GitHub Actions' variables, or an https origin."""
    if os.environ.get("SITE_REPO_URL"):
        return os.environ["SITE_REPO_URL"].rstrip("/")
    if os.environ.get("GITHUB_REPOSITORY"):
        return f"{os.environ.get('GITHUB_SERVER_URL', 'https://github.com')}/{os.environ['GITHUB_REPOSITORY']}"
    try:
        origin = subprocess.run(["git", "remote", "get-url", "origin"], cwd=ROOT, capture_output=True,
                                text=True, check=False).stdout.strip()
    except OSError:
        return None
    return origin.removesuffix(".git") if origin.startswith("https://") else None


class LinkFixer:
    """Rewrites relative links of one page so they work from its staged place on the site."""

    def __init__(self, plan: dict[str, str], url: str | None):
        self.plan, self.url, self.assets = plan, url, set()

    def target(self, link: str, src: str) -> str | None:
        """The new link, the old one if it is not relative, or None when it must become plain text."""
        if re.match(r"^([a-z][a-z0-9+.-]*:|#|/)", link, re.I):
            return link
        path, hash_, anchor = link.partition("#")
        repo_path = posixpath.normpath(posixpath.join(posixpath.dirname(src), path))
        here = posixpath.dirname(self.plan[src])
        if repo_path.startswith("..") or not path:
            return link
        if repo_path in self.plan:
            return posixpath.relpath(self.plan[repo_path], here or ".") + hash_ + anchor
        full = ROOT / repo_path
        if full.is_file() and full.suffix.lower() in IMAGE_SUFFIXES:
            self.assets.add(repo_path)
            return posixpath.relpath(repo_path, here or ".")
        if full.exists():  # code or data in the repository: link to it there, or keep just the words
            kind = "tree" if full.is_dir() else "blob"
            return f"{self.url}/{kind}/main/{repo_path}" if self.url else None
        return link

    def fix(self, text: str, src: str) -> str:
        """`text` (Markdown with HTML) with every relative link rewritten."""
        def md(m: re.Match) -> str:
            new = self.target(m.group(3), src)
            if new is None:
                return m.group(2) if not m.group(1) else m.group(0)
            return f"{m.group(1)}[{m.group(2)}]({new}{m.group(4) or ''})"

        def html(m: re.Match) -> str:
            new = self.target(m.group(3), src)
            return m.group(0) if new is None else f"{m.group(1)}={m.group(2)}{new}{m.group(2)}"

        return HTML_LINK.sub(html, MD_LINK.sub(md, text))


def stage_notebook(nb: dict, src: str, fixer: LinkFixer, lang: Language) -> dict:
    """The notebook as the site shows it: links fixed, test markers hidden, widgets as a note."""
    nb["metadata"].pop("widgets", None)
    for cell in nb["cells"]:
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if cell["cell_type"] == "markdown":
            cell["source"] = fixer.fix(source, src)
        elif cell["cell_type"] == "code":
            lines = source.split("\n")
            while lines and NBVAL_MARKER.match(lines[0]):
                lines.pop(0)
            cell["source"] = "\n".join(lines)
            for i, out in enumerate(cell.get("outputs", [])):
                if "application/vnd.jupyter.widget-view+json" in out.get("data", {}):
                    cell["outputs"][i] = {"output_type": "display_data", "metadata": {}, "data": {
                        "text/html": f'<div class="course-widget-note">{lang.widget_note}</div>'}}
    return nb


def write_if_changed(path: Path, data: bytes) -> None:
    """Write only when the bytes differ, so Sphinx rebuilds only what changed."""
    if path.is_file() and path.read_bytes() == data:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def page_title(path: Path) -> str:
    """The first Markdown heading of a page or notebook (for the log only)."""
    if path.suffix == ".ipynb":
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    else:
        text = path.read_text(encoding="utf-8")
    found = re.search(r"^#\s+(.+)$", text, re.M)
    return found.group(1).strip() if found else path.stem


def index_page(lang: Language, plan: dict[str, str]) -> str:
    """The language's landing page followed by its three tables of contents."""
    own = ROOT / lang.index
    text = (own if own.is_file() else ROOT / LANGUAGES[0].index).read_text(encoding="utf-8").rstrip()
    groups = [[p for p in plan.values() if p.startswith("chapters/")],
              [p for p in plan.values() if not p.startswith(("chapters/", "solutions/"))],
              [p for p in plan.values() if p.startswith("solutions/")]]
    for caption, pages in zip(lang.captions, groups):
        if pages:
            entries = "\n".join(posixpath.splitext(p)[0] for p in pages)
            text += f"\n\n```{{toctree}}\n:caption: {caption}\n:maxdepth: 1\n\n{entries}\n```"
    return text + "\n"


def copy_mathjax() -> Path:
    """MathJax 3 from the pinned package `django-static-mathjax`, served by the site, not a CDN."""
    spec = importlib.util.find_spec("mathjax")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("tools.site: MathJax is missing; install requirements-site.txt (make site does)")
    es5 = Path(list(spec.submodule_search_locations)[0]) / "static" / "mathjax" / "es5"
    dest = ASSETS / "mathjax"
    if not (dest / "tex-mml-chtml.js").is_file():
        shutil.copytree(es5, dest, dirs_exist_ok=True, ignore=lambda d, names: [
            n for n in names if Path(d) == es5 and (n == "sre" or n.endswith(".js") and n != "tex-mml-chtml.js")])
    return ASSETS


def stage(lang: Language, built: list[Language], url: str | None) -> tuple[Path, dict[str, str]]:
    """Write build/site-src/<lang>/ (pages, index, settings); return it and the page plan."""
    dest = STAGE / lang.code
    plan = page_plan(lang)
    fixer = LinkFixer(plan, url)
    wanted = {"index.md", "_site.json"}
    for src, staged in plan.items():
        path = ROOT / src
        if path.suffix == ".ipynb":
            nb = stage_notebook(json.loads(path.read_text(encoding="utf-8")), src, fixer, lang)
            data = json.dumps(nb, ensure_ascii=False, indent=1).encode()
        else:
            data = fixer.fix(path.read_text(encoding="utf-8"), src).encode()
        write_if_changed(dest / staged, data)
        wanted.add(staged)
    for asset in sorted(fixer.assets):
        write_if_changed(dest / asset, (ROOT / asset).read_bytes())
        wanted.add(asset)
    write_if_changed(dest / "index.md", index_page(lang, plan).encode())
    settings = {"lang": lang.code, "repo_url": url, "assets": str(copy_mathjax()),
                "languages": [{"code": other.code, "label": other.label,
                               "pages": ["index", *(posixpath.splitext(p)[0] for p in page_plan(other).values())]}
                              for other in built]}
    write_if_changed(dest / "_site.json", json.dumps(settings, ensure_ascii=False, indent=1).encode())
    for old in [p for p in dest.rglob("*") if p.is_file() and not p.relative_to(dest).as_posix().startswith(".")]:
        if old.relative_to(dest).as_posix() not in wanted:
            old.unlink()  # a page that was renamed or removed
    return dest, plan


def build(lang: Language, built: list[Language], url: str | None) -> int:
    """Stage and render one language; return Sphinx's exit status."""
    src, plan = stage(lang, built, url)
    out = OUT / lang.code
    env = {**os.environ, "COURSE_SITE_CONFIG": str(src / "_site.json"), "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
    cmd = [sys.executable, "-m", "sphinx", "-b", "html", "-q", "-c", str(ROOT / "docs"),
           "-d", str(src / ".doctrees"), str(src), str(out)]
    print(f"site [{lang.code}]: {len(plan)} pages, first {page_title(ROOT / next(iter(plan)))!r}", flush=True)
    return subprocess.run(cmd, cwd=ROOT, env=env, check=False).returncode


_FAVICON = bytes.fromhex(
    "0000010001000101000001002000300000001600000028000000010000000200000001002000000000000400000000000000"
    "0000000000000000000000000000000000000000"
)


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(prog="python -m tools.site", description=__doc__.splitlines()[0])
    parser.add_argument("--clean", action="store_true", help="remove build/site and build/site-src first")
    args = parser.parse_args(argv)
    if args.clean:
        shutil.rmtree(OUT, ignore_errors=True)
        shutil.rmtree(STAGE, ignore_errors=True)
    start = time.perf_counter()
    built, url = languages_to_build(), repo_url()
    for lang in built:
        if build(lang, built, url):
            print(f"site [{lang.code}]: sphinx-build failed", file=sys.stderr)
            return 1
    first = built[0].code
    (OUT / "index.html").write_text(
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{first}</title>'
        f'<link rel="icon" href="data:,">'  # no /favicon.ico request, so no 404 in the console
        f'<meta http-equiv="refresh" content="0; url={first}/index.html"></head>'
        f'<body><a href="{first}/index.html">{first}</a></body></html>\n', encoding="utf-8")
    (OUT / ".nojekyll").touch()  # GitHub Pages: serve _static/ as it is
    # Browsers also ask the site's root for /favicon.ico on pages that name no icon: answer with the
    # smallest valid icon (a 1x1 transparent ICO) rather than a 404.
    (OUT / "favicon.ico").write_bytes(_FAVICON)
    print(f"site: build/site/index.html ({', '.join(lang.code for lang in built)}) "
          f"in {time.perf_counter() - start:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
