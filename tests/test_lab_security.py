"""The server `make lab` starts refuses requests without the token and listens on 127.0.0.1 only."""

import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request

import psutil
import pytest

from tools.lab import ROOT, lab_command, server_env

TOKEN = "course-test-token-0123456789"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, token: str | None = None) -> int:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"token {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    port = _free_port()
    env = server_env({**os.environ, "JUPYTER_TOKEN": TOKEN,
                      "JUPYTER_CONFIG_DIR": str(tmp_path_factory.mktemp("jupyter_config")),
                      "JUPYTER_RUNTIME_DIR": str(tmp_path_factory.mktemp("jupyter_runtime"))})
    proc = subprocess.Popen(lab_command(port=port, open_browser=False), cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if _get(f"{base}/api/status", TOKEN) == 200:
                break
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        assert proc.poll() is None, "jupyter lab exited during start-up"
        time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("jupyter lab did not answer within 90 s")
    yield proc, port, base
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def test_request_without_token_is_refused(server):
    _, _, base = server
    assert _get(f"{base}/api/contents") == 403
    assert _get(f"{base}/api/contents", token="wrong-token") == 403


def test_request_with_token_succeeds(server):
    _, _, base = server
    assert _get(f"{base}/api/contents", token=TOKEN) == 200
    with urllib.request.urlopen(f"{base}/api/contents/chapters?token={TOKEN}", timeout=5) as response:
        names = {item["name"] for item in json.load(response)["content"]}
    assert "00_setup.ipynb" in names


def test_listens_on_loopback_only(server):
    proc, port, _ = server
    listening = [c for c in psutil.Process(proc.pid).net_connections(kind="inet")
                 if c.status == psutil.CONN_LISTEN]
    assert listening, "the server has no listening socket"
    assert {c.laddr.ip for c in listening} <= {"127.0.0.1"}, listening
    # and it cannot be reached on any of the machine's other addresses
    others = {a.address for addrs in psutil.net_if_addrs().values() for a in addrs
              if a.family == socket.AF_INET and not a.address.startswith("127.")}
    for address in others:
        with socket.socket() as s:
            s.settimeout(1)
            assert s.connect_ex((address, port)) != 0, f"reachable on {address}:{port}"


def test_make_lab_never_starts_without_a_token():
    env = server_env({"JUPYTER_TOKEN": ""})
    assert len(env["JUPYTER_TOKEN"]) >= 32
    assert "--ServerApp.ip=127.0.0.1" in lab_command()
