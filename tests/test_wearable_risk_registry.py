"""A wristband's days and the risk model's predictions in the registry (issue 17): saving (all or
nothing, every problem named), replacing a day, append-only predictions, who may read them, the
audit seal, exports, the analysis tables' round trip, and the caseload list's two columns.

Expected values are written by hand from the rows in each test, not computed by the code under test.
"""

from __future__ import annotations

import pandas as pd
import pytest
import sqlalchemy as sa

from workbench.registry.access import AccessDenied
from workbench.registry.store import RecordProblems, Registry


def resident(rid: str) -> dict:
    return {"resident_id": rid, "sex": "female", "birth_date": "1948-03-02", "community": "urban-01",
            "lives_alone": "true", **{c: "false" for c in ("hypertension", "diabetes", "chd", "stroke", "copd",
                                                            "asthma")}, "name": f"Name {rid}", "phone": "139"}


def screening(rid: str, on: str, submission: str) -> pd.DataFrame:
    row = {"resident_id": rid, "assessed_on": on, "submission_id": submission, "language": "zh", "mode": "interviewer"}
    row.update({f"phq9_{n}": v for n, v in enumerate((2, 2, 2, 2, 2, 1, 1, 1, 0), start=1)})  # 13: tier 2
    row.update({f"gad7_{n}": 0 for n in range(1, 8)})
    return pd.DataFrame([row])


def day(rid: str, on: str, *, state: str = "clear", wear: str = "worn", low=0, valid=4, rmssd=30.5, **more) -> dict:
    row = {"resident_id": rid, "day": on, "device_id": f"dev-{rid}", "wear_minutes": 1300, "night_wear_minutes": 420,
           "resting_hr": 61.5, "rmssd": rmssd, "steps": 4200, "sleep_minutes": 400, "sleep_midpoint": 3.25,
           "sleep_regularity": 22.0, "baseline_days": 26, "rmssd_z": -0.4, "resting_hr_z": 0.2, "steps_z": 0.1,
           "sleep_z": -0.3, "wear_state": wear, "alert_state": state, "flag": state == "flag", "nights_low": low,
           "nights_valid": valid, "rule": "wearables_default@1.0:rmssd_low"}
    row.update(more)
    return row


def prediction(pid: str, decision_id: str, rid: str, on: str, *, model="not_improving_logistic@1.0", risk=0.42,
               band="high", **more) -> dict:
    row = {"prediction_id": pid, "decision_id": decision_id, "resident_id": rid, "assessed_on": on, "model": model,
           "data_version": "sha256:abc", "outcome": "not_improving_12w", "risk": risk, "band": band,
           "reason_1": "phq9_total", "reason_2": "lives_alone", "reason_3": None, "predicted_on": on}
    row.update(more)
    return row


def _filled(url: str) -> Registry:
    reg = Registry(url)
    reg.init()
    for name, role in (("cou", "counsellor"), ("other", "counsellor"), ("sw", "social_worker"), ("ana", "analyst")):
        reg.add_user(name, role, by="admin")
    reg.import_residents(pd.DataFrame([resident("R1"), resident("R2")]), by="admin")
    reg.assign_caseload("cou", ["R1"], by="admin")
    reg.save_screening(screening("R1", "2025-05-02", "s1"), by="admin")
    reg.save_screening(screening("R2", "2025-05-03", "s2"), by="admin")
    return reg


@pytest.fixture
def registry(tmp_path):
    reg = _filled(f"sqlite:///{tmp_path / 'registry.sqlite'}")
    yield reg
    reg.engine.dispose()


def decision_of(reg: Registry, rid: str) -> str:
    with reg.engine.connect() as conn:
        return str(conn.execute(sa.text("SELECT assignment_id FROM tier_assignments WHERE resident_id = :r"),
                                {"r": rid}).scalar())


def named(err) -> set[tuple]:
    return {(r.row, r.column) for r in err.value.problems.itertuples(index=False)}


