"""Shared fixtures.

PostgreSQL (tests/pg_server.py): one throw-away server per test session, started on first use
only, so a run that needs no PostgreSQL never starts one.

- ``postgres_server`` (session): the :class:`pg_server.PostgresServer`; stopped and its directory
  deleted at the end of the session.
- ``postgres_url`` (session): that server's URL, ``postgresql://postgres@127.0.0.1:<port>/workbench_test``.
  Shared by every test that asks for it: use it only for what does not care about leftovers.
- ``fresh_postgres_url`` (function): the URL of a new empty database on that server, dropped after
  the test (its connections are ended first, so an engine left open does not block the drop).
- ``registry_url`` (function, parametrized ``sqlite`` / ``postgresql``): an empty registry URL, a
  SQLite file under ``tmp_path`` or a fresh PostgreSQL database; a test taking it runs against both.

Synthetic communities shared by the synth tests (built once per session; tests only read them):
``small`` (2,000 residents, seed 11) and ``small_tables``, its analysis tables.

If the PostgreSQL server binaries are missing, the tests that need them fail (they are not skipped)
with the message to run ``make test``, which installs the Debian package.

Parallel runs: ``make test`` runs two pytest-xdist workers (``-n 2 --dist loadfile``, Makefile), each a
session of its own: each has its own PostgreSQL server (a free port, its own directory) and its own
copies of the session fixtures. A test module runs whole on one worker (module fixtures are built
once), and so does all of ``tests/e2e`` (:func:`pytest_xdist_make_scheduler`: its server, second
server and browser are started once, not once per worker). What must happen once per run, the
warm-up, happens once (:func:`once_per_run`), the other worker waiting for it.
"""

from __future__ import annotations

import fcntl
import os
import sys
import tempfile
from pathlib import Path

import pytest

_here = str(Path(__file__).resolve().parent)
if _here not in sys.path:  # `pg_server` sits beside this file (also with --import-mode=importlib)
    sys.path.insert(0, _here)

from pg_server import PostgresServer  # noqa: E402

# The audit key and its checkpoints live outside the database: one private pair for the whole run
# (inherited by the workbench commands the tests start), never the user's own.
_audit_home = tempfile.mkdtemp(prefix="workbench-audit-")
os.environ.setdefault("WORKBENCH_AUDIT_KEY_FILE", os.path.join(_audit_home, "audit.key"))
os.environ.setdefault("WORKBENCH_AUDIT_CHECKPOINTS", os.path.join(_audit_home, "audit-checkpoints.jsonl"))


@pytest.fixture(scope="session")
def postgres_server():
    """A private PostgreSQL server for the whole session, started when first asked for."""
    server = PostgresServer()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_url(postgres_server) -> str:
    """URL of the session server's database (shared by all tests of the session)."""
    return postgres_server.url


@pytest.fixture
def fresh_postgres_url(postgres_server):
    """URL of a new, empty database on the session server, dropped after the test."""
    name = postgres_server.create_database()
    try:
        yield postgres_server.url_for(name)
    finally:
        postgres_server.drop_database(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def registry_url(request, tmp_path) -> str:
    """An empty registry: a SQLite file under tmp_path, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'registry.sqlite'}"
    return request.getfixturevalue("fresh_postgres_url")


WARM_UP = pytest.StashKey[dict]()
#: Test modules under this folder run together on one xdist worker (they share its session servers).
E2E = "tests/e2e"


def once_per_run(tmp_path_factory, name: str, make):
    """``make()`` once for the whole run; its result, or None where another xdist worker ran it.

    Without xdist, ``make()`` simply runs. Under xdist the workers share their base temporary
    folder's parent: the first worker to take the lock ``<name>.lock`` there runs ``make()`` while
    the others wait, and they skip it once ``<name>.done`` says it succeeded (a failure is tried
    again by the next worker).
    """
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return make()
    shared = tmp_path_factory.getbasetemp().parent  # <run's base temp>/<worker id> -> the run's
    with open(shared / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        done = shared / f"{name}.done"
        if done.exists():
            return None
        result = make()
        done.touch()
        return result


@pytest.fixture(scope="session", autouse=True)
def warm_caches(request, tmp_path_factory):
    """Before the first test of a run that includes slow tests (notebooks, server, browser): warm
    the caches a new machine lacks (``tests/warmup.py``), so that no test's limit pays for them.
    Once per run: under xdist the other worker waits until it is done."""
    if not any(item.get_closest_marker("slow") for item in request.session.items):
        return
    from warmup import warm_up

    took = once_per_run(tmp_path_factory, "warm-up", warm_up)
    if took is None:
        return
    request.config.stash[WARM_UP] = took
    if hasattr(request.config, "workeroutput"):  # an xdist worker: sent to the controller's summary
        request.config.workeroutput["warm_up"] = took
    print(f"\nwarm-up before the first test (seconds): {took}")


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """(xdist controller) Keep the warm-up times a worker sends at its end, for the summary."""
    took = getattr(node, "workeroutput", {}).get("warm_up")
    if took:
        node.config.stash[WARM_UP] = took


def pytest_terminal_summary(terminalreporter, config):
    took = config.stash.get(WARM_UP, None)
    if took and not hasattr(config, "workeroutput"):
        terminalreporter.write_line(f"warm-up before the first test (seconds): {took}")


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """(xdist controller) With ``--dist loadfile``: one module at a time per worker, as loadfile
    does, except that all of ``tests/e2e`` is one unit, so its session servers start once."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class Scheduling(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            scope = super()._split_scope(nodeid)
            return E2E if scope.startswith(E2E + "/") else scope

    return Scheduling(config, log)


@pytest.fixture(scope="session")
def small():
    """A synthetic community of 2,000 residents (seed 11), read by several test modules."""
    from workbench.synth import community

    return community(2_000, seed=11)


@pytest.fixture(scope="session")
def small_tables(small):
    """``small``'s analysis tables."""
    return small.tables()
