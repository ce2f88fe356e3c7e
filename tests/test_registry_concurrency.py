"""Several staff save at once: 8 OS processes import into one registry at the same moment.

Each process runs the real command line (``workbench --db URL --user admin import assessments FILE``
under the OS login the admin signs in as, i.e. :func:`workbench.cli.main` in a process of its own
with its own engine); a barrier releases
all 8 together. SQLite serialises them with WAL + BEGIN IMMEDIATE + a busy timeout (and a retry);
PostgreSQL with an advisory lock around the audit chain. Afterwards every row must be stored once,
and the hash chain must still be one line (two writers appending after the same entry would fork it).
"""

from __future__ import annotations

import contextlib
import io
import multiprocessing
import os
import pwd
import re
import sqlite3
import time
import traceback

import sqlalchemy as sa

from workbench.cli import main as workbench
from workbench.registry.store import Registry
from sample_files import residents_file, screenings_file

N_PROCESSES = 8
N_ROWS = 800
INSTRUMENTS = ("phq9", "gad7")
SUMMARY = re.compile(r"assessments: (\d+) written, (\d+) already stored unchanged, (\d+) row\(s\) refused")


def _screenings():
    return screenings_file(N_ROWS, INSTRUMENTS)


def _registry(url):
    """A registry holding the sample's residents; its engine is disposed before anyone forks."""
    registry = Registry(url)
    registry.init(login=pwd.getpwuid(os.getuid()).pw_name)  # the CLI acts as the OS login's user
    registry.import_residents(residents_file(), by="admin")
    registry.engine.dispose()
    return registry


def _child(barrier, results, url, path):
    """One member of staff: wait for the others, then run the import command."""
    out, err = io.StringIO(), io.StringIO()
    barrier.wait(timeout=120)
    started = time.time()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = workbench(["--db", url, "--user", "admin", "import", "assessments", str(path)])
    except BaseException:  # e.g. "database is locked" escaping the retries: report it, not hang
        status = "raised:\n" + traceback.format_exc()
    results.put((str(path), status, out.getvalue(), err.getvalue(), started, time.time()))


def _import_all_at_once(url, paths):
    """Run the 8 imports at the same moment; returns their results in the order of ``paths``."""
    ctx = multiprocessing.get_context("fork")  # the children share the parent's imports, not its engine
    barrier, results = ctx.Barrier(len(paths)), ctx.Queue()
    procs = [ctx.Process(target=_child, args=(barrier, results, url, path)) for path in paths]
    for proc in procs:
        proc.start()
    try:
        got = [results.get(timeout=180) for _ in procs]
    finally:
        for proc in procs:
            proc.join(timeout=60)
            if proc.is_alive():
                proc.kill()
    assert [proc.exitcode for proc in procs] == [0] * len(procs)
    for path, status, out, err, *_ in got:
        assert status == 0, f"{path}: exit status {status}\n{out}\n{err}"
    # They really overlapped: every import was still running when the last one began.
    assert max(r[4] for r in got) < min(r[5] for r in got)
    by_path = {}
    for path, _status, out, _err, *_ in got:
        by_path.setdefault(path, []).append(tuple(int(x) for x in SUMMARY.search(out).groups()))
    return [by_path[str(p)].pop() for p in paths]


def _check_registry(url, expected_keys, *, imports):
    """Every expected row stored once, ``imports`` audited imports, and an unbroken audit chain."""
    registry = Registry(url)
    try:
        with registry.engine.connect() as conn:
            keys = conn.execute(sa.text("SELECT resident_id, assessed_on, instrument FROM assessments")).all()
            forks = conn.execute(sa.text("SELECT prev_hash FROM audit_log GROUP BY prev_hash "
                                         "HAVING COUNT(*) > 1")).all()
            audited = conn.execute(sa.text("SELECT COUNT(*) FROM audit_log WHERE action = 'import' "
                                           "AND target_table = 'assessments'")).scalar()
        stored = [(r, str(d)[:10], i) for r, d, i in keys]
        assert len(stored) == N_ROWS * len(INSTRUMENTS)
        assert len(set(stored)) == len(stored)              # no duplicates
        assert set(stored) == expected_keys                 # every row of every file is there
        assert forks == []                                  # one line of audit entries, never a fork
        assert audited == imports                           # an import that wrote nothing logs nothing
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            status = workbench(["--db", url, "audit", "verify"])
        assert status == 0 and out.getvalue().splitlines()[0].endswith(": OK"), out.getvalue()
    finally:
        registry.engine.dispose()


def _expected_keys(frame):
    return {(r, d, i) for r, d in zip(frame["resident_id"], frame["assessed_on"]) for i in INSTRUMENTS}


def test_eight_processes_import_different_files_at_once(registry_url, tmp_path):
    screenings = _screenings()
    paths = []
    for k in range(N_PROCESSES):
        path = tmp_path / f"screenings_part{k + 1}.csv"
        screenings.iloc[k * 100:(k + 1) * 100].to_csv(path, index=False)
        paths.append(path)
    _registry(registry_url)

    summaries = _import_all_at_once(registry_url, paths)

    per_file = 100 * len(INSTRUMENTS)
    assert summaries == [(per_file, 0, 0)] * N_PROCESSES
    _check_registry(registry_url, _expected_keys(screenings), imports=N_PROCESSES)
    if registry_url.startswith("sqlite"):  # readers never block the writer: the file stays in WAL mode
        with contextlib.closing(sqlite3.connect(registry_url.removeprefix("sqlite:///"))) as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_eight_processes_import_the_same_file_at_once(registry_url, tmp_path):
    screenings = _screenings()
    path = tmp_path / "screenings.csv"
    screenings.to_csv(path, index=False)
    _registry(registry_url)

    summaries = _import_all_at_once(registry_url, [path] * N_PROCESSES)

    everything = N_ROWS * len(INSTRUMENTS)
    # Exactly one process stored the rows; each of the others found all of them already stored.
    assert sorted(summaries) == [(0, everything, 0)] * (N_PROCESSES - 1) + [(everything, 0, 0)]
    _check_registry(registry_url, _expected_keys(screenings), imports=1)