def test_days_and_predictions_round_trip_and_the_caseload_reads_them(registry):
    d1, d2 = decision_of(registry, "R1"), decision_of(registry, "R2")
    days = pd.DataFrame([day("R1", "2025-05-01"), day("R1", "2025-05-02", state="flag", low=3, rmssd=18.25,
                                                       rmssd_z=-2.6),
                         day("R2", "2025-05-02", state="low_wear", wear="low_wear", low=None, valid=None,
                             rmssd=None, rmssd_z=None)])
    assert tuple(registry.save_wearable_days(days, as_user="admin")) == (3, 0, 0)
    preds = pd.DataFrame([prediction("P1", d1, "R1", "2025-05-02"),
                          prediction("P2", d2, "R2", "2025-05-03", risk=0.08, band="low", reason_2=None)])
    assert tuple(registry.save_risk_predictions(preds, as_user="admin")) == (2, 0, 0)
    tables = registry.analysis_tables(as_user="admin")
    wd, rp = tables.wearable_days, tables.risk_predictions
    assert list(wd.columns) == [c.name for c in __import__("workbench.tables", fromlist=["TABLES"]).TABLES[
        "wearable_days"].columns]
    assert wd["flag"].tolist() == [False, True, False] and wd["rmssd"].isna().tolist() == [False, False, True]
    assert wd.loc[1, "rmssd"] == 18.25 and wd.loc[1, "nights_low"] == 3 and pd.isna(wd.loc[2, "nights_valid"])
    assert rp["decision_id"].tolist() == [d1, d2] and rp["predicted_by"].tolist() == ["admin", "admin"]
    assert set(rp["decision_id"]) <= set(tables.decisions["decision_id"])  # links hold
    tables.validate()
    # the counsellor's follow-up data: only R1 (their caseload), its latest day and prediction
    data = registry.follow_up_data(as_user="cou")
    assert data.wearables[["resident_id", "alert_state", "nights_low", "nights_valid"]].values.tolist() == [
        ["R1", "flag", 3, 4]]
    assert data.risk[["resident_id", "band", "risk", "reason_1", "model"]].values.tolist() == [
        ["R1", "high", 0.42, "phq9_total", "not_improving_logistic@1.0"]]
    assert registry.verify_audit().ok


def test_a_day_saved_again_replaces_the_stored_one_and_the_same_again_changes_nothing(registry):
    registry.save_wearable_days(pd.DataFrame([day("R1", "2025-05-01"), day("R1", "2025-05-02")]), as_user="admin")
    again = pd.DataFrame([day("R1", "2025-05-02", state="flag", low=3), day("R1", "2025-05-01")])
    assert tuple(registry.save_wearable_days(again, as_user="cou")) == (0, 1, 1)
    with registry.engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT day, alert_state, recorded_by FROM wearable_days ORDER BY day")).all()
    assert [(str(r[0])[:10], r[1], r[2]) for r in stored] == [("2025-05-01", "clear", "admin"),
                                                             ("2025-05-02", "flag", "cou")]
    assert registry.verify_audit().ok


def test_bad_rows_are_refused_whole_and_every_problem_is_named(registry):
    bad = pd.DataFrame([day("R1", "2025-05-01", wear_minutes=1500),            # row 0: more than a day
                        day("R1", "2025-05-02", state="flag", flag=False),     # row 1: flag disagrees
                        day("R1", "2025-05-03", low=5, valid=4),               # row 2: 5 of 4 nights
                        day("R1", "2025-05-04", state="normal"),               # row 3: not a state
                        day("R1", "2025-05-05", wear="worn", steps="many"),    # row 4: not a number
                        day("R9", "2025-05-06")])                              # row 5: no such resident
    with pytest.raises(RecordProblems) as err:
        registry.save_wearable_days(bad.iloc[:5], as_user="admin")
    assert named(err) >= {(0, "wear_minutes"), (1, "flag"), (2, "nights_low"), (3, "alert_state"), (4, "steps")}
    with pytest.raises(RecordProblems) as err:
        registry.save_wearable_days(bad.iloc[[0, 5]].reset_index(drop=True).assign(wear_minutes=100), as_user="admin")
    assert named(err) == {(1, "resident_id")}
    d1 = decision_of(registry, "R1")
    preds = pd.DataFrame([prediction("P1", d1, "R1", "2025-05-02", risk=1.2),                 # out of [0, 1]
                          prediction("P2", d1, "R2", "2025-05-02", model="m@2"),              # not R2's decision
                          prediction("P3", "99999", "R1", "2025-05-02", model="m@3"),         # no such decision
                          prediction("P4", d1, "R1", "2025-05-02", model="m@4", band="severe"),
                          prediction("P5", d1, "R1", "2025-05-02", model="m@5", reason_1=None)])  # reason_2 after a blank
    with pytest.raises(RecordProblems) as err:
        registry.save_risk_predictions(preds, as_user="admin")
    assert named(err) >= {(0, "risk"), (3, "band"), (4, "reason_2")}
    with pytest.raises(RecordProblems) as err:
        registry.save_risk_predictions(preds.iloc[1:3].reset_index(drop=True), as_user="admin")
    assert named(err) == {(0, "resident_id"), (1, "decision_id")}
    with registry.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM wearable_days")).scalar() == 0
        assert conn.execute(sa.text("SELECT COUNT(*) FROM risk_predictions")).scalar() == 0


