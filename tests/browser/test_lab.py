"""JupyterLab in Chromium, started exactly as `make lab` starts it: log in through the printed URL,
run chapter 00, answer its exercise right and wrong, and move chapter 06's widget.

`make lab` runs in a scratch copy of the checkout (Makefile, tools/, chapters/, the requirements
files, with .venv linked), so neither JupyterLab's autosave nor the typed answers can touch the
notebooks in the tree. JupyterLab's user settings and workspaces go to temporary folders too
(autosave off, no news prompt, every cell attached to the page).
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tools.lab import read_login_url

ROOT = Path(__file__).resolve().parents[2]
LAB_SETTINGS = {
    "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
}
CORRECT = ("def stable_softmax(x: np.ndarray) -> np.ndarray:\n"
           "    z = x - np.max(x, axis=-1, keepdims=True)\n"
           "    e = np.exp(z)\n"
           "    return e / np.sum(e, axis=-1, keepdims=True)\n")
WRONG = ("def stable_softmax(x: np.ndarray) -> np.ndarray:\n"
         "    e = np.exp(x)  # no max subtracted: overflows for large inputs\n"
         "    return e / np.sum(e, axis=-1, keepdims=True)\n")
RUN_TIMEOUT_S = int(os.environ.get("COURSE_LAB_TIMEOUT_S", 420))




def _scratch_checkout(dest: Path) -> Path:
    """The files `make lab` uses, copied to `dest` (mtimes kept, so make sees .venv as current)."""
    for name in ("Makefile", "requirements.txt", "pyproject.toml"):
        shutil.copy2(ROOT / name, dest / name)
    shutil.copytree(ROOT / "tools", dest / "tools", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "chapters", dest / "chapters", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    (dest / ".venv").symlink_to(ROOT / ".venv", target_is_directory=True)
    return dest


@pytest.fixture(scope="module")
def lab(browser, tmp_path_factory):
    """`make lab` on a free port, and a browser context; yields (context, printed URL, checkout)."""
    from conftest import free_port  # tests/browser/conftest.py

    settings = tmp_path_factory.mktemp("lab_settings")
    for plugin, values in LAB_SETTINGS.items():
        path = settings / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    checkout = _scratch_checkout(tmp_path_factory.mktemp("checkout"))
    env = {**os.environ, "JUPYTERLAB_SETTINGS_DIR": str(settings),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path_factory.mktemp("lab_workspaces")),
           "JUPYTER_RUNTIME_DIR": str(tmp_path_factory.mktemp("jupyter_runtime"))}
    env.pop("JUPYTER_TOKEN", None)
    proc = subprocess.Popen(["make", "--no-print-directory", "lab", f"LAB_ARGS=--port {free_port()} --no-browser"],
                            cwd=checkout, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, start_new_session=True)
    try:
        start = time.perf_counter()
        url = read_login_url(proc, timeout=180)
        assert url, "`make lab` printed no login URL within 180 s"
        print(f"\nmake lab: login URL printed after {time.perf_counter() - start:.1f} s")
        assert url.split("?")[0].endswith("/lab/tree/chapters/00_setup.ipynb"), url
        context = browser.new_context(viewport={"width": 1440, "height": 900})
        yield context, url, checkout
        context.close()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


CELLS = ".jp-NotebookPanel .jp-Notebook .jp-Cell"


def _open(context, url: str, n_cells: int):
    """A new page on `url`, once the notebook shows all its `n_cells` cells."""
    for old in context.pages:
        old.close()
    page = context.new_page()
    start = time.perf_counter()
    page.goto(url)
    page.wait_for_function(f"document.querySelectorAll('{CELLS}').length === {n_cells}", timeout=120_000)
    page.locator("#jp-main-statusbar").get_by_text(re.compile(r"\bIdle\b")).first.wait_for(timeout=120_000)
    print(f"\n{url.split('?')[0].rsplit('/', 1)[-1]}: cells shown and kernel idle after "
          f"{time.perf_counter() - start:.1f} s")
    return page, page.locator(CELLS)


def _prompts(cells) -> list[str]:
    return cells.evaluate_all("cs => cs.map(c => c.classList.contains('jp-CodeCell') ? "
                              "(c.querySelector('.jp-InputArea-prompt')?.textContent || '').trim() : null)")


def _wait_executed(page, indices: list[int], timeout_s: float = RUN_TIMEOUT_S) -> None:
    """Wait until each code cell in `indices` shows an execution count, [n]:."""
    page.wait_for_function(
        """idx => { const cs = document.querySelectorAll(
                '.jp-NotebookPanel .jp-Notebook .jp-Cell');
            return idx.every(i => /^\\[\\d+\\]:$/.test(
                (cs[i].querySelector('.jp-InputArea-prompt')?.textContent || '').trim())); }""",
        arg=indices, timeout=timeout_s * 1000, polling=1000)


@pytest.fixture(scope="module")
def chapter00(lab, shots):
    """Chapter 00 opened through the printed URL and run with Run > Run All Cells."""
    context, url, checkout = lab
    nb = json.loads((checkout / "chapters" / "00_setup.ipynb").read_text(encoding="utf-8"))
    page, cells = _open(context, url, len(nb["cells"]))
    page.screenshot(path=shots / "lab_00_opened.png")
    page.locator(".lm-MenuBar-item", has_text=re.compile(r"^Run$")).click()
    page.screenshot(path=shots / "lab_00_run_menu.png")
    page.locator(".lm-Menu-item", has_text=re.compile(r"^Run All Cells")).first.click()
    code = [i for i, p in enumerate(_prompts(cells)) if p is not None]
    start = time.perf_counter()
    _wait_executed(page, code)
    print(f"\nchapter 00: Run All took {time.perf_counter() - start:.0f} s")
    return page, cells


def test_chapter_00_runs_without_error_output(chapter00, shots):
    page, cells = chapter00
    prompts = [p for p in _prompts(cells) if p is not None]
    assert prompts == [f"[{n}]:" for n in range(1, len(prompts) + 1)], prompts
    errors = page.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')
    texts = errors.all_text_contents()
    page.screenshot(path=shots / "lab_00_after_run_all.png")
    assert not texts, f"error or stderr output in chapter 00: {texts}"
    assert "Traceback" not in page.locator(".jp-Notebook").inner_text()


def _answer(page, cells, code: str) -> str:
    """Type `code` into the stub of exercise 00.1, run it and its check cell; return the check's output."""
    sources = cells.evaluate_all("cs => cs.map(c => c.querySelector('.cm-content')?.textContent || '')")
    stub = next(i for i, s in enumerate(sources) if s.startswith("def stable_softmax"))
    assert 'check("00.1"' in sources[stub + 1], sources[stub + 1]
    editor = cells.nth(stub).locator(".cm-content")
    editor.click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(code)
    assert cells.nth(stub).locator(".cm-content").inner_text().strip().startswith("def stable_softmax")
    before = cells.nth(stub + 1).locator(".jp-InputArea-prompt").inner_text()
    page.keyboard.press("Shift+Enter")  # run the stub; the check cell is selected next
    page.keyboard.press("Shift+Enter")  # run the check
    output = cells.nth(stub + 1).locator(".jp-OutputArea")
    page.wait_for_function(
        """([i, before]) => { const c = document.querySelectorAll(
                '.jp-NotebookPanel .jp-Notebook .jp-Cell')[i];
            const p = c.querySelector('.jp-InputArea-prompt').textContent.trim();
            return /^\\[\\d+\\]:$/.test(p) && p !== before; }""",
        arg=[stub + 1, before.strip()], timeout=120_000)
    output.scroll_into_view_if_needed()
    return output.inner_text()


