"""The documentation: the source post and its translation are complete, every chapter opens with its
current quote of the post, README stays short, and the links of README and docs/ resolve."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import unquote

import pytest

from tools import post_quotes

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))
LINK = re.compile(r"\[(?P<text>[^\]]+)\]\((?P<target>[^)\s]+)\)")
DOCS = [ROOT / "README.md", ROOT / "CONTRIBUTING.md",
        *(ROOT / "docs" / name for name in ("source_post_zh.md", "source_post_en.md", "glossary.md", "corrections.md"))]


def _links(path: Path) -> list[tuple[str, str]]:
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
    return [(m["text"], m["target"]) for m in LINK.finditer(text)]


def _headings(notebook: Path) -> set[str]:
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    return {line.lstrip("#").strip() for c in cells if c["cell_type"] == "markdown"
            for line in "".join(c["source"]).splitlines() if line.startswith("#")}


def test_the_post_and_its_translation_have_the_same_sections():
    assert post_quotes.check_post() == []
    zh, en = post_quotes.parse_post(post_quotes.ZH), post_quotes.parse_post(post_quotes.EN)
    assert list(zh) == [str(n) for n in range(1, 10)], "the post has sections 1 to 9"
    for key in zh:
        assert en[key].title and en[key].intro(), f"§{key} is not translated"


def test_the_chinese_post_is_complete():
    text = post_quotes.ZH.read_text(encoding="utf-8")
    for phrase in ("自注意力机制可以将输入序列的所有元素", "tf.keras.layers.Constant(0)",
                   "ACL 2017", "使用预训练模型", "感谢阅读！"):
        assert phrase in text


def test_the_translation_check_can_fail(tmp_path, monkeypatch):
    broken = tmp_path / "en.md"
    broken.write_text(post_quotes.EN.read_text(encoding="utf-8").replace("### 4.3", "### 4.9"), encoding="utf-8")
    monkeypatch.setattr(post_quotes, "EN", broken)
    assert any("§4" in p for p in post_quotes.check_post())


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.name)
def test_chapter_opens_with_its_current_post_quote(chapter):
    number = post_quotes.chapter_number(chapter)
    assert number in post_quotes.SECTIONS, f"{chapter.name}: add its post section to tools/post_quotes.py"
    assert post_quotes.stale(chapter) is None, f"{chapter.name}: {post_quotes.stale(chapter)}"


def test_every_quote_links_the_glossary_and_both_languages():
    for number in post_quotes.SECTIONS:
        text = post_quotes.quote_markdown(number)
        assert "**中文原文**" in text and "**English**" in text
        for target in ("source_post_zh.md", "source_post_en.md", "glossary.md"):
            assert f"../docs/{target}" in text


def test_readme_is_short():
    size = len((ROOT / "README.md").read_bytes())
    assert size <= 12 * 1024, f"README.md is {size} bytes; keep it at most 12 KB and move detail to docs/"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_links_resolve(doc):
    broken = []
    for text, target in _links(doc):
        if target.startswith(("http://", "https://", "mailto:", "#")):
            continue
        file = (doc.parent / unquote(target.split("#")[0])).resolve()
        if not file.exists():
            broken.append(f"{text} -> {target}")
            continue
        # "NN · heading": the heading must exist in the linked notebook, so renamed sections are caught
        heading = text.split(" · ", 1)[1] if file.suffix == ".ipynb" and " · " in text else None
        if heading and heading not in _headings(file):
            broken.append(f"{text} -> {target} (no such heading)")
    assert not broken, f"{doc.name}: broken links:\n" + "\n".join(broken)


def test_readme_lists_every_chapter():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [p.name for p in CHAPTERS if f"chapters/{p.name}" not in readme]
    assert not missing, f"README's chapter table lacks {missing}"


def test_no_words_about_how_the_work_is_organised():
    # spelled in pieces so that this test file does not match its own pattern
    words = re.compile("|".join(["steer" + "ing repository", "the issue " + "asked", r"\bshared/" + r"seed\b",
                                 r"\.\./" + "shared"]), re.I)
    hits = [f"{f.name}: {m.group(0)}" for f in DOCS for m in words.finditer(f.read_text(encoding="utf-8"))]
    assert not hits


def test_environment_check_warns_and_never_stops(tmp_path, capsys):
    from utils.core import environment

    pins = tmp_path / "requirements.txt"
    pins.write_text("numpy==0.0.1\n", encoding="utf-8")  # a version nobody has installed
    assert environment.check_environment(pins) is False  # returns, does not raise
    out = capsys.readouterr().out
    assert "⚠ numpy" in out and "Warning: 1 package(s) differ" in out and "pip install 'numpy==0.0.1'" in out


def test_tensorflow_and_tensorflow_cpu_count_as_the_same_package():
    from utils.core.environment import installed_version

    assert installed_version("tensorflow") == installed_version("tensorflow-cpu") is not None
