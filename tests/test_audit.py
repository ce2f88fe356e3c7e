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
    assert report.ok and report.tables["residents"] == 5 and report.sealed == 0 and report.sealed_at is None, report


# --- every table covered -----------------------------------------------------------------------

def _every_table(reg: Registry) -> None:
    """Write a row of every table through the API (the residents and screenings are already in)."""
    import pandas as pd

    reg.add_user("carol", "counsellor", by="admin", display_name="Carol")
    reg.add_user("dave", "counsellor", by="admin")
    reg.assign_caseload("carol", ["R0000001", "R0000002", "R0000006"], by="admin")
    reg.approve_access("carol", "R0000003", by="dave", reason="covering for a colleague")
    reg.record("referrals", pd.DataFrame({"referral_id": ["REF1"], "resident_id": ["R0000001"],
                                          "referred_on": ["2025-02-01"], "tier": [3], "destination": ["clinic"]}),
               by="admin")
    reg.record("contacts", pd.DataFrame({"contact_id": ["C1"], "resident_id": ["R0000001"], "referral_id": ["REF1"],
                                         "contact_on": ["2025-02-03"], "kind": ["phone"], "status": ["attended"],
                                         "note": ["called back"]}), by="admin")
    # two ER visits the same day: two rows with one key
    reg.record("events", pd.DataFrame({"resident_id": ["R0000001", "R0000001", "R0000002"],
                                       "event_on": ["2025-03-02", "2025-03-02", "2025-03-05"],
                                       "kind": ["er_visit", "er_visit", "crisis"],
                                       "source": ["hospital A", "hospital B", "hotline"]}), by="admin")
    reg.record("enrolments", pd.DataFrame({"resident_id": ["R0000001"], "study": ["rct2025"], "arm": ["intervention"],
                                           "enrolled_on": ["2025-01-15"]}), by="admin")
    reg.record("consents", pd.DataFrame({"resident_id": ["R0000001"], "purpose": ["research"], "given": ["True"],
                                         "given_on": ["2025-01-10"]}), by="admin")
    reg.record("surveys", pd.DataFrame({"survey_id": ["S1"], "resident_id": ["R0000001"], "referral_id": ["REF1"],
                                        "surveyed_on": ["2025-04-01"], "satisfied": ["True"], "rating": [4]}),
               by="admin")
    # the quality indicators' data: the hospital's dates filled (an update of the referral), a
    # psychiatric discharge and literacy answers imported
    reg.import_hospital_appointments(pd.DataFrame({"referral_id": ["REF1"], "appointment_on": ["2025-02-03"],
                                                   "hospital_seen_on": ["2025-02-03"]}), by="admin")
    reg.import_discharges(pd.DataFrame({"resident_id": ["R0000002"], "discharged_on": ["2025-03-20"], "days": ["12"]}),
                          by="admin")
    reg.import_literacy(pd.DataFrame({"resident_id": ["R0000001"], "asked_on": ["2025-02-01"],
                                      "questionnaire": ["mhl-8 v1"], "n_asked": ["8"], "n_correct": ["5"]}), by="admin")
    # readings: a file imported (a unit converted), and a visit saved
    reg.import_measurements(pd.DataFrame({"resident_id": ["R0000001"], "measured_on": ["2025-05-01"], "sbp": ["152"],
                                          "dbp": ["88"], "hba1c_mmol_mol": ["53"], "adherence": ["regular"]}),
                            by="admin")
    visit = reg.save_visit({"resident_id": "R0000004", "measured_on": "2025-05-02", "submission_id": "visit-1",
                            "setting": "home", "weight_kg": 61.5, "height_cm": 158, "alarm_symptoms": False},
                           by="admin")
    assert visit.written and visit.measurement["bmi"].iloc[0] == pytest.approx(61.5 / 1.58 ** 2)
    # a screening saved in the app, its decision overridden with a reason
    form = {"resident_id": "R0000005", "assessed_on": "2025-06-01", "submission_id": "app-1", "language": "zh",
            "mode": "interviewer", **{f"phq9_{n}": v for n, v in enumerate((2, 2, 2, 1, 1, 1, 1, 0, 0), start=1)},
            **{f"gad7_{n}": 1 for n in range(1, 8)}}
    saved = reg.save_screening(pd.DataFrame([form]), by="carol", tier=3, reason="seen in person: needs more support")
    assert saved.written and bool(saved.decision["overridden"].iloc[0])
    # the SMD register, a follow-up saved with a changed outcome, a rehabilitation step closed by the next
    reg.register_smd({"resident_id": "R0000006", "diagnosis": "schizophrenia", "registered_on": "2025-01-05"},
                     by="admin")
    reg.save_smd_followup({"submission_id": "smd-1", "resident_id": "R0000006", "followed_on": "2025-03-01",
                           "mode": "face_to_face", "risk_grade": 1, "symptoms": "residual", "insight": "partial",
                           "social_function": "fair", "adverse_reaction": "none", "physical_illness": "none"},
                          by="carol", outcome="unstable", reason="guardian reports threats at night")
    reg.set_rehab_level("R0000006", 1, on="2025-02-01", by="admin")
    reg.set_rehab_level("R0000006", 2, on="2025-04-01", by="admin")
    # a wristband day saved, then computed again (an update), and a risk prediction of the screening above
    day = {"resident_id": "R0000001", "day": "2025-06-01", "device_id": "dev-1", "wear_minutes": 1300,
           "night_wear_minutes": 420, "rmssd": 31.5, "baseline_days": 20, "wear_state": "worn", "alert_state": "clear",
           "flag": False, "nights_low": 0, "nights_valid": 4, "rule": "wearables_default@1.0:rmssd_low",
           **dict.fromkeys(("resting_hr", "steps", "sleep_minutes", "sleep_midpoint", "sleep_regularity", "rmssd_z",
                            "resting_hr_z", "steps_z", "sleep_z"))}
    reg.save_wearable_days(pd.DataFrame([day]), as_user="admin")
    assert reg.save_wearable_days(pd.DataFrame([{**day, "alert_state": "flag", "flag": True, "nights_low": 3}]),
                                  as_user="carol").replaced == 1
    reg.save_risk_predictions(pd.DataFrame([{
        "prediction_id": "PRED1", "decision_id": saved.decision["decision_id"].iloc[0], "resident_id": "R0000005",
        "assessed_on": "2025-06-01", "model": "not_improving_logistic@1.0", "data_version": "sha256:0",
        "outcome": "not_improving_12w", "risk": 0.31, "band": "high", "reason_1": "phq9_total", "reason_2": None,
        "reason_3": None, "predicted_on": "2025-06-02"}]), as_user="admin")