def test_exercise_00_1_correct_answer_gets_a_tick(chapter00, shots):
    page, cells = chapter00
    text = _answer(page, cells, CORRECT)
    page.screenshot(path=shots / "lab_00_exercise_correct.png")
    assert "✅" in text and "❌" not in text, text


def test_exercise_00_1_wrong_answer_gets_a_cross_and_a_hint(chapter00, shots):
    page, cells = chapter00
    text = _answer(page, cells, WRONG)
    page.screenshot(path=shots / "lab_00_exercise_wrong.png")
    assert "❌" in text and "✅" not in text, text
    assert re.search(r"hint", text, re.I), text


def _names(cell_source: str) -> tuple[set[str], set[str]]:
    """(names a cell binds at top level, names it reads from the notebook's globals)."""
    code = "\n".join(line for line in cell_source.splitlines() if not line.lstrip().startswith(("%", "!")))
    tree = ast.parse(code)
    bound, used = set(), set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
            local = {a.arg for a in ast.walk(node) if isinstance(a, ast.arg)}
            local |= {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
            used |= {n.id for n in ast.walk(node) if isinstance(n, ast.Name)
                     and isinstance(n.ctx, ast.Load) and n.id not in local}
            continue
        in_comprehension = {t.id for c in ast.walk(node) if isinstance(c, ast.comprehension)
                            for t in ast.walk(c.target) if isinstance(t, ast.Name)}
        for n in ast.walk(node):
            if isinstance(n, ast.Name) and n.id in in_comprehension:
                continue  # a comprehension's own variable
            if isinstance(n, (ast.Import, ast.ImportFrom)):
                bound |= {(a.asname or a.name).split(".")[0] for a in n.names}
            elif isinstance(n, ast.Name):
                (bound if isinstance(n.ctx, ast.Store) else used).add(n.id)
            elif isinstance(n, (ast.Subscript, ast.Attribute)) and isinstance(n.ctx, ast.Store):
                base = n.value
                while isinstance(base, (ast.Subscript, ast.Attribute)):
                    base = base.value
                if isinstance(base, ast.Name):
                    bound.add(base.id)  # d[k] = ... changes d
    return bound, used


def cells_needed_for(nb: dict, target: int) -> list[int]:
    """The code cells before `target` that define what it reads, directly or through other cells."""
    needed = _names("".join(nb["cells"][target]["source"]))[1]
    chosen = [target]
    for i in range(target - 1, -1, -1):
        cell = nb["cells"][i]
        if cell["cell_type"] != "code":
            continue
        bound, used = _names("".join(cell["source"]))
        if bound & needed:
            chosen.append(i)
            needed |= used
    return sorted(chosen)


def test_chapter_06_widget_renders_and_redraws(lab, shots):
    context, url, checkout = lab
    nb = json.loads((checkout / "chapters" / "06_applications.ipynb").read_text(encoding="utf-8"))
    target = next(i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code"
                  and re.search(r"widgets\.(interact|interactive)\b", "".join(c["source"])))
    run = cells_needed_for(nb, target)
    page, cells = _open(context, url.replace("chapters/00_setup.ipynb", "chapters/06_applications.ipynb")
                        + "&reset", len(nb["cells"]))
    start = time.perf_counter()
    for i in run:  # select each cell by its prompt and run it in place (Ctrl+Enter)
        cells.nth(i).locator(".jp-InputArea-prompt").click()
        page.keyboard.press("Control+Enter")
    try:
        _wait_executed(page, run)
    finally:
        page.screenshot(path=shots / "lab_06_after_running.png")
    errors = [t for i in run for t in cells.nth(i).locator(
        '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]').all_text_contents()
        if "Traceback" in t or "Error" in t]
    assert not errors, errors
    print(f"\nchapter 06: ran {len(run)} of {sum(c['cell_type'] == 'code' for c in nb['cells'])} "
          f"code cells for the widget in {time.perf_counter() - start:.0f} s")
    widget = cells.nth(target).locator(".jp-OutputArea .widget-slider").first
    widget.wait_for(timeout=60_000)
    figure = cells.nth(target).locator(".jp-OutputArea img").first
    figure.wait_for(timeout=60_000)
    widget.scroll_into_view_if_needed()
    page.screenshot(path=shots / "lab_06_widget_before.png")
    before = figure.get_attribute("src")
    handle = cells.nth(target).locator(".widget-slider .noUi-handle").first
    handle.click()
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    page.wait_for_function(
        """([i, before]) => { const c = document.querySelectorAll(
                '.jp-NotebookPanel .jp-Notebook .jp-Cell')[i];
            const img = c.querySelector('.jp-OutputArea img');
            return img && img.complete && img.naturalWidth > 0 && img.src !== before; }""",
        arg=[target, before], timeout=60_000)
    readout = cells.nth(target).locator(".widget-slider .widget-readout").first.inner_text()
    page.screenshot(path=shots / "lab_06_widget_after.png")
    assert readout.strip() == "3", readout
