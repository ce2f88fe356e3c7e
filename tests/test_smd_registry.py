"""The severe-mental-disorder (SMD) register in the registry (issue 16): imports of careless and
hostile files, the save path, the rehabilitation ladder, audit, and PostgreSQL row security.

Reference (严重精神障碍管理治疗工作规范 2018, as ../shared/REFERENCE.md summarises it): risk grades
0-5; stable (grade 0, symptoms largely gone, insight and social function fair) -> next follow-up
in 3 months; unstable (grade 3-5 ...) -> refer now, follow up within 2 weeks. The expected values
below are those, written by hand, not read from workbench.smd.
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
from workbench.registry.store import Registry

PEOPLE = pd.DataFrame({"resident_id": ["R1", "R2", "R3"], "sex": ["female", "male", "female"],
                       "birth_date": ["1970-01-02", "1964-05-06", "1981-09-10"], "community": ["A", "A", "B"],
                       "lives_alone": ["false", "true", "false"],
                       **{c: ["false"] * 3 for c in ("hypertension", "diabetes", "chd", "stroke", "copd", "asthma")}})
REGISTER = pd.DataFrame({"resident_id": ["R1", "R2"], "diagnosis": ["schizophrenia", "bipolar"],
                         "diagnosed_on": ["2019-03-01", ""], "registered_on": ["2025-01-10", "2025-02-01"],
                         "guardian": ["parent", ""], "consent": ["true", ""]})
CALM = {"symptoms": "remitted", "insight": "full", "social_function": "fair", "adverse_reaction": "none",
        "physical_illness": "none"}


@pytest.fixture
def registry(tmp_path):
    reg = Registry(f"sqlite:///{tmp_path / 'registry.sqlite'}")
    reg.init()
    reg.import_residents(PEOPLE, by="admin")
    reg.add_user("doc", "doctor", by="admin")
    reg.add_user("cou", "counsellor", by="admin")
    reg.add_user("sw", "social_worker", by="admin")
    reg.add_user("nosy", "counsellor", by="admin")
    for user in ("doc", "cou"):
        reg.assign_caseload(user, ["R1", "R2", "R3"], by="admin")
    yield reg
    reg.engine.dispose()


def followups(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame([{"mode": "face_to_face", **CALM, **r} for r in rows])


def count(reg: Registry, table: str) -> int:
    with reg.engine.connect() as conn:
        return conn.execute(sa.text(f"SELECT COUNT(*) FROM {table}")).scalar()


def named(err) -> set[tuple]:
    return {(r.row, r.column, None if r.value is None else str(r.value)) for r in err.problems.itertuples(index=False)}


def test_the_register_is_imported_once_and_a_change_is_refused(registry):
    first = registry.import_smd_register(REGISTER, by="doc")
    assert (first.written, first.unchanged) == (2, 0)
    again = registry.import_smd_register(REGISTER, by="doc")
    assert (again.written, again.unchanged) == (0, 2)
    reg = registry.analysis_tables(as_user="admin").smd_register.set_index("resident_id")
    assert reg.loc["R1", "diagnosis"] == "schizophrenia" and reg.loc["R1", "consent"] == True  # noqa: E712
    assert pd.isna(reg.loc["R2", "consent"]) and pd.isna(reg.loc["R2", "guardian"])  # blank: not recorded
    changed = REGISTER.assign(diagnosis=["schizophrenia", "delusional"])
    with pytest.raises(ImportProblems) as err:
        registry.import_smd_register(changed, by="doc")
    assert named(err.value) == {(3, "diagnosis", "delusional")} and "nothing is overwritten" in str(err.value)
    with pytest.raises(AccessDenied):
        registry.import_smd_register(REGISTER, by="cou")  # admins and doctors register


def test_a_careless_register_file_is_refused_whole(registry):
    bad = pd.DataFrame({"resident_id": ["R1", "R9", "R2", "R1"], "diagnosis": ["schizophrenia", "bipolar", "psychosis",
                                                                              "bipolar"],
                        "registered_on": ["2025-01-10", "2025-01-10", "2025-13-01", "2025-01-11"],
                        "diagnosed_on": ["2025-02-01", "", "", ""], "left_reason": ["", "", "", "moved"]})
    with pytest.raises(ImportProblems) as err:
        registry.import_smd_register(bad, by="admin")
    assert named(err.value) == {(2, "diagnosed_on", "2025-02-01"), (4, "diagnosis", "psychosis"),
                                (4, "registered_on", "2025-13-01"), (5, "left_reason", "moved"),
                                (5, "resident_id", "R1"), (3, "resident_id", "R9")}
    assert "is not in the registry" in str(err.value) and "repeats line 2" in str(err.value)
    assert count(registry, "smd_register") == 0


def test_hostile_followups_are_named_and_nothing_is_written(registry):
    registry.import_smd_register(REGISTER, by="doc")
    rows = followups([
        {"resident_id": "R1", "followed_on": "2025-03-01", "risk_grade": "6"},
        {"resident_id": "R1", "followed_on": "2025-04-01", "risk_grade": "III"},
        {"resident_id": "R1", "followed_on": "2024-12-01", "risk_grade": "0"},  # before registration
        {"resident_id": "R3", "followed_on": "2025-03-01", "risk_grade": "0"},  # not registered
        {"resident_id": "R2", "followed_on": "2025-03-01", "risk_grade": "1.5"},
        {"resident_id": "R2", "followed_on": "2025-03-05", "risk_grade": "0", "on_medication": "false",
         "medication_regularity": "regular"},
    ])
    with pytest.raises(ImportProblems) as err:
        registry.import_smd_followups(rows, by="cou")
    assert named(err.value) == {(2, "risk_grade", "6"), (3, "risk_grade", "III"), (4, "followed_on", "2024-12-01"),
                                (5, "resident_id", "R3"), (6, "risk_grade", "1.5"),
                                (7, "medication_regularity", "regular")}
    assert "never 0" in str(err.value) and "not on the SMD register" in str(err.value)
    assert count(registry, "smd_followups") == 0


def test_followups_are_classified_at_import_blank_grade_never_zero_and_idempotent(registry):
    registry.import_smd_register(REGISTER, by="doc")
    rows = followups([
        {"resident_id": "R1", "followed_on": "2025-03-01", "risk_grade": "0", "outcome": "stable"},
        {"resident_id": "R1", "followed_on": "2025-06-01", "risk_grade": "3", "outcome": ""},
        {"resident_id": "R2", "followed_on": "2025-03-01", "risk_grade": ""},
    ])
    result = registry.import_smd_followups(rows, by="cou")
    assert (result.written, result.unchanged) == (3, 0)
    again = registry.import_smd_followups(rows, by="cou")
    assert (again.written, again.unchanged) == (0, 3)
    f = registry.analysis_tables(as_user="admin").smd_followups.set_index(["resident_id", "followed_on"])
    calm, risky, blank = (f.loc[("R1", pd.Timestamp("2025-03-01"))], f.loc[("R1", pd.Timestamp("2025-06-01"))],
                          f.loc[("R2", pd.Timestamp("2025-03-01"))])
    assert (calm["suggested_outcome"], calm["outcome"], calm["next_due"]) == ("stable", "stable",
                                                                             pd.Timestamp("2025-06-01"))  # 3 months
    assert (risky["suggested_outcome"], risky["next_due"]) == ("unstable", pd.Timestamp("2025-06-15"))  # 2 weeks
    assert pd.isna(risky["outcome"])  # a blank outcome stays blank: not judged, never the suggestion
    assert pd.isna(blank["risk_grade"]) and pd.isna(blank["suggested_outcome"])  # not assessed, never grade 0
    assert set(f["policy_version"]) == {"smd_default@1.0"} and set(f["recorded_by"]) == {"cou"}
    changed = rows.assign(risk_grade=["0", "2", ""])
    with pytest.raises(ImportProblems) as err:
        registry.import_smd_followups(changed, by="cou")
    assert named(err.value) == {(3, "risk_grade", "2")} and "nothing is overwritten" in str(err.value)


def test_a_followup_form_is_saved_once_with_outcome_and_reason(registry):
    registry.register_smd({"resident_id": "R1", "diagnosis": "schizophrenia", "registered_on": "2025-01-10"}, by="doc")
    form = {"submission_id": "f-1", "resident_id": "R1", "followed_on": "2025-09-01", "mode": "phone", "risk_grade": 3,
            **CALM}
    saved = registry.save_smd_followup(form, by="cou")
    row = saved.followup.iloc[0]
    assert saved.written and (row["suggested_outcome"], row["outcome"]) == ("unstable", "unstable")
    assert row["next_due"] == pd.Timestamp("2025-09-15") and row["recorded_by"] == "cou"
    twice = registry.save_smd_followup(form, by="cou")  # a double-clicked Save
    assert not twice.written and twice.followup["followup_id"].tolist() == saved.followup["followup_id"].tolist()
    calm = {**form, "submission_id": "f-2", "followed_on": "2025-10-01", "risk_grade": 0}
    with pytest.raises(ImportProblems) as err:
        registry.save_smd_followup(calm, by="cou", outcome="basically_stable")  # changed without a reason
    assert named(err.value) == {(None, "reason", None)}
    changed = registry.save_smd_followup(calm, by="cou", outcome="basically_stable", reason="guardian reports "
                                                                                             "poor sleep")
    row = changed.followup.iloc[0]
    assert (row["suggested_outcome"], row["outcome"]) == ("stable", "basically_stable")
    assert row["next_due"] == pd.Timestamp("2025-10-15")  # the earlier: basically stable's 2 weeks, not 3 months
    with registry.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT outcome_reason FROM smd_followups WHERE submission_id = 'f-2'")).scalar() \
            == "guardian reports poor sleep"
    with pytest.raises(ImportProblems, match="not on the SMD register"):
        registry.save_smd_followup({**form, "submission_id": "f-3", "resident_id": "R2"}, by="cou")
    with pytest.raises(AccessDenied):
        registry.save_smd_followup({**form, "submission_id": "f-4", "followed_on": "2025-11-01"}, by="sw")
    assert count(registry, "smd_followups") == 2


def test_the_rehabilitation_ladder_closes_the_open_step(registry):
    registry.import_smd_register(REGISTER, by="doc")
    registry.set_rehab_level("R1", 1, on="2025-02-01", by="cou")
    assert len(registry.set_rehab_level("R1", 1, on="2025-03-01", by="cou")) == 1  # the same level: nothing new
    steps = registry.set_rehab_level("R1", 3, on=dt.date(2025, 5, 1), by="doc")
    assert steps[["level", "entered_on", "left_on"]].astype(str).values.tolist() == [
        ["1", "2025-02-01", "2025-05-01"], ["3", "2025-05-01", "NaT"]]
    with pytest.raises(ImportProblems, match="steps are recorded in order"):
        registry.set_rehab_level("R1", 2, on="2025-04-01", by="doc")
    with pytest.raises(ImportProblems, match="not while the patient is registered"):
        registry.set_rehab_level("R2", 1, on="2024-01-01", by="doc")
    report = registry.verify_audit()
    assert report.ok, report


def test_audit_names_a_followup_edited_behind_its_back(registry):
    registry.import_smd_register(REGISTER, by="doc")
    registry.import_smd_followups(followups([{"resident_id": "R1", "followed_on": "2025-03-01", "risk_grade": "4"}]),
                                  by="cou")
    assert registry.verify_audit().ok
    with registry.engine.begin() as conn:
        conn.execute(sa.text("UPDATE smd_followups SET risk_grade = 0, outcome = 'stable'"))
    report = registry.verify_audit()
    assert not report.ok
    assert "smd_followups R1|2025-03-01: edited (differs from what was written and logged)" in report.problems, report


def run(*args, db):
    full = [sys.executable, "-m", "workbench.cli", "--db", str(db), *args]
    return subprocess.run(full, capture_output=True, text=True, env=dict(os.environ))


def test_the_command_line_imports_the_register_and_followups(tmp_path):
    db = tmp_path / "registry.sqlite"
    assert run("db", "init", db=db).returncode == 0
    PEOPLE.to_csv(tmp_path / "people.csv", index=False)
    REGISTER.to_csv(tmp_path / "register.csv", index=False)
    assert run("import", "residents", str(tmp_path / "people.csv"), db=db).returncode == 0
    done = run("import", "smd-register", str(tmp_path / "register.csv"), db=db)
    assert done.returncode == 0 and "smd-register: 2 written" in done.stdout, done.stderr
    path = tmp_path / "随访.csv"
    followups([{"resident_id": "R1", "followed_on": "2025-03-01", "risk_grade": "0"},
               {"resident_id": "R2", "followed_on": "2025-03-01", "risk_grade": "III"}]).to_csv(
        path, index=False, encoding="gb18030")
    refused = run("import", "smd-followups", str(path), "--encoding", "gb18030", db=db)
    assert refused.returncode != 0 and "line 3, column 'risk_grade': value 'III'" in refused.stderr + refused.stdout
    assert run("import", "smd-followups", str(path), "--skip-invalid", db=db).returncode != 0  # all or nothing
    registry = Registry(f"sqlite:///{db}")
    assert count(registry, "smd_followups") == 0 and registry.verify_audit().ok
    registry.engine.dispose()


def test_smd_rows_round_trip_through_postgresql(fresh_postgres_url, tmp_path, monkeypatch):
    """A counsellor connected as their own role sees only their caseload's SMD rows; the
    analyst's views pseudonymise the follow-up ids and staff names."""
    import psycopg

    monkeypatch.setenv("WORKBENCH_AUDIT_KEY_FILE", str(tmp_path / "keys" / "audit.key"))
    monkeypatch.setenv("WORKBENCH_AUDIT_CHECKPOINTS", str(tmp_path / "keys" / "checkpoints.jsonl"))
    reg = Registry(fresh_postgres_url)
    reg.init(admin="smd_admin")
    for name, role in (("smd_doc", "doctor"), ("smd_cou", "counsellor"), ("smd_cou2", "counsellor"),
                       ("smd_analyst", "analyst")):
        reg.add_user(name, role, by="smd_admin")
    reg.import_residents(PEOPLE, by="smd_admin")
    reg.assign_caseload("smd_doc", ["R1", "R2"], by="smd_admin")
    reg.import_smd_register(REGISTER, by="smd_doc")
    reg.import_smd_followups(followups([{"resident_id": "R1", "followed_on": "2025-03-01", "risk_grade": "0"},
                                        {"resident_id": "R2", "followed_on": "2025-03-01", "risk_grade": "3"}]),
                             by="smd_admin")
    reg.assign_caseload("smd_cou", ["R1"], by="smd_admin")

    def as_(user: str) -> str:
        return sa.engine.make_url(fresh_postgres_url).set(username=user).render_as_string(hide_password=False)

    counsellor = Registry(as_("smd_cou"))
    try:
        saved = counsellor.save_smd_followup({"submission_id": "pg-1", "resident_id": "R1", "followed_on": "2025-06-01",
                                              "mode": "face_to_face", "risk_grade": 0, **CALM}, by="smd_cou")
        assert saved.written and saved.followup["outcome"].iloc[0] == "stable"
        counsellor.set_rehab_level("R1", 2, on="2025-06-01", by="smd_cou")
    finally:
        counsellor.engine.dispose()
    plain = lambda user: as_(user).replace("postgresql+psycopg://", "postgresql://")  # noqa: E731
    with psycopg.connect(plain("smd_cou"), autocommit=True) as conn:
        seen = conn.execute("SELECT DISTINCT resident_id FROM smd_followups").fetchall()
        assert seen == [("R1",)]  # R2's grade-3 follow-up is not on their caseload
        assert conn.execute("SELECT resident_id FROM smd_register").fetchall() == [("R1",)]
    with psycopg.connect(plain("smd_cou2"), autocommit=True) as conn:
        assert conn.execute("SELECT COUNT(*) FROM smd_followups").fetchone()[0] == 0
        assert conn.execute("SELECT COUNT(*) FROM smd_rehab").fetchone()[0] == 0
    seen = reg.analysis_tables(as_user="smd_analyst")
    f = seen.smd_followups
    assert len(f) == 3 and f["followup_id"].str.match(r"^Q[0-9a-f]{16}$").all()
    assert f["resident_id"].str.match(r"^P[0-9a-f]{16}$").all() and f["recorded_by"].str.match(r"^U[0-9a-f]{16}$").all()
    assert seen.smd_rehab["rehab_id"].str.match(r"^L[0-9a-f]{16}$").all() and len(seen.smd_register) == 2
    report = reg.verify_audit()
    assert report.ok and report.tables["smd_followups"] == 3, report
    reg.engine.dispose()


