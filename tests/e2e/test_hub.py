"""The multi-staff set-up end to end (issue 14): JupyterHub (deploy/jupyterhub_config.py) in front
of a PostgreSQL registry reached over its Unix socket with peer authentication.

One module-wide hub: a throw-away cluster (tests/pg_server.py, ``peer=True``), migrated, with two
counsellors (A and B, disjoint caseloads of urgent residents screened today) and an analyst added
by ``deploy/add-staff`` (OS account, registry user, database role), and the hub on free loopback
ports. The tests sign in through the hub's login page in Chromium, as staff would, and use plain
SQL as a counsellor's own OS account (``runuser -u A -- psql``). OS accounts and their group are
removed at teardown. Runs as root (it creates OS accounts), like the CI.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from conftest import REPO, TIMEOUT
from http_util import free_port, http_get

pytestmark = pytest.mark.slow

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS))
from pg_server import PostgresServer  # noqa: E402

DEPLOY = REPO / "deploy"
#: Residents of each counsellor's caseload (disjoint).
CASELOADS = {"a": ["HUBA01", "HUBA02"], "b": ["HUBB01", "HUBB02"]}


def _resident(rid: str) -> dict:
    return {"resident_id": rid, "sex": "female", "birth_date": "1950-03-02", "community": "urban-01",
            "lives_alone": "false", "hypertension": "true", "diabetes": "false", "chd": "false", "stroke": "false",
            "copd": "false", "asthma": "false", "name": f"Name {rid}", "phone": "139"}


def _urgent_screening(rid: str) -> pd.DataFrame:
    """A screening today with a self-harm answer: the resident is urgent on their counsellor's list."""
    row = {"resident_id": rid, "assessed_on": dt.date.today().isoformat(), "submission_id": f"hub-{rid}",
           "language": "zh", "mode": "interviewer", **{f"phq9_{n}": 1 for n in range(1, 9)}, "phq9_9": 2}
    return pd.DataFrame([row])


class Hub:
    def __init__(self, base: str, pg: PostgresServer, dbname: str, logins: dict, passwords: dict, log: Path,
                 process: subprocess.Popen):
        self.base, self.pg, self.dbname, self.logins, self.passwords = base, pg, dbname, logins, passwords
        self.log_path, self.process = log, process

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    @property
    def owner_url(self) -> str:
        return self.pg.url_for(self.dbname)

    def as_os_user(self, login: str, code: str) -> subprocess.CompletedProcess:
        """Python ``code`` run as the OS account ``login`` with the staff servers' registry URL."""
        env = {"PATH": os.environ["PATH"], "WORKBENCH_DB": self.pg.url_for(self.dbname, user=""),
               "HOME": f"/home/{login}"}
        return subprocess.run(["runuser", "-u", login, "--", sys.executable, "-c", code], env=env, cwd="/",
                              capture_output=True, text=True, timeout=TIMEOUT)

    def psql(self, login: str, query: str) -> subprocess.CompletedProcess:
        """``query`` through psql, connecting as the OS account ``login`` (peer authentication)."""
        psql = shutil.which("psql") or str(self.pg.bin_dir / "psql")
        return subprocess.run(["runuser", "-u", login, "--", psql, "-X", "-At", "-h", str(self.pg.socket_dir),
                               "-p", str(self.pg.port), "-d", self.dbname, "-c", query],
                              cwd="/", capture_output=True, text=True, timeout=TIMEOUT)


def _wait(condition, what: str, timeout: float = TIMEOUT, hub: Hub | None = None):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if hub is not None and hub.process.poll() is not None:
            pytest.fail(f"the hub exited with {hub.process.returncode} while waiting for {what}:\n{hub.log()[-5000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout} s" + (f"\n{hub.log()[-5000:]}" if hub else ""))
        time.sleep(0.3)


def _closed_folders() -> list[Path]:
    """Folders other OS accounts cannot pass through on the way to the interpreter or the
    repository (e.g. /root, when Python is pyenv's under /root)."""
    closed = []
    for target in (Path(sys.executable).resolve(), REPO):
        for folder in reversed(target.parents):
            if not os.stat(folder).st_mode & 0o001 and folder not in closed:
                closed.append(folder)
    return closed


