"""End-to-end harness: the real workbench server and headless Chromium.

Fixtures
--------
- ``server`` (session): ``python -m workbench.server`` on a free loopback port with a token, serving
  a temporary root laid out like the repository: the repository's staff apps and the fixture
  notebooks of ``tests/e2e/fixtures`` as ``notebooks/apps/*.ipynb`` (preheated), and the fixtures
  again as ``notebooks/cold/*.ipynb`` (not preheated).
  ``WORKBENCH_DB`` is a copy of the sample registry in a temporary folder, so a test may check what
  an app saved. Kernels of closed tabs are culled after :data:`CULL_IDLE_TIMEOUT` seconds. Its
  output goes to a log file: ``server.log()``, ``server.log_mark()`` / ``server.log_since(mark)``,
  ``server.wait_for_log(text)``. Its apps act as counsellor Li (``WORKBENCH_USER``, as ``make run``
  sets it); ``analyst_server`` (session, started on first use) serves the staff apps on the same
  registry acting as analyst Zhou. To serve the real apps, copy them in with ``server.add_app(path)``
  (they are then rendered without a preheated kernel, which only notebooks present at start get).
- ``browser`` (session): Debian's Chromium driven by Playwright (``/usr/bin/chromium``, headless).
- ``open_app`` (function): ``open_app(name, lang=None, ...)`` opens ``/voila/render/<folder>/<name>.ipynb``
  with the token in a fresh browser context and returns an :class:`App` once Voila has rendered the
  notebook and its widgets are on the page; every request to a host other than the server's is
  aborted and recorded in ``app.external_requests``. ``app.problems()`` lists console errors, page
  errors and visible error or traceback text. Contexts are closed at the end of the test.

Tests that use the server or the browser are marked ``slow`` (``make test`` still runs them).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from http_util import free_port, http_get

REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
#: The repository's staff apps, served (and preheated) beside the fixtures.
REAL_APPS = sorted((REPO / "notebooks" / "apps").glob("*.ipynb"))
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-dev-shm-usage"]
#: Short culling for the tests (the server's default is 600 s).
#: Who the servers' apps act as: the session server is counsellor Li's, ``analyst_server`` analyst Zhou's.
COUNSELLOR, ANALYST = "counsellor_li", "analyst_zhou"
CULL_IDLE_TIMEOUT = 4
CULL_INTERVAL = 1
#: Seconds any browser wait may take: generous, for a cold 2-core machine with other work running.
#: Every wait is for a condition, so a fast machine never waits this long.
TIMEOUT = 120
#: Visible text that means an error reached the user.
ERROR_TEXT = re.compile(r"Traceback|Error|Exception|There was an error|错误|异常")


def copy_registry(source_url: str, target: Path) -> str:
    """A consistent copy (SQLite's backup API) of the SQLite registry at ``source_url``; its URL."""
    source = sqlite3.connect(source_url.removeprefix("sqlite:///"))
    copy = sqlite3.connect(target)
    try:
        source.backup(copy)
    finally:
        copy.close()
        source.close()
    return f"sqlite:///{target}"


@dataclass
class Server:
    """A running workbench server (see the module docstring)."""

    base: str
    token: str
    root: Path
    registry_url: str
    log_path: Path
    process: subprocess.Popen
    cull_idle_timeout: int = CULL_IDLE_TIMEOUT

    #: (status, headers, body) of a GET, without following redirects.
    get = staticmethod(lambda url, timeout=60: http_get(url, timeout))

    def url(self, path: str, *, token: bool = True, **query: str) -> str:
        """``base/path`` with the token (unless ``token=False``) and ``query`` in the query string."""
        params = {"token": self.token} if token else {}
        params.update({k: v for k, v in query.items() if v is not None})
        return f"{self.base}/{path.lstrip('/')}" + (f"?{urllib.parse.urlencode(params)}" if params else "")

    def app_path(self, name: str, folder: str = "notebooks/apps") -> str:
        return f"voila/render/{folder}/{name}.ipynb"

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def log_mark(self) -> int:
        return self.log_path.stat().st_size

    def log_since(self, mark: int) -> str:
        with self.log_path.open("rb") as f:
            f.seek(mark)
            return f.read().decode("utf-8", "replace")

    def wait_for_log(self, text: str, *, since: int = 0, timeout: float = 30) -> str:
        """The log since ``since`` once it contains ``text``; fails after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            log = self.log_since(since)
            if text in log:
                return log
            time.sleep(0.2)
        pytest.fail(f"{text!r} did not appear in the server log within {timeout} s:\n{self.log_since(since)[-3000:]}")

    def kernels(self) -> dict[str, dict]:
        """The running kernels by id, from the server's REST API.

        Jupyter Server answers 500 while a kernel is half-started (its ``last_activity`` is not
        set yet): such an answer is asked again.
        """
        for _ in range(20):
            status, _, body = http_get(self.url("api/kernels"), timeout=10)
            if status != 500:
                break
            time.sleep(0.25)
        assert status == 200, f"GET /api/kernels answered {status}"
        return {k["id"]: k for k in json.loads(body)}

    def status(self) -> dict:
        """``/workbench/status``: whether the apps are ready, and how full each app's pool is."""
        status, _, body = http_get(self.url("workbench/status"), timeout=10)
        if status != 200:
            raise ValueError(f"GET /workbench/status answered {status}")
        return json.loads(body)

    def wait_for_pools(self, timeout: float = 300) -> None:
        """Wait until every app's pool is full again (after pages took kernels)."""
        deadline = time.monotonic() + timeout
        while not all(pool["ready"] == pool["size"] for pool in self.status()["apps"].values()):
            if time.monotonic() > deadline:
                pytest.fail(f"the pools did not refill within {timeout} s: {self.status()}")
            time.sleep(0.3)

    def add_app(self, notebook: Path, folder: str = "notebooks/apps") -> str:
        """Copy ``notebook`` into the served root; return its name (without ``.ipynb``)."""
        target = self.root / folder / Path(notebook).name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(notebook, target)
        return target.stem


@pytest.fixture(scope="session")
def server(tmp_path_factory) -> Server:
    """The real server on a free port, with a copy of the sample registry (see module docstring)."""
    from workbench.sample import prepare_registry, sample_registry_url

    base_dir = tmp_path_factory.mktemp("e2e")
    root = base_dir / "root"
    for folder in ("notebooks/apps", "notebooks/cold"):
        (root / folder).mkdir(parents=True)
        for notebook in sorted(FIXTURES.glob("*.ipynb")):
            shutil.copy(notebook, root / folder / notebook.name)
    for notebook in REAL_APPS:  # the staff apps themselves, preheated like in `make run`
        shutil.copy(notebook, root / "notebooks" / "apps" / notebook.name)
    sample_url = sample_registry_url()
    prepare_registry(sample_url)  # filled once per machine, then reused
    registry_url = copy_registry(sample_url, base_dir / "registry.sqlite")

    yield from _serve(root, registry_url, base_dir / "server.log", user=COUNSELLOR)


@pytest.fixture(scope="session")
def analyst_server(server, tmp_path_factory) -> Server:
    """A second one-person server on the same registry, started for analyst Zhou (``WORKBENCH_USER``),
    serving the staff apps only; started when a test first asks for it (``open_app(..., analyst=True)``)."""
    base_dir = tmp_path_factory.mktemp("e2e-analyst")
    root = base_dir / "root"
    (root / "notebooks" / "apps").mkdir(parents=True)
    for notebook in REAL_APPS:
        shutil.copy(notebook, root / "notebooks" / "apps" / notebook.name)
    yield from _serve(root, server.registry_url, base_dir / "server.log", user=ANALYST)


def _serve(root: Path, registry_url: str, log_path: Path, *, user: str, sample: bool = False):
    """``python -m workbench.server`` for ``root`` and ``registry_url``, acting as registry user ``user``
    (``WORKBENCH_USER``, as ``make run WORKBENCH_USER=...`` sets it); yields the :class:`Server` once
    ready, stops it after. ``sample=True``: the registry is given as ``make run`` finds the sample
    registry (``WORKBENCH_SAMPLE_DB``, ``WORKBENCH_DB`` unset), so the server sets up what it sets up
    for the sample (its working day, its map)."""
    port, token = free_port(), "e2e-" + secrets.token_hex(16)
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKBENCH_") and k != "JUPYTERHUB_USER"}
    env.update({"WORKBENCH_SAMPLE_DB" if sample else "WORKBENCH_DB": registry_url})
    env.update(WORKBENCH_TOKEN=token, WORKBENCH_USER=user,
               WORKBENCH_CULL_IDLE_TIMEOUT=str(CULL_IDLE_TIMEOUT), WORKBENCH_CULL_INTERVAL=str(CULL_INTERVAL),
               WORKBENCH_POOL_SIZE="1", PYTHONUNBUFFERED="1")
    with log_path.open("wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "workbench.server", "--port", str(port), "--root", str(root)],
                                   cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    running = Server(f"http://127.0.0.1:{port}", token, root, registry_url, log_path, process)
    try:
        _wait_until_ready(running)
        yield running
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def _wait_until_ready(running: Server, *, timeout: float = 600) -> None:
    """Wait until the server says its apps are ready: every preheated kernel has run its notebook
    up to its page (``/workbench/status``). The limit fits a cold, busy 2-core machine."""
    deadline = time.monotonic() + timeout
    while True:
        if running.process.poll() is not None:
            pytest.fail(f"the server exited with {running.process.returncode}:\n{running.log()[-5000:]}")
        try:
            if running.status()["ready"]:
                return
        except (OSError, ValueError):
            pass  # not listening yet, or not logged in yet
        if time.monotonic() > deadline:
            pytest.fail(f"the server's apps were not ready within {timeout} s:\n{running.log()[-5000:]}")
        time.sleep(0.3)


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium through Playwright (its own browser downloads do not work here)."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).is_file():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium package "
                    "(scripts/debian-packages.txt)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class App:
    """A Voila page open in the browser, with what it logged and asked for."""

    page: object
    url: str
    render_seconds: float
    console: list = field(default_factory=list)
    page_errors: list = field(default_factory=list)
    external_requests: list = field(default_factory=list)

    def problems(self) -> list[str]:
        """Console errors, uncaught page errors and visible error or traceback text."""
        found = [f"console: {m}" for m in self.console if m.startswith("error:")]
        found += [f"page error: {e}" for e in self.page_errors]
        text = self.page.inner_text("body")
        found += [f"visible: {line.strip()}" for line in text.splitlines() if ERROR_TEXT.search(line)]
        return found

    def text(self, selector: str = "body") -> str:
        return self.page.inner_text(selector)



def offline_app(browser, base: str, url: str, *, timeout: float = TIMEOUT, **options):
    """``(context, app)``: a new browser context (Chinese locale; ``options`` for
    ``browser.new_context``) and page for ``url`` in which every request to a host other than the
    server at ``base`` is aborted and recorded in ``app.external_requests``, with the console and
    page errors kept; every wait of the context defaults to ``timeout`` seconds."""
    local = urllib.parse.urlsplit(base).netloc
    context = browser.new_context(locale="zh-CN", **options)
    context.set_default_timeout(timeout * 1000)
    page = context.new_page()
    app = App(page=page, url=url, render_seconds=float("nan"))

    def route(route_):
        if urllib.parse.urlsplit(route_.request.url).netloc == local:
            route_.continue_()
        else:
            app.external_requests.append(route_.request.url)
            route_.abort()

    context.route("**/*", route)
    page.on("console", lambda m: app.console.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: app.page_errors.append(str(e)))
    return context, app


@pytest.fixture
def open_app(server, browser, request):
    """``open_app(name, lang=None, folder="notebooks/apps", wait_for=".jupyter-widgets", token=True,
    timeout=TIMEOUT, analyst=False, **query)`` -> :class:`App` (see the module docstring); ``analyst=True``
    opens it on ``analyst_server`` (the apps acting as analyst Zhou) instead of counsellor Li's server."""
    contexts = []

    def open_(name: str, lang: str | None = None, *, folder: str = "notebooks/apps",
              wait_for: str | None = ".jupyter-widgets", token: bool = True, timeout: float = TIMEOUT,
              analyst: bool = False, **query) -> App:
        serving = request.getfixturevalue("analyst_server") if analyst else server
        url = serving.url(serving.app_path(name, folder), token=token, lang=lang, **query)
        context, app = offline_app(browser, serving.base, url, timeout=timeout)
        contexts.append(context)
        page = app.page
        start = time.perf_counter()
        page.goto(url, wait_until="commit", timeout=timeout * 1000)
        if wait_for:
            page.wait_for_selector(wait_for, state="visible", timeout=timeout * 1000)
        app.render_seconds = time.perf_counter() - start
        return app

    yield open_
    for context in contexts:
        context.close()