def test_an_export_pseudonymises_the_smd_tables_and_keeps_their_links(registry, tmp_path):
    from workbench.registry.export import export_tables
    from workbench.tables import read

    registry.import_smd_register(REGISTER, by="doc")
    registry.import_smd_followups(followups([{"resident_id": "R1", "followed_on": "2025-03-01", "risk_grade": "0"},
                                             {"resident_id": "R2", "followed_on": "2025-03-01", "risk_grade": "2"}]),
                                  by="cou")
    registry.set_rehab_level("R1", 1, on="2025-04-01", by="cou")
    registry.add_user("ana", "analyst", by="admin")
    folder = export_tables(registry, tmp_path / "out", as_user="ana", key_file=tmp_path / "keys" / "export.key")
    back = read(folder)
    f, r, s = back.smd_followups, back.smd_register, back.smd_rehab
    assert len(f) == 2 and len(r) == 2 and len(s) == 1
    assert f["followup_id"].str.match(r"^Q[0-9a-f]{16}$").all() and s["rehab_id"].str.match(r"^L[0-9a-f]{16}$").all()
    staff = pd.concat([f["recorded_by"], r["recorded_by"], s["recorded_by"]])
    assert staff.str.match(r"^U[0-9a-f]{16}$").all()
    assert set(f["recorded_by"]) == set(s["recorded_by"]) != set(r["recorded_by"])  # cou's one pseudonym; doc's
    assert not ({"R1", "R2", "doc", "cou", "1", "2"} & (set(f["followup_id"]) | set(f["resident_id"])
                                                        | set(f["recorded_by"]) | set(r["recorded_by"])))
    assert set(f["resident_id"]) <= set(r["resident_id"]) <= set(back.residents["resident_id"])  # links hold
    raw = (folder / "smd_followups.csv").read_text(encoding="utf-8")
    assert "cou" not in raw and "R1" not in raw
    assert "outcome_reason" not in raw  # free text stays in the registry