def test_predictions_are_append_only_one_per_decision_and_model_version(registry):
    d1 = decision_of(registry, "R1")
    first = pd.DataFrame([prediction("P1", d1, "R1", "2025-05-02")])
    assert registry.save_risk_predictions(first, as_user="admin").written == 1
    assert tuple(registry.save_risk_predictions(first, as_user="admin")) == (0, 0, 1)  # the same again
    with pytest.raises(RecordProblems, match="never replaced"):
        registry.save_risk_predictions(pd.DataFrame([prediction("P2", d1, "R1", "2025-05-02", risk=0.5)]),
                                       as_user="admin")
    with pytest.raises(RecordProblems, match="never replaced"):
        registry.save_risk_predictions(first.assign(risk=0.1, band="low"), as_user="admin")
    newer = pd.DataFrame([prediction("P3", d1, "R1", "2025-05-02", model="not_improving_logistic@1.1")])
    assert registry.save_risk_predictions(newer, as_user="admin").written == 1  # a new model version adds a row
    with pytest.raises(RecordProblems, match="predicted_by"):
        registry.save_risk_predictions(pd.DataFrame([prediction("P4", d1, "R1", "2025-05-02", model="m@9",
                                                                predicted_by="someone")]), as_user="admin")


def test_who_may_read_and_write_them(registry):
    d1, d2 = decision_of(registry, "R1"), decision_of(registry, "R2")
    registry.save_wearable_days(pd.DataFrame([day("R1", "2025-05-01"), day("R2", "2025-05-01")]), as_user="admin")
    registry.save_risk_predictions(pd.DataFrame([prediction("P1", d1, "R1", "2025-05-02"),
                                                 prediction("P2", d2, "R2", "2025-05-03")]), as_user="admin")
    with pytest.raises(AccessDenied):  # a social worker reads neither
        registry.analysis_tables(as_user="sw")
    with pytest.raises(AccessDenied):
        registry.follow_up_data(as_user="sw")
    with pytest.raises(AccessDenied):
        registry.save_wearable_days(pd.DataFrame([day("R1", "2025-05-02")]), as_user="sw")
    mine = registry.analysis_tables(as_user="cou")  # the caseload: R1 only
    assert mine.wearable_days["resident_id"].tolist() == ["R1"] and mine.risk_predictions["prediction_id"].tolist() == ["P1"]
    outside = registry.analysis_tables(as_user="other")  # nobody on their caseload
    assert outside.wearable_days.empty and outside.risk_predictions.empty
    with pytest.raises(AccessDenied, match="wristband days"):
        registry.save_wearable_days(pd.DataFrame([day("R2", "2025-05-02")]), as_user="cou")
    registry.approve_access("other", "R2", by="cou", reason="covering a colleague")  # the approval path
    assert registry.analysis_tables(as_user="other").risk_predictions["prediction_id"].tolist() == ["P2"]


