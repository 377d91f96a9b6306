"""Start JupyterLab for the course (`make lab`): bound to 127.0.0.1, token authentication on.

The server arguments live here, once, so the security test starts exactly what `make lab` starts.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
START_NOTEBOOK = "chapters/00_setup.ipynb"


def lab_command(port: int | None = None, open_browser: bool = True) -> list[str]:
    """The `jupyter lab` command line that `make lab` runs."""
    cmd = [
        sys.executable, "-m", "jupyterlab", START_NOTEBOOK,
        "--ServerApp.ip=127.0.0.1",  # loopback only: nobody else on the network can connect
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


def main() -> None:
    """Replace this process with JupyterLab."""
    os.chdir(ROOT)
    cmd = lab_command()
    os.execve(cmd[0], cmd, server_env())


if __name__ == "__main__":
    main()