def test_a_registry_of_revision_0006_upgrades_and_downgrades(tmp_path, monkeypatch):
    """A registry written at 0006 upgrades to 0007 (the three SMD tables, empty; the rows written
    before still verify) and SMD rows can be stored at once; 0007 downgrades to 0006 cleanly."""
    from alembic import command

    from workbench.registry import migrate

    monkeypatch.setenv("WORKBENCH_AUDIT_KEY_FILE", str(tmp_path / "keys" / "audit.key"))
    monkeypatch.setenv("WORKBENCH_AUDIT_CHECKPOINTS", str(tmp_path / "keys" / "checkpoints.jsonl"))
    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    reg = Registry(url)
    migrate.upgrade(reg.engine, "0006")
    reg.engine.dispose()
    with sa.create_engine(url).connect() as conn:
        assert "smd_register" not in sa.inspect(conn).get_table_names()
    reg.init()
    assert migrate.current_revision(reg.engine) == migrate.head_revision()
    reg.import_residents(PEOPLE, by="admin")
    reg.import_smd_register(REGISTER.iloc[:1], by="admin")
    reg.import_smd_followups(followups([{"resident_id": "R1", "followed_on": "2025-03-01", "risk_grade": "1"}]),
                             by="admin")
    report = reg.verify_audit()
    assert report.ok and report.tables["smd_followups"] == 1, report
    reg.engine.dispose()
    with sa.create_engine(url).begin() as conn:
        command.downgrade(migrate._config(conn), "0006")
    with sa.create_engine(url).connect() as conn:
        assert not {"smd_register", "smd_followups", "smd_rehab"} & set(sa.inspect(conn).get_table_names())
        assert "measurements" in sa.inspect(conn).get_table_names()
    assert migrate.current_revision(sa.create_engine(url)) == "0006"