def _answers(url: str) -> bool:
    try:
        return http_get(url, 10)[0] == 200
    except OSError:  # not listening yet
        return False


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("the hub test creates OS accounts: it runs as root (as in CI)")
    if not shutil.which("configurable-http-proxy"):
        pytest.fail("configurable-http-proxy is missing: `make test` installs Debian's node-configurable-http-proxy "
                    "(scripts/debian-packages.txt)")
    from workbench.hub import add_staff
    from workbench.registry.store import Registry

    began = time.monotonic()
    tag = secrets.token_hex(3)
    group = f"wbt_{tag}"
    logins = {"a": f"wbt_a_{tag}", "b": f"wbt_b_{tag}", "analyst": f"wbt_n_{tag}"}
    passwords = {key: secrets.token_urlsafe(12) for key in logins}
    state = tmp_path_factory.mktemp("hub")
    pg = PostgresServer(peer=True)
    process = None
    opened: list[Path] = []
    try:
        dbname = pg.create_database()
        registry = Registry(pg.url_for(dbname))  # as root: the owner (the superuser of this cluster)
        registry.init()
        for key, role in (("a", "counsellor"), ("b", "counsellor"), ("analyst", "analyst")):
            add_staff(logins[key], role, registry_url=pg.url_for(dbname), by="admin", password=passwords[key],
                      group=group)
        for folder in _closed_folders():  # the staff accounts (only they) may pass through, until teardown
            for login in logins.values():
                subprocess.run(["setfacl", "-m", f"u:{login}:x", str(folder)], check=True)
            opened.append(folder)
        registry.import_residents(pd.DataFrame([_resident(r) for rids in CASELOADS.values() for r in rids]),
                                  by="admin")
        for key, rids in CASELOADS.items():
            for rid in rids:
                assert registry.save_screening(_urgent_screening(rid), by="admin").written
            registry.assign_caseload(logins[key], rids, by="admin")
        registry.engine.dispose()

        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("WORKBENCH_", "JUPYTER"))}
        env.update(WORKBENCH_DB=pg.url_for(dbname, user=""), WORKBENCH_HUB_DB=pg.url_for(dbname),
                   WORKBENCH_HUB_IP="127.0.0.1", WORKBENCH_HUB_PORT=str(port),
                   WORKBENCH_HUB_INTERNAL_PORT=str(free_port()), WORKBENCH_HUB_PROXY_API_PORT=str(free_port()),
                   WORKBENCH_HUB_STATE=str(state / "state"), WORKBENCH_HUB_GROUP=group, WORKBENCH_LANG="en",
                   WORKBENCH_POOL_SIZE="0")
        log = state / "hub.log"
        with log.open("wb") as out:
            process = subprocess.Popen([str(Path(sys.executable).with_name("jupyterhub")), "-f",
                                        str(DEPLOY / "jupyterhub_config.py")],
                                       cwd=state, env=env, stdout=out, stderr=subprocess.STDOUT,
                                       start_new_session=True)
        running = Hub(f"http://127.0.0.1:{port}", pg, dbname, logins, passwords, log, process)
        _wait(lambda: _answers(f"{running.base}/hub/api/"), "the hub answering", hub=running)
        print(f"\nhub ready {time.monotonic() - began:.1f} s after the fixture began", file=sys.stderr)
        yield running
    finally:
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)  # the hub stops the proxy and the staff servers
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        for login in logins.values():
            for folder in opened:
                subprocess.run(["setfacl", "-x", f"u:{login}", str(folder)], capture_output=True)
            subprocess.run(["pkill", "-KILL", "-u", login], capture_output=True)  # whatever a staff server left
            subprocess.run(["userdel", "--remove", login], capture_output=True)
        subprocess.run(["groupdel", group], capture_output=True)
        pg.stop()


@pytest.fixture
def sign_in(hub, browser):
    """``sign_in(key)``: a page signed in through the hub's login form as that staff member."""
    contexts = []

    def sign_in(key: str):
        context = browser.new_context()
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(TIMEOUT * 1000)
        page.goto(f"{hub.base}/hub/login")
        page.fill("#username_input", hub.logins[key])
        page.fill("#password_input", hub.passwords[key])
        page.click("#login_submit")
        return page

    yield sign_in
    for context in contexts:
        context.close()


