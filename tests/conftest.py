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
"""

from __future__ import annotations

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


@pytest.fixture(scope="session", autouse=True)
def warm_caches(request):
    """Before the first test of a run that includes slow tests (notebooks, server, browser): warm
    the caches a new machine lacks (``tests/warmup.py``), so that no test's limit pays for them."""
    if not any(item.get_closest_marker("slow") for item in request.session.items):
        return
    from warmup import warm_up

    took = warm_up()
    request.config.stash[WARM_UP] = took
    print(f"\nwarm-up before the first test (seconds): {took}")


def pytest_terminal_summary(terminalreporter, config):
    took = config.stash.get(WARM_UP, None)
    if took:
        terminalreporter.write_line(f"warm-up before the first test (seconds): {took}")


@pytest.fixture(scope="session")
def small():
    """A synthetic community of 2,000 residents (seed 11), read by several test modules."""
    from workbench.synth import community

    return community(2_000, seed=11)


@pytest.fixture(scope="session")
def small_tables(small):
    """``small``'s analysis tables."""
    return small.tables()
