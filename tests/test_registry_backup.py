"""`workbench backup` makes a consistent copy while apps are writing; `restore` brings it back.

SQLite: the online backup API. PostgreSQL: ``pg_dump --format=custom`` / ``pg_restore``.
While a writer (a thread with its own Registry and engine) keeps importing batches of
screenings, ``workbench backup`` runs in another process. The copy must hold whole batches
only, in order (a prefix of what was written), with its audit chain a prefix of the live one.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from workbench.cli import main as workbench_main
from workbench.registry.store import Registry
from sample_files import residents_file, screenings_file

pytestmark = pytest.mark.slow  # a writer, 2 commands in their own process and 3 in this one: ~5-8 s per backend

WORKBENCH = str(Path(sys.executable).with_name("workbench"))  # the console script of this environment
BATCH_ROWS = 25          # screenings per import; each holds a PHQ-9 and a GAD-7
PER_BATCH = 2 * BATCH_ROWS


def _batches():
    frame = screenings_file(instruments=("phq9", "gad7"))
    return [frame.iloc[i:i + BATCH_ROWS].reset_index(drop=True) for i in range(0, len(frame), BATCH_ROWS)]


def _keys(batch):
    return {(r, d, i) for r, d in zip(batch["resident_id"], batch["assessed_on"]) for i in ("phq9", "gad7")}


class Writer(threading.Thread):
    """A staff app importing one batch after another into ``url`` until told to stop."""

    def __init__(self, url, batches):
        super().__init__(daemon=True)
        self.registry, self.batches = Registry(url), batches
        self.committed, self.error = 0, None
        self.changed, self.stop = threading.Condition(), threading.Event()

    def run(self):
        try:
            for k, batch in enumerate(self.batches):
                if self.stop.is_set():
                    break
                result = self.registry.import_assessments(batch, by="admin", source=f"batch{k}")
                assert result.written == PER_BATCH, result
                with self.changed:
                    self.committed += 1
                    self.changed.notify_all()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc
        finally:
            self.registry.engine.dispose()
            with self.changed:
                self.changed.notify_all()

    def wait_for(self, n):
        with self.changed:
            self.changed.wait_for(lambda: self.committed >= n or self.error or not self.is_alive(), timeout=120)
        assert self.error is None, self.error
        assert self.committed >= n, f"the writer ran out of batches after {self.committed}"


def _cli(*args):
    """The ``workbench`` command in a process of its own."""
    return subprocess.run([WORKBENCH, *args], capture_output=True, text=True, timeout=120)


def _cli_here(*args):
    """The same command line in this process (no interpreter start-up): exit status and stderr."""
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        status = workbench_main(list(args))
    return status, err.getvalue()


def _contents(url):
    """Row counts, assessment keys and the audit chain's entry hashes, in order."""
    registry = Registry(url)
    try:
        with registry.engine.connect() as conn:
            counts = {t: conn.execute(sa.text(f"SELECT COUNT(*) FROM {t}")).scalar()
                      for t in ("residents", "assessments", "audit_log")}
            keys = {(r, str(d)[:10], i) for r, d, i in conn.execute(
                sa.text("SELECT resident_id, assessed_on, instrument FROM assessments"))}
            chain = list(conn.execute(sa.text("SELECT entry_hash FROM audit_log ORDER BY entry_id")).scalars())
        report = registry.verify_audit()
    finally:
        registry.engine.dispose()
    return counts, keys, chain, report


def _digest(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture
def restore_url(registry_url, tmp_path, request):
    """Where the backup is restored: a new SQLite path, or another fresh PostgreSQL database."""
    if registry_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'restored' / 'registry.sqlite'}"
        return
    server = request.getfixturevalue("postgres_server")
    name = server.create_database()
    try:
        yield server.url_for(name)
    finally:
        server.drop_database(name)


