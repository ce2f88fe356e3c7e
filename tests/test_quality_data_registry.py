"""The quality indicators' data in the registry (issue 16, CONTRACT section 1): referral source and
the hospital's dates of fast-track referrals, psychiatric discharges, literacy answers and surveys;
their imports (careless and hostile files, all or nothing, idempotent), the bulk import, reads,
exports, PostgreSQL row security and analysts' views, and migration 0008 from a 0007 registry.

Every expected value below is written by hand from the files in the test (which lines are
refused and why, which rows are stored, what a blank becomes), not computed by the code under test.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys

import pandas as pd
import pytest
import sqlalchemy as sa

from workbench.registry.access import AccessDenied
from workbench.registry.imports import ImportProblems
from workbench.registry.store import RecordProblems, Registry

PEOPLE = pd.DataFrame({"resident_id": ["R1", "R2", "R3"], "sex": ["female", "male", "female"],
                       "birth_date": ["1970-01-02", "1964-05-06", "1981-09-10"], "community": ["A", "A", "B"],
                       "lives_alone": ["false", "true", "false"],
                       **{c: ["false"] * 3 for c in ("hypertension", "diabetes", "chd", "stroke", "copd", "asthma")}})
# three tier-3 referrals: R1 and R2 of community A (on cou's caseload), R3 of community B (not)
REFERRALS = pd.DataFrame({"referral_id": ["F1", "F2", "F3"], "resident_id": ["R1", "R2", "R3"],
                          "referred_on": ["2025-03-01", "2025-03-05", "2025-03-02"], "tier": [3, 3, 3],
                          "referral_source": ["screening", "self", None]})


@pytest.fixture
def registry(tmp_path):
    reg = Registry(f"sqlite:///{tmp_path / 'registry.sqlite'}")
    reg.init()
    reg.import_residents(PEOPLE, by="admin")
    reg.add_user("doc", "doctor", by="admin")
    reg.add_user("cou", "counsellor", by="admin")
    reg.add_user("nosy", "counsellor", by="admin")
    reg.add_user("sw", "social_worker", by="admin")
    reg.assign_caseload("cou", ["R1", "R2"], by="admin")
    reg.record("referrals", REFERRALS, by="admin")
    yield reg
    reg.engine.dispose()


def count(reg: Registry, table: str, where: str = "1 = 1") -> int:
    with reg.engine.connect() as conn:
        return conn.execute(sa.text(f"SELECT COUNT(*) FROM {table} WHERE {where}")).scalar()


def rows(reg: Registry, sql: str) -> list[tuple]:
    with reg.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(sql)).all()]


def named(err) -> set[tuple]:
    """(line, column, value) of each problem."""
    return {(r.row, r.column, None if r.value is None else str(r.value)) for r in err.problems.itertuples(index=False)}


def run(*args, db):
    full = [sys.executable, "-m", "workbench.cli", "--db", str(db), *args]
    return subprocess.run(full, capture_output=True, text=True, env=dict(os.environ))


# --- hospital appointments -------------------------------------------------------------------------

def test_hospital_dates_are_filled_once_and_every_careless_row_is_named(registry):
    careless = pd.DataFrame({
        "referral_id": ["F1", "F2", "FX", "F1", "F3", "F3"],
        #                line 2        3             4             5             6             7
        "appointment_on": ["2025-03-03", "2025-03-04", "2025-03-06", "2025-03-03", "", "2025-03-04"],
        "hospital_seen_on": ["2025-03-03 00:00:00", "", "", "", "2099-01-01", "2025-03-32"]})
    # line 3: F2 was referred 2025-03-05, the appointment 2025-03-04 is before it; line 4: no such
    # referral; line 5: F1 again; line 6: seen in 2099 (after today); line 7: F3 again, and no 32 March
    with pytest.raises(ImportProblems) as err:
        registry.import_hospital_appointments(careless, by="admin")
    assert named(err.value) == {(3, "appointment_on", "2025-03-04"), (4, "referral_id", "FX"),
                                (5, "referral_id", "F1"), (6, "hospital_seen_on", "2099-01-01"),
                                (7, "referral_id", "F3"), (7, "hospital_seen_on", "2025-03-32")}
    text = str(err.value)
    assert "is before the referral (referred_on 2025-03-05)" in text and "is not a referral in the registry" in text
    assert "repeats line 2" in text and "after today" in text and "is not a date" in text
    assert count(registry, "referrals", "appointment_on IS NOT NULL OR hospital_seen_on IS NOT NULL") == 0

    # an Excel date cell read as text ("... 00:00:00") is the day; a blank seen date is not reported
    good = careless.iloc[[0, 1]].assign(appointment_on=["2025-03-03", "2025-03-06"])
    first = registry.import_hospital_appointments(good, by="admin")
    assert (first.written, first.unchanged) == (2, 0)
    assert rows(registry, "SELECT referral_id, appointment_on, hospital_seen_on FROM referrals ORDER BY 1") == [
        ("F1", "2025-03-03", "2025-03-03"), ("F2", "2025-03-06", None), ("F3", None, None)]
    again = registry.import_hospital_appointments(good, by="admin")
    assert (again.written, again.unchanged) == (0, 2)
    # F2 rebooked before it was seen, then seen: an update each; F1's seen date cannot change
    assert registry.import_hospital_appointments(pd.DataFrame({"referral_id": ["F2"], "appointment_on": ["2025-03-09"]}),
                                                 by="admin").written == 1
    assert registry.import_hospital_appointments(pd.DataFrame({"referral_id": ["F2"],
                                                               "hospital_seen_on": ["2025-03-09"]}), by="admin").written == 1
    with pytest.raises(ImportProblems) as err:
        registry.import_hospital_appointments(pd.DataFrame({"referral_id": ["F1", "F2"],
                                                            "hospital_seen_on": ["2025-03-04", ""],
                                                            "appointment_on": ["", "2025-03-10"]}), by="admin")
    assert named(err.value) == {(2, "hospital_seen_on", "2025-03-04"), (3, "appointment_on", "2025-03-10")}
    assert "differs from the stored hospital_seen_on (2025-03-03)" in str(err.value)
    assert "the appointment is past" in str(err.value)
    tables = registry.analysis_tables(as_user="admin")
    r = tables.referrals.set_index("referral_id")
    assert r.loc["F2", "hospital_seen_on"] == pd.Timestamp("2025-03-09") and pd.isna(r.loc["F3", "appointment_on"])
    assert r["referral_source"].tolist() == ["screening", "self", None] or r["referral_source"].isna().sum() == 1
    assert r.loc["F1", "referral_source"] == "screening" and pd.isna(r.loc["F3", "referral_source"])
    report = registry.verify_audit()
    assert report.ok, report


def test_a_file_with_a_wrong_column_is_refused_whole_with_a_hint(registry):
    # a hospital's export with "seen_date" for hospital_seen_on and nothing this import knows besides
    with pytest.raises(ImportProblems) as err:
        registry.import_hospital_appointments(pd.DataFrame({"referral_id": ["F1"], "seen_date": ["2025-03-03"]}),
                                              by="admin")
    assert named(err.value) == {(None, "seen_date", None), (None, "appointment_on, hospital_seen_on", None)}
    assert "is not a column of a hospital-appointments file" in str(err.value)


def test_a_clinician_records_hospital_dates_of_their_caseload_only_and_learns_nothing_else(registry):
    # cou holds R1 and R2: F1 is theirs; F3 (R3, community B) is not; FX does not exist
    done = registry.import_hospital_appointments(pd.DataFrame({"referral_id": ["F1"],
                                                               "appointment_on": ["2025-03-02"]}), by="cou")
    assert done.written == 1
    messages = {}
    for ref in ("F3", "FX"):
        with pytest.raises(AccessDenied) as err:
            registry.import_hospital_appointments(pd.DataFrame({"referral_id": [ref], "appointment_on": ["2025-03-08"]}),
                                                  by="cou")
        messages[ref] = str(err.value).replace(ref, "<id>")
    assert messages["F3"] == messages["FX"] and "not referrals of residents on their caseload" in messages["F3"]
    with pytest.raises(AccessDenied, match="only .* may import hospital-appointments"):
        registry.import_hospital_appointments(pd.DataFrame({"referral_id": ["F1"], "appointment_on": ["2025-03-02"]}),
                                              by="sw")
    assert count(registry, "referrals", "appointment_on IS NOT NULL") == 1


# --- discharges ---------------------------------------------------------------------------------

def test_discharges_are_events_once_per_resident_and_day_and_a_blank_stay_is_not_zero(registry):
    careless = pd.DataFrame({
        "resident_id": ["R1", "R2", "R9", "R1", "R2", "R3", "R3"],
        "discharged_on": ["2025-04-10", "2025-04-12", "2025-04-12", "2025-04-10", "2025-13-01", "2025-05-01", "2025-05-02"],
        "days": ["12", "", "3", "12", "4", "-1", "十"],
        "source": ["ward 5", "", "", "ward 5", "", "", ""]})
    # line 4: R9 is no resident; line 5: R1 and 2025-04-10 again; line 6: no 13th month;
    # line 7: a negative stay; line 8: 十 is not a number written as digits
    with pytest.raises(ImportProblems) as err:
        registry.import_discharges(careless, by="admin")
    assert named(err.value) == {(4, "resident_id", "R9"), (5, "discharged_on", "2025-04-10"),
                                (6, "discharged_on", "2025-13-01"), (7, "days", "-1"), (8, "days", "十")}
    assert count(registry, "events") == 0
    done = registry.import_discharges(careless.iloc[[0, 1]], by="admin")
    assert (done.written, done.unchanged) == (2, 0)
    assert rows(registry, "SELECT resident_id, event_on, kind, days, source FROM events ORDER BY 1") == [
        ("R1", "2025-04-10", "psychiatric_discharge", 12, "ward 5"), ("R2", "2025-04-12", "psychiatric_discharge", None,
                                                                       None)]
    assert registry.import_discharges(careless.iloc[[0, 1]], by="admin").unchanged == 2
    with pytest.raises(ImportProblems, match="differs from the discharge stored for this resident and day"):
        registry.import_discharges(careless.iloc[[0]].assign(days="13"), by="admin")
    events = registry.analysis_tables(as_user="admin").events
    assert events["days"].isna().sum() == 1 and events["days"].max() == 12
    assert registry.verify_audit().ok


def test_a_counsellor_imports_discharges_of_their_caseload_only(registry):
    file = pd.DataFrame({"resident_id": ["R1", "R3"], "discharged_on": ["2025-04-10", "2025-04-10"]})
    with pytest.raises(AccessDenied, match=r"may not record psychiatric discharges of \['R3'\]: not on their caseload"):
        registry.import_discharges(file, by="cou")
    assert count(registry, "events") == 0
    assert registry.import_discharges(file.iloc[[0]], by="cou").written == 1


# --- literacy -------------------------------------------------------------------------------------

def test_literacy_answers_careless_and_hostile_rows_are_named(registry):
    careless = pd.DataFrame({
        "resident_id": ["R1", "R2", "R3", "R1", "R2", "R3"],
        "asked_on": ["2025-03-01", "2025-03-01", "2025-03-01", "2025-03-01", "2025-03-02", "2025-03-02"],
        "questionnaire": ["mhl-10", "mhl-10", "mhl-10", "mhl-10", "mhl-10", "mhl-10"],
        "n_asked": ["10", "10", "10", "10", "0", "10"],
        "n_correct": ["7", "", "80", "7", "0", "7.5"],
        "recorded_by": ["", "cou", "", "", "mallory", ""]})
    # line 4: 80 of 10 (a percentage); line 5: R1's answers of that day again; line 6: no questions
    # asked, and mallory is no user; line 7: half a question
    with pytest.raises(ImportProblems) as err:
        registry.import_literacy(careless, by="admin")
    assert named(err.value) == {(4, "n_correct", "80"), (5, "questionnaire", "mhl-10"), (6, "n_asked", "0"),
                                (7, "n_correct", "7.5")}
    assert "(a percentage? give the number of questions answered correctly)" in str(err.value)
    with pytest.raises(ImportProblems) as err:
        registry.import_literacy(careless.iloc[[4]].assign(n_asked="10"), by="admin")
    assert named(err.value) == {(2, "recorded_by", "mallory")}
    assert count(registry, "literacy") == 0

    done = registry.import_literacy(careless.iloc[[0, 1]], by="admin")
    assert (done.written, done.unchanged) == (2, 0)
    # R2's blank n_correct is stored blank (not recorded), never 0; recorded_by blank is who imported
    assert rows(registry, "SELECT resident_id, n_asked, n_correct, recorded_by FROM literacy ORDER BY 1") == [
        ("R1", 10, 7, "admin"), ("R2", 10, None, "cou")]
    assert registry.import_literacy(careless.iloc[[0, 1]], by="admin").unchanged == 2
    with pytest.raises(ImportProblems, match=r"differs from the answers stored .* \(7\); nothing is overwritten"):
        registry.import_literacy(careless.iloc[[0]].assign(n_correct="8"), by="admin")
    lit = registry.analysis_tables(as_user="admin").literacy
    assert len(lit) == 2 and lit["n_correct"].isna().sum() == 1 and str(lit["n_correct"].dtype) == "Int8"
    assert registry.verify_audit().ok


def test_a_percentage_column_in_place_of_the_count_is_named_with_the_column_to_use(registry):
    with pytest.raises(ImportProblems) as err:
        registry.import_literacy(pd.DataFrame({"resident_id": ["R1"], "asked_on": ["2025-03-01"],
                                               "questionnaire": ["mhl-10"], "n_asked": ["10"],
                                               "n_correct_pct": ["70"]}), by="admin")
    assert named(err.value) == {(None, "n_correct_pct", None)}
    assert "(did you mean 'n_correct'?)" in str(err.value)


def test_the_command_line_reads_a_gb18030_literacy_file_whole_or_not_at_all(tmp_path):
    db = tmp_path / "registry.sqlite"
    assert run("db", "init", db=db).returncode == 0
    PEOPLE.to_csv(tmp_path / "people.csv", index=False)
    assert run("import", "residents", str(tmp_path / "people.csv"), db=db).returncode == 0
    path = tmp_path / "素养.csv"
    pd.DataFrame({"resident_id": ["R1", "R2"], "asked_on": ["2025-03-01", "2025-03-01"],
                  "questionnaire": ["心理健康素养10题", "心理健康素养10题"], "n_asked": ["10", "10"],
                  "n_correct": ["6", "11"]}).to_csv(path, index=False, encoding="gb18030")
    refused = run("import", "literacy", str(path), "--encoding", "gb18030", db=db)
    assert refused.returncode == 1 and "line 3, column 'n_correct': value '11'" in refused.stderr + refused.stdout
    assert run("import", "literacy", str(path), "--skip-invalid", db=db).returncode == 1  # all or nothing
    text = path.read_text(encoding="gb18030").replace(",11", ",9")
    path.write_text(text, encoding="gb18030")
    done = run("import", "literacy", str(path), "--encoding", "gb18030", db=db)
    assert done.returncode == 0 and "literacy: 2 written" in done.stdout, done.stderr
    registry = Registry(f"sqlite:///{db}")
    assert rows(registry, "SELECT questionnaire, n_correct FROM literacy ORDER BY n_correct") == [
        ("心理健康素养10题", 6), ("心理健康素养10题", 9)]
    assert registry.verify_audit().ok
    registry.engine.dispose()


# --- surveys --------------------------------------------------------------------------------------

def test_surveys_sent_then_answered_and_careless_rows_named(registry):
    careless = pd.DataFrame({
        "resident_id": ["R1", "R2", "R1", "R2", "R3", "R1"],
        "referral_id": ["F1", "", "F2", "", "F3", "F1"],
        "surveyed_on": ["2025-04-01", "2025-04-02", "2025-04-01", "2025-04-03", "2025-02-01", "2025-04-01"],
        "satisfied": ["", "是", "true", "maybe", "", ""],
        "rating": ["", "4", "5", "6", "", ""]})
    # line 4: F2 is R2's referral, not R1's; line 5: maybe is no answer and 6 no rating; line 6:
    # surveyed before F3 began (2025-03-02); line 7: line 2's survey again
    with pytest.raises(ImportProblems) as err:
        registry.import_surveys(careless, by="admin")
    assert named(err.value) == {(4, "referral_id", "F2"), (5, "satisfied", "maybe"), (5, "rating", "6"),
                                (6, "surveyed_on", "2025-02-01"), (7, "resident_id", "R1")}
    assert count(registry, "surveys") == 0
    sent = registry.import_surveys(careless.iloc[[0, 1]], by="admin")
    assert (sent.written, sent.unchanged) == (2, 0)
    # R1's survey was sent and not answered: both answers blank, never False or 0
    assert rows(registry, "SELECT resident_id, satisfied, rating FROM surveys ORDER BY 1") == [("R1", None, None),
                                                                                              ("R2", 1, 4)]
    assert registry.import_surveys(careless.iloc[[0, 1]], by="admin").unchanged == 2
    answered = registry.import_surveys(careless.iloc[[0]].assign(satisfied="否", rating="2"), by="admin")
    assert answered.written == 1
    assert rows(registry, "SELECT satisfied, rating FROM surveys WHERE resident_id = 'R1'") == [(0, 2)]
    with pytest.raises(ImportProblems, match=r"differs from the answer stored for survey S[0-9a-f]{15} \(False\)"):
        registry.import_surveys(careless.iloc[[0]].assign(satisfied="是", rating="2"), by="admin")
    # a survey id of another resident's survey is refused without telling whose it is
    stored_id = rows(registry, "SELECT survey_id FROM surveys WHERE resident_id = 'R2'")[0][0]
    with pytest.raises(ImportProblems) as err:
        registry.import_surveys(pd.DataFrame({"survey_id": [stored_id], "resident_id": ["R1"],
                                              "surveyed_on": ["2025-04-02"]}), by="admin")
    assert named(err.value) == {(2, "survey_id", stored_id)} and "R2" not in str(err.value)
    assert len(registry.analysis_tables(as_user="admin").surveys) == 2
    assert registry.verify_audit().ok


# --- record, bulk import, export -----------------------------------------------------------------

def test_record_checks_the_new_columns_by_name(registry):
    with pytest.raises(RecordProblems) as err:
        registry.record("referrals", pd.DataFrame({"referral_id": ["F4", "F5"], "resident_id": ["R1", "R1"],
                                                   "referred_on": ["2025-05-01", "2025-05-01"],
                                                   "referral_source": ["walk-in", "self"],
                                                   "hospital_seen_on": [None, "2025-04-30"]}), by="admin")
    assert {(p.row, p.column, str(p.value)) for p in err.value.problems.itertuples(index=False)} == {
        (0, "referral_source", "walk-in"), (1, "hospital_seen_on", "2025-04-30")}
    with pytest.raises(RecordProblems, match="is more than the questions asked"):
        registry.record("literacy", pd.DataFrame({"resident_id": ["R1"], "asked_on": ["2025-03-01"],
                                                  "questionnaire": ["q"], "n_asked": [5], "n_correct": [6]}), by="admin")
    assert registry.record("events", pd.DataFrame({"resident_id": ["R1"], "event_on": ["2025-06-01"],
                                                   "kind": ["psychiatric_emergency"]}), by="cou") == 1
    assert count(registry, "referrals") == 3 and count(registry, "literacy") == 0


def _filled(registry: Registry) -> None:
    registry.import_hospital_appointments(pd.DataFrame({"referral_id": ["F1", "F2"], "appointment_on": ["2025-03-03", ""],
                                                        "hospital_seen_on": ["2025-03-04", "2025-03-07"]}), by="admin")
    registry.import_discharges(pd.DataFrame({"resident_id": ["R1"], "discharged_on": ["2025-04-10"], "days": ["9"]}),
                               by="admin")
    registry.import_literacy(pd.DataFrame({"resident_id": ["R1", "R3"], "asked_on": ["2025-03-01", "2025-03-02"],
                                           "questionnaire": ["mhl-10", "mhl-10"], "n_asked": ["10", "10"],
                                           "n_correct": ["7", ""], "recorded_by": ["cou", ""]}), by="admin")
    registry.import_surveys(pd.DataFrame({"resident_id": ["R2"], "referral_id": ["F2"], "surveyed_on": ["2025-04-02"]}),
                            by="admin")


def test_the_bulk_import_round_trips_the_new_data_and_refuses_a_count_above_the_questions(registry, tmp_path):
    _filled(registry)
    tables = registry.analysis_tables(as_user="admin")
    other = Registry(f"sqlite:///{tmp_path / 'other.sqlite'}")
    try:
        other.init()
        other.add_user("cou", "counsellor", by="admin")
        bad = tables.replace(literacy=tables.literacy.assign(n_correct=pd.array([11, pd.NA], dtype="Int8")))
        bad_referrals = tables.referrals.copy()
        bad_referrals.loc[bad_referrals["referral_id"] == "F2", "hospital_seen_on"] = pd.Timestamp("2025-03-01")
        from workbench.tables import TablesError

        with pytest.raises(TablesError) as err:
            other.import_tables(bad.replace(referrals=bad_referrals), by="admin")
        found = {(p.table, p.column, str(p.value)) for p in err.value.problems.itertuples(index=False)}
        assert found == {("literacy", "n_correct", "11"), ("referrals", "hospital_seen_on", "2025-03-01")}
        assert count(other, "residents") == 0
        done = other.import_tables(tables, by="admin")
        assert done.written["literacy"] == 2 and done.written["referrals"] == 3 and done.written["events"] == 1
        back = other.analysis_tables(as_user="admin")
        for name, key in (("referrals", ["referral_id"]), ("surveys", ["survey_id"]),
                          ("literacy", ["resident_id", "asked_on", "questionnaire"]),
                          ("events", ["resident_id", "event_on", "kind"])):
            drop = [c for c in ("literacy_id", "event_id") if c in back[name].columns]
            pd.testing.assert_frame_equal(back[name].drop(columns=drop).sort_values(key, ignore_index=True),
                                          tables[name].drop(columns=drop).sort_values(key, ignore_index=True),
                                          obj=name)
        assert other.import_tables(tables, by="admin").written["literacy"] == 0
        assert other.verify_audit().ok
    finally:
        other.engine.dispose()


def test_an_export_pseudonymises_literacy_and_keeps_the_new_columns(registry, tmp_path):
    from workbench.registry.export import export_tables
    from workbench.tables import read

    _filled(registry)
    registry.add_user("ana", "analyst", by="admin")
    back = read(export_tables(registry, tmp_path / "out", as_user="ana", key_file=tmp_path / "keys" / "export.key"))
    lit = back.literacy
    assert len(lit) == 2 and lit["literacy_id"].str.match(r"^Y[0-9a-f]{16}$").all()
    assert lit["recorded_by"].str.match(r"^U[0-9a-f]{16}$").all() and lit["recorded_by"].nunique() == 2  # cou, admin
    assert set(lit["resident_id"]) <= set(back.residents["resident_id"]) and lit["n_correct"].isna().sum() == 1
    seen = back.referrals.dropna(subset=["hospital_seen_on"])
    assert sorted(seen["hospital_seen_on"].dt.strftime("%Y-%m-%d")) == ["2025-03-04", "2025-03-07"]
    raw = (tmp_path / "out" / "literacy.csv").read_text(encoding="utf-8-sig")
    assert "cou" not in raw and "R1" not in raw


# --- PostgreSQL --------------------------------------------------------------------------------------

def test_the_new_data_round_trips_through_postgresql_under_row_security(fresh_postgres_url, tmp_path, monkeypatch):
    """A counsellor connected as their own role fills the hospital dates of their caseload's
    referral and sees only their caseload's literacy rows; the analysts' views pseudonymise the
    literacy ids and staff names and show the referrals' new columns."""
    import psycopg

    monkeypatch.setenv("WORKBENCH_AUDIT_KEY_FILE", str(tmp_path / "keys" / "audit.key"))
    monkeypatch.setenv("WORKBENCH_AUDIT_CHECKPOINTS", str(tmp_path / "keys" / "checkpoints.jsonl"))
    reg = Registry(fresh_postgres_url)
    reg.init(admin="q_admin")
    for name, role in (("q_cou", "counsellor"), ("q_cou2", "counsellor"), ("q_analyst", "analyst")):
        reg.add_user(name, role, by="q_admin")
    reg.import_residents(PEOPLE, by="q_admin")
    reg.record("referrals", REFERRALS, by="q_admin")
    reg.assign_caseload("q_cou", ["R1", "R2"], by="q_admin")
    reg.import_literacy(pd.DataFrame({"resident_id": ["R1", "R3"], "asked_on": ["2025-03-01", "2025-03-01"],
                                      "questionnaire": ["mhl-10", "mhl-10"], "n_asked": ["10", "10"],
                                      "n_correct": ["7", ""]}), by="q_admin")

    def as_(user: str) -> str:
        return sa.engine.make_url(fresh_postgres_url).set(username=user).render_as_string(hide_password=False)

    counsellor = Registry(as_("q_cou"))
    try:
        assert counsellor.import_hospital_appointments(pd.DataFrame({"referral_id": ["F1"],
                                                                     "hospital_seen_on": ["2025-03-03"]}),
                                                       by="q_cou").written == 1
        assert counsellor.import_discharges(pd.DataFrame({"resident_id": ["R2"], "discharged_on": ["2025-04-01"],
                                                          "days": ["5"]}), by="q_cou").written == 1
        sent = pd.DataFrame({"resident_id": ["R1"], "referral_id": ["F1"], "surveyed_on": ["2025-04-02"]})
        assert counsellor.import_surveys(sent, by="q_cou").written == 1
        assert counsellor.import_surveys(sent.assign(satisfied="true", rating="5"), by="q_cou").written == 1
    finally:
        counsellor.engine.dispose()
    plain = lambda user: as_(user).replace("postgresql+psycopg://", "postgresql://")  # noqa: E731
    with psycopg.connect(plain("q_cou"), autocommit=True) as conn:
        assert conn.execute("SELECT resident_id FROM literacy").fetchall() == [("R1",)]  # R3 is not theirs
        with pytest.raises(psycopg.errors.InsufficientPrivilege):  # only the two hospital dates may change
            conn.execute("UPDATE referrals SET tier = 1 WHERE referral_id = 'F1'")
        # the database refuses a seen date before the referral, whoever writes it
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute("UPDATE referrals SET hospital_seen_on = '2025-02-01' WHERE referral_id = 'F1'")
    with psycopg.connect(plain("q_cou2"), autocommit=True) as conn:
        assert conn.execute("SELECT COUNT(*) FROM literacy").fetchone()[0] == 0
        conn.execute("UPDATE referrals SET hospital_seen_on = '2025-03-09' WHERE referral_id = 'F2'")  # not theirs:
    assert rows(reg, "SELECT hospital_seen_on FROM referrals WHERE referral_id = 'F2'") == [(None,)]  # no row changed
    seen = reg.analysis_tables(as_user="q_analyst")
    lit = seen.literacy
    assert len(lit) == 2 and lit["literacy_id"].str.match(r"^Y[0-9a-f]{16}$").all()
    assert lit["recorded_by"].str.match(r"^U[0-9a-f]{16}$").all() and lit["n_correct"].isna().sum() == 1
    assert seen.referrals["hospital_seen_on"].notna().sum() == 1
    assert sorted(seen.referrals["referral_source"].dropna()) == ["screening", "self"]
    assert (seen.events["kind"] == "psychiatric_discharge").sum() == 1
    assert seen.surveys[["satisfied", "rating"]].astype(object).values.tolist() == [[True, 5]]
    report = reg.verify_audit()
    assert report.ok and report.tables["literacy"] == 2, report
    reg.engine.dispose()