def test_a_file_in_chinese_takes_the_policy_labels(registry):
    """The default policy's own zh labels (smd_default.yaml) are read as its codes: 精神分裂症 is
    schizophrenia, 精神症状基本消失 remitted, 病情稳定 stable; the forms' 面访, 规律, 是."""
    registry.import_smd_register(pd.DataFrame({"resident_id": ["R1"], "diagnosis": ["精神分裂症"],
                                               "registered_on": ["2025-01-10"], "consent": ["是"]}), by="doc")
    rows = pd.DataFrame({"resident_id": ["R1"], "followed_on": ["2025-03-01"], "mode": ["面访"], "risk_grade": ["0"],
                         "symptoms": ["精神症状基本消失"], "insight": ["full"], "social_function": ["fair"],
                         "adverse_reaction": ["none"], "physical_illness": ["none"], "on_medication": ["是"],
                         "medication_regularity": ["规律"], "outcome": ["病情稳定"]})
    assert registry.import_smd_followups(rows, by="cou").written == 1
    t = registry.analysis_tables(as_user="admin")
    assert t.smd_register["diagnosis"].tolist() == ["schizophrenia"] and t.smd_register["consent"].tolist() == [True]
    f = t.smd_followups.iloc[0]
    assert (f["mode"], f["symptoms"], f["medication_regularity"], f["outcome"], f["suggested_outcome"]) == (
        "face_to_face", "remitted", "regular", "stable", "stable")
    with pytest.raises(ImportProblems) as err:
        registry.import_smd_followups(rows.assign(followed_on="2025-04-01", symptoms="好转"), by="cou")
    assert named(err.value) == {(2, "symptoms", "好转")}