def test_the_audit_seal_catches_a_changed_risk_and_a_changed_day(registry):
    d1 = decision_of(registry, "R1")
    registry.save_wearable_days(pd.DataFrame([day("R1", "2025-05-01", state="flag", low=3)]), as_user="admin")
    registry.save_risk_predictions(pd.DataFrame([prediction("P1", d1, "R1", "2025-05-02")]), as_user="admin")
    assert registry.verify_audit().ok
    with registry.engine.begin() as conn:
        conn.execute(sa.text("UPDATE risk_predictions SET risk = 0.05, band = 'low' WHERE prediction_id = 'P1'"))
        conn.execute(sa.text("UPDATE wearable_days SET alert_state = 'clear', flag = false"))
    report = registry.verify_audit()
    assert not report.ok
    assert any("risk_predictions P1: edited" in p for p in report.problems), report.problems
    assert any("wearable_days R1|2025-05-01: edited" in p for p in report.problems), report.problems


def test_exports_pseudonymise_ids_devices_and_staff(registry, tmp_path):
    from workbench.registry.export import export_tables
    from workbench.tables import read

    d1 = decision_of(registry, "R1")
    registry.save_wearable_days(pd.DataFrame([day("R1", "2025-05-01")]), as_user="admin")
    registry.save_risk_predictions(pd.DataFrame([prediction("P1", d1, "R1", "2025-05-02")]), as_user="admin")
    back = read(export_tables(registry, tmp_path / "out", as_user="ana", key_file=tmp_path / "keys" / "export.key"))
    wd, rp = back.wearable_days, back.risk_predictions
    assert wd["resident_id"].str.match(r"^P[0-9a-f]{16}$").all() and wd["device_id"].str.match(r"^W[0-9a-f]{16}$").all()
    assert rp["prediction_id"].str.match(r"^X[0-9a-f]{16}$").all() and rp["predicted_by"].str.match(r"^U[0-9a-f]{16}$").all()
    assert set(rp["decision_id"]) <= set(back.decisions["decision_id"]) and rp["decision_id"].str.startswith("D").all()
    assert set(rp["resident_id"]) == set(wd["resident_id"]) <= set(back.residents["resident_id"])
    for name in ("wearable_days", "risk_predictions"):
        raw = (tmp_path / "out" / f"{name}.csv").read_text(encoding="utf-8-sig")
        assert "R1" not in raw and "dev-R1" not in raw and "admin" not in raw and "P1," not in raw


def test_the_bulk_import_carries_them(registry, tmp_path):
    d1 = decision_of(registry, "R1")
    registry.save_wearable_days(pd.DataFrame([day("R1", "2025-05-01", state="flag", low=3)]), as_user="admin")
    registry.save_risk_predictions(pd.DataFrame([prediction("P1", d1, "R1", "2025-05-02")]), as_user="admin")
    tables = registry.analysis_tables(as_user="admin")
    other = Registry(f"sqlite:///{tmp_path / 'other.sqlite'}")
    try:
        other.init()
        done = other.import_tables(tables, by="admin")
        assert done.written["wearable_days"] == 1 and done.written["risk_predictions"] == 1
        back = other.analysis_tables(as_user="admin")
        pd.testing.assert_frame_equal(back.wearable_days, tables.wearable_days)
        assert back.risk_predictions.drop(columns="decision_id").equals(tables.risk_predictions.drop(columns="decision_id"))
        again = other.import_tables(tables, by="admin")
        assert again.written["risk_predictions"] == 0 and again.unchanged["risk_predictions"] == 1
        assert other.verify_audit().ok
    finally:
        other.engine.dispose()