@pytest.fixture
def full_registry(registry):
    """``registry`` with a row of every table written through the API."""
    _every_table(registry)
    registry.engine.dispose()
    return registry


#: table -> (a WHERE picking one row, an edit of a hashed column, a change of key making a new row)
TAMPER = {
    "users": ("name = 'carol'", "display_name = 'Carol (admin)'", {"name": "mallory"}),
    "communities": ("community = (SELECT MIN(community) FROM communities)", "community_type = 'forged'",
                    {"community": "Nowhere"}),
    "tier_assignments": ("assignment_id = (SELECT MIN(assignment_id) FROM tier_assignments)", "tier = 0",
                         {"assessed_on": "2020-01-01"}),
    "referrals": ("referral_id = 'REF1'", "destination = 'elsewhere'", {"referral_id": "REF-FORGED"}),
    "contacts": ("contact_id = 'C1'", "status = 'missed'", {"contact_id": "C-FORGED"}),
    "events": ("kind = 'crisis'", "event_on = '2025-03-06'", {"event_on": "2020-01-01"}),
    "enrolments": ("study = 'rct2025'", "arm = 'control'", {"study": "forged"}),
    "consents": ("purpose = 'research'", "given = 0", {"given_on": "2020-01-01"}),
    "surveys": ("survey_id = 'S1'", "rating = 5", {"survey_id": "S-FORGED"}),
    "measurements": ("sbp = 152", "dbp = 90", {"measured_on": "2020-01-01"}),
    "smd_register": ("resident_id = 'R0000006'", "diagnosis = 'bipolar'", {"resident_id": "R0000007"}),
    "smd_followups": ("submission_id = 'smd-1'", "risk_grade = 0",
                      {"followed_on": "2020-01-01", "submission_id": "smd-2"}),
    "smd_rehab": ("level = 1", "left_on = '2025-09-01'", {"entered_on": "2020-01-01"}),
    "literacy": ("questionnaire = 'mhl-8 v1'", "n_correct = 6", {"asked_on": "2020-01-01"}),
    "wearable_days": ("resident_id = 'R0000001'", "rmssd = 12.5", {"day": "2020-01-01"}),
    "risk_predictions": ("prediction_id = 'PRED1'", "risk = 0.01", {"prediction_id": "P-FORGED", "model": "forged@1"}),
    "caseloads": ("resident_id = 'R0000002'", "assigned_by = 'dave'", {"resident_id": "R0000009"}),
    "access_approvals": ("resident_id = 'R0000003'", "expires_at = '2099-01-01 00:00:00.000000'",
                         {"resident_id": "R0000004"}),
}


