"""`make run`'s server: JupyterLab and Voila behind one login, loopback only, Ctrl-C stops it."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from http_util import free_port, http_get

from workbench.server import jupyter_command

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "test-token-0123456789abcdef0123456789"
GOOD = "g" * 32


def _get(url: str, timeout: float = 60):
    """(status, body) without following redirects."""
    status, _, body = http_get(url, timeout)
    return status, body


def test_never_served_without_a_token_or_beyond_loopback():
    for weak in ("", "x", "y" * 31):
        with pytest.raises(ValueError, match="at least 32 characters"):
            jupyter_command(port=8888, token=weak)
    with pytest.raises(ValueError, match="must be a loopback address"):
        jupyter_command(port=8888, token=GOOD, host="0.0.0.0")
    assert "--ip=127.0.0.1" in jupyter_command(port=8888, token=GOOD)


def test_a_short_token_is_refused_in_one_sentence():
    env = {**os.environ, "WORKBENCH_TOKEN": "secret"}
    result = subprocess.run([sys.executable, "-m", "workbench.server", "--port", "1"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "at least 32 characters" in result.stderr and "secrets.token_hex" in result.stderr


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`make run`'s server on a free port (one preheated kernel per app), once it says "Ready."."""
    port = free_port()
    folder = tmp_path_factory.mktemp("server")
    env = {k: v for k, v in os.environ.items() if k != "WORKBENCH_DB"}
    env.update(WORKBENCH_TOKEN=TOKEN, WORKBENCH_SAMPLE_DB=str(folder / "sample.sqlite"), WORKBENCH_POOL_SIZE="1",
               PYTHONUNBUFFERED="1")
    log = folder / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "workbench.server", "--port", str(port)], cwd=ROOT,
                                env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 600  # a first run fills the sample registry; a cold 2-core machine is slow
    while "\nReady." not in log.read_text(errors="replace"):
        if proc.poll() is not None:
            pytest.fail("server exited early:\n" + log.read_text(errors="replace"))
        if time.time() > deadline:
            proc.kill()
            pytest.fail("server did not say it was ready in 600 s:\n" + log.read_text(errors="replace")[-3000:])
        time.sleep(0.2)
    yield proc, base, env["WORKBENCH_SAMPLE_DB"], log
    if proc.poll() is None:
        proc.kill()


@pytest.mark.slow
def test_it_says_ready_with_the_addresses_only_once_every_app_is(server):
    _, base, _, log = server
    output = log.read_text()
    assert output.index("\nReady.") < output.index(f"token={TOKEN}")  # no address before the apps are ready
    status, body = _get(f"{base}/workbench/status?token={TOKEN}")
    pools = json.loads(body)
    apps = {f"notebooks/apps/{p.name}" for p in (ROOT / "notebooks" / "apps").glob("*.ipynb")}
    assert status == 200 and pools["ready"] is True and set(pools["apps"]) == apps
    assert all(pool == {"size": 1, "ready": 1, "starting": 0} for pool in pools["apps"].values())
    for app in apps:
        assert f"{base}/voila/render/{app}?token={TOKEN}" in output


@pytest.mark.slow
def test_the_token_is_not_on_the_command_line_and_the_registry_is_private(server):
    proc, _, sample_db, _ = server
    cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes().decode()
    assert "jupyterlab" in cmdline and TOKEN not in cmdline  # what `ps` shows everyone
    assert Path(sample_db).stat().st_mode & 0o077 == 0


@pytest.mark.slow
def test_lab_and_voila_behind_one_login(server):
    _, base, _, _ = server
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
    proc, _, _, log = server
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 0
    output = log.read_text()
    assert f"token={TOKEN}" in output and "/voila/render/notebooks/apps/" in output


def test_the_voila_configuration_for_staff():
    cmd = jupyter_command(port=8888, token=GOOD, cull_idle_timeout=30, cull_interval=5, pool_size=2)
    assert "--MappingKernelManager.cull_idle_timeout=30" in cmd
    assert "--MappingKernelManager.cull_interval=5" in cmd
    assert "--MappingKernelManager.cull_connected=False" in cmd  # an open app is never culled
    assert "--WorkbenchKernelManager.pool_size=2" in cmd
    assert "--ServerApp.kernel_manager_class=workbench.voila_config.WorkbenchKernelManager" in cmd
    assert "--VoilaConfiguration.template=workbench" in cmd
    assert "--VoilaConfiguration.allow_template_override=NO" in cmd
    assert "--VoilaConfiguration.show_tracebacks=False" in cmd and "--VoilaConfiguration.strip_sources=True" in cmd
    for bad in ({"cull_idle_timeout": 0}, {"cull_interval": -1}, {"pool_size": -1}, {"pool_size": 1.5}):
        with pytest.raises(ValueError, match=f"{next(iter(bad))}' parameter of jupyter_command"):
            jupyter_command(port=8888, token=GOOD, **bad)


def test_the_apps_language_and_template_reach_the_server_environment():
    from workbench.server import server_environment
    from workbench.voila_config import JUPYTER_DATA

    env = server_environment({"JUPYTER_PATH": "/elsewhere"}, lang="en")
    assert env["WORKBENCH_LANG"] == "en"
    assert env["JUPYTER_PATH"].split(os.pathsep) == [str(JUPYTER_DATA), "/elsewhere"]
    assert server_environment({})["WORKBENCH_LANG"] == "zh"
    with pytest.raises(ValueError, match="must be one of"):
        server_environment({"WORKBENCH_LANG": "fr"})


def test_a_bad_setting_stops_the_command_before_anything_is_prepared():
    env = {k: v for k, v in os.environ.items() if k != "WORKBENCH_DB"}
    for extra, message in (({"WORKBENCH_CULL_IDLE_TIMEOUT": "ten"}, "WORKBENCH_CULL_IDLE_TIMEOUT must be a whole number"),
                           ({"WORKBENCH_POOL_SIZE": "-2"}, "'pool_size' parameter")):
        result = subprocess.run([sys.executable, "-m", "workbench.server", "--port", "1"], cwd=ROOT,
                                env={**env, **extra}, capture_output=True, text=True, timeout=60)
        assert result.returncode == 1 and message in result.stderr
