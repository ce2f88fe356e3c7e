"""`make run`'s server: JupyterLab and Voila behind one login, loopback only, Ctrl-C stops it."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from workbench.server import jupyter_command

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "test-token-0123456789"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, timeout: float = 60):
    """(status, body) without following redirects."""
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(url, timeout=timeout) as resp:
            return resp.status, resp.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as err:
        return err.code, ""


def test_never_served_without_a_token_or_beyond_loopback():
    with pytest.raises(ValueError, match="never served without authentication"):
        jupyter_command(port=8888, token="")
    with pytest.raises(ValueError, match="must be a loopback address"):
        jupyter_command(port=8888, token="x", host="0.0.0.0")
    assert "--ip=127.0.0.1" in jupyter_command(port=8888, token="x")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "WORKBENCH_DB"}
    env.update(WORKBENCH_TOKEN=TOKEN, WORKBENCH_SAMPLE_DB=str(tmp_path_factory.mktemp("reg") / "sample.sqlite"))
    proc = subprocess.Popen([sys.executable, "-m", "workbench.server", "--port", str(port)], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while time.time() < deadline:
        if proc.poll() is not None:
            pytest.fail("server exited early:\n" + proc.stdout.read())
        try:
            if _get(f"{base}/api/status?token={TOKEN}", timeout=2)[0] == 200:
                break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("server did not start in 90 s")
    yield proc, base, env["WORKBENCH_SAMPLE_DB"]
    if proc.poll() is None:
        proc.kill()


@pytest.mark.slow
def test_lab_and_voila_behind_one_login(server):
    _, base, _ = server
    assert _get(f"{base}/lab/tree/notebooks?token={TOKEN}")[0] == 200
    assert _get(f"{base}/api/contents/notebooks")[0] == 403
    assert _get(f"{base}/lab")[0] == 302  # to the login page
    status, _ = _get(f"{base}/voila/render/notebooks/01_screening.ipynb")
    assert status in (302, 403)
    status, body = _get(f"{base}/voila/render/notebooks/01_screening.ipynb?token={TOKEN}", timeout=180)
    assert status == 200 and "voila" in body.lower()


@pytest.mark.slow
def test_the_sample_registry_is_filled_on_first_run(server):
    from workbench.registry.store import Registry
    from workbench.sample import SAMPLE_N

    registry = Registry(server[2])
    assert len(registry.residents(as_user="admin")) == SAMPLE_N
    assert registry.verify_audit().ok


@pytest.mark.slow
def test_one_ctrl_c_stops_it_cleanly(server):
    proc, _, _ = server
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 0
    output = proc.stdout.read()
    assert f"token={TOKEN}" in output and "/voila/render/notebooks/apps/" in output