def _key_of(reg: Registry, table: str, where: str) -> str:
    import sqlalchemy as sa

    with reg.engine.connect() as conn:
        row = conn.execute(sa.text(f"SELECT * FROM {table} WHERE {where}")).mappings().one()
    reg.engine.dispose()
    return audit.row_key(table, row)


def test_a_registry_with_every_table_written_verifies(full_registry):
    report = full_registry.verify_audit()
    assert report.ok and report.problems == (), report
    assert set(report.tables) == set(audit.COVERED) and all(report.tables[t] > 0 for t in audit.COVERED), report
    assert report.rows_checked == sum(report.tables.values()) and report.sealed == 0 and report.unsealed == 0


@pytest.mark.parametrize("table", sorted(TAMPER))
def test_a_row_edited_with_sql_is_named(full_registry, table):
    where, edit, _ = TAMPER[table]
    if table == "events":  # the edit moves the row to another key: logged key gone, new key unlogged
        before = _key_of(full_registry, table, where)
        _sql(full_registry, f"UPDATE {table} SET {edit} WHERE {where}")
        after = _key_of(full_registry, table, where)
        expected = {f"events {before}: deleted (logged as written, no longer stored)",
                    f"events {after}: stored without an audit entry"}
    else:
        _sql(full_registry, f"UPDATE {table} SET {edit} WHERE {where}")
        expected = {f"{table} {_key_of(full_registry, table, where)}: edited (differs from what was written and logged)"}
    report = full_registry.verify_audit()
    assert not report.ok and set(report.problems) == expected and report.problem_count == len(expected), report


@pytest.mark.parametrize("table", sorted(TAMPER))
def test_a_row_deleted_with_sql_is_named(full_registry, table):
    where, _, _ = TAMPER[table]
    key = _key_of(full_registry, table, where)
    _sql(full_registry, f"DELETE FROM {table} WHERE {where}")
    report = full_registry.verify_audit()
    assert not report.ok and report.problems == (f"{table} {key}: deleted (logged as written, no longer stored)",), \
        report