def test_the_caseload_shows_the_flag_and_the_band_in_both_languages(registry):
    import datetime as dt

    from workbench.ui.caseload import CaseloadView

    d1 = decision_of(registry, "R1")
    registry.save_wearable_days(pd.DataFrame([day("R1", "2025-05-02", state="flag", low=3, rmssd=18.25,
                                                  rmssd_z=-2.6)]), as_user="admin")
    registry.save_risk_predictions(pd.DataFrame([prediction("P1", d1, "R1", "2025-05-02")]), as_user="admin")
    view = CaseloadView(registry, user="cou", lang="en", today=dt.date(2025, 5, 2))
    text = view.table.value
    assert "Wristband" in text and "Risk band" in text
    assert "⚑ Flag: call" in text and "3 of the last 4" in text  # the reason, from the numbers stored
    assert "High (42%)" in text and "Top reasons:" in text
    view.set_language("zh")
    text = view.table.value
    assert "手环" in text and "风险分层" in text and "⚑ 提醒" in text and "4晚中有3晚" in text
    assert "高 (42%)" in text and "主要原因：筛查时PHQ-9总分；独居" in text  # labels from the risk spec


def test_the_wristband_states_other_than_a_flag_and_no_device_are_told_apart():
    from workbench.outcomes import FOLLOW_UP_COLUMNS
    from workbench.ui.caseload import caseload_table_html

    listed = []
    for rid in ("R1", "R2", "R3", "R4"):
        row = dict.fromkeys(FOLLOW_UP_COLUMNS, None)
        row.update(resident_id=rid, tier=2, urgent=False, overdue=False, due_today=False, days_overdue=0,
                   not_improving=False, psychiatric_review_due=False, needs_review=False)
        listed.append(row)
    wd = pd.DataFrame([day("R1", "2025-05-02", state="low_wear", wear="low_wear"),
                       day("R2", "2025-05-02", state="low_wear", wear="not_worn"),
                       day("R3", "2025-04-20", state="no_baseline"),
                       day("R3", "2025-05-09", state="flag", low=3)])  # after the working day: not shown
    wd["day"] = pd.to_datetime(wd["day"])
    out = caseload_table_html(pd.DataFrame(listed), lang="en", caption="Today", wearables=wd, on="2025-05-02")
    cells = [r.split("</td><td>")[3] for r in out.split("<tr>")[2:]]  # the wristband column of each row
    assert cells[:3] == ["Low wear", "Not worn", "No baseline yet (as of 2025-04-20)"]
    assert cells[3] == "" and "Flag" not in out  # R4 has no device: blank, never "clear"


# --- PostgreSQL ------------------------------------------------------------------------------------

