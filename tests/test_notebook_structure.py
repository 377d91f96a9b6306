"""Static checks of every notebook: pairing of chapters and solutions, exercises, clean execution."""

import re
from pathlib import Path

import nbformat
import numpy as np
import pytest

from utils.exercises import evaluate, load_all

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
HEADING = re.compile(r"^#{2,4} Exercise ([0-9]{2}[a-z]{0,2}\.[0-9]+):", re.MULTILINE)
CHECK = re.compile(r"check\(\s*[\"']([^\"']+)[\"']\s*,\s*([A-Za-z_][A-Za-z0-9_]*|\.\.\.)(.*)\)")
MACHINE_PATH = re.compile(r"/(work|tmp|root|home|Users)/[A-Za-z0-9_.-]+/")
# stderr that a reader should never see in a stored notebook: unhandled warnings, C++ logging
STDERR_NOISE = re.compile(r"Warning:|USDT:|STAGE:|^[IWEF]\d{4} ", re.MULTILINE)


def _read(path):
    return nbformat.read(path, as_version=4)


def _headings(nb):
    return [m for c in nb.cells if c.cell_type == "markdown" for m in HEADING.findall(c.source)]


def _checks(nb):
    found = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            for m in CHECK.finditer(cell.source):
                found.append((i, m.group(1), m.group(2), m.group(3)))
    return found


def _solution_for(chapter):
    return ROOT / "solutions" / f"{chapter.stem}_solutions.ipynb"


def test_there_are_notebooks():
    assert CHAPTERS and SOLUTIONS


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.name)
def test_chapter_has_solutions_notebook(chapter):
    assert _solution_for(chapter).exists(), f"{chapter.name} has no solutions/{chapter.stem}_solutions.ipynb"


@pytest.mark.parametrize("solution", SOLUTIONS, ids=lambda p: p.name)
def test_solutions_notebook_has_chapter(solution):
    assert (ROOT / "chapters" / f"{solution.stem.removesuffix('_solutions')}.ipynb").exists()


@pytest.mark.parametrize("path", CHAPTERS + SOLUTIONS, ids=lambda p: p.name)
def test_clean_top_to_bottom_run(path):
    nb = _read(path)
    counts = [c.execution_count for c in nb.cells if c.cell_type == "code" and c.source.strip()]
    assert counts == list(range(1, len(counts) + 1)), f"{path.name}: run `make refresh` (counts {counts})"
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            assert out.output_type != "error", f"{path.name} cell {i} stores an error"
            text = str(out.get("text", "")) + str(out.get("data", {}).get("text/plain", ""))
            assert not MACHINE_PATH.search(text), f"{path.name} cell {i} prints a machine path"
            if out.get("name") == "stderr":
                noise = STDERR_NOISE.search(text)
                assert not noise, f"{path.name} cell {i} stores stderr noise {noise.group(0)!r}: fix it, then `make refresh`"
    first = nb.cells[0]
    assert first.cell_type == "markdown" and re.match(r"# \d{2}[a-z]{0,2} · ", first.source), (
        f"{path.name}: first cell must be the title '# NN · ...'")


@pytest.mark.parametrize("chapter", [c for c in CHAPTERS if not c.name.startswith("00")], ids=lambda p: p.name)
def test_chapter_title_shows_the_posts_chinese_heading(chapter):
    title = _read(chapter).cells[0].source.splitlines()[0]
    assert re.search(r"[\u4e00-\u9fff]", title), f"{chapter.name}: title lacks the post's Chinese heading"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.name)
def test_exercises_pair_up_between_chapter_and_solutions(chapter):
    nb, sol = _read(chapter), _read(_solution_for(chapter))
    prefix = chapter.name.split("_")[0]
    headings = _headings(nb)
    assert len(headings) == len(set(headings)), f"duplicate exercise headings in {chapter.name}"
    assert all(h.split(".")[0] == prefix for h in headings), f"{chapter.name}: ids must start with {prefix}."
    assert set(headings) == set(_headings(sol)), "every exercise needs a worked solution, and only those"
    chapter_checks = _checks(nb)
    solution_checks = _checks(sol)
    assert {c[1] for c in chapter_checks} <= set(headings), "a check() without an 'Exercise' heading"
    assert {c[1] for c in chapter_checks} == {c[1] for c in solution_checks}
    for _, eid, _, rest in chapter_checks:
        assert "strict=True" not in rest, f"{chapter.name}: check('{eid}') must not be strict in a chapter"
    for _, eid, _, rest in solution_checks:
        assert "strict=True" in rest, f"solutions: check('{eid}') must use strict=True"


EXERCISE_HEADING = re.compile(r"^### Exercise [0-9]{2}[a-z]{0,2}\.[0-9]+: \S.* · ★{1,3} · ~[0-9]+ min$")


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.name)
def test_exercise_headings_give_difficulty_and_time(chapter):
    lines = [line for c in _read(chapter).cells if c.cell_type == "markdown"
             for line in c.source.splitlines() if re.match(r"^#{1,6} Exercise ", line)]
    bad = [line for line in lines if not EXERCISE_HEADING.match(line)]
    assert not bad, (f"{chapter.name}: exercise headings must read "
                     f"'### Exercise NN.k: title · ★★ · ~10 min' (★ to ★★★):\n" + "\n".join(bad))


def test_every_registered_exercise_is_used_by_a_chapter():
    used = {c[1] for chapter in CHAPTERS for c in _checks(_read(chapter))}
    registered = set(load_all())
    assert used <= registered, f"check() ids that are not registered: {used - registered}"
    assert registered <= used, f"registered exercises no chapter uses: {registered - used}"


def _stub_namespace(source):
    ns = {"np": np}
    if "torch" in source:
        import torch

        ns["torch"] = torch
    if "tf." in source:
        from utils.core.frameworks import import_tensorflow

        ns["tf"] = import_tensorflow()
    return ns


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.name)
def test_chapter_stubs_are_not_attempted(chapter):
    """A chapter never contains a solution: each stub, run alone, is 'not attempted'."""
    nb = _read(chapter)
    for index, eid, name, rest in _checks(nb):
        stub = nb.cells[index - 1]
        assert stub.cell_type == "code", f"{chapter.name}: exercise {eid} needs a stub cell before its check"
        ns = _stub_namespace(stub.source)
        exec(compile(stub.source, f"{chapter.name}:{eid}", "exec"), ns)
        answer = ns[name] if name != "..." else ...
        framework = re.search(r"framework\s*=\s*[\"'](\w+)[\"']", rest)
        verdict = evaluate(eid, answer, framework.group(1) if framework else "numpy")
        assert verdict.status == "not attempted", f"{chapter.name}: the stub of {eid} is {verdict.status}"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_code_cells_stay_short(chapter):
    """Long algorithms are split across cells with prose between them: the median code cell has at most 10 lines."""
    lengths = [len(c.source.strip().splitlines()) for c in _read(chapter).cells if c.cell_type == "code"]
    assert float(np.median(lengths)) <= 10, (
        f"{chapter.name}: median code cell is {np.median(lengths)} lines (at most 10): split the long cells")