def test_backup_while_writing_is_consistent_and_restores(registry_url, restore_url, tmp_path):
    sqlite = registry_url.startswith("sqlite")
    backup_file = tmp_path / ("backup.sqlite" if sqlite else "backup.dump")
    registry = Registry(registry_url)
    registry.init()
    registry.import_residents(residents_file(), by="admin")
    registry.engine.dispose()
    batches = _batches()

    # Back up while the writer keeps importing: it has written before, and writes after.
    writer = Writer(registry_url, batches)
    writer.start()
    try:
        writer.wait_for(2)
        made = _cli("--db", registry_url, "backup", str(backup_file))
        assert made.returncode == 0, made.stderr
        writer.wait_for(writer.committed + 1)
    finally:
        writer.stop.set()
        writer.join(timeout=120)
    assert writer.error is None and not writer.is_alive()
    live_counts, live_keys, live_chain, live_report = _contents(registry_url)
    assert live_report.ok and live_counts["assessments"] == writer.committed * PER_BATCH

    if sqlite:  # the copy itself is a sound SQLite database (checked read-only, before anything opens it)
        with contextlib.closing(sqlite3.connect(f"{backup_file.as_uri()}?mode=ro", uri=True)) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]

    restored = _cli("--db", restore_url, "restore", str(backup_file))
    assert restored.returncode == 0, restored.stderr
    counts, keys, chain, report = _contents(restore_url)

    # A consistent prefix: whole batches in the order written, each row with its audit entry,
    # and the audit chain exactly the live chain up to the moment of the copy.
    k, rest = divmod(counts["assessments"], PER_BATCH)
    assert rest == 0 and 2 <= k < writer.committed
    assert keys == set().union(*map(_keys, batches[:k]))
    assert chain == live_chain[:len(chain)] and len(chain) < len(live_chain)
    assert counts["residents"] == live_counts["residents"] == 3000
    assert report.ok and (report.tables["residents"], report.tables["assessments"]) == (counts["residents"],
                                                                                        counts["assessments"]), report
    if sqlite:
        backup_counts, backup_keys, _, backup_report = _contents(str(backup_file))
        assert (backup_counts, backup_keys) == (counts, keys)
        assert backup_report.ok  # Registry(backup).verify_audit()

    # Restoring over an existing registry is refused without --force (nothing changes) ...
    status, err = _cli_here("--db", registry_url, "restore", str(backup_file))
    assert status == 1 and "--force" in err
    assert _contents(registry_url)[0] == live_counts
    # ... and replaces it with --force.
    status, err = _cli_here("--db", registry_url, "restore", "--force", str(backup_file))
    assert status == 0, err
    replaced_counts, replaced_keys, _, replaced_report = _contents(registry_url)
    assert (replaced_counts, replaced_keys) == (counts, keys) and replaced_report.ok

    # A backup never overwrites a file.
    before = _digest(backup_file)
    status, err = _cli_here("--db", registry_url, "backup", str(backup_file))
    assert status == 1 and "never overwrites" in err
    assert _digest(backup_file) == before


# --- issue 14: a restore checks the backup in a new file before anything is replaced ----------------

@pytest.fixture
def small_registry(tmp_path):
    """A SQLite registry with residents and a backup of it, then more written after the backup."""
    url = f"sqlite:///{tmp_path / 'live' / 'registry.sqlite'}"
    registry = Registry(url)
    registry.init()
    registry.import_residents(residents_file(), by="admin")
    backup_file = tmp_path / "backups" / "first.sqlite"
    status, err = _cli_here("--db", url, "backup", str(backup_file))
    assert status == 0, err
    registry.import_assessments(_batches()[0], by="admin")
    registry.engine.dispose()
    return url, tmp_path / "live" / "registry.sqlite", backup_file


def test_backup_is_private(small_registry):
    _, _, backup_file = small_registry
    assert backup_file.stat().st_mode & 0o777 == 0o600
    assert backup_file.parent.stat().st_mode & 0o777 == 0o700