def test_postgresql_row_security_and_the_analysts_views(fresh_postgres_url, tmp_path, monkeypatch):
    """On PostgreSQL the database itself keeps the rules: a counsellor connected as their own role
    saves and reads their caseload's days and predictions only, replaces a day under their own
    name, and cannot change a prediction; a social worker reads neither table; the analysts' views
    pseudonymise residents, devices, predictions, decisions and staff as an export does."""
    import psycopg

    monkeypatch.setenv("WORKBENCH_AUDIT_KEY_FILE", str(tmp_path / "keys" / "audit.key"))
    monkeypatch.setenv("WORKBENCH_AUDIT_CHECKPOINTS", str(tmp_path / "keys" / "checkpoints.jsonl"))
    reg = _filled(fresh_postgres_url)
    d1, d2 = decision_of(reg, "R1"), decision_of(reg, "R2")
    reg.save_wearable_days(pd.DataFrame([day("R2", "2025-05-01")]), as_user="admin")
    reg.save_risk_predictions(pd.DataFrame([prediction("P2", d2, "R2", "2025-05-03")]), as_user="admin")

    def as_(user: str) -> str:
        return sa.engine.make_url(fresh_postgres_url).set(username=user).render_as_string(hide_password=False)

    counsellor = Registry(as_("cou"))
    try:
        assert counsellor.save_wearable_days(pd.DataFrame([day("R1", "2025-05-01")]), as_user="cou").written == 1
        assert counsellor.save_wearable_days(pd.DataFrame([day("R1", "2025-05-01", state="flag", low=3)]),
                                             as_user="cou").replaced == 1
        assert counsellor.save_risk_predictions(pd.DataFrame([prediction("P1", d1, "R1", "2025-05-02")]),
                                                as_user="cou").written == 1
        data = counsellor.follow_up_data(as_user="cou")
        assert data.wearables["alert_state"].tolist() == ["flag"] and data.risk["prediction_id"].tolist() == ["P1"]
    finally:
        counsellor.engine.dispose()
    plain = lambda user: as_(user).replace("postgresql+psycopg://", "postgresql://")  # noqa: E731
    with psycopg.connect(plain("cou"), autocommit=True) as conn:
        assert conn.execute("SELECT resident_id FROM wearable_days").fetchall() == [("R1",)]  # R2 is not theirs
        assert conn.execute("SELECT prediction_id FROM risk_predictions").fetchall() == [("P1",)]
        with pytest.raises(psycopg.errors.InsufficientPrivilege):  # append-only
            conn.execute("UPDATE risk_predictions SET risk = 0.01 WHERE prediction_id = 'P1'")
        conn.execute("UPDATE wearable_days SET recorded_by = 'cou', steps = 1 WHERE resident_id = 'R2'")  # not theirs:
    with psycopg.connect(plain("sw"), autocommit=True) as conn:
        for table in ("wearable_days", "risk_predictions"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(f"SELECT COUNT(*) FROM {table}")
    with reg.engine.connect() as conn:  # no row of R2 changed
        assert conn.execute(sa.text("SELECT steps FROM wearable_days WHERE resident_id = 'R2'")).scalar() == 4200
    seen = reg.analysis_tables(as_user="ana")
    wd, rp = seen.wearable_days, seen.risk_predictions
    assert len(wd) == 2 and wd["device_id"].str.match(r"^W[0-9a-f]{16}$").all() and wd["flag"].sum() == 1
    assert rp["prediction_id"].str.match(r"^X[0-9a-f]{16}$").all() and rp["predicted_by"].nunique() == 2
    assert set(rp["decision_id"]) <= set(seen.decisions["decision_id"])
    assert set(rp["resident_id"]) <= set(seen.residents["resident_id"])
    report = reg.verify_audit()
    assert report.ok and report.tables["wearable_days"] == 2 and report.tables["risk_predictions"] == 2, report
    reg.engine.dispose()


# --- migration 0009 --------------------------------------------------------------------------------

@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_a_registry_of_revision_0008_upgrades_and_downgrades(dialect, tmp_path, monkeypatch, request):
    """A 0008 registry with a resident and a decision upgrades to 0009 (the two tables made with
    their CHECKs, the audit still sound), takes a day and a prediction, and goes back to 0008."""
    from alembic import command

    from workbench.registry import migrate

    monkeypatch.setenv("WORKBENCH_AUDIT_KEY_FILE", str(tmp_path / "keys" / "audit.key"))
    monkeypatch.setenv("WORKBENCH_AUDIT_CHECKPOINTS", str(tmp_path / "keys" / "checkpoints.jsonl"))
    url = f"sqlite:///{tmp_path / 'old.sqlite'}" if dialect == "sqlite" else request.getfixturevalue("fresh_postgres_url")
    reg = Registry(url)
    migrate.upgrade(reg.engine, "0008")
    with reg.engine.connect() as conn:
        assert "wearable_days" not in sa.inspect(conn).get_table_names()
    reg.engine.dispose()
    reg = _filled(url)  # init upgrades to 0009
    try:
        assert migrate.current_revision(reg.engine) == "0009"
        reg.save_wearable_days(pd.DataFrame([day("R1", "2025-05-01")]), as_user="admin")
        reg.save_risk_predictions(pd.DataFrame([prediction("P1", decision_of(reg, "R1"), "R1", "2025-05-02")]),
                                  as_user="admin")
        for bad in ("UPDATE risk_predictions SET risk = 1.5", "UPDATE wearable_days SET flag = true",
                    "UPDATE wearable_days SET nights_low = 5"):
            with reg.engine.begin() as conn, pytest.raises(sa.exc.IntegrityError):
                conn.execute(sa.text(bad))
        assert reg.verify_audit().ok
    finally:
        reg.engine.dispose()
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        command.downgrade(migrate._config(conn), "0008")
    with engine.connect() as conn:
        names = sa.inspect(conn).get_table_names()
        assert "wearable_days" not in names and "risk_predictions" not in names and "literacy" in names
    engine.dispose()