@pytest.mark.parametrize("table", sorted(TAMPER))
def test_a_row_inserted_behind_the_api_is_named(full_registry, table):
    """Copy a stored row under another key (its generated id left to the database)."""
    import sqlalchemy as sa

    from workbench.registry import schema

    where, _, change = TAMPER[table]
    generated = {c.name for c in schema.metadata.tables[table].primary_key.columns if c.autoincrement is True
                 and isinstance(c.type, sa.Integer)}
    with contextlib.closing(sqlite3.connect(full_registry.engine.url.database)) as conn:
        conn.row_factory = sqlite3.Row
        row = {k: v for k, v in dict(conn.execute(f"SELECT * FROM {table} WHERE {where}").fetchone()).items()
               if k not in generated}
        row.update(change)
        conn.execute(f"INSERT INTO {table} ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})", list(row.values()))
        conn.commit()
    new_where = " AND ".join(f"{c} = '{v}'" for c, v in change.items())
    key = _key_of(full_registry, table, new_where)
    report = full_registry.verify_audit()
    assert not report.ok and report.problems == (f"{table} {key}: stored without an audit entry",), report


def test_rows_sharing_a_key_are_told_apart(full_registry):
    """Two ER visits on the same day: editing one, or adding a third copy, is named under their key."""
    _sql(full_registry, "UPDATE events SET source = 'hospital C' WHERE source = 'hospital B'")
    report = full_registry.verify_audit()
    assert report.problems == ("events R0000001|2025-03-02|er_visit: edited (differs from what was written and logged)",)
    _sql(full_registry, "UPDATE events SET source = 'hospital B' WHERE source = 'hospital C'",
         "INSERT INTO events (resident_id, event_on, kind, source, recorded_by, recorded_at) "
         "SELECT resident_id, event_on, kind, source, recorded_by, recorded_at FROM events WHERE source = 'hospital A'")
    report = full_registry.verify_audit()
    assert report.problems == ("events R0000001|2025-03-02|er_visit: stored without an audit entry (one more row "
                               "with this key than logged)",), report


def test_cli_shows_rows_checked_per_table(full_registry):
    status, out, err = _cli(full_registry, "audit", "verify")
    assert status == 0 and "OK" in out and "Traceback" not in err
    assert "rows checked: users 3, communities " in out and "events 4" in out and "access_approvals 1" in out, out


def test_an_updated_user_verifies_with_its_latest_logged_hash(full_registry):
    """A user row updated through the API logs an ``update`` entry with the new row's hash: verify takes the
    latest; an edit after it is still named."""
    import sqlalchemy as sa

    from workbench.registry.schema import users

    reg = full_registry
    with reg._write() as conn:
        conn.execute(users.update().where(users.c.name == "carol").values(active=False))
        row = conn.execute(sa.select(users).where(users.c.name == "carol")).mappings().one()
        audit.append(conn, [{"action": "update", "target_table": "users", "target_key": "carol",
                             "content_hash": audit.row_hash("users", row)}], user="admin", at=row["created_at"])
    reg.engine.dispose()
    assert reg.verify_audit().ok
    _sql(reg, "UPDATE users SET active = 1 WHERE name = 'carol'")
    assert reg.verify_audit().problems == ("users carol: edited (differs from what was written and logged)",)


