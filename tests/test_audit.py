"""Issue 14, tamper evidence: a keyed audit chain with signed checkpoints kept outside the database.

Each test plays a hostile insider who can open the registry file with plain SQL but has neither
the audit key nor the checkpoints file, and checks that ``audit verify`` names what they did.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import sqlite3

import pytest

from workbench.cli import main as workbench_main
from workbench.registry import audit
from workbench.registry.store import Registry
from sample_files import residents_file, screenings_file


@pytest.fixture
def registry(tmp_path, monkeypatch):
    """A SQLite registry of 3,000 residents and their screenings, with its own key and checkpoints."""
    monkeypatch.setenv("WORKBENCH_AUDIT_KEY_FILE", str(tmp_path / "keys" / "audit.key"))
    monkeypatch.setenv("WORKBENCH_AUDIT_CHECKPOINTS", str(tmp_path / "keys" / "checkpoints.jsonl"))
    reg = Registry(f"sqlite:///{tmp_path / 'registry.sqlite'}")
    reg.init()
    reg.import_residents(residents_file(), by="admin")
    reg.import_assessments(screenings_file(instruments=("phq9",)).iloc[:40], by="admin")
    reg.engine.dispose()
    yield reg
    reg.engine.dispose()


def _sql(registry, *statements):
    with contextlib.closing(sqlite3.connect(registry.engine.url.database)) as conn:
        for statement in statements:
            conn.execute(statement)
        conn.commit()


def _cli(registry, *args):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = workbench_main(["--db", str(registry.engine.url), *args])
    return status, out.getvalue(), err.getvalue()


def test_untouched_registry_verifies_and_key_and_checkpoints_are_private(registry, tmp_path):
    report = registry.verify_audit()
    assert report.ok and report.problems == () and report.unkeyed == 0, report
    for name in ("audit.key", "checkpoints.jsonl"):
        assert (tmp_path / "keys" / name).stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "keys").stat().st_mode & 0o777 == 0o700
    lines = [json.loads(x) for x in (tmp_path / "keys" / "checkpoints.jsonl").read_text().splitlines()]
    assert lines[-1]["length"] == report.entries and lines[-1]["kind"] == "write"


def test_rewriting_the_whole_log_without_the_key_is_detected(registry):
    """Edit a resident's community, then recompute the row hash and every entry's hash as plain SHA-256 (what the
    unkeyed chain allowed): without the key the rewritten chain does not verify."""
    db = registry.engine.url.database
    with contextlib.closing(sqlite3.connect(db)) as conn:
        conn.row_factory = sqlite3.Row
        conn.execute("UPDATE residents SET community = 'Elsewhere' WHERE resident_id = 'R0000005'")
        row = dict(conn.execute("SELECT * FROM residents WHERE resident_id = 'R0000005'").fetchone())
        new_hash = audit.row_hash("residents", row)
        conn.execute("UPDATE residents SET content_hash = ? WHERE resident_id = 'R0000005'", (new_hash,))
        conn.execute("UPDATE audit_log SET content_hash = ? WHERE target_table = 'residents' "
                     "AND target_key = 'R0000005'", (new_hash,))
        prev = audit.GENESIS
        for entry in [dict(e) for e in conn.execute("SELECT * FROM audit_log ORDER BY entry_id")]:
            body = {k: entry[k] for k in ("at", "user_name", "action", "target_table", "target_key",
                                          "content_hash", "details")}
            body["at"] = entry["at"].replace(" ", "T") if isinstance(entry["at"], str) else entry["at"]
            entry_hash = hashlib.sha256(prev.encode() + audit.canonical(body)).hexdigest()
            conn.execute("UPDATE audit_log SET prev_hash = ?, entry_hash = ? WHERE entry_id = ?",
                         (prev, entry_hash, entry["entry_id"]))
            prev = entry_hash
        conn.commit()
    report = registry.verify_audit()
    assert not report.ok
    assert "audit_log entry" in report.problem and ("does not match the audit key" in report.problem
                                                     or "rewritten" in report.problem), report


def test_deleted_assessment_and_resident_are_named(registry):
    _sql(registry,
         "DELETE FROM assessments WHERE resident_id = 'R0000001'",
         "DELETE FROM residents WHERE resident_id = 'R0000002'")
    report = registry.verify_audit()
    assert not report.ok
    assert any(p.startswith("assessments R0000001|") and "deleted" in p for p in report.problems), report.problems
    assert "residents R0000002: deleted (logged as written, no longer stored)" in report.problems
    status, out, err = _cli(registry, "audit", "verify")
    assert status == 1 and "residents R0000002: deleted" in out and "Traceback" not in err


def test_truncated_log_is_named_with_the_checkpoint(registry):
    entries = registry.verify_audit().entries
    _sql(registry, f"DELETE FROM audit_log WHERE entry_id > {entries - 12}")
    report = registry.verify_audit()
    assert not report.ok
    assert any(p.startswith("audit_log: the last 12 audit entries were removed: a checkpoint of ")
               and f"recorded {entries:,}, the log has {entries - 12:,}" in p for p in report.problems), report


def test_truncated_and_regrown_log_is_named(registry):
    """Remove the last entries, then write again: the length is back, but the head at a checkpointed
    length differs from the signed one."""
    entries = registry.verify_audit().entries
    _sql(registry, f"DELETE FROM audit_log WHERE entry_id > {entries - 3}")
    registry.add_user("carol", "counsellor", by="admin")
    registry.add_user("dave", "counsellor", by="admin")
    registry.add_user("erin", "counsellor", by="admin")
    report = registry.verify_audit()
    assert not report.ok
    assert any(p.startswith(f"audit_log entry {entries}: the log was rewritten") for p in report.problems), report


def test_every_problem_is_named_and_counted(registry):
    _sql(registry, "UPDATE residents SET community = 'Elsewhere' WHERE resident_id IN ('R0000003', 'R0000004')")
    report = registry.verify_audit()
    assert not report.ok and report.problem_count == 2, report
    assert set(report.problems) == {f"residents R000000{n}: edited (differs from what was written and logged)"
                                    for n in (3, 4)}
    assert "(and 1 more problem(s))" in report.problem


def test_forged_checkpoint_is_named(registry, tmp_path):
    path = tmp_path / "keys" / "checkpoints.jsonl"
    line = json.loads(path.read_text().splitlines()[-1])
    line["length"] += 5
    with open(path, "a") as handle:
        handle.write(json.dumps(line) + "\n")
    report = registry.verify_audit()
    assert not report.ok and "is not signed with the audit key" in report.problem, report


def test_missing_key_is_refused_naming_the_file(registry, tmp_path):
    (tmp_path / "keys" / "audit.key").rename(tmp_path / "elsewhere.key")
    audit._KEYS.clear()
    status, out, err = _cli(registry, "audit", "verify")
    assert status == 1 and str(tmp_path / "keys" / "audit.key") in err and "missing" in err
    assert "Traceback" not in err


def test_registry_written_before_the_key_verifies_and_is_sealed_by_the_next_write(registry):
    """The unkeyed chain of an older version: re-hash every entry as plain SHA-256 (no row changed)."""
    db = registry.engine.url.database
    with contextlib.closing(sqlite3.connect(db)) as conn:
        conn.row_factory = sqlite3.Row
        prev = audit.GENESIS
        for entry in [dict(e) for e in conn.execute("SELECT * FROM audit_log ORDER BY entry_id")]:
            body = {k: entry[k] for k in ("at", "user_name", "action", "target_table", "target_key",
                                          "content_hash", "details")}
            body["at"] = entry["at"].replace(" ", "T")
            entry_hash = hashlib.sha256(prev.encode() + audit.canonical(body)).hexdigest()
            conn.execute("UPDATE audit_log SET prev_hash = ?, entry_hash = ? WHERE entry_id = ?",
                         (prev, entry_hash, entry["entry_id"]))
            prev = entry_hash
        conn.commit()
    checkpoints = audit.checkpoints_file()
    checkpoints.unlink()  # an older version kept none
    report = registry.verify_audit()
    assert report.ok and report.unkeyed == report.entries, report
    registry.add_user("carol", "counsellor", by="admin")
    report = registry.verify_audit()
    assert report.ok and report.unkeyed == report.entries - 1, report


def test_a_registry_rebuilt_at_the_same_place_starts_a_new_history(registry):
    """The sample registry is rebuilt in place when an older version made it: the checkpoints of the
    deleted one must not fail the new one."""
    path = registry.engine.url.database
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    rebuilt = Registry(f"sqlite:///{path}")
    rebuilt.init()
    rebuilt.import_residents(residents_file(5), by="admin")
    report = rebuilt.verify_audit()
    rebuilt.engine.dispose()
    assert report.ok and report.rows_checked == 5, report
