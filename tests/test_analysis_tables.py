"""The analysis tables (issue 13): one declared shape from every source, checked, and a round trip
through the command line into a registry and back on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from workbench.problems import ProblemsError
from workbench.registry.access import AccessDenied
from workbench.registry.store import Registry
from workbench.synth import community
from workbench.tables import TABLES, Tables, TablesError, dictionary, read, write

#: Tables whose ids the registry assigns itself (compared through their natural keys instead).
GENERATED_IDS = {"assessments": "assessment_id", "scores": "assessment_id", "decisions": "decision_id",
                 "events": "event_id", "enrolments": "enrolment_id", "consents": "consent_id",
                 "measurements": "measurement_id", "smd_followups": "followup_id", "smd_rehab": "rehab_id",
                 "literacy": "literacy_id"}
NATURAL = {"assessments": ["resident_id", "assessed_on", "instrument", "purpose", "study"],
           "scores": ["resident_id", "assessed_on", "instrument", "purpose", "study"],
           "decisions": ["resident_id", "assessed_on", "decided_at"], "events": ["resident_id", "event_on", "kind"],
           "enrolments": ["resident_id", "study"], "consents": ["resident_id", "purpose", "given_on"]}


@pytest.fixture(scope="module")
def synthetic():
    # two years of follow-up: community follow-up reviews, cohort waves and trial visits all occur
    return community(400, seed=5, follow_up_years=2).tables()


def _comparable(tables: Tables, name: str) -> pd.DataFrame:
    """A table with registry-assigned ids replaced by natural keys, rows in natural order."""
    frame = tables[name]
    if name == "scores":  # scores carry their assessment's purpose and study through the assessment
        context = tables.assessments[["assessment_id", "purpose", "study"]]
        frame = frame.merge(context, on="assessment_id", how="left", validate="one_to_one")
    if name in GENERATED_IDS:
        frame = frame.drop(columns=[GENERATED_IDS[name]])
    keys = NATURAL.get(name, list(TABLES[name].key))
    return frame.sort_values(keys, ignore_index=True, kind="stable")


def test_the_declarations_are_complete_and_the_dictionary_has_both_languages():
    en, zh = dictionary("en"), dictionary("zh")
    assert list(en[["table", "column"]].itertuples(index=False)) == list(zh[["table", "column"]].itertuples(index=False))
    assert en["description"].str.len().gt(0).all() and zh["description"].str.len().gt(0).all()
    assert set(en["table"]) == set(TABLES) == {"communities", "residents", "assessments", "scores", "decisions",
                                                "referrals", "contacts", "events", "measurements", "enrolments", "surveys",
                                                "consents", "smd_register", "smd_followups", "smd_rehab", "literacy",
                                                "wearable_days", "risk_predictions"}
    for spec in TABLES.values():
        assert set(spec.key) <= set(spec.names)
        for link in spec.links:
            assert set(link.columns) <= set(spec.names) and set(link.to) <= set(TABLES[link.table].names)


def test_validate_reports_every_problem_as_table_row_column_value_rule(synthetic):
    residents = synthetic.residents.copy()
    residents.loc[3, "sex"] = "F"
    contacts = synthetic.contacts.copy()
    contacts.loc[5, "status"] = "maybe"
    contacts.loc[7, "resident_id"] = "R9999999"
    decisions = synthetic.decisions.copy()
    decisions.loc[2, "tier"] = 4
    scores = synthetic.scores.copy()
    scores.loc[1, "instrument"] = "gad7" if scores.loc[1, "instrument"] != "gad7" else "phq9"
    bad = synthetic.replace(residents=residents, contacts=contacts, decisions=decisions, scores=scores)
    with pytest.raises(TablesError) as err:
        bad.validate()
    found = {(p.table, p.row, p.column) for p in err.value.problems.itertuples(index=False)}
    assert {("residents", 3, "sex"), ("contacts", 5, "status"), ("contacts", 7, "resident_id"),
            ("decisions", 2, "tier"), ("scores", 1, "instrument")} <= found
    assert isinstance(err.value, ProblemsError)
    message = str(err.value)
    assert "residents, row 3, column 'sex': value 'F' must be one of female, male" in message
    assert "refers to no row of residents" in message
    extra = synthetic.replace(events=synthetic.events.assign(mood="low"))
    with pytest.raises(TablesError, match="'mood'.* is not a column of this table"):
        extra.validate()


def test_a_folder_round_trip_keeps_values_and_types(synthetic, tmp_path):
    for formats in (("csv",), ("parquet",)):
        folder = write(synthetic, tmp_path / formats[0], formats=formats)
        back = read(folder)
        for name in TABLES:
            pd.testing.assert_frame_equal(back[name].reset_index(drop=True), synthetic[name].reset_index(drop=True),
                                          check_exact=False, rtol=1e-12, obj=f"{formats[0]}: {name}")
    with pytest.raises(FileExistsError, match="not empty"):
        write(synthetic, tmp_path / "csv")


def test_a_bad_csv_cell_is_named_and_nothing_is_read(synthetic, tmp_path):
    folder = write(synthetic, tmp_path / "t", formats=("csv",))
    text = (folder / "events.csv").read_text(encoding="utf-8-sig").splitlines()
    cells = text[2].split(",")
    cells[2] = "2026-02-30"  # event_on: no such day
    text[2] = ",".join(cells)
    (folder / "events.csv").write_text("\n".join(text) + "\n", encoding="utf-8-sig")
    with pytest.raises(TablesError) as err:
        read(folder)
    assert [(p.table, p.row, p.column, p.value) for p in err.value.problems.itertuples(index=False)] == [
        ("events", 1, "event_on", "2026-02-30")]
    assert "must be a date YYYY-MM-DD" in str(err.value)


@pytest.mark.slow
def test_round_trip_through_the_command_line_into_a_registry_and_back(synthetic, registry_url, tmp_path):
    """A synthetic community imported into an empty registry with `workbench import tables` and read
    back with `analysis_tables` equals the synthetic tables (values and types; ids the registry
    assigns itself compared through natural keys), on SQLite and PostgreSQL."""
    folder = write(synthetic, tmp_path / "community", formats=("csv",))
    base = [sys.executable, "-m", "workbench.cli", "--db", registry_url]
    env = {**os.environ, "WORKBENCH_USER": "admin"}
    assert subprocess.run(base + ["db", "init"], capture_output=True, text=True, env=env).returncode == 0
    result = subprocess.run(base + ["import", "tables", str(folder)], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    registry = Registry(registry_url)
    try:
        back = registry.analysis_tables(as_user="admin")
        assert back.attrs["source"] == "registry" and back.policy_versions == synthetic.policy_versions
        for name in TABLES:
            pd.testing.assert_frame_equal(_comparable(back, name), _comparable(synthetic, name), check_exact=False,
                                          rtol=1e-12, obj=name)
        # every score still belongs to its own assessment after the ids changed
        joined = back.scores.merge(back.assessments, on="assessment_id", suffixes=("", "_a"))
        assert len(joined) == len(back.scores)
        assert (joined["resident_id"] == joined["resident_id_a"]).all() and (joined["instrument"] == joined["instrument_a"]).all()
        assert registry.verify_audit().ok
        again = subprocess.run(base + ["import", "tables", str(folder)], capture_output=True, text=True, env=env)
        assert again.returncode == 0 and "assessments: 0 written" in again.stdout
    finally:
        registry.engine.dispose()


@pytest.fixture
def small_registry(registry_url):
    registry = Registry(registry_url)
    registry.init()
    tables = community(120, seed=3).tables()
    registry.import_tables(tables, by="admin")
    for name, role in (("li", "counsellor"), ("ana", "analyst"), ("sw", "social_worker")):
        registry.add_user(name, role, by="admin")
    yield registry, tables
    registry.engine.dispose()


def test_each_role_reads_what_it_may_and_every_read_is_audited(small_registry, tmp_path):
    import sqlalchemy as sa

    registry, tables = small_registry
    referred = sorted(tables.referrals["resident_id"])[:3]
    registry.assign_caseload("li", referred, by="admin")
    mine = registry.analysis_tables(as_user="li")
    assert sorted(mine.residents["resident_id"]) == referred
    assert set(mine.assessments["resident_id"]) <= set(referred) and len(mine.assessments)
    assert set(mine.communities["community"]) == set(mine.residents["community"])
    key = tmp_path / "key"
    analyst = registry.analysis_tables(as_user="ana", key_file=key)  # pseudonymised without asking
    assert analyst.attrs["pseudonymised"] and len(analyst.residents) == 120
    assert not set(analyst.residents["resident_id"]) & set(tables.residents["resident_id"])
    assert analyst.decisions["override_reason"].isna().all()
    analyst.validate()
    with pytest.raises(AccessDenied, match="pseudonymised tables only"):
        registry.analysis_tables(as_user="ana", pseudonymised=False, key_file=key)
    with pytest.raises(AccessDenied, match="social_worker"):
        registry.analysis_tables(as_user="sw")
    with registry.engine.connect() as conn:
        reads = conn.execute(sa.text("SELECT user_name FROM audit_log WHERE action = 'read_analysis_tables'")).scalars().all()
    assert reads == ["li", "ana"]


def test_an_import_whose_scores_disagree_with_the_rules_is_refused(small_registry):
    registry, tables = small_registry
    fresh = tables
    scores = fresh.scores.copy()
    row = int(np.flatnonzero(scores["score"].notna())[0])
    scores.loc[row, "score"] = scores.loc[row, "score"] + 1  # a total someone typed in by hand
    with pytest.raises(TablesError) as err:
        registry.import_tables(fresh.replace(scores=scores), by="admin")
    assert [(p.table, p.column) for p in err.value.problems.itertuples(index=False)] == [("scores", "score")]
    assert "differs from what the declared rules give" in str(err.value)
    before = registry.analysis_tables(as_user="admin").scores
    assert before["score"].sum() == tables.scores["score"].sum()  # nothing of it was written
