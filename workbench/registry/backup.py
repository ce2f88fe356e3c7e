"""Consistent copies of the registry while apps are writing, and restoring them.

SQLite: the online backup API copies a consistent snapshot without stopping writers.
PostgreSQL: ``pg_dump --format=custom`` (a consistent snapshot by design) and ``pg_restore``;
the PostgreSQL client tools must be installed (Debian: postgresql-client).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from workbench.registry import audit
from workbench.registry.engine import make_engine

__all__ = ["backup", "restore"]


def _pg_args(engine: Engine) -> list[str]:
    url = engine.url
    args = ["--host", url.host or "localhost", "--port", str(url.port or 5432), "--dbname", url.database]
    if url.username:
        args += ["--username", url.username]
    return args


def backup(engine: Engine, destination: str | Path) -> Path:
    """Write a consistent copy of the registry to ``destination`` (a new file)."""
    destination = Path(destination)
    if destination.exists():
        raise FileExistsError(f"{destination} exists: a backup never overwrites a file")
    destination.parent.mkdir(parents=True, exist_ok=True)
    if engine.dialect.name == "sqlite":
        source = sqlite3.connect(engine.url.database, timeout=30)
        target = sqlite3.connect(destination)
        try:
            source.backup(target)
        finally:
            target.close()
            source.close()
        return destination
    env = {**os.environ, "PGPASSWORD": engine.url.password} if engine.url.password else None
    subprocess.run(["pg_dump", "--format=custom", "--file", str(destination), *_pg_args(engine)],
                   check=True, env=env)
    return destination


def restore(backup_file: str | Path, url: str, *, force: bool = False) -> Engine:
    """Restore a backup into the registry at ``url``; refuses to replace a registry unless ``force``.

    The restored registry's audit chain is verified before the call returns.
    """
    backup_file = Path(backup_file)
    if not backup_file.is_file():
        raise FileNotFoundError(f"No backup file {backup_file}")
    engine = make_engine(url)
    if engine.dialect.name == "sqlite":
        target = Path(engine.url.database)
        if target.exists() and not force:
            raise FileExistsError(f"{target} exists: pass force=True (--force) to replace it")
        engine.dispose()
        with sqlite3.connect(backup_file) as check:
            if check.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                raise ValueError(f"{backup_file} is damaged (SQLite integrity check failed)")
        for suffix in ("-wal", "-shm"):
            Path(str(target) + suffix).unlink(missing_ok=True)
        tmp = target.with_suffix(target.suffix + ".restoring")
        shutil.copyfile(backup_file, tmp)
        tmp.replace(target)
        engine = make_engine(url)
    else:
        if not force and sa.inspect(engine).get_table_names():
            engine.dispose()
            raise FileExistsError(f"{engine.url.render_as_string(hide_password=True)} already holds tables: "
                                  "pass force=True (--force) to replace them")
        env = {**os.environ, "PGPASSWORD": engine.url.password} if engine.url.password else None
        subprocess.run(["pg_restore", "--clean", "--if-exists", "--no-owner", *(_pg_args(engine)), str(backup_file)],
                       check=True, env=env)
    with engine.connect() as conn:
        report = audit.verify(conn)
    if not report.ok:
        raise ValueError(f"restored registry fails the audit check: {report.problem}")
    return engine
