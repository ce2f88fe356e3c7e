"""``Registry.save_visit``: a family doctor's visit (a reading and, when given, a screening) saved in
one transaction, once, or not at all; and the measurements table round-tripped through PostgreSQL
with its row security and the analysts' views."""

from __future__ import annotations

import pandas as pd
import pytest
import sqlalchemy as sa

from workbench.params import ParameterError
from workbench.registry.access import AccessDenied
from workbench.registry.imports import ImportProblems
from workbench.registry.store import Registry

PEOPLE = pd.DataFrame({"resident_id": ["R1", "R2", "R3"], "sex": ["female", "male", "female"],
                       "birth_date": ["1950-01-02", "1944-05-06", "1961-09-10"], "community": ["A", "A", "B"],
                       "lives_alone": ["false", "true", "false"],
                       **{c: ["true", "false", "true"] for c in ("hypertension", "diabetes")},
                       **{c: ["false"] * 3 for c in ("chd", "stroke", "copd", "asthma")}})
VISIT = {"resident_id": "R1", "measured_on": "2026-03-02", "submission_id": "visit-7", "sbp": 158, "dbp": 96,
         "heart_rate": 78, "fasting_glucose_mg_dl": 140, "weight_kg": 66.0, "height_cm": 160, "adherence": "intermittent",
         "complication": False}


def screening(submission="visit-7", resident="R1", day="2026-03-02", phq2=(2, 1), gad2=(1, 1)) -> pd.DataFrame:
    return pd.DataFrame([{"resident_id": resident, "assessed_on": day, "submission_id": submission,
                          "phq2_1": phq2[0], "phq2_2": phq2[1], "gad2_1": gad2[0], "gad2_2": gad2[1]}])


@pytest.fixture
def registry(tmp_path):
    reg = Registry(f"sqlite:///{tmp_path / 'registry.sqlite'}")
    reg.init()
    reg.add_user("dr_li", "doctor", by="admin")
    reg.import_residents(PEOPLE, by="admin")
    yield reg
    reg.engine.dispose()


def counts(reg: Registry) -> dict[str, int]:
    with reg.engine.connect() as conn:
        return {t: conn.execute(sa.text(f"SELECT COUNT(*) FROM {t}")).scalar()
                for t in ("measurements", "assessments", "tier_assignments", "audit_log")}


def test_a_visit_with_a_screening_is_saved_once(registry):
    saved = registry.save_visit(VISIT, screening(), by="dr_li")
    assert saved.written
    m = saved.measurement.iloc[0]
    assert (m["resident_id"], m["setting"], m["measured_by"], m["sbp"], m["dbp"]) == ("R1", "clinic", "dr_li", 158, 96)
    assert m["fasting_glucose"] == pytest.approx(140 / 18.0156) and m["bmi"] == pytest.approx(66 / 1.6 ** 2)
    assert m["adherence"] == "intermittent" and not m["complication"] and pd.isna(m["hba1c"])
    assert saved.decision is not None and len(saved.decision) == 1
    assert saved.decision["decided_by"].iloc[0] == "dr_li"
    tables = registry.analysis_tables(as_user="admin")
    assert set(tables.assessments["instrument"]) == {"phq2", "gad2"}
    assert set(tables.assessments["submission_id"]) == {"visit-7"}
    assert tables.scores.set_index("instrument").loc["phq2", "score"] == 3
    before = counts(registry)
    again = registry.save_visit(VISIT, screening(), by="dr_li")  # a double-clicked Save
    assert not again.written and counts(registry) == before
    assert again.measurement["measurement_id"].iloc[0] == saved.measurement["measurement_id"].iloc[0]
    assert again.decision["decision_id"].iloc[0] == saved.decision["decision_id"].iloc[0]
    assert registry.verify_audit().ok


def test_a_visit_without_a_screening_and_as_a_frame(registry):
    saved = registry.save_visit(pd.DataFrame([{**VISIT, "setting": "home"}]), by="dr_li")
    assert saved.written and saved.decision is None and saved.measurement["setting"].iloc[0] == "home"
    assert counts(registry)["assessments"] == 0


def test_a_refused_screening_leaves_no_reading(registry):
    # a PHQ-2 already stored for R1 that day (another session): the visit's screening is refused
    # after its reading was inserted in the same transaction, which rolls back
    registry.save_screening(screening(submission="earlier"), by="dr_li")
    before = counts(registry)
    with pytest.raises(ImportProblems) as err:
        registry.save_visit(VISIT, screening(), by="dr_li")
    assert any("already stored for this resident and date" in r for r in err.value.problems["rule"])
    assert counts(registry) == before and counts(registry)["measurements"] == 0
    # a tier out of range: refused by name, nothing written
    with pytest.raises(ImportProblems) as err:
        registry.save_visit({**VISIT, "resident_id": "R2"}, screening(resident="R2"), by="dr_li", tier=7,
                            reason="because")
    assert list(err.value.problems["column"]) == ["tier"]
    assert counts(registry) == before
    assert registry.verify_audit().ok


