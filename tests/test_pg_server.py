"""The throw-away PostgreSQL server of the tests (tests/pg_server.py) and its fixtures (conftest.py)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from pg_server import MISSING_BINARIES, PostgresServer, PostgresServerError, find_pg_bin, port_is_free

from workbench.registry.engine import make_engine


def test_server_starts_and_make_engine_round_trips(postgres_server, postgres_url):
    assert postgres_url == f"postgresql://postgres@127.0.0.1:{postgres_server.port}/workbench_test"
    engine = make_engine(postgres_url)
    try:
        with engine.begin() as conn:
            assert conn.dialect.name == "postgresql"
            assert conn.dialect.driver == "psycopg"
            conn.execute(sa.text("CREATE TEMPORARY TABLE probe (id int PRIMARY KEY, label text)"))
            conn.execute(sa.text("INSERT INTO probe VALUES (1, :label)"), {"label": "héllo, 你好"})
            assert conn.execute(sa.text("SELECT label FROM probe WHERE id = 1")).scalar_one() == "héllo, 你好"
            # Our own cluster, on the loopback only, not the machine's default one.
            assert conn.execute(sa.text("SHOW listen_addresses")).scalar_one() == "127.0.0.1"
            assert conn.execute(sa.text("SHOW port")).scalar_one() == str(postgres_server.port)
            data_dir = conn.execute(sa.text("SHOW data_directory")).scalar_one()
            assert Path(data_dir) == postgres_server.data_dir
            assert conn.execute(sa.text("SHOW server_encoding")).scalar_one() == "UTF8"
    finally:
        engine.dispose()


def test_fresh_databases_are_isolated(postgres_server, fresh_postgres_url):
    other = postgres_server.create_database()
    first, second = make_engine(fresh_postgres_url), make_engine(postgres_server.url_for(other))
    try:
        assert fresh_postgres_url != postgres_server.url_for(other)
        with first.begin() as conn:
            conn.execute(sa.text("CREATE TABLE only_here (x int)"))
            conn.execute(sa.text("INSERT INTO only_here VALUES (42)"))
        assert sa.inspect(first).get_table_names() == ["only_here"]
        assert sa.inspect(second).get_table_names() == []
    finally:
        first.dispose()
        second.dispose()
        postgres_server.drop_database(other)
    assert other not in postgres_server.databases()


@pytest.mark.parametrize("round_", [1, 2])
def test_each_test_gets_an_empty_database(fresh_postgres_url, round_):
    # The same table in both rounds: fails if a database were shared or left over.
    engine = make_engine(fresh_postgres_url)
    try:
        assert sa.inspect(engine).get_table_names() == []
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE marker (round int)"))
            conn.execute(sa.text("INSERT INTO marker VALUES (:r)"), {"r": round_})
    finally:
        engine.dispose()


def test_drop_database_ends_open_connections(postgres_server):
    name = postgres_server.create_database()
    engine = make_engine(postgres_server.url_for(name))
    conn = engine.connect()  # left open, as a forgetful test would
    conn.execute(sa.text("SELECT 1"))
    postgres_server.drop_database(name)
    assert name not in postgres_server.databases()
    conn.invalidate()
    engine.dispose()


def test_registry_url_is_an_empty_registry(registry_url, request):
    backend = request.node.callspec.params["registry_url"]
    engine = make_engine(registry_url)
    try:
        assert engine.dialect.name == backend
        assert sa.inspect(engine).get_table_names() == []
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE t (x int)"))
            conn.execute(sa.text("INSERT INTO t VALUES (7)"))
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT x FROM t")).scalar_one() == 7
    finally:
        engine.dispose()


def test_stop_frees_the_port_and_deletes_the_directory():
    server = PostgresServer(dbname="stopme")
    port, base_dir = server.port, server.base_dir
    pid = int((server.data_dir / "postmaster.pid").read_text().split()[0])
    try:
        assert not port_is_free(port)
        engine = make_engine(server.url)
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT current_database()")).scalar_one() == "stopme"
        engine.dispose()
    finally:
        server.stop()
    deadline = time.monotonic() + 10  # the postmaster's last child may close its socket a moment later
    while not port_is_free(port) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert port_is_free(port)
    assert not base_dir.exists()
    assert not _alive(pid)
    server.stop()  # a second stop is harmless


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting for init to reap it does not count)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def test_missing_binaries_is_an_error_that_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.delenv("WORKBENCH_PG_BIN", raising=False)
    with pytest.raises(PostgresServerError) as caught:
        find_pg_bin(str(tmp_path / "*" / "bin"))
    assert str(caught.value) == MISSING_BINARIES
    assert "make test" in MISSING_BINARIES and "postgresql" in MISSING_BINARIES
