"""Connecting to the registry: SQLite by default (a file), PostgreSQL by URL."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine, make_url

__all__ = ["default_url", "make_engine", "normalise_url"]


def default_url() -> str:
    """``WORKBENCH_DB`` if set, else a SQLite file under the user's data folder."""
    if os.environ.get("WORKBENCH_DB"):
        return os.environ["WORKBENCH_DB"]
    from platformdirs import user_data_dir

    folder = Path(user_data_dir("workbench", appauthor=False))
    return f"sqlite:///{folder / 'registry.sqlite'}"


def normalise_url(url: str | URL) -> URL:
    """Accept URLs as people write them: a bare path is SQLite, ``postgresql://`` uses psycopg 3.

    Examples
    --------
    >>> normalise_url("postgresql://staff@db.local:5432/registry").drivername
    'postgresql+psycopg'
    >>> normalise_url("/tmp/registry.sqlite").render_as_string()
    'sqlite:////tmp/registry.sqlite'
    """
    if isinstance(url, str) and "://" not in url:
        url = f"sqlite:///{Path(url).expanduser().resolve()}"
    url = make_url(url)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise ValueError(f"The registry URL must be SQLite or PostgreSQL. Got {url.render_as_string()!r} instead.")
    return url


@contextlib.contextmanager
def _private_umask():
    """Files and folders created inside are private to the account (umask 077)."""
    previous = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(previous)


def _private_folder(folder: Path) -> None:
    """Create ``folder`` (and missing parents) private to the account: 0700."""
    with _private_umask():
        folder.mkdir(parents=True, exist_ok=True)


def _private_file(path: Path) -> None:
    """Create ``path`` empty (an empty file is an empty SQLite database) and private to the
    account (0600) if it does not exist; SQLite gives its ``-wal`` and ``-shm`` files the
    database file's mode."""
    with _private_umask():
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            pass


def make_engine(url: str | URL | None = None) -> Engine:
    """An engine for the registry at ``url`` (default: :func:`default_url`).

    SQLite: WAL journal (readers never block the writer), a 30 s busy timeout, foreign keys on,
    and every transaction begins IMMEDIATE so concurrent writers queue instead of failing
    half-way. A folder and database file the registry creates are private to the account
    running it (0700 and 0600, and so are the ``-wal`` and ``-shm`` files SQLite makes next to
    it). PostgreSQL: a connection pool with pre-ping.
    """
    url = normalise_url(url or default_url())
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            _private_folder(Path(url.database).parent)
            _private_file(Path(url.database))
        engine = sa.create_engine(url, connect_args={"timeout": 30, "isolation_level": None})

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @sa.event.listens_for(engine, "begin")
        def _begin_immediate(connection):
            connection.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return sa.create_engine(url, pool_pre_ping=True)
