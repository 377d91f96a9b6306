"""Browser tests of the course website and of JupyterLab, in a real Chromium (`make test-browser`).

They run only when COURSE_BROWSER_TESTS=1 (`make test-browser` sets it, and installs Playwright for
Python into .venv-site); a plain `pytest tests` collects nothing here. Playwright drives the system's
Chromium (COURSE_CHROMIUM, default /usr/bin/chromium) and never downloads a browser of its own.
Without a Chromium every test skips and says how to install one. Screenshots go to
build/browser-shots/.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import socket
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "build" / "browser-shots"
SITE = ROOT / "build" / "site"
CHROMIUM = os.environ.get("COURSE_CHROMIUM", "/usr/bin/chromium")
INSTALL_HINT = ("no Chromium at {path}: install one with `sudo apt-get install -y chromium chromium-driver "
                "fonts-noto-color-emoji fonts-noto-cjk` (Debian/Ubuntu), or set COURSE_CHROMIUM to a "
                "Chromium or Chrome binary")
# Flags for a headless Chromium on a machine without a display or a network (and as root in CI).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]

if os.environ.get("COURSE_BROWSER_TESTS") != "1":
    collect_ignore_glob = ["test_*.py"]


def free_port() -> int:
    """A port nothing listens on, on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def browser():
    """The system Chromium, headless, driven by Playwright."""
    chromium = shutil.which(CHROMIUM) or CHROMIUM
    if not Path(chromium).is_file():
        pytest.skip(INSTALL_HINT.format(path=CHROMIUM))
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("Playwright for Python is missing: `make test-browser` installs requirements-browser.txt")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def shots() -> Path:
    """The folder for screenshots (git-ignored)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest's output readable
        pass


@pytest.fixture(scope="session")
def site_url():
    """build/site served over HTTP on a free loopback port (as GitHub Pages would serve it)."""
    if not (SITE / "index.html").is_file():
        pytest.fail("build/site is missing: run `make site` first (`make test-browser` does)")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()),
                                             functools.partial(_QuietHandler, directory=str(SITE)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
