"""The registry on real SQLite and real PostgreSQL: imports, idempotence, audit, roles, export."""

import json

import pandas as pd
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from workbench.registry import migrate
from workbench.registry.access import AccessDenied
from workbench.registry.export import export_tables
from workbench.registry.imports import ImportProblems
from workbench.registry.schema import metadata
from workbench.registry.store import Registry
from workbench.sample import load_sample
import sample_files

SAMPLE = load_sample()


def residents_file(n=20):
    return sample_files.residents_file(n)


def screenings_file(n=20, instruments=("phq9", "gad7")):
    return sample_files.screenings_file(n, instruments)


@pytest.fixture
def registry(registry_url):
    reg = Registry(registry_url)
    reg.init()
    yield reg
    reg.engine.dispose()


def count(reg, table):
    with reg.engine.connect() as conn:
        return conn.execute(sa.text(f"SELECT COUNT(*) FROM {table}")).scalar()


@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based index")
def test_schema_comes_from_the_migrations_and_matches_the_tables(registry):
    assert migrate.current_revision(registry.engine) == migrate.head_revision()
    with registry.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata) == []
    registry.init()  # a second init changes nothing
    assert count(registry, "users") == 1


def test_import_then_reimport_writes_nothing_new(registry):
    first = registry.import_residents(residents_file(), by="admin")
    again = registry.import_residents(residents_file(), by="admin")
    assert (first.written, again.written, again.unchanged) == (20, 0, 20)
    a1 = registry.import_assessments(screenings_file(), by="admin")
    a2 = registry.import_assessments(screenings_file(), by="admin")
    assert (a1.written, a2.written, a2.unchanged) == (40, 0, 40)  # PHQ-9 and GAD-7 per screening
    assert count(registry, "assessments") == 40


def test_answers_are_stored_never_only_totals_and_blanks_stay_blank(registry):
    registry.import_residents(residents_file(3), by="admin")
    data = screenings_file(1)
    data.loc[0, ["phq9_3", "phq9_9"]] = None
    data.loc[0, [f"phq9_{n}" for n in (1, 2, 4, 5, 6, 7, 8)]] = "2"
    registry.import_assessments(data, by="admin")
    stored = registry.assessments(as_user="admin")
    phq9 = stored[stored["instrument"] == "phq9"].iloc[0]
    assert pd.isna(phq9["phq9_3"]) and pd.isna(phq9["phq9_9"]) and phq9["phq9_1"] == 2
    assert phq9["score"] == 18 and phq9["prorated"]          # 14 x 9 / 7 = 18 (APA prorating)
    assert pd.isna(phq9["phq9_self_harm"])                   # unknown, not False
    assert phq9["scoring_version"].startswith("phq9@1.0")


def test_one_bad_row_writes_nothing_and_every_problem_is_named(registry):
    registry.import_residents(residents_file(5), by="admin")
    data = screenings_file(5)
    data.loc[1, "phq9_2"] = "4"
    data.loc[3, "assessed_on"] = "2025-13-40"
    data.loc[4, "resident_id"] = "R9999999"
    with pytest.raises(ImportProblems) as err:
        registry.import_assessments(data, by="admin", source="march.csv")
    problems = err.value.problems
    assert problems[["table", "row", "column"]].values.tolist() == [
        ["march.csv", 3, "phq9_2"], ["march.csv", 5, "assessed_on"], ["march.csv", 6, "resident_id"]]
    message = str(err.value)
    assert "march.csv" in message and "line 3, column 'phq9_2': value '4'" in message and "nothing was written" in message
    assert count(registry, "assessments") == 0
    result = registry.import_assessments(data, by="admin", skip_invalid=True)
    assert result.written == 4 and count(registry, "assessments") == 4  # lines 2 and 4, two questionnaires each


def test_a_changed_screening_is_never_silently_overwritten(registry):
    registry.import_residents(residents_file(2), by="admin")
    registry.import_assessments(screenings_file(2), by="admin")
    changed = screenings_file(2)
    changed.loc[0, "phq9_1"] = "3" if changed.loc[0, "phq9_1"] != "3" else "0"
    with pytest.raises(ImportProblems, match="differs from the stored assessment"):
        registry.import_assessments(changed, by="admin")
    assert registry.verify_audit().ok


