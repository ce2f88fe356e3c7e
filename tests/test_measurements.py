"""Measurements: unit conversions against published tables, plausible ranges, cross-field rules.

References (independent of this code):
- HbA1c: the IFCC/NGSP conversion table published with the master equation (Hoelzel et al., Clin
  Chem 2004;50:166-174; reproduced by the IFCC and NGSP web sites): 5.0 % = 31, 6.0 % = 42,
  6.5 % = 48, 7.0 % = 53, 8.0 % = 64, 9.0 % = 75, 10.0 % = 86 mmol/mol (whole mmol/mol).
- Glucose: 126 mg/dL is the ADA diagnostic fasting threshold equal to 7.0 mmol/L (ADA Standards
  of Care 2024, table 2.1: "FPG >= 126 mg/dL (7.0 mmol/L)"); by the molar mass 180.156 g/mol it
  is 6.994 mmol/L. Likewise 200 mg/dL = 11.1 mmol/L (the random-glucose threshold).
- Cholesterol: 190 mg/dL = 4.9 mmol/L and 116 mg/dL = 3.0 mmol/L (ESC/EAS 2019 dyslipidaemia
  guideline, table of LDL-C goals, mg/dL beside mmol/L).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench import measurements as m
from workbench.tables import TABLES, Tables


def frame(**columns):
    n = max(len(v) for v in columns.values())
    base = {"resident_id": ["R1"] * n, "measured_on": [f"2026-03-{k + 1:02d}" for k in range(n)]}
    return pd.DataFrame({**base, **columns})


@pytest.mark.parametrize("pct, ifcc", [(5.0, 31), (6.0, 42), (6.5, 48), (7.0, 53), (8.0, 64), (9.0, 75), (10.0, 86)])
def test_hba1c_against_the_ifcc_table(pct, ifcc):
    assert abs(m.hba1c_to_ifcc(pct) - ifcc) < 0.5  # the table rounds to whole mmol/mol
    assert abs(m.hba1c_to_ngsp(ifcc) - pct) < 0.05  # and back to the first decimal of %


def test_hba1c_exact_and_shapes():
    assert abs(m.hba1c_to_ifcc(7.0) - 53.0) < 0.05
    assert m.hba1c_to_ifcc(7.0) == pytest.approx((7.0 - 2.15) * 10.929, abs=1e-12)
    out = m.hba1c_to_ifcc(np.array([[6.5, np.nan], [7.0, 8.0]]))
    assert out.shape == (2, 2) and np.isnan(out[0, 1])
    s = m.hba1c_to_ngsp(pd.Series([53.0, None], index=["a", "b"]))
    assert list(s.index) == ["a", "b"] and s.isna().tolist() == [False, True]
    x = np.array([4.0, 6.3, 12.7])
    assert np.allclose(m.hba1c_to_ngsp(m.hba1c_to_ifcc(x)), x, atol=1e-12)


def test_unit_columns_convert():
    out, problems = m.prepare(frame(fasting_glucose_mg_dl=["126"], random_glucose_mg_dl=["200"],
                                    total_cholesterol_mg_dl=["190"], ldl_mg_dl=["116"], hba1c_mmol_mol=["53"]))
    assert problems == []
    row = out.iloc[0]
    assert round(float(row["fasting_glucose"]), 2) == 6.99
    assert abs(row["fasting_glucose"] - 7.0) < 0.05 and abs(row["random_glucose"] - 11.1) < 0.05
    assert abs(row["total_cholesterol"] - 4.9) < 0.05 and abs(row["ldl"] - 3.0) < 0.05
    assert abs(row["hba1c"] - 7.0) < 0.05
    assert row["hba1c_mmol_mol"] == pytest.approx(53.0)  # recomputed exactly from the stored %


def test_sbp_400_refused_with_row_column_value_rule():
    out, problems = m.prepare(frame(sbp=["120", "400"], dbp=["80", "90"]))
    assert problems == [(1, "sbp", "400", "is outside the plausible range 50 to 300 mmHg")]
    assert list(out.index) == [0]  # the refused row is left out


def test_dbp_above_sbp_refused():
    _, problems = m.prepare(frame(sbp=["120"], dbp=["130"]))
    assert len(problems) == 1
    row, column, value, rule = problems[0]
    assert (row, column, value) == (0, "dbp", 130) and "lower than the systolic" in rule and "sbp 120" in rule


def test_glucose_in_mg_dl_under_the_mmol_column_refused_with_a_hint():
    _, problems = m.prepare(frame(fasting_glucose=["126"]))
    assert len(problems) == 1
    row, column, value, rule = problems[0]
    assert (row, column, value) == (0, "fasting_glucose", "126")
    assert "outside the plausible range 1 to 35 mmol/L" in rule and "fasting_glucose_mg_dl" in rule


@pytest.mark.parametrize("given, missing", [({"sbp": ["130"]}, "dbp"), ({"dbp": ["85"]}, "sbp")])
def test_blood_pressure_one_without_the_other(given, missing):
    _, problems = m.prepare(frame(**given))
    assert [(p[0], p[1]) for p in problems] == [(0, missing)]
    assert "recorded together" in problems[0][3]


def test_bmi_computed_and_checked():
    out, problems = m.prepare(frame(weight_kg=["70", "70"], height_cm=["175", ""]))
    assert problems == []
    assert out["bmi"].iloc[0] == pytest.approx(70 / 1.75 ** 2)  # 22.857
    assert pd.isna(out["bmi"].iloc[1]) and pd.isna(out["height_cm"].iloc[1])  # blank is blank, never zero
    _, problems = m.prepare(frame(weight_kg=["70"], height_cm=["175"], bmi=["25.0"]))
    assert [(p[0], p[1], p[2]) for p in problems] == [(0, "bmi", "25.0")] and "22.9" in problems[0][3]
    out, problems = m.prepare(frame(weight_kg=["70"], height_cm=["175"], bmi=["22.9"]))
    assert problems == [] and out["bmi"].iloc[0] == pytest.approx(22.857, abs=1e-3)


def test_two_units_disagreeing_refused():
    _, problems = m.prepare(frame(hba1c=["7.0", "7.0"], hba1c_mmol_mol=["53", "64"]))
    assert [(p[0], p[1], p[2]) for p in problems] == [(1, "hba1c_mmol_mol", "64")]
    assert "disagrees with hba1c" in problems[0][3]


def test_answers_whole_numbers_dates_and_blanks():
    out, problems = m.prepare(frame(sbp=["120.5", "120", "120"], dbp=["80", "80", "80"],
                                    adherence=["Regular", "sometimes", ""], alarm_symptoms=["no", "yes", "maybe"],
                                    setting=["clinic", "home", "ward"]))
    named = {(p[0], p[1]) for p in problems}
    assert named == {(0, "sbp"), (1, "adherence"), (2, "alarm_symptoms"), (2, "setting")}
    excel = frame(sbp=["120"], dbp=["80"])
    excel["measured_on"] = ["2026-03-02 00:00:00"]  # an Excel date cell read as text
    out, problems = m.prepare(excel)
    assert problems == [] and out["measured_on"].iloc[0] == pd.Timestamp("2026-03-02")
    excel["measured_on"] = ["46083"]  # a day number
    _, problems = m.prepare(excel)
    assert problems[0][1] == "measured_on" and "day number" in problems[0][3]
    _, problems = m.prepare(frame(sbp=[""], dbp=[""]))
    assert problems == [(0, "(measures)", None, "nothing was measured or recorded in this row")]


def test_unknown_and_missing_columns():
    _, problems = m.prepare(pd.DataFrame({"resident_id": ["R1"], "measured_on": ["2026-03-01"], "glucose": ["6"]}))
    assert any(p[1] == "glucose" and "not a column" in p[3] for p in problems)
    _, problems = m.prepare(pd.DataFrame({"resident_id": ["R1"], "sbp": ["120"], "dbp": ["80"]}))
    assert problems[0][:2] == (None, "measured_on")


def test_repeated_key_in_a_file():
    _, problems = m.prepare(frame(sbp=["120", "125"], dbp=["80", "80"]).assign(measured_on="2026-03-01"))
    assert [(p[0], p[1]) for p in problems] == [(1, "resident_id, measured_on, setting")]
    assert "repeats row 0" in problems[0][3]


def test_prepared_rows_are_the_analysis_table_and_validate():
    out, problems = m.prepare(frame(sbp=["150"], dbp=["95"], hba1c=["7.2"], smoking=["never"],
                                    complication=["false"]))
    assert problems == []
    table = out.drop(columns=["submission_id"]).assign(measurement_id=pd.array(["1"], dtype="string"))
    table = table[TABLES["measurements"].names]
    tables = Tables(measurements=table)
    found = tables.problems()
    # only the link to residents (none given) is a problem: every type and range holds
    assert set(found["rule"]) == {"refers to no row of residents (resident_id)"}, found


def test_tables_validate_names_cross_field_problems():
    out, _ = m.prepare(frame(sbp=["150", "140"], dbp=["95", "90"], hba1c=["7.0", "8.0"], weight_kg=["70", "70"],
                             height_cm=["175", "175"]))
    table = out.drop(columns=["submission_id"]).assign(measurement_id=pd.array(["1", "2"], dtype="string"))
    table.loc[0, "dbp"] = 160
    table.loc[1, "bmi"] = 30.0
    table.loc[1, "hba1c_mmol_mol"] = 60.0
    found = Tables(measurements=table).problems()
    mine = found[found["table"] == "measurements"]
    assert {(r, c) for r, c in zip(mine["row"], mine["column"]) if c != "resident_id"} == {
        (0, "dbp"), (1, "bmi"), (1, "hba1c_mmol_mol")}


def test_prepare_refuses_a_non_frame():
    with pytest.raises(TypeError, match="'frame' parameter of prepare must be a DataFrame"):
        m.prepare({"sbp": [120]})