def test_a_patient_leaves_the_register_by_the_same_row_with_left_on(registry):
    registry.import_smd_register(REGISTER, by="doc")
    registry.import_smd_followups(followups([{"resident_id": "R1", "followed_on": "2025-06-01", "risk_grade": "0"}]),
                                  by="cou")
    registry.set_rehab_level("R1", 2, on="2025-03-01", by="cou")
    early = REGISTER.assign(left_on=["2025-05-01", ""], left_reason=["moved", ""])
    with pytest.raises(ImportProblems) as err:  # a follow-up is stored after that day
        registry.import_smd_register(early, by="doc")
    assert named(err.value) == {(2, "left_on", "2025-05-01")} and "a follow-up of 2025-06-01" in str(err.value)
    left = REGISTER.assign(left_on=["2025-07-01", ""], left_reason=["moved", ""])
    result = registry.import_smd_register(left, by="doc")
    assert (result.written, result.unchanged) == (1, 1)
    assert registry.import_smd_register(left, by="doc").written == 0  # the same file again
    t = registry.analysis_tables(as_user="admin")
    r1 = t.smd_register.set_index("resident_id").loc["R1"]
    assert (r1["left_on"], r1["left_reason"]) == (pd.Timestamp("2025-07-01"), "moved")
    assert t.smd_rehab["left_on"].tolist() == [pd.Timestamp("2025-07-01")]  # the open step closed that day
    with pytest.raises(ImportProblems, match="after the patient left the register"):
        registry.import_smd_followups(
            followups([{"resident_id": "R1", "followed_on": "2025-08-01", "risk_grade": "0"}]), by="cou")
    back = REGISTER.assign(left_on=["2025-08-01", ""], left_reason=["died", ""])
    with pytest.raises(ImportProblems, match="nothing is overwritten"):  # a leaving is recorded once
        registry.import_smd_register(back, by="doc")
    report = registry.verify_audit()
    assert report.ok, report


