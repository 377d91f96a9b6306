"""Start JupyterLab for the course (`make lab`): bound to 127.0.0.1, token authentication on.

    python -m tools.lab                        # first free port from 8888, opens a browser if there is one
    python -m tools.lab --port 8899 --no-browser
    python -m tools.lab --notebook workspace/00_setup.ipynb

The server arguments live here, once, so the tests start exactly what `make lab` starts.
Jupyter prints a token only when it generated the token itself, so once the server answers,
this script prints the full login URL (with the real token) on its own.
"""

from __future__ import annotations

import argparse
import os
import queue
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
START_NOTEBOOK = "chapters/00_setup.ipynb"
HOST = "127.0.0.1"


def lab_command(port: int | None = None, open_browser: bool = True, notebook: str | None = None) -> list[str]:
    """The `jupyter lab` command line that `make lab` runs (opening `notebook`, default chapter 00)."""
    cmd = [
        sys.executable, "-m", "jupyterlab", notebook or START_NOTEBOOK,
        f"--ServerApp.ip={HOST}",  # loopback only: nobody else on the network can connect
        f"--ServerApp.root_dir={ROOT}",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--ServerApp.allow_root=True")  # containers and CI run as root; auth is unchanged
    if port is not None:
        cmd += [f"--ServerApp.port={port}", "--ServerApp.port_retries=0"]
    if not open_browser:
        cmd.append("--no-browser")
    return cmd


def server_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for the server: a random token unless JUPYTER_TOKEN is set (never empty)."""
    env = dict(os.environ if env is None else env)
    if not env.get("JUPYTER_TOKEN"):
        # An explicit random token keeps authentication on even if a user config sets token=''.
        env["JUPYTER_TOKEN"] = secrets.token_hex(24)
    return env


def lab_url(port: int, token: str, notebook: str = START_NOTEBOOK) -> str:
    """The URL that opens `notebook` in JupyterLab and logs in with `token`."""
    if not token:
        raise ValueError("lab_url: token is empty; the server never runs without one")
    return f"http://{HOST}:{port}/lab/tree/{notebook}?token={token}"


def free_port(start: int = 8888, tries: int = 100) -> int:
    """The first port from `start` on which nothing listens on 127.0.0.1."""
    for port in range(start, start + tries):
        with socket.socket() as s:
            try:
                s.bind((HOST, port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"free_port: no free port in {start}..{start + tries - 1} on {HOST}")


def wait_until_ready(port: int, token: str, proc: subprocess.Popen, timeout: float = 120.0) -> bool:
    """Poll /api/status with the token until the server answers 200; False if it exits or times out."""
    request = urllib.request.Request(f"http://{HOST}:{port}/api/status",
                                     headers={"Authorization": f"token {token}"})
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(request, timeout=2) as response:
                if response.status == 200:
                    return True
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        time.sleep(0.3)
    return False



LOGIN_URL = re.compile(r"http://127\.0\.0\.1:\d+/lab/\S+token=\S+")


def read_login_url(proc: subprocess.Popen, timeout: float) -> str | None:
    """The login URL a running `python -m tools.lab` prints on its stdout, or None after `timeout` s.

    For callers that start the lab as a child process (the tests): stdout is read on a thread, so a
    silent server cannot block the caller past its deadline.
    """
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            continue
        found = LOGIN_URL.search(line)
        if found:
            return found.group(0)
    return None

def main(argv: list[str] | None = None) -> int:
    """Start the server, print the login URL once it answers, and wait for it to stop."""
    parser = argparse.ArgumentParser(prog="python -m tools.lab", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=None, help="port (default: first free from 8888)")
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser")
    parser.add_argument("--notebook", default=None, help=f"notebook to open (default: {START_NOTEBOOK})")
    args = parser.parse_args(argv)
    notebook = args.notebook or START_NOTEBOOK
    env = server_env()
    token = env["JUPYTER_TOKEN"]
    port = args.port or free_port()
    proc = subprocess.Popen(lab_command(port=port, open_browser=not args.no_browser, notebook=notebook),
                            cwd=ROOT, env=env)
    # Ctrl+C reaches the server too (same process group); it asks to confirm and shuts down.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: proc.terminate())
    if wait_until_ready(port, token, proc):
        print("\n    The course is running. Open this URL in a browser; it logs you in:\n\n"
              f"        {lab_url(port, token, notebook)}\n\n"
              "    Stop the server with Ctrl+C (twice).\n", flush=True)
    return proc.wait()


if __name__ == "__main__":
    sys.exit(main())