# --- migration 0008 --------------------------------------------------------------------------------

@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_a_registry_of_revision_0007_upgrades_and_downgrades(dialect, tmp_path, monkeypatch, request):
    """A registry written at 0007 (residents imported, a referral, an ER visit and a crisis stored
    with 0007's columns and logged) upgrades to 0008: the events kept with their ids, the
    referral's new columns blank, every row still verifies (its hash taken without the blank new
    columns), and the new kinds, columns and table take rows at once; the database's CHECKs hold
    the new kinds (and only them) and the literacy counts. Back to 0007 is refused while a
    psychiatric discharge is stored, and clean otherwise."""
    from alembic import command

    from workbench.registry import audit, migrate

    monkeypatch.setenv("WORKBENCH_AUDIT_KEY_FILE", str(tmp_path / "keys" / "audit.key"))
    monkeypatch.setenv("WORKBENCH_AUDIT_CHECKPOINTS", str(tmp_path / "keys" / "checkpoints.jsonl"))
    url = f"sqlite:///{tmp_path / 'old.sqlite'}" if dialect == "sqlite" else request.getfixturevalue("fresh_postgres_url")
    now = dt.datetime(2025, 6, 1, 9, 30, tzinfo=dt.timezone.utc)
    if dialect == "sqlite":  # stored as SQLAlchemy stores a time there (text, UTC, no offset)
        now = now.replace(tzinfo=None)
    reg = Registry(url)
    migrate.upgrade(reg.engine, "0007")
    with reg.engine.begin() as conn:
        assert "literacy" not in sa.inspect(conn).get_table_names()
        conn.execute(sa.text("INSERT INTO users (name, role, active, created_at) VALUES ('admin', 'admin', true, :t)"),
                     {"t": now})
    reg.import_residents(PEOPLE, by="admin")  # residents and communities: the same tables at 0007
    with reg.engine.begin() as conn:  # the 0007 schema: the old columns only
        conn.execute(sa.text("INSERT INTO referrals (referral_id, resident_id, referred_on, tier, created_by, "
                             "created_at) VALUES ('F1', 'R1', '2025-03-01', 3, 'admin', :t)"), {"t": now})
        conn.execute(sa.text("INSERT INTO events (resident_id, event_on, kind, source, recorded_by, recorded_at) "
                             "VALUES ('R1', '2025-03-02', 'er_visit', 'A', 'admin', :t), "
                             "('R2', '2025-03-03', 'crisis', NULL, 'admin', :t)"), {"t": now})
        from workbench.registry import schema

        for table in ("referrals", "events"):  # logged as 0007's API logged them: its columns, typed
            t = schema.metadata.tables[table]
            columns = [t.c[c["name"]] for c in sa.inspect(conn).get_columns(table)]
            stored = [dict(r) for r in conn.execute(sa.select(*columns)).mappings()]
            assert "referral_source" not in stored[0]
            audit.append(conn, audit.entries_for(table, stored), user="admin", at=now)
    with reg.engine.begin() as conn, pytest.raises(sa.exc.IntegrityError):  # 0007's CHECK: no psychiatric kinds
        conn.execute(sa.text("INSERT INTO events (resident_id, event_on, kind, recorded_by, recorded_at) "
                             "VALUES ('R1', '2025-03-04', 'psychiatric_discharge', 'admin', :t)"), {"t": now})
    events_before = rows(reg, "SELECT event_id, resident_id, kind, source FROM events ORDER BY event_id")
    reg.engine.dispose()
    reg = Registry(url)
    try:
        reg.init()  # upgrades to the head (0008 and later; seals what the log lacks: only the admin's user row)
        assert migrate.current_revision(reg.engine) == migrate.head_revision()
        assert rows(reg, "SELECT event_id, resident_id, kind, source FROM events ORDER BY event_id") == events_before
        assert rows(reg, "SELECT referral_source, appointment_on, hospital_seen_on FROM referrals") == [
            (None, None, None)]
        report = reg.verify_audit()
        assert report.ok and report.tables["events"] == 2 and report.tables["literacy"] == 0, report
        assert reg.import_discharges(pd.DataFrame({"resident_id": ["R1"], "discharged_on": ["2025-03-04"]}),
                                     by="admin").written == 1
        assert reg.import_hospital_appointments(pd.DataFrame({"referral_id": ["F1"],
                                                              "hospital_seen_on": ["2025-03-03"]}), by="admin").written == 1
        assert reg.import_literacy(pd.DataFrame({"resident_id": ["R2"], "asked_on": ["2025-03-01"],
                                                 "questionnaire": ["q"], "n_asked": ["4"]}), by="admin").written == 1
        for bad in ("INSERT INTO events (resident_id, event_on, kind, recorded_by, recorded_at) "
                    "VALUES ('R1', '2025-03-05', 'bogus', 'admin', :t)",
                    "INSERT INTO events (resident_id, event_on, kind, days, recorded_by, recorded_at) "
                    "VALUES ('R1', '2025-03-05', 'crisis', -2, 'admin', :t)",
                    "INSERT INTO literacy (resident_id, asked_on, questionnaire, n_asked, n_correct, recorded_by, "
                    "recorded_at) VALUES ('R1', '2025-03-05', 'q', 4, 5, 'admin', :t)"):
            with reg.engine.begin() as conn, pytest.raises(sa.exc.IntegrityError):
                conn.execute(sa.text(bad), {"t": now})
        report = reg.verify_audit()
        assert report.ok and report.tables["events"] == 3 and report.tables["literacy"] == 1, report
    finally:
        reg.engine.dispose()
    engine = sa.create_engine(url)
    with engine.begin() as conn, pytest.raises(RuntimeError, match="1 psychiatric emergency or discharge event"):
        command.downgrade(migrate._config(conn), "0007")
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM events WHERE kind = 'psychiatric_discharge'"))
        command.downgrade(migrate._config(conn), "0007")
    with engine.connect() as conn:
        inspector = sa.inspect(conn)
        assert "literacy" not in inspector.get_table_names()
        assert "hospital_seen_on" not in {c["name"] for c in inspector.get_columns("referrals")}
        assert conn.execute(sa.text("SELECT COUNT(*) FROM events")).scalar() == 2
    assert migrate.current_revision(engine) == "0007"
    engine.dispose()
