"""The notebook harness can fail: a copy of a chapter with one stored number altered fails nbval."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "chapters" / "00_setup.ipynb"
NBVAL_ARGS = ["--nbval", "--nbval-current-env", "--nbval-sanitize-with", str(ROOT / "tests" / "nbval_sanitize.cfg")]


def _alter_one_stored_number(nb: dict) -> str:
    """Change the first printed weight (e.g. 0.2039 -> 0.2040) in a compared cell; return the new text."""
    for cell in nb["cells"]:
        if cell["cell_type"] != "code" or "NBVAL_IGNORE_OUTPUT" in "".join(cell["source"]):
            continue
        for out in cell.get("outputs", []):
            text = "".join(out.get("text", ""))
            match = re.search(r"0\.\d{4}", text)
            if out.get("name") == "stdout" and match:
                old = match.group(0)
                new = f"{float(old) + 0.0001:.4f}"
                out["text"] = text.replace(old, new, 1)
                return new
    raise AssertionError("no stored number found to alter")


def test_altered_output_fails_nbval(tmp_path):
    copy = tmp_path / NOTEBOOK.name
    nb = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    new = _alter_one_stored_number(nb)
    copy.write_text(json.dumps(nb), encoding="utf-8")
    shutil.copy(ROOT / "conftest.py", tmp_path / "conftest.py")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *NBVAL_ARGS, str(copy)],
        capture_output=True, text=True, cwd=tmp_path, timeout=600,
    )
    assert result.returncode == 1, result.stdout[-2000:]
    assert "1 failed" in result.stdout and new in result.stdout, result.stdout[-2000:]