def test_residents_file_problems(registry):
    data = residents_file(4)
    data.loc[0, "sex"] = "F"
    data.loc[1, "birth_date"] = "1950/02/03"
    data.loc[2, "lives_alone"] = None
    data.loc[3, "resident_id"] = data.loc[0, "resident_id"]
    with pytest.raises(ImportProblems) as err:
        registry.import_residents(data, by="admin")
    got = set(map(tuple, err.value.problems[["row", "column"]].values.tolist()))
    assert {(2, "sex"), (3, "birth_date"), (4, "lives_alone"), (2, "resident_id"), (5, "resident_id")} <= got
    assert count(registry, "residents") == 0
    with pytest.raises(ImportProblems, match="column 'community'"):
        registry.import_residents(residents_file(2).drop(columns="community"), by="admin")


def test_audit_detects_edits_behind_the_registrys_back(registry):
    registry.import_residents(residents_file(3), by="admin")
    registry.import_assessments(screenings_file(3), by="admin")
    assert registry.verify_audit().ok
    with registry.engine.begin() as conn:
        conn.execute(sa.text("UPDATE assessments SET answers = :a WHERE instrument = 'phq9' AND resident_id = :r"),
                     {"a": json.dumps({str(n): 0 for n in range(1, 11)}), "r": SAMPLE.residents.resident_id[1]})
    report = registry.verify_audit()
    assert not report.ok and f"assessments {SAMPLE.residents.resident_id[1]}|" in report.problem


def test_audit_chain_breaks_when_an_entry_is_edited_or_removed(registry):
    registry.import_residents(residents_file(3), by="admin")
    with registry.engine.begin() as conn:
        conn.execute(sa.text("UPDATE audit_log SET user_name = 'someone' WHERE entry_id = 2"))
    assert "entry 2: its content was edited" in registry.verify_audit().problem
    with registry.engine.begin() as conn:
        conn.execute(sa.text("UPDATE audit_log SET user_name = 'admin' WHERE entry_id = 2"))
        conn.execute(sa.text("DELETE FROM audit_log WHERE entry_id = 3"))
    assert "the chain is broken" in registry.verify_audit().problem


def test_roles(registry):
    registry.import_residents(residents_file(6), by="admin")
    registry.import_assessments(screenings_file(6), by="admin")
    for name, role in [("sw", "social_worker"), ("li", "counsellor"), ("wang", "counsellor"),
                       ("dr_zhao", "doctor"), ("ana", "analyst")]:
        registry.add_user(name, role, by="admin")
    ids = SAMPLE.residents.resident_id.head(6).tolist()
    # social worker: the basic record, never item answers
    basic = registry.residents(as_user="sw")
    assert len(basic) == 6 and not any(c.startswith("phq9_") for c in basic.columns)
    with pytest.raises(AccessDenied, match="social_worker"):
        registry.assessments(as_user="sw")
    # analyst: exports only
    with pytest.raises(AccessDenied):
        registry.residents(as_user="ana")
    with pytest.raises(AccessDenied):
        registry.assessments(as_user="ana")
    # counsellor: own caseload; outside it only with a second counsellor's approval
    registry.assign_caseload("li", ids[:2], by="admin")
    assert set(registry.assessments(as_user="li")["resident_id"]) == set(ids[:2])
    with pytest.raises(AccessDenied, match="not on their caseload"):
        registry.assessments(as_user="li", resident_ids=[ids[3]])
    with pytest.raises(AccessDenied, match="second person"):
        registry.approve_access("li", ids[3], by="li", reason="covering")
    with pytest.raises(AccessDenied):
        registry.approve_access("li", ids[3], by="dr_zhao", reason="covering")  # approver must be a counsellor
    registry.approve_access("li", ids[3], by="wang", reason="covering for Wang on leave")
    assert set(registry.assessments(as_user="li", resident_ids=[ids[3]])["resident_id"]) == {ids[3]}
    assert registry.assessments(as_user="dr_zhao").empty  # no caseload yet
    with pytest.raises(AccessDenied, match="only"):
        registry.add_user("x", "admin", by="li")
    with pytest.raises(AccessDenied, match="not a user"):
        registry.import_residents(residents_file(1), by="nobody")


def test_every_read_of_answers_is_audited(registry):
    registry.import_residents(residents_file(2), by="admin")
    before = count(registry, "audit_log")
    registry.assessments(as_user="admin")
    with registry.engine.connect() as conn:
        last = conn.execute(sa.text("SELECT action, user_name FROM audit_log ORDER BY entry_id DESC LIMIT 1")).one()
    assert count(registry, "audit_log") == before + 1 and tuple(last) == ("read_answers", "admin")
    assert registry.verify_audit().ok


