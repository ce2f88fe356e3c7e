"""``workbench import measurements``: careless and hostile files, all-or-nothing, idempotent.

Reference values: 126 mg/dL fasting glucose is 7.0 mmol/L (ADA Standards of Care 2024, table
2.1), 6.994 mmol/L by the molar mass of glucose (180.156 g/mol); 7.0 % HbA1c is 53 mmol/mol (the
IFCC/NGSP table, Hoelzel et al. 2004).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pandas as pd
import pytest
import sqlalchemy as sa

from workbench.registry.imports import ImportProblems, read_table
from workbench.registry.store import Registry

PEOPLE = pd.DataFrame({"resident_id": ["R1", "R2", "R3"], "sex": ["female", "male", "female"],
                       "birth_date": ["1950-01-02", "1944-05-06", "1961-09-10"], "community": ["A", "A", "B"],
                       "lives_alone": ["false", "true", "false"],
                       **{c: ["true", "false", "true"] for c in ("hypertension", "diabetes")},
                       **{c: ["false"] * 3 for c in ("chd", "stroke", "copd", "asthma")}})


@pytest.fixture
def registry(tmp_path):
    reg = Registry(f"sqlite:///{tmp_path / 'registry.sqlite'}")
    reg.init()
    reg.import_residents(PEOPLE, by="admin")
    yield reg
    reg.engine.dispose()


def stored(reg: Registry) -> pd.DataFrame:
    return reg.analysis_tables(as_user="admin").measurements


def count(reg: Registry) -> int:
    with reg.engine.connect() as conn:
        return conn.execute(sa.text("SELECT COUNT(*) FROM measurements")).scalar()


def problems_of(err) -> set[tuple]:
    return {(r.row, r.column, r.value) for r in err.problems.itertuples(index=False)}


GOOD = pd.DataFrame({"resident_id": ["R1", "R2", "R1"], "measured_on": ["2026-01-05", "2026-01-05", "2026-02-05"],
                     "sbp": ["152", "128", ""], "dbp": ["94", "78", ""], "fasting_glucose": ["", "7.4", "6.1"],
                     "weight_kg": ["70", "", ""], "height_cm": ["175", "", ""], "adherence": ["regular", "", "none"]})


def test_a_good_file_is_written_converted_and_blank_is_never_zero(registry):
    result = registry.import_measurements(GOOD, by="admin")
    assert (result.written, result.unchanged, len(result.problems)) == (3, 0, 0)
    m = stored(registry).set_index(["resident_id", "measured_on"])
    first = m.loc[("R1", pd.Timestamp("2026-01-05"))]
    assert (first["sbp"], first["dbp"], first["setting"], first["measured_by"]) == (152, 94, "clinic", "admin")
    assert first["bmi"] == pytest.approx(70 / 1.75 ** 2)
    assert pd.isna(first["fasting_glucose"]) and pd.isna(first["heart_rate"])  # blank cells stay blank
    later = m.loc[("R1", pd.Timestamp("2026-02-05"))]
    assert pd.isna(later["sbp"]) and pd.isna(later["dbp"]) and later["adherence"] == "none"
    with registry.engine.connect() as conn:  # in the database too: NULL, not 0
        assert conn.execute(sa.text("SELECT COUNT(*) FROM measurements WHERE sbp IS NULL")).scalar() == 1
        assert conn.execute(sa.text("SELECT COUNT(*) FROM measurements WHERE sbp = 0")).scalar() == 0


def test_the_same_file_twice_writes_nothing_new(registry):
    registry.import_measurements(GOOD, by="admin")
    entries = registry.verify_audit().entries
    again = registry.import_measurements(GOOD, by="admin")
    assert (again.written, again.unchanged) == (0, 3) and count(registry) == 3
    report = registry.verify_audit()
    assert report.ok and report.entries == entries + 0  # not even an import entry: nothing was written


def test_a_changed_value_under_a_stored_key_is_refused_by_name(registry):
    registry.import_measurements(GOOD, by="admin")
    changed = GOOD.copy()
    changed.loc[1, "fasting_glucose"] = "8.4"
    with pytest.raises(ImportProblems) as err:
        registry.import_measurements(changed, by="admin", source="visits.csv")
    (row,) = err.value.problems.itertuples(index=False)
    assert (row.table, row.row, row.column, row.value) == ("visits.csv", 3, "fasting_glucose", 8.4)
    assert "7.4" in row.rule and "nothing is overwritten" in row.rule
    assert stored(registry).set_index("resident_id").loc["R2", "fasting_glucose"] == pytest.approx(7.4)


def test_mg_dl_glucose_under_the_mmol_column_in_a_spreadsheet(registry, tmp_path):
    path = tmp_path / "clinic.xlsx"
    sheet = pd.DataFrame({"resident_id": ["R1", "R2"], "measured_on": pd.to_datetime(["2026-01-05", "2026-01-06"]),
                          "fasting_glucose": [126, 6.2]})
    sheet.to_excel(path, index=False)  # real date cells and number cells
    with pytest.raises(ImportProblems) as err:
        registry.import_measurements(read_table(path), by="admin", source=path.name)
    (row,) = err.value.problems.itertuples(index=False)
    assert (row.row, row.column, row.value) == (2, "fasting_glucose", "126")
    assert "plausible range 1 to 35 mmol/L" in row.rule and "fasting_glucose_mg_dl" in row.rule
    assert count(registry) == 0  # the good row is not written either
    # named as the rule says, the same sheet goes in, its Excel dates read as dates
    sheet = sheet.rename(columns={"fasting_glucose": "fasting_glucose_mg_dl"}).assign(fasting_glucose_mg_dl=[126, 112])
    sheet.to_excel(path, index=False)
    result = registry.import_measurements(read_table(path), by="admin")
    assert result.written == 2
    m = stored(registry).set_index("resident_id")
    assert round(float(m.loc["R1", "fasting_glucose"]), 2) == 6.99 and m.loc["R1", "measured_on"] == pd.Timestamp(
        "2026-01-05")


def test_a_column_of_mg_dl_in_every_row_is_one_problem(registry):
    frame = pd.DataFrame({"resident_id": ["R1", "R2", "R3"], "measured_on": ["2026-01-05"] * 3,
                          "fasting_glucose": ["126", "140", "99"]})
    with pytest.raises(ImportProblems) as err:
        registry.import_measurements(frame, by="admin")
    assert len(err.value.problems) == 1
    (row,) = err.value.problems.itertuples(index=False)
    assert row.row is None and row.column == "fasting_glucose" and "all of 3 rows" in row.rule


def test_every_careless_row_is_named_and_nothing_is_written(registry):
    frame = pd.DataFrame({
        "resident_id": ["R1", "R9", "R2", "R2", "R3", "R1"],
        "measured_on": ["2026-01-05", "2026-01-05", "2026-01-06", "2026-01-06", "2026-01-07", "2026-01-08"],
        "sbp": ["120", "130", "140", "140", "110", "135"],
        "dbp": ["130", "80", "85", "85", "70", "85"],
        "hba1c": ["", "", "", "", "7.0", ""],
        "hba1c_mmol_mol": ["", "", "", "", "64", ""],
        "adherence": ["", "", "", "", "", "sometimes"],
    })
    with pytest.raises(ImportProblems) as err:
        registry.import_measurements(frame, by="admin")
    found = problems_of(err.value)
    assert (2, "dbp", 130) in found                                            # DBP above SBP
    assert (3, "resident_id", "R9") in found                                   # unknown resident
    assert (5, "resident_id, measured_on, setting", "R2, 2026-01-06, clinic") in found  # a repeated row
    assert (6, "hba1c_mmol_mol", "64") in found                                # two units disagreeing
    assert (7, "adherence", "sometimes") in found
    assert len(found) == 5 and count(registry) == 0
    rules = dict(((r.row, r.column), r.rule) for r in err.value.problems.itertuples(index=False))
    assert "repeats row 2" in rules[(5, "resident_id, measured_on, setting")]
    assert "disagrees with hba1c" in rules[(6, "hba1c_mmol_mol")]


def test_skip_invalid_writes_the_good_rows_and_reports_the_rest(registry):
    frame = pd.DataFrame({"resident_id": ["R1", "R2"], "measured_on": ["2026-01-05"] * 2, "sbp": ["400", "120"],
                          "dbp": ["90", "80"]})
    result = registry.import_measurements(frame, by="admin", skip_invalid=True)
    assert result.written == 1 and list(result.problems["row"]) == [2] and count(registry) == 1


def test_device_readings_have_no_measurer_and_a_named_measurer_must_be_staff(registry):
    frame = pd.DataFrame({"resident_id": ["R1", "R2"], "measured_on": ["2026-01-05"] * 2, "setting": ["device", "home"],
                          "sbp": ["131", "142"], "dbp": ["82", "91"], "measured_by": ["", "nobody"]})
    with pytest.raises(ImportProblems) as err:
        registry.import_measurements(frame, by="admin")
    assert problems_of(err.value) == {(3, "measured_by", "nobody")}
    registry.import_measurements(frame.assign(measured_by=["", "admin"]), by="admin")
    m = stored(registry).set_index("setting")
    assert pd.isna(m.loc["device", "measured_by"]) and m.loc["home", "measured_by"] == "admin"


def test_coded_adherence_and_an_unknown_column(registry):
    frame = pd.DataFrame({"resident_id": ["R1", "R2"], "measured_on": ["2026-01-05"] * 2, "adherence": ["1", "3"],
                          "alarm_symptoms": ["否", "是"]})
    result = registry.import_measurements(frame, by="admin", codes={"adherence": "form", "alarm_symptoms": "zh"})
    assert result.written == 2
    m = stored(registry).set_index("resident_id")
    assert (m.loc["R1", "adherence"], m.loc["R2", "adherence"]) == ("regular", "none")
    assert (bool(m.loc["R1", "alarm_symptoms"]), bool(m.loc["R2", "alarm_symptoms"])) == (False, True)
    with pytest.raises(ImportProblems) as err:
        registry.import_measurements(frame.rename(columns={"adherence": "glucose"}), by="admin")
    assert any(r.column == "glucose" and r.row is None for r in err.value.problems.itertuples(index=False))


def test_a_social_worker_may_not_import_measurements(registry):
    registry.add_user("sam", "social_worker", by="admin")
    from workbench.registry.access import AccessDenied

    with pytest.raises(AccessDenied):
        registry.import_measurements(GOOD, by="sam")
    assert count(registry) == 0


def run(*args, db):
    full = [sys.executable, "-m", "workbench.cli", "--db", str(db), *args]
    return subprocess.run(full, capture_output=True, text=True, env=dict(os.environ))


def test_the_command_line_reads_a_gb18030_file_with_code_maps(tmp_path):
    db = tmp_path / "registry.sqlite"
    assert run("db", "init", db=db).returncode == 0
    people = tmp_path / "people.csv"
    PEOPLE.to_csv(people, index=False)
    assert run("import", "residents", str(people), db=db).returncode == 0
    path = tmp_path / "随访.csv"
    pd.DataFrame({"resident_id": ["R1", "R2"], "measured_on": ["2026-01-05", "2026-01-06"], "sbp": ["150", "400"],
                  "dbp": ["92", "90"], "adherence": ["规律", "间断"]}).to_csv(path, index=False, encoding="gb18030")
    refused = run("import", "measurements", str(path), "--encoding", "gb18030", "--codes", "adherence=zh", db=db)
    assert refused.returncode == 1 and "line 3, column 'sbp': value '400'" in refused.stderr + refused.stdout
    skipped = run("import", "measurements", str(path), "--encoding", "gb18030", "--codes", "adherence=zh",
                  "--skip-invalid", db=db)
    assert skipped.returncode == 3 and "measurements: 1 written" in skipped.stdout
    again = run("import", "measurements", str(path), "--encoding", "gb18030", "--codes", "adherence=zh",
                "--skip-invalid", db=db)
    assert "measurements: 0 written, 1 already stored unchanged" in again.stdout
    registry = Registry(f"sqlite:///{db}")
    assert stored(registry)["adherence"].tolist() == ["regular"]
    assert registry.verify_audit().ok
    registry.engine.dispose()


def test_residents_may_carry_chronic_kidney_disease_blank_when_not_recorded(tmp_path):
    reg = Registry(f"sqlite:///{tmp_path / 'registry.sqlite'}")
    reg.init()
    with pytest.raises(ImportProblems) as err:
        reg.import_residents(PEOPLE.assign(ckd=["true", "", "maybe"]), by="admin")
    assert problems_of(err.value) == {(4, "ckd", "maybe")}
    reg.import_residents(PEOPLE.assign(ckd=["true", "", "false"]), by="admin")
    people = reg.analysis_tables(as_user="admin").residents.set_index("resident_id")["ckd"]
    assert people["R1"] == True  # noqa: E712 (a nullable boolean)
    assert pd.isna(people["R2"]) and people["R3"] == False  # noqa: E712 (a nullable boolean)
    again = reg.import_residents(PEOPLE.assign(ckd=["true", "", "false"]), by="admin")
    assert (again.written, again.unchanged) == (0, 3) and reg.verify_audit().ok
    with pytest.raises(ImportProblems):  # a changed ckd is a change of details, refused
        reg.import_residents(PEOPLE.assign(ckd=["false", "", "false"]), by="admin")
    reg.engine.dispose()


def test_a_hospital_stay_records_its_days(registry):
    from workbench.registry.store import RecordProblems

    with pytest.raises(RecordProblems) as err:
        registry.record("events", pd.DataFrame({"resident_id": ["R1"], "event_on": ["2026-01-05"],
                                                "kind": ["hospitalisation"], "days": [-2]}), by="admin")
    assert [(r.column, r.value) for r in err.value.problems.itertuples(index=False)] == [("days", -2)]
    registry.record("events", pd.DataFrame({"resident_id": ["R1", "R2"], "event_on": ["2026-01-05", "2026-01-06"],
                                            "kind": ["hospitalisation", "er_visit"], "days": [6, None]}), by="admin")
    events = registry.analysis_tables(as_user="admin").events.set_index("resident_id")
    assert events.loc["R1", "days"] == 6 and pd.isna(events.loc["R2", "days"]) and registry.verify_audit().ok
