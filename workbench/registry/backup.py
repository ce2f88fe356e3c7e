"""Consistent copies of the registry while apps are writing, and restoring them safely.

SQLite: the online backup API copies a consistent snapshot without stopping writers.
PostgreSQL: ``pg_dump --format=custom`` (a consistent snapshot by design) and ``pg_restore``;
the PostgreSQL client tools must be installed (Debian: postgresql-client).

A backup is created private (0600; a folder it creates 0700). A restore never touches the live
registry before the backup has passed every check: it is restored into a NEW file beside the
registry (PostgreSQL: a new database on the same server), checked there (SQLite integrity, a
workbench schema revision this version knows, upgraded to the head when older; the keyed audit
chain; agreement with the signed checkpoints: a genuine backup is a prefix of the history, so its
head must equal the checkpointed head at its length), and only then swapped in: the replaced
registry is kept (``registry.sqlite.replaced-YYYYmmddTHHMMSS``, PostgreSQL: the database renamed
``<name>_replaced_YYYYmmddTHHMMSS``), never deleted. A signed ``restored`` checkpoint then records
the restored chain, so the checkpoints of the replaced, longer history do not fail it.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from workbench.registry import audit, migrate
from workbench.registry.engine import make_engine

__all__ = ["backup", "restore"]

_SQLITE_HEADER = b"SQLite format 3\x00"
_PG_DUMP_HEADER = b"PGDMP"


def _pg_args(url: sa.engine.URL) -> list[str]:
    args = ["--host", url.host or "localhost", "--port", str(url.port or 5432), "--dbname", url.database]
    if url.username:
        args += ["--username", url.username]
    return args


def _pg_env(url: sa.engine.URL) -> dict | None:
    return {**os.environ, "PGPASSWORD": url.password} if url.password else None


def _private_file(path: Path) -> None:
    """Create ``path`` empty, readable and writable by its owner only (its folder 0700 if made)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def backup(engine: Engine, destination: str | Path) -> Path:
    """Write a consistent copy of the registry to ``destination`` (a new file, 0600)."""
    destination = Path(destination)
    if destination.exists():
        raise FileExistsError(f"{destination} exists: a backup never overwrites a file")
    _private_file(destination)
    try:
        if engine.dialect.name == "sqlite":
            source = sqlite3.connect(engine.url.database, timeout=30)
            target = sqlite3.connect(destination)
            try:
                source.backup(target)
            finally:
                target.close()
                source.close()
        else:
            subprocess.run(["pg_dump", "--format=custom", "--file", str(destination), *_pg_args(engine.url)],
                           check=True, env=_pg_env(engine.url))
    except BaseException:
        destination.unlink(missing_ok=True)
        raise
    return destination


def _stamp() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S")


def _check_restored(engine: Engine, backup_file: Path, registry: str) -> None:
    """Refuse (ValueError, one sentence) a restored copy that is not this registry's genuine past."""
    tables = set(sa.inspect(engine).get_table_names())
    if not {"alembic_version", "audit_log", "residents", "assessments"} <= tables:
        raise ValueError(f"{backup_file} is not a workbench registry backup (it lacks the registry's tables).")
    revision = migrate.current_revision(engine)
    from alembic.script import ScriptDirectory

    known = {r.revision for r in ScriptDirectory.from_config(migrate._config()).walk_revisions()}
    if revision not in known:
        raise ValueError(f"{backup_file} was written by another version of the workbench (schema revision "
                         f"{revision!r}, unknown to this one).")
    if revision != migrate.head_revision():
        migrate.upgrade(engine)  # an older revision of ours: upgraded in the new copy, never in place
    with engine.connect() as conn:
        report = audit.verify(conn, registry=registry, prefix=True)
    if not report.ok:
        raise ValueError(f"{backup_file} fails the audit check, so it was altered or is not this registry's: "
                         f"{report.problem}.")


def restore(backup_file: str | Path, url: str, *, force: bool = False) -> Engine:
    """Restore a backup into the registry at ``url``; refuses to replace a registry unless ``force``.

    The backup is restored into a new file (database) and checked there before it replaces
    anything; the replaced registry is kept. A file that is not a backup, a foreign or newer
    registry, a tampered or a damaged one is refused with one sentence (``ValueError``) and the
    live registry is left untouched. Returns an engine on the restored registry.
    """
    backup_file = Path(backup_file)
    if not backup_file.is_file():
        raise FileNotFoundError(f"No backup file {backup_file}")
    with open(backup_file, "rb") as handle:
        header = handle.read(16)
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if header != _SQLITE_HEADER:
            raise ValueError(f"{backup_file} is not a registry backup (not an SQLite database file).")
        _restore_sqlite(backup_file, Path(parsed.database), url, force=force)
    else:
        engine = make_engine(url)
        if not header.startswith(_PG_DUMP_HEADER):
            raise ValueError(f"{backup_file} is not a registry backup (not a pg_dump custom-format file).")
        _restore_postgres(backup_file, engine, force=force)
    restored = make_engine(url)
    with restored.connect() as conn:
        length, head = audit.head(conn)
    audit.checkpoint(audit.registry_id(restored.url), length, head, kind="restored")
    return restored