def test_a_refused_reading_leaves_no_screening(registry):
    registry.import_measurements(pd.DataFrame({"resident_id": ["R1"], "measured_on": ["2026-03-02"],
                                               "sbp": ["150"], "dbp": ["90"]}), by="admin")
    before = counts(registry)
    with pytest.raises(ImportProblems) as err:  # a clinic reading of R1 that day is already stored
        registry.save_visit(VISIT, screening(), by="dr_li")
    assert [(r.column, r.value) for r in err.value.problems.itertuples(index=False)] == [("measured_on", "2026-03-02")]
    assert counts(registry) == before
    with pytest.raises(ImportProblems) as err:  # implausible: refused before anything is written
        registry.save_visit({**VISIT, "measured_on": "2026-03-03", "sbp": 90, "dbp": 95},
                            screening(day="2026-03-03"), by="dr_li")
    assert [(r.row, r.column, r.value) for r in err.value.problems.itertuples(index=False)] == [(None, "dbp", 95)]
    assert counts(registry) == before


def test_bad_visits_are_named(registry):
    with pytest.raises(ParameterError, match="'visit' parameter of save_visit"):
        registry.save_visit({**VISIT, "submission_id": " "}, by="dr_li")
    with pytest.raises(ParameterError, match="'answers' parameter of save_visit"):
        registry.save_visit(VISIT, screening(submission="other"), by="dr_li")
    with pytest.raises(ImportProblems, match="visit's resident and day"):
        registry.save_visit(VISIT, screening(day="2026-03-01"), by="dr_li")
    with pytest.raises(ImportProblems) as err:
        registry.save_visit({**VISIT, "resident_id": "R9"}, by="dr_li")
    assert [(r.column, r.value) for r in err.value.problems.itertuples(index=False)] == [("resident_id", "R9")]
    registry.add_user("sam", "social_worker", by="admin")
    with pytest.raises(AccessDenied):
        registry.save_visit(VISIT, by="sam")
    assert counts(registry)["measurements"] == 0