def test_nobody_learns_from_a_refusal_whether_a_neighbour_is_on_the_register(registry):
    """A counsellor tries to record SMD details of residents outside their caseload: one for a
    registered patient (R1), one for a resident never registered (R3). Both are refused before
    anything about them is looked up, in the same words, and nothing is written."""
    registry.import_smd_register(REGISTER, by="doc")
    before = {t: count(registry, t) for t in ("smd_register", "smd_followups", "smd_rehab")}
    messages = {}
    for rid in ("R1", "R3"):
        form = {"submission_id": f"nosy-{rid}", "resident_id": rid, "followed_on": "2025-03-01", "mode": "phone",
                "risk_grade": 0, **CALM, "on_medication": True, "medication_regularity": "regular"}
        with pytest.raises(AccessDenied) as err:
            registry.save_smd_followup(form, by="nosy")
        messages[rid] = str(err.value).replace(rid, "<id>")
        with pytest.raises(AccessDenied):
            registry.set_rehab_level(rid, 1, on="2025-03-01", by="nosy")
        with pytest.raises(AccessDenied):
            registry.import_smd_followups(followups([{k: v for k, v in form.items() if k != "submission_id"}]), by="nosy")
    assert messages["R1"] == messages["R3"]
    assert "not on their caseload" in messages["R1"] and "register" not in messages["R1"]
    assert {t: count(registry, t) for t in before} == before
    # a doctor registering a resident outside their caseload is refused the same way
    registry.add_user("doc2", "doctor", by="admin")
    with pytest.raises(AccessDenied, match="not on their caseload"):
        registry.register_smd({"resident_id": "R3", "diagnosis": "bipolar", "registered_on": "2025-03-01"}, by="doc2")
    assert count(registry, "smd_register") == before["smd_register"]