def _restore_sqlite(backup_file: Path, target: Path, url: str, *, force: bool) -> None:
    if target.exists() and target.stat().st_size and not force:
        raise FileExistsError(f"{target} exists: pass force=True (--force) to replace it (it is kept beside)")
    stamp = _stamp()
    fresh = target.with_name(f"{target.name}.restoring-{stamp}")
    _private_file(fresh)
    try:
        with open(backup_file, "rb") as source, open(fresh, "wb") as copy:
            shutil.copyfileobj(source, copy)
        try:
            with sqlite3.connect(fresh) as check:
                result = check.execute("PRAGMA integrity_check").fetchone()[0]
            check.close()
        except sqlite3.DatabaseError as exc:
            result = str(exc)
        if result != "ok":
            raise ValueError(f"{backup_file} is damaged (the SQLite integrity check says: {result}).")
        engine = make_engine(f"sqlite:///{fresh}")
        try:
            _check_restored(engine, backup_file, audit.registry_id(url))
        except sa.exc.DatabaseError as exc:
            raise ValueError(f"{backup_file} is damaged (reading it failed: {exc.orig}).") from None
        finally:
            engine.dispose()
        if target.exists() and target.stat().st_size:
            with sqlite3.connect(target, timeout=30) as live:  # fold the live WAL into the file it keeps
                live.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            live.close()
            os.link(target, target.with_name(f"{target.name}.replaced-{stamp}"))  # kept, never deleted
        for suffix in ("-wal", "-shm"):
            Path(str(target) + suffix).unlink(missing_ok=True)
        os.replace(fresh, target)  # the swap: atomic
    finally:
        fresh.unlink(missing_ok=True)
        for suffix in ("-wal", "-shm"):
            Path(str(fresh) + suffix).unlink(missing_ok=True)


def _restore_postgres(backup_file: Path, engine: Engine, *, force: bool) -> None:
    url = engine.url
    if sa.inspect(engine).get_table_names() and not force:
        engine.dispose()
        raise FileExistsError(f"{url.render_as_string(hide_password=True)} already holds tables: "
                              "pass force=True (--force) to replace them (the database is kept, renamed)")
    engine.dispose()
    stamp = _stamp()
    fresh = f"{url.database[:40]}_restoring_{stamp}"
    kept = f"{url.database[:40]}_replaced_{stamp}"
    server = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    quote = server.dialect.identifier_preparer.quote
    try:
        with server.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {quote(fresh)}")
        swapped = False
        try:
            fresh_url = url.set(database=fresh)
            done = subprocess.run(["pg_restore", "--no-owner", "--exit-on-error", *_pg_args(fresh_url), str(backup_file)],
                                  capture_output=True, text=True, env=_pg_env(url))
            if done.returncode != 0:
                raise ValueError(f"{backup_file} is damaged or not a registry backup (pg_restore: "
                                 f"{done.stderr.strip().splitlines()[-1] if done.stderr.strip() else done.returncode}).")
            fresh_engine = make_engine(fresh_url.render_as_string(hide_password=False))
            try:
                _check_restored(fresh_engine, backup_file, audit.registry_id(url))
            finally:
                fresh_engine.dispose()
            with server.connect() as conn:
                busy = conn.execute(sa.text("SELECT count(*) FROM pg_stat_activity WHERE datname = :d"),
                                    {"d": url.database}).scalar()
                if busy:
                    raise ValueError(f"{url.database} has {busy} open connection(s): stop the apps before "
                                     f"restoring (the registry was not changed).")
                conn.exec_driver_sql(f"ALTER DATABASE {quote(url.database)} RENAME TO {quote(kept)}")
                conn.exec_driver_sql(f"ALTER DATABASE {quote(fresh)} RENAME TO {quote(url.database)}")
            swapped = True
        finally:
            if not swapped:
                with server.connect() as conn:
                    conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {quote(fresh)} WITH (FORCE)")
    finally:
        server.dispose()