def test_measurements_round_trip_through_postgresql(fresh_postgres_url, tmp_path, monkeypatch):
    """A doctor connected as their own database role saves a visit (row security lets them write
    their own rows); the analysis tables read it back exactly; another clinician's role reads
    nothing of it; the analyst's view has the staff pseudonym and HbA1c in mmol/mol."""
    import psycopg

    monkeypatch.setenv("WORKBENCH_AUDIT_KEY_FILE", str(tmp_path / "keys" / "audit.key"))
    monkeypatch.setenv("WORKBENCH_AUDIT_CHECKPOINTS", str(tmp_path / "keys" / "checkpoints.jsonl"))
    reg = Registry(fresh_postgres_url)
    reg.init(admin="vis_admin")
    for name, role in (("vis_doctor", "doctor"), ("vis_couns", "counsellor"), ("vis_analyst", "analyst")):
        reg.add_user(name, role, by="vis_admin")
    reg.import_residents(PEOPLE, by="vis_admin")
    reg.import_measurements(pd.DataFrame({"resident_id": ["R2"], "measured_on": ["2026-02-01"], "hba1c": ["7.0"],
                                          "ldl_mg_dl": ["116"], "smoking": ["former"]}), by="vis_admin")

    def as_(user: str) -> str:
        return sa.engine.make_url(fresh_postgres_url).set(username=user).render_as_string(hide_password=False)

    doctor = Registry(as_("vis_doctor"))
    try:
        saved = doctor.save_visit(VISIT, screening(), by="vis_doctor")
        assert saved.written and saved.measurement["measured_by"].iloc[0] == "vis_doctor"
        assert not doctor.save_visit(VISIT, screening(), by="vis_doctor").written
    finally:
        doctor.engine.dispose()
    tables = reg.analysis_tables(as_user="vis_admin")
    m = tables.measurements.set_index("resident_id")
    assert (m.loc["R1", "sbp"], m.loc["R1", "dbp"], m.loc["R1", "heart_rate"]) == (158, 96, 78)
    assert m.loc["R1", "fasting_glucose"] == 140 / 18.0156 and m.loc["R1", "bmi"] == 66 / 1.6 ** 2  # exact doubles
    assert m.loc["R2", "hba1c_mmol_mol"] == pytest.approx(53.00565, abs=1e-9) and m.loc["R2", "smoking"] == "former"
    assert m.loc["R2", "ldl"] == 116 / 38.6654 and pd.isna(m.loc["R2", "sbp"])
    tables.validate()
    with psycopg.connect(as_("vis_couns").replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        assert conn.execute("SELECT COUNT(*) FROM measurements").fetchone()[0] == 0  # not their rows, no caseload
    seen = reg.analysis_tables(as_user="vis_analyst").measurements  # read from the analyst's view
    assert len(seen) == 2 and seen["resident_id"].str.match(r"^P[0-9a-f]{16}$").all()
    assert seen["measured_by"].dropna().str.match(r"^U[0-9a-f]{16}$").all() and seen["measured_by"].notna().all()
    assert sorted(seen["hba1c_mmol_mol"].dropna().round(5)) == [53.00565]
    report = reg.verify_audit()
    assert report.ok and report.tables["measurements"] == 2, report
    reg.engine.dispose()


def test_a_registry_of_revision_0005_upgrades_and_keeps_its_hashes(tmp_path, monkeypatch):
    """Rows written before 0006 (no ckd, no days, no measurements): the upgrade adds the columns
    blank, every stored hash still verifies (a blank new column is left out of the hash), and
    readings can be stored at once."""
    import datetime as dt
    import hashlib

    from workbench.registry import audit, migrate

    monkeypatch.setenv("WORKBENCH_AUDIT_KEY_FILE", str(tmp_path / "keys" / "audit.key"))
    monkeypatch.setenv("WORKBENCH_AUDIT_CHECKPOINTS", str(tmp_path / "keys" / "checkpoints.jsonl"))
    reg = Registry(f"sqlite:///{tmp_path / 'old.sqlite'}")
    migrate.upgrade(reg.engine, "0005")
    old = {"resident_id": "R1", "name": None, "phone": None, "id_number": None, "sex": "female",
           "birth_date": "1950-02-03", "community": "A", "lives_alone": True, "hypertension": True,
           **{c: False for c in ("diabetes", "chd", "stroke", "copd", "asthma")}, "created_by": "admin"}
    digest = hashlib.sha256(audit.canonical(old)).hexdigest()  # the hash as revision 0005 took it
    at = "2025-06-01 09:30:00.000000"
    with reg.engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO users (name, role, created_at) VALUES ('admin', 'admin', :at)"), {"at": at})
        conn.execute(sa.text("INSERT INTO communities (community, created_by, created_at) VALUES ('A', 'admin', :at)"),
                     {"at": at})
        conn.execute(sa.text("INSERT INTO residents (resident_id, sex, birth_date, community, lives_alone, hypertension, "
                             "diabetes, chd, stroke, copd, asthma, content_hash, created_by, created_at) VALUES "
                             "('R1', 'female', '1950-02-03', 'A', 1, 1, 0, 0, 0, 0, 0, :h, 'admin', :at)"),
                     {"h": digest, "at": at})
        conn.execute(sa.text("INSERT INTO events (resident_id, event_on, kind, recorded_by, recorded_at) VALUES "
                             "('R1', '2025-05-02', 'hospitalisation', 'admin', :at)"), {"at": at})
        audit.append(conn, [{"action": "add_user", "target_table": "users", "target_key": "admin"},
                            {"action": "insert", "target_table": "residents", "target_key": "R1", "content_hash": digest},
                            {"action": "insert", "target_table": "events", "target_key": "1"}],
                     user="admin", at=dt.datetime(2025, 6, 1, 9, 30, tzinfo=dt.timezone.utc))
    reg.engine.dispose()
    assert migrate.current_revision(reg.engine) == "0005"
    reg.init()  # upgrades to 0006 and seals the rows of the tables covered since
    assert migrate.current_revision(reg.engine) == migrate.head_revision()
    assert audit.row_hash("residents", {**old, "birth_date": dt.date(1950, 2, 3), "ckd": None}) == digest
    tables = reg.analysis_tables(as_user="admin")
    assert pd.isna(tables.residents["ckd"].iloc[0]) and pd.isna(tables.events["days"].iloc[0])
    assert len(tables.measurements) == 0
    reg.import_measurements(pd.DataFrame({"resident_id": ["R1"], "measured_on": ["2025-06-02"], "sbp": ["144"],
                                          "dbp": ["86"]}), by="admin")
    report = reg.verify_audit()
    assert report.ok and report.tables["residents"] == 1 and report.tables["measurements"] == 1, report
    reg.engine.dispose()
    with sa.create_engine(f"sqlite:///{tmp_path / 'old.sqlite'}").begin() as conn:  # the old row, edited, is named
        conn.execute(sa.text("UPDATE residents SET ckd = 1"))
    assert reg.verify_audit().problems == ("residents R1: edited (differs from what was written and logged)",)
