"""The Chinese edition is complete and current: every English markdown cell is translated from
its current text, and the Chinese notebooks are exactly what `tools.zh_edition build` makes."""

from __future__ import annotations

import json

import pytest

from tools import zh_edition as zh

ENGLISH = zh.english_notebooks()


def test_every_markdown_cell_has_a_current_translation():
    found = zh.problems()
    assert not found, ("re-translate these cells (`python -m tools.zh_edition prepare`, fill \"zh\", "
                       "then `make zh`):\n" + "\n".join(map(str, found)))


@pytest.mark.parametrize("english", ENGLISH, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_the_chinese_notebook_is_what_the_command_makes(english):
    target = zh.zh_path(english)
    assert target.exists(), f"{target.relative_to(zh.ROOT)} is missing: run `make zh`"
    want = zh.sources(zh.build_notebook(english))
    got = zh.sources(json.loads(target.read_text(encoding="utf-8")))
    assert got == want, f"{target.relative_to(zh.ROOT)} is not what `make zh` makes now: run it"


@pytest.mark.parametrize("english", ENGLISH, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_code_is_the_english_code_apart_from_the_language_line(english):
    target = zh.zh_path(english)
    if not target.exists():
        pytest.fail(f"{target.relative_to(zh.ROOT)} is missing: run `make zh`")
    en = [s for t, s in zh.sources(json.loads(english.read_text())) if t == "code"]
    cn = [s for t, s in zh.sources(json.loads(target.read_text())) if t == "code"]
    assert cn[0] == zh.LANGUAGE_LINE + "\n" + en[0] and cn[1:] == en[1:]


@pytest.mark.parametrize("english", ENGLISH, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_the_chinese_notebook_was_run_top_to_bottom(english):
    target = zh.zh_path(english)
    if not target.exists():
        pytest.fail(f"{target.relative_to(zh.ROOT)} is missing: run `make zh`")
    cells = json.loads(target.read_text())["cells"]
    counts = [c["execution_count"] for c in cells if c["cell_type"] == "code" and "".join(c["source"]).strip()]
    assert counts == list(range(1, len(counts) + 1)), f"{target.name}: run `make zh` (counts {counts})"
    errors = [i for i, c in enumerate(cells) for o in c.get("outputs", []) if o["output_type"] == "error"]
    assert not errors, f"{target.name} stores errors in cells {errors}"


def _notebook(cells):
    return {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def _md(cell_id, text):
    return {"cell_type": "markdown", "id": cell_id, "metadata": {}, "source": text.splitlines(True)}


def test_an_edited_english_cell_is_named_as_stale(tmp_path, monkeypatch):
    monkeypatch.setattr(zh, "ROOT", tmp_path)
    monkeypatch.setattr(zh, "CATALOGUE", tmp_path / "i18n" / "zh")
    english = tmp_path / "chapters" / "01_x.ipynb"
    english.parent.mkdir()
    english.write_text(json.dumps(_notebook([_md("a1", "# 01 · Title"), _md("b2", "Some prose.")])))
    assert [p.kind for p in zh.problems([english])] == ["missing", "missing"]
    zh.prepare([english])
    catalogue = json.loads(zh.catalogue_path(english).read_text())
    for entry in catalogue["cells"].values():
        entry["zh"] = "译文"
    zh.catalogue_path(english).write_text(json.dumps(catalogue, ensure_ascii=False))
    assert zh.problems([english]) == []
    english.write_text(json.dumps(_notebook([_md("a1", "# 01 · Title"), _md("b2", "Some prose, edited.")])))
    (stale,) = zh.problems([english])
    assert (stale.index, stale.cell_id, stale.kind) == (1, "b2", "stale") and "edited" in str(stale)
    with pytest.raises(ValueError, match="b2 has no current translation"):
        zh.build_notebook(english)


def test_links_point_from_the_zh_folder():
    text = ("[sol](../solutions/05_practice_solutions.ipynb#ex) [next](06_applications.ipynb) "
            "[gloss](../docs/glossary.md) [web](https://example.org) [here](#top)")
    assert zh.adjust_links(text) == (
        "[sol](../../solutions/zh/05_practice_solutions.ipynb#ex) [next](06_applications.ipynb) "
        "[gloss](../../docs/glossary.md) [web](https://example.org) [here](#top)")


def test_course_lang_selects_chinese_verdicts_and_set_language_wins(monkeypatch, capsys):
    from utils.exercises import check, messages

    def stable_softmax(x): ...

    monkeypatch.setitem(messages._state, "language", None)
    monkeypatch.setenv("COURSE_LANG", "zh")
    check("00.1", stable_softmax)
    assert capsys.readouterr().out.startswith("⏳ 练习 00.1（")
    messages.set_language("en")
    check("00.1", stable_softmax)
    assert capsys.readouterr().out.startswith("⏳ Exercise 00.1 (")
    monkeypatch.setitem(messages._state, "language", None)
    monkeypatch.setenv("COURSE_LANG", "fr")
    with pytest.raises(ValueError, match="COURSE_LANG must be one of"):
        messages.get_language()