def test_a_bulk_import_of_the_sample_verifies(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_AUDIT_KEY_FILE", str(tmp_path / "keys" / "audit.key"))
    monkeypatch.setenv("WORKBENCH_AUDIT_CHECKPOINTS", str(tmp_path / "keys" / "checkpoints.jsonl"))
    from workbench.sample import load_sample

    reg = Registry(f"sqlite:///{tmp_path / 'sample.sqlite'}")
    reg.init()
    reg.import_tables(load_sample(), by="admin", source="the sample")
    report = reg.verify_audit()
    assert report.ok and report.problems == (), report
    for table in ("communities", "residents", "assessments", "tier_assignments", "referrals", "contacts", "events",
                  "enrolments", "surveys"):
        assert report.tables[table] > 0, report.tables
    _sql(reg, "UPDATE tier_assignments SET rule = 'forged' WHERE assignment_id = 7")
    key = _key_of(reg, "tier_assignments", "assignment_id = 7")
    assert reg.verify_audit().problems == (f"tier_assignments {key}: edited (differs from what was written and "
                                           f"logged)",)
    reg.engine.dispose()


# --- registries written before every table was covered ---------------------------------------------

def _old_registry(tmp_path) -> Registry:
    """A registry as an earlier version left it: residents logged with their hash; users, communities,
    events, contacts, caseloads logged without one (or not at all), and no baseline in the log."""
    import datetime as dt

    import sqlalchemy as sa

    from workbench.registry import migrate
    from workbench.registry.schema import caseloads, communities, contacts, events, residents, users

    reg = Registry(f"sqlite:///{tmp_path / 'old.sqlite'}")
    migrate.upgrade(reg.engine)
    at = dt.datetime(2025, 6, 1, 9, 30, tzinfo=dt.timezone.utc)
    resident = {"resident_id": "R1", "name": "Ann", "phone": None, "id_number": None, "sex": "female",
                "birth_date": dt.date(1950, 2, 3), "community": "urban-01", "lives_alone": True,
                **{c: False for c in ("hypertension", "diabetes", "chd", "stroke", "copd", "asthma")},
                "created_by": "admin"}
    resident["content_hash"] = audit.row_hash("residents", resident)
    with reg.engine.begin() as conn:
        conn.execute(users.insert(), [{"name": "admin", "role": "admin", "created_at": at},
                                      {"name": "carol", "role": "counsellor", "created_by": "admin", "created_at": at}])
        conn.execute(communities.insert(), [{"community": "urban-01", "created_by": "admin", "created_at": at}])
        conn.execute(residents.insert(), [{**resident, "created_at": at}])
        conn.execute(events.insert(), [{"resident_id": "R1", "event_on": dt.date(2025, 5, d), "kind": "er_visit",
                                        "recorded_by": "admin", "recorded_at": at} for d in (2, 2, 9)])
        conn.execute(contacts.insert(), [{"contact_id": "C1", "resident_id": "R1", "contact_on": dt.date(2025, 5, 3),
                                          "kind": "phone", "status": "attended", "recorded_by": "admin",
                                          "recorded_at": at}])
        conn.execute(caseloads.insert(), [{"user_name": "carol", "resident_id": "R1", "assigned_by": "admin",
                                           "assigned_at": at}])
        audit.append(conn, [{"action": "add_user", "target_table": "users", "target_key": "admin"},
                            {"action": "add_user", "target_table": "users", "target_key": "carol"},
                            {"action": "insert", "target_table": "residents", "target_key": "R1",
                             "content_hash": resident["content_hash"]},
                            *[{"action": "insert", "target_table": "events", "target_key": str(k)} for k in (1, 2, 3)],
                            {"action": "insert", "target_table": "contacts", "target_key": "C1"},
                            {"action": "assign_caseload", "target_table": "caseloads", "target_key": "carol",
                             "details": {"residents": ["R1"]}}], user="admin", at=at)
        length, head = audit.head(conn)
    audit.checkpoint(audit.registry_id(reg.engine.url), length, head)
    reg.engine.dispose()
    return reg


def test_an_older_registry_is_not_failed_but_its_unsealed_rows_are_counted(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_AUDIT_KEY_FILE", str(tmp_path / "keys" / "audit.key"))
    monkeypatch.setenv("WORKBENCH_AUDIT_CHECKPOINTS", str(tmp_path / "keys" / "checkpoints.jsonl"))
    reg = _old_registry(tmp_path)
    report = reg.verify_audit()
    assert report.ok and report.unsealed == 8 and report.sealed == 0, report  # 2 users, 1 community, 3 events, ...
    status, out, _ = _cli(reg, "audit", "verify")
    assert status == 0 and "8 row(s) written before every table was audited are not sealed yet" in out, out
    _sql(reg, "UPDATE residents SET name = 'Anne' WHERE resident_id = 'R1'")  # covered from the start: still named
    assert reg.verify_audit().problems == ("residents R1: edited (differs from what was written and logged)",)


@pytest.mark.parametrize("how", ["init", "upgrade"])
def test_an_older_registry_is_sealed_at_the_upgrade_then_every_change_is_caught(tmp_path, monkeypatch, how):
    monkeypatch.setenv("WORKBENCH_AUDIT_KEY_FILE", str(tmp_path / "keys" / "audit.key"))
    monkeypatch.setenv("WORKBENCH_AUDIT_CHECKPOINTS", str(tmp_path / "keys" / "checkpoints.jsonl"))
    reg = _old_registry(tmp_path)
    reg.init() if how == "init" else reg.upgrade()
    report = reg.verify_audit()
    assert report.ok and report.sealed == 8 and report.unsealed == 0 and report.sealed_at, report
    status, out, _ = _cli(reg, "audit", "verify")
    assert status == 0 and f"8 row(s) written before every table was audited were sealed as they stood at the " \
                           f"upgrade of {report.sealed_at} UTC" in out, out
    entries = report.entries
    reg.upgrade()  # sealed once: a second upgrade writes nothing
    assert reg.verify_audit().entries == entries
    reg.engine.dispose()
    _sql(reg, "UPDATE events SET source = 'forged' WHERE event_id = 3",
         "DELETE FROM events WHERE event_id = 2",
         "UPDATE caseloads SET assigned_by = 'carol'")
    report = reg.verify_audit()
    assert set(report.problems) == {"events R1|2025-05-09|er_visit: edited (differs from what was written and logged)",
                                    "events R1|2025-05-02|er_visit: deleted (logged as written, no longer stored)",
                                    "caseloads carol|R1: edited (differs from what was written and logged)"}, report


def test_the_seal_leaves_rows_already_logged_alone(tmp_path, monkeypatch):
    """Rows written by this version before the upgrade ran (a write before ``db upgrade``) keep their own entries:
    the baseline covers only the rest, so a key's rows are not counted twice."""
    import pandas as pd

    monkeypatch.setenv("WORKBENCH_AUDIT_KEY_FILE", str(tmp_path / "keys" / "audit.key"))
    monkeypatch.setenv("WORKBENCH_AUDIT_CHECKPOINTS", str(tmp_path / "keys" / "checkpoints.jsonl"))
    reg = _old_registry(tmp_path)
    reg.record("events", pd.DataFrame({"resident_id": ["R1"], "event_on": ["2025-05-02"], "kind": ["er_visit"]}),
               by="admin")
    assert reg.verify_audit().unsealed == 8
    reg.upgrade()
    report = reg.verify_audit()
    assert report.ok and report.sealed == 8 and report.tables["events"] == 4, report


def test_postgresql_registry_with_every_table_verifies_and_an_edited_decision_is_named(fresh_postgres_url, tmp_path,
                                                                                        monkeypatch):
    """Times with time zones, booleans, dates and whole floats round-trip through PostgreSQL as hashed."""
    import sqlalchemy as sa

    monkeypatch.setenv("WORKBENCH_AUDIT_KEY_FILE", str(tmp_path / "keys" / "audit.key"))
    monkeypatch.setenv("WORKBENCH_AUDIT_CHECKPOINTS", str(tmp_path / "keys" / "checkpoints.jsonl"))
    reg = Registry(fresh_postgres_url)
    reg.init()
    reg.import_residents(residents_file(300), by="admin")
    reg.import_assessments(screenings_file(instruments=("phq9", "gad7")).iloc[:40], by="admin")
    _every_table(reg)
    try:
        report = reg.verify_audit()
        assert report.ok and report.problems == (), report
        assert all(report.tables[t] > 0 for t in audit.COVERED), report.tables
        with reg.engine.begin() as conn:
            row = conn.execute(sa.text("UPDATE tier_assignments SET override_reason = 'seen by phone', overridden = true "
                                       "WHERE assignment_id = (SELECT MIN(assignment_id) FROM tier_assignments) "
                                       "RETURNING resident_id, assessed_on")).one()
        report = reg.verify_audit()
        assert report.problems == (f"tier_assignments {row.resident_id}|{row.assessed_on.isoformat()}: edited "
                                   f"(differs from what was written and logged)",), report
    finally:
        reg.engine.dispose()