def _wait_for_url(hub: Hub, page, pattern: str) -> None:
    """Wait until the page is at ``pattern``; else fail with where it is, what it says and the hub's log."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_url(re.compile(pattern), timeout=TIMEOUT * 1000)
    except PlaywrightTimeout:
        pytest.fail(f"the page did not reach {pattern} within {TIMEOUT} s: it is at {page.url}, saying\n"
                    f"{page.inner_text('body')[:2000]}\n--- hub log ---\n{hub.log()[-6000:]}")


def _server_status(page, path: str) -> int:
    return page.request.get(page.url.split("/user/")[0] + path, max_redirects=0).status


def test_counsellors_sign_in_and_see_only_their_caseload_in_the_apps(hub, sign_in):
    for key, other in (("a", "b"), ("b", "a")):
        began = time.monotonic()
        page = sign_in(key)
        _wait_for_url(hub, page, rf"/user/{hub.logins[key]}/voila/render/notebooks/apps/caseload\.ipynb")
        for rid in CASELOADS[key]:
            page.wait_for_selector(f"tr.wb-alert:has-text('{rid}')")
        text = page.inner_text("body")
        assert not [rid for rid in CASELOADS[other] if rid in text], text
        assert hub.logins[key] in hub.log()
        print(f"\n{key}: signed in and saw the caseload in {time.monotonic() - began:.1f} s", file=sys.stderr)
        # the staff server is Voila only: no JupyterLab, no terminals, no file changes
        user = f"/user/{hub.logins[key]}"
        assert _server_status(page, f"{user}/lab") == 404
        assert _server_status(page, f"{user}/api/terminals") == 404
        written = page.evaluate("""async (url) => {
            const xsrf = (document.cookie.match(/_xsrf=([^;]+)/) || [])[1] || "";
            const r = await fetch(url, {method: "PUT", headers: {"X-XSRFToken": xsrf, "Content-Type": "application/json"},
                                        body: JSON.stringify({type: "file", format: "text", content: "x"})});
            return r.status; }""", f"{user}/api/contents/notebooks/apps/planted.txt")
        assert written == 403
        assert not (REPO / "notebooks" / "apps" / "planted.txt").exists()


def test_an_analyst_gets_jupyterlab(hub, sign_in):
    page = sign_in("analyst")
    _wait_for_url(hub, page, rf"/user/{hub.logins['analyst']}/lab")
    page.wait_for_selector(".jp-LabShell", timeout=TIMEOUT * 1000)


def test_plain_sql_as_a_counsellor_cannot_read_the_other_caseloads_answers_until_approved(hub):
    a, b = hub.logins["a"], hub.logins["b"]
    mine, theirs = CASELOADS["a"][0], CASELOADS["b"][0]
    query = "SELECT DISTINCT resident_id FROM assessments WHERE resident_id IN ('{}', '{}') ORDER BY 1"
    seen = hub.psql(a, query.format(mine, theirs))
    assert seen.returncode == 0, seen.stderr
    assert seen.stdout.split() == [mine]  # A's own resident's answers, never B's
    # B approves A's access to one of B's residents, through the registry API, as B's own OS account
    approved = hub.as_os_user(b, f"from workbench.registry.store import Registry\n"
                                 f"Registry().approve_access({a!r}, {theirs!r}, by={b!r}, reason='covering a visit')")
    assert approved.returncode == 0, approved.stderr
    read = hub.as_os_user(a, f"from workbench.registry.store import Registry\n"
                             f"print(sorted(set(Registry().assessments(as_user={a!r}, resident_ids=[{theirs!r}])"
                             f"['resident_id'])))")
    assert read.returncode == 0, read.stderr
    assert read.stdout.strip() == repr([theirs])
    seen = hub.psql(a, query.format(mine, theirs))
    assert seen.stdout.split() == [mine, theirs], seen.stderr
    # the approval and A's read are in the audit log
    with hub.pg.connect(hub.dbname) as conn:
        rows = conn.execute("SELECT user_name, action, details FROM audit_log WHERE action IN "
                            "('approve_access', 'read_answers') ORDER BY entry_id").fetchall()
    actions = [(user, action) for user, action, _ in rows]
    assert (b, "approve_access") in actions
    reads = [json.loads(d) if isinstance(d, str) else d for user, action, d in rows
             if (user, action) == (a, "read_answers")]
    assert any(theirs in (details.get("residents") or []) for details in reads), rows
