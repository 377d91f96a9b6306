"""The server `make lab` starts prints a URL that logs in, refuses requests without the token and
listens on 127.0.0.1 only."""

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request

import psutil
import pytest

from tools.lab import ROOT, lab_command, lab_url, read_login_url, server_env

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
    """`make lab`'s own entry point, `python -m tools.lab`, on a free port without a browser."""
    port = _free_port()
    env = {**os.environ, "JUPYTER_TOKEN": TOKEN,
           "JUPYTER_CONFIG_DIR": str(tmp_path_factory.mktemp("jupyter_config")),
           "JUPYTER_RUNTIME_DIR": str(tmp_path_factory.mktemp("jupyter_runtime"))}
    proc = subprocess.Popen([sys.executable, "-m", "tools.lab", "--port", str(port), "--no-browser"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, start_new_session=True)
    url = read_login_url(proc, timeout=90)
    if url is None:
        os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail("`python -m tools.lab` printed no login URL within 90 s")
    yield proc, port, f"http://127.0.0.1:{port}", url
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def test_printed_url_carries_the_real_token_and_logs_in(server):
    _, port, base, url = server
    assert url == lab_url(port, TOKEN), url
    assert "..." not in url
    with urllib.request.urlopen(url, timeout=10) as response:  # the page a learner opens
        assert response.status == 200
        assert "/login" not in response.url, response.url
    token = url.split("token=", 1)[1]
    assert _get(f"{base}/api/contents", token=token) == 200


def test_lab_url_refuses_an_empty_token():
    with pytest.raises(ValueError, match="token"):
        lab_url(8888, "")


def test_request_without_token_is_refused(server):
    _, _, base, _ = server
    assert _get(f"{base}/api/contents") == 403
    assert _get(f"{base}/api/contents", token="wrong-token") == 403


def test_request_with_token_succeeds(server):
    _, _, base, _ = server
    assert _get(f"{base}/api/contents", token=TOKEN) == 200
    with urllib.request.urlopen(f"{base}/api/contents/chapters?token={TOKEN}", timeout=5) as response:
        names = {item["name"] for item in json.load(response)["content"]}
    assert "00_setup.ipynb" in names


def test_listens_on_loopback_only(server):
    proc, port, _, _ = server
    family = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
    listening = [c for p in family for c in p.net_connections(kind="inet")
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