def _refused_untouched(url, live, candidate, expected):
    before = _digest(live)
    status, err = _cli_here("--db", url, "restore", "--force", str(candidate))
    assert status == 1 and expected in err, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert _digest(live) == before and Registry(url).verify_audit().ok
    assert sorted(p.name for p in live.parent.iterdir() if not p.name.endswith(("-wal", "-shm"))) == ["registry.sqlite"]


def test_restore_refuses_a_file_that_is_not_a_database(small_registry, tmp_path):
    url, live, _ = small_registry
    text = tmp_path / "notes.sqlite"
    text.write_text("resident_id,community\nR0000001,North\n")
    _refused_untouched(url, live, text, "is not a registry backup (not an SQLite database file)")


def test_restore_refuses_a_foreign_database(small_registry, tmp_path):
    url, live, _ = small_registry
    foreign = tmp_path / "foreign.sqlite"
    with contextlib.closing(sqlite3.connect(foreign)) as conn:
        conn.execute("CREATE TABLE residents (resident_id TEXT)")
        conn.commit()
    _refused_untouched(url, live, foreign, "is not a workbench registry backup")


def test_restore_refuses_a_tampered_backup(small_registry, tmp_path):
    url, live, backup_file = small_registry
    tampered = tmp_path / "tampered.sqlite"
    tampered.write_bytes(backup_file.read_bytes())
    with contextlib.closing(sqlite3.connect(tampered)) as conn:
        conn.execute("DELETE FROM residents WHERE resident_id = 'R0000007'")
        conn.commit()
    _refused_untouched(url, live, tampered, "fails the audit check")


def test_restore_refuses_a_damaged_backup(small_registry, tmp_path):
    url, live, backup_file = small_registry
    damaged = tmp_path / "damaged.sqlite"
    data = bytearray(backup_file.read_bytes())
    data[8192:len(data) // 2] = b"\x5a" * (len(data) // 2 - 8192)
    damaged.write_bytes(bytes(data))
    _refused_untouched(url, live, damaged, "is damaged")


def test_restore_keeps_the_replaced_registry_and_verifies_after(small_registry):
    url, live, backup_file = small_registry
    before = _digest(live)
    status, err = _cli_here("--db", url, "restore", "--force", str(backup_file))
    assert status == 0, err
    kept = [p for p in live.parent.iterdir() if p.name.startswith("registry.sqlite.replaced-")]
    assert len(kept) == 1 and _digest(kept[0]) == before
    # The checkpoints of the longer, replaced history do not fail the restored registry ...
    report = Registry(url).verify_audit()
    assert report.ok and report.tables["residents"] == 3000, report
    # ... and it keeps working: a write after the restore verifies too.
    Registry(url).add_user("carol", "counsellor", by="admin")
    assert Registry(url).verify_audit().ok


def test_restore_refuses_a_backup_that_is_not_a_prefix_of_the_history(small_registry, tmp_path):
    """A copy written to elsewhere by the workbench (another history, validly keyed) disagrees with
    this registry's signed checkpoint at its length."""
    url, live, backup_file = small_registry
    fork = tmp_path / "fork" / "registry.sqlite"
    fork.parent.mkdir()
    fork.write_bytes(backup_file.read_bytes())
    other = Registry(f"sqlite:///{fork}")
    other.import_assessments(_batches()[1], by="admin")  # validly keyed entries, in another history
    other.engine.dispose()
    lengths = []
    for path in (live, fork):
        with contextlib.closing(sqlite3.connect(path)) as conn:
            lengths.append(conn.execute("SELECT max(entry_id) FROM audit_log").fetchone()[0])
    assert lengths[0] == lengths[1]  # the same length as the live registry's last checkpoint
    assert Registry(f"sqlite:///{fork}").verify_audit().ok  # sound on its own
    _refused_untouched(url, live, fork, "fails the audit check")