def test_pseudonymised_export(registry, tmp_path):
    from workbench.tables import read

    registry.import_residents(residents_file(5), by="admin")
    registry.import_assessments(screenings_file(5), by="admin")
    registry.add_user("ana", "analyst", by="admin")
    key = tmp_path / "keys" / "export.key"
    folder = export_tables(registry, tmp_path / "out1", as_user="ana", key_file=key)
    exported = read(folder)
    people = exported.residents
    assert exported.attrs["pseudonymised"] is True
    assert not {"name", "phone", "id_number"} & set(people.columns)
    born = people["birth_date"].dropna()  # the middle of a band of birth years, or blank (k-anonymity)
    assert born.dt.strftime("%m-%d").isin(["07-01", "01-01"]).all()
    assert json.loads((folder / "disclosure.json").read_text(encoding="utf-8"))["k_anonymous"] is True
    assert people["resident_id"].str.match(r"^P[0-9a-f]{16}$").all()
    assert not set(people["resident_id"]) & set(SAMPLE.residents.resident_id)
    assert set(exported.assessments["resident_id"]) <= set(people["resident_id"])
    again = read(export_tables(registry, tmp_path / "out2", as_user="ana", key_file=key))
    assert sorted(again.residents["resident_id"]) == sorted(people["resident_id"])  # stable with the same key
    for name in ("residents", "assessments", "scores", "decisions", "dictionary_en", "dictionary_zh"):
        assert (folder / f"{name}.csv").is_file()
    assert (folder / "residents.parquet").is_file() and (folder / "tables.json").is_file()
    with pytest.raises(ValueError, match="outside the export folder"):
        export_tables(registry, tmp_path / "keys", as_user="ana", key_file=key)
    with pytest.raises(FileExistsError, match="not empty"):
        export_tables(registry, tmp_path / "out1", as_user="ana", key_file=key)
    with registry.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM audit_log WHERE action = 'export'")).scalar() == 2
    registry.add_user("sw", "social_worker", by="admin")
    with pytest.raises(AccessDenied):
        export_tables(registry, tmp_path / "out3", as_user="sw", key_file=key)


def test_screenings_imported_get_their_tier_decided_once_and_contacts_are_recorded(registry):
    registry.import_residents(residents_file(3), by="admin")
    registry.import_assessments(screenings_file(3), by="admin", source="screenings.csv")
    registry.import_assessments(screenings_file(3), by="admin", source="screenings.csv")  # again: no second decision
    tables = registry.analysis_tables(as_user="admin")
    decided = tables.decisions.set_index("resident_id")
    recorded = SAMPLE.decisions.set_index("resident_id").loc[decided.index]
    assert len(decided) == 3 and (decided["decided_by"] == "admin").all() and not decided["overridden"].any()
    # the policy in force gives the same suggestion as the sample's recorded decisions (same answers, same policy)
    assert decided["suggested_tier"].tolist() == recorded["suggested_tier"].tolist()
    assert decided["rule"].tolist() == recorded["rule"].tolist()
    rid = decided.index[0]
    contacts = pd.DataFrame({"contact_id": ["C1"], "resident_id": [rid], "contact_on": ["2025-06-03"],
                             "kind": ["phone"], "status": ["attended"]})
    assert registry.record("contacts", contacts, by="admin") == 1
    basic = registry.residents(as_user="admin").set_index("resident_id")
    assert basic.loc[rid, "tier"] == decided.loc[rid, "tier"]


def test_events_enrolments_and_consents_are_checked_then_recorded(registry):
    registry.import_residents(residents_file(2), by="admin")
    rid = SAMPLE.residents.resident_id[0]
    assert registry.record("events", pd.DataFrame({"resident_id": [rid], "event_on": ["2025-03-02"],
                                                   "kind": ["er_visit"]}), by="admin") == 1
    assert registry.record("enrolments", pd.DataFrame({"resident_id": [rid], "study": ["rct2025"], "arm": ["intervention"],
                                                       "enrolled_on": ["2025-01-15"]}), by="admin") == 1
    assert registry.record("consents", pd.DataFrame({"resident_id": [rid], "purpose": ["research"], "given": ["True"],
                                                     "given_on": ["2025-01-15"]}), by="admin") == 1
    from workbench.registry.store import RecordProblems
    with pytest.raises(RecordProblems) as err:
        registry.record("events", pd.DataFrame({"resident_id": [rid, rid], "event_on": ["2025-03-02", "soon"],
                                                "kind": ["fall", "crisis"]}), by="admin")
    assert err.value.problems[["row", "column"]].values.tolist() == [[0, "kind"], [1, "event_on"]]
    assert count(registry, "events") == 1
    assert registry.verify_audit().ok
