"""Chronic-disease follow-up (workbench.chronic): every rule and indicator worked by hand from the
policy text (../shared/REFERENCE.md "Chronic disease follow-up", the national basic public health
service rules, 2017, secondary copies), a changed policy file, bad policies and inputs, and a
row-by-row oracle written straight from that text, agreeing with classify on random visits.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from dateutil.relativedelta import relativedelta

from workbench.chronic import (CLASSIFY_COLUMNS, DUE_COLUMNS, INDICATOR_COLUMNS, ChronicInputError, ChronicPolicyError,
                               classify, due_list, indicators, load_chronic_policy)
from workbench.params import ParameterError
from workbench.tables import DTYPES, TABLES, Tables

DEFAULT = Path(__file__).resolve().parents[1] / "workbench" / "policies" / "chronic_default.yaml"
_FALSE_BY_DEFAULT = {"lives_alone", "hypertension", "diabetes", "chd", "stroke", "copd", "asthma",
                     "adverse_reaction", "complication", "alarm_symptoms"}


def table(name: str, rows: list[dict]) -> pd.DataFrame:
    """The declared table with these rows: columns not given are blank (answers: False, recorded 'no')."""
    spec = TABLES[name]
    data = {}
    for c in spec.columns:
        default = False if c.name in _FALSE_BY_DEFAULT else None
        if name == "measurements" and c.name == "setting":
            default = "clinic"
        if name == "residents" and c.name in ("sex", "community"):
            default = {"sex": "female", "community": "C1"}[c.name]
        values = [r.get(c.name, default) for r in rows]
        if c.name == "measurement_id":
            values = [r.get("measurement_id", f"M{i}") for i, r in enumerate(rows)]
        if c.dtype == "date":
            values = [pd.NaT if v is None else pd.Timestamp(v) for v in values]
        data[c.name] = pd.array(values, dtype=DTYPES[c.dtype]) if c.dtype != "bool" else np.array(values, dtype=bool)
    return pd.DataFrame(data)


def person(rid: str, born: str | None = "1960-01-01", **kw) -> dict:
    return {"resident_id": rid, "birth_date": born, **kw}


def visit(rid: str, day: str, **kw) -> dict:
    return {"resident_id": rid, "measured_on": day, **kw}


def run(people: list[dict], visits: list[dict], **kw) -> pd.DataFrame:
    return classify(table("measurements", visits), table("residents", people), **kw)


# --- targets, as REFERENCE.md states them ------------------------------------------------------

@pytest.mark.parametrize("sbp, dbp, controlled", [
    (139, 89, True),    # SBP < 140 and DBP < 90
    (140, 89, False),   # SBP 140 is not < 140
    (139, 90, False),   # DBP 90 is not < 90
    (120, 95, False),   # "and": both must hold
])
def test_general_blood_pressure_target(sbp, dbp, controlled):
    out = run([person("R1", hypertension=True)], [visit("R1", "2025-03-01", sbp=sbp, dbp=dbp)])
    assert len(out) == 1
    row = out.iloc[0]
    assert row["target"] == "<140/90 mmHg" and bool(row["controlled"]) is controlled
    assert row["classification"] == ("controlled" if controlled else "not_controlled")


@pytest.mark.parametrize("born, diabetes, ckd, target, controlled", [
    ("1945-03-01", False, False, "<150/90 mmHg", True),   # 80 on 2025-03-01, no diabetes, no CKD: 149/89 < 150/90
    ("1945-03-02", False, False, "<140/90 mmHg", False),  # 79 (80 tomorrow): the general target; 149 >= 140
    ("1940-01-01", True, False, "<140/90 mmHg", False),   # 85 with diabetes: the general target
    ("1940-01-01", False, True, "<140/90 mmHg", False),   # 85 with CKD
    ("1940-01-01", False, None, "<140/90 mmHg", False),   # 85, CKD not recorded: the stricter target (the rule says so)
    (None, False, False, "<140/90 mmHg", False),          # age unknown: the stricter target
])
def test_over_80_target_needs_no_diabetes_and_no_recorded_kidney_disease(born, diabetes, ckd, target, controlled):
    people = [person("R1", born, hypertension=True, diabetes=diabetes, ckd=ckd)]
    out = run(people, [visit("R1", "2025-03-01", sbp=149, dbp=89, fasting_glucose=6.0)])
    row = out[out["condition"] == "hypertension"].iloc[0]
    assert row["target"] == target and bool(row["controlled"]) is controlled
    text = load_chronic_policy().conditions["hypertension"].targets[0].description["en"]
    assert "blank" in text and "stricter" in text  # the rule says what a blank CKD means


@pytest.mark.parametrize("glucose, controlled", [(6.9, True), (7.0, False), (7.1, False)])
def test_fasting_glucose_target(glucose, controlled):
    out = run([person("R1", diabetes=True)], [visit("R1", "2025-03-01", fasting_glucose=glucose)])
    row = out.iloc[0]
    assert row["condition"] == "diabetes" and row["target"] == "<7.0 mmol/L"
    assert bool(row["controlled"]) is controlled


def test_a_reading_without_the_value_is_neither_controlled_nor_not():
    out = run([person("R1", hypertension=True, diabetes=True)], [visit("R1", "2025-03-01", sbp=130, dbp=80)])
    ht, dm = out.set_index("condition").loc["hypertension"], out.set_index("condition").loc["diabetes"]
    assert bool(ht["controlled"]) is True
    assert pd.isna(dm["controlled"]) and pd.isna(dm["classification"])
    assert dm["rule"] == "not_measured" and dm["action"] == "recheck"
    assert dm["next_due"] == pd.Timestamp("2025-03-15")  # 1 March + 14 days


# --- danger values: urgent referral, follow-up within 2 weeks -------------------------------------

@pytest.mark.parametrize("values, urgent", [
    ({"sbp": 180, "dbp": 100}, True), ({"sbp": 179, "dbp": 100}, False),   # SBP >= 180
    ({"sbp": 170, "dbp": 110}, True), ({"sbp": 170, "dbp": 109}, False),   # DBP >= 110 ("and/or")
    ({"sbp": 130, "dbp": 80, "alarm_symptoms": True}, True),              # alarm symptoms
])
def test_hypertension_danger_values(values, urgent):
    out = run([person("R1", hypertension=True)], [visit("R1", "2025-03-01", **values)])
    row = out.iloc[0]
    assert bool(row["urgent"]) is urgent
    if urgent:
        assert row["action"] == "urgent_referral" and row["rule"] == "urgent_referral"
        assert row["next_due"] == pd.Timestamp("2025-03-15")  # follow up the referral within 2 weeks


@pytest.mark.parametrize("values, urgent", [
    ({"fasting_glucose": 16.7}, True), ({"fasting_glucose": 16.6}, False),  # >= 16.7
    ({"fasting_glucose": 3.9}, True), ({"fasting_glucose": 4.0}, False),    # <= 3.9
    ({"fasting_glucose": 6.0, "random_glucose": 17.0}, True),               # any glucose reading
    ({"fasting_glucose": 6.0, "random_glucose": 3.5}, True),
    ({"fasting_glucose": 6.0, "sbp": 181, "dbp": 90}, True),                # the diabetes rules list BP too
    ({"fasting_glucose": 6.0, "alarm_symptoms": True}, True),
])
def test_diabetes_danger_values(values, urgent):
    out = run([person("R1", diabetes=True)], [visit("R1", "2025-03-01", **values)])
    row = out.iloc[0]
    assert bool(row["urgent"]) is urgent
    assert row["action"] == ("urgent_referral" if urgent else "routine" if row["controlled"] else "adjust")


# --- classification and what follows ---------------------------------------------------------------

def test_classification_order_and_actions():
    people = [person("R1", hypertension=True)]
    visits = [
        visit("R1", "2025-01-31", sbp=130, dbp=80),                                  # controlled -> routine, +3 months
        visit("R1", "2025-04-30", sbp=130, dbp=80, adverse_reaction=True),          # reaction -> adjust, +14 days
        visit("R1", "2025-05-14", sbp=130, dbp=80, complication=True, adverse_reaction=True),  # complication first -> refer
        visit("R1", "2025-05-28", sbp=150, dbp=80),                                  # first not controlled -> adjust
        visit("R1", "2025-06-11", sbp=150, dbp=80),                                  # twice running -> refer
        visit("R1", "2025-06-25", sbp=135, dbp=85),                                  # controlled again -> routine
        visit("R1", "2025-09-25", sbp=150, dbp=95),                                  # not controlled once more: adjust
    ]
    out = run(people, visits)
    assert out["classification"].tolist() == ["controlled", "adverse_reaction", "complication", "not_controlled",
                                              "not_controlled", "controlled", "not_controlled"]
    assert out["action"].tolist() == ["routine", "adjust", "refer", "adjust", "refer", "routine", "adjust"]
    assert out["rule"].tolist() == ["controlled", "adverse_reaction", "complication", "not_controlled",
                                    "not_controlled_twice", "controlled", "not_controlled"]
    assert out["next_due"].dt.strftime("%Y-%m-%d").tolist() == [
        "2025-04-30",  # 31 January + 3 months: the month has no 31st, so its last day
        "2025-05-14", "2025-05-28", "2025-06-11", "2025-06-25",  # + 14 days each
        "2025-09-25",  # 25 June + 3 months
        "2025-10-09"]  # + 14 days
    assert (out["policy_version"] == "chronic_default@1.0").all()
    assert list(out.columns) == CLASSIFY_COLUMNS


def test_twice_running_skips_device_readings_and_visits_without_a_reading():
    people = [person("R1", hypertension=True)]
    visits = [
        visit("R1", "2025-01-10", sbp=150, dbp=95),                      # first not controlled
        visit("R1", "2025-01-12", setting="device", sbp=120, dbp=70),   # the resident's device: not a follow-up
        visit("R1", "2025-01-17", setting="home", weight_kg=70.0),      # a home follow-up without BP: blank
        visit("R1", "2025-01-24", sbp=146, dbp=88),                      # the last BP recorded was not controlled: twice
    ]
    out = run(people, visits)
    assert out["measured_on"].dt.strftime("%m-%d").tolist() == ["01-10", "01-17", "01-24"]  # no device row
    assert out["rule"].tolist() == ["not_controlled", "not_measured", "not_controlled_twice"]


def test_a_controlled_visit_breaks_the_run():
    out = run([person("R1", hypertension=True)], [visit("R1", "2025-01-10", sbp=150, dbp=95),
                                                 visit("R1", "2025-01-24", sbp=130, dbp=80),
                                                 visit("R1", "2025-02-07", sbp=150, dbp=95)])
    assert out["rule"].tolist() == ["not_controlled", "controlled", "not_controlled"]


def test_adverse_reaction_twice_running_is_read_as_hard_to_control():
    out = run([person("R1", hypertension=True)],
              [visit("R1", "2025-01-10", sbp=130, dbp=80, adverse_reaction=True),
               visit("R1", "2025-01-24", sbp=130, dbp=80, adverse_reaction=None),   # not recorded: neither breaks nor makes
               visit("R1", "2025-02-07", sbp=130, dbp=80, adverse_reaction=True)])
    assert out["rule"].tolist() == ["adverse_reaction", "controlled", "adverse_reaction_twice"]
    assert out["action"].tolist() == ["adjust", "routine", "refer"]
    assert load_chronic_policy().rule("adverse_reaction_twice").source == "project"


def test_history_is_per_resident_and_condition():
    people = [person("R1", hypertension=True, diabetes=True), person("R2", hypertension=True)]
    visits = [visit("R1", "2025-01-10", sbp=150, dbp=95, fasting_glucose=8.0),
              visit("R2", "2025-01-17", sbp=150, dbp=95),
              visit("R1", "2025-01-24", sbp=130, dbp=80, fasting_glucose=9.0)]
    out = run(people, visits)
    got = {(r.resident_id, r.condition, r.measured_on.strftime("%m-%d")): r.rule for r in out.itertuples()}
    assert got == {("R1", "hypertension", "01-10"): "not_controlled", ("R1", "diabetes", "01-10"): "not_controlled",
                   ("R1", "hypertension", "01-24"): "controlled",
                   ("R1", "diabetes", "01-24"): "not_controlled_twice",   # glucose 8.0 then 9.0
                   ("R2", "hypertension", "01-17"): "not_controlled"}     # R1's history is not R2's


def test_who_is_managed():
    people = [person("young", "1990-06-01", hypertension=True),      # 34 on 2025-05-31, 35 on 2025-06-01
              person("none", "1950-01-01"),                         # no condition recorded
              person("unknown_age", None, diabetes=True),           # birth date blank (suppressed): managed
              person("dm_young", "1991-01-01", diabetes=True)]      # 34: type 2 diabetes from 35 too
    visits = [visit("young", "2025-05-31", sbp=150, dbp=95), visit("young", "2025-06-01", sbp=150, dbp=95),
              visit("none", "2025-06-01", sbp=150, dbp=95), visit("unknown_age", "2025-06-01", fasting_glucose=6.0),
              visit("dm_young", "2025-06-01", fasting_glucose=6.0)]
    out = run(people, visits)
    assert [(r.resident_id, r.measured_on.strftime("%m-%d")) for r in out.itertuples()] == [
        ("young", "06-01"), ("unknown_age", "06-01")]
    # the visit at 34 is no follow-up, so the one at 35 is the first
    assert out["rule"].tolist() == ["not_controlled", "controlled"]


def test_one_visit_of_a_resident_with_both_conditions_gives_two_rows():
    out = run([person("R1", hypertension=True, diabetes=True)],
              [visit("R1", "2025-03-01", sbp=130, dbp=80, fasting_glucose=7.5)])
    assert out["condition"].tolist() == ["hypertension", "diabetes"]
    assert out["classification"].tolist() == ["controlled", "not_controlled"]
    assert out["measurement_id"].tolist() == ["M0", "M0"]


# --- a changed policy file changes results, with no code change ------------------------------------

def test_a_changed_policy_file_changes_results(tmp_path):
    raw = yaml.safe_load(DEFAULT.read_text(encoding="utf-8"))
    raw["id"], raw["version"] = "chronic_site", "2.0"
    raw["conditions"]["hypertension"]["targets"][1]["below"]["sbp"] = 130
    raw["intervals"]["routine"] = {"months": 1, "source": "project"}
    raw["indicators"]["regular_follow_ups"] = 2
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    people = [person("R1", hypertension=True)] + [person(f"P{i}", hypertension=True) for i in range(4)]
    visits = [visit("R1", "2025-03-01", sbp=135, dbp=85), visit("R1", "2025-04-01", sbp=125, dbp=85)]
    before, after = run(people, visits), run(people, visits, policy=path)
    assert before["controlled"].tolist() == [True, True]
    assert after["controlled"].tolist() == [False, True]          # 135 is not < 130
    assert after["target"].tolist() == ["<130/90 mmHg"] * 2
    assert after["next_due"].iloc[1] == pd.Timestamp("2025-05-01")  # routine: 1 month
    assert (after["policy_version"] == "chronic_site@2.0").all()
    tables = Tables(residents=table("residents", people), measurements=table("measurements", visits))
    get = lambda p: indicators(tables, policy=p, by=None, end="2025-04").set_index("condition").loc["hypertension"]  # noqa: E731
    assert (get("default")["regular"], get(path)["regular"]) == (0, 1)  # two follow-ups are regular with 2


def test_bad_policy_keys_are_all_named(tmp_path):
    raw = yaml.safe_load(DEFAULT.read_text(encoding="utf-8"))
    raw["colour"] = "blue"
    raw["conditions"]["hypertension"]["targets"][1]["below"]["sbp"] = "high"
    raw["conditions"]["hypertension"]["managed"]["min_age"] = -3
    raw["danger_values"]["glucose_high"]["at_least"] = 99
    raw["actions"][0]["action"] = "wait"
    raw["actions"][2]["when"] = {"controlled": False, "previous": {"mood": True}}
    raw["intervals"]["two_weeks"] = {"weeks": 2, "source": "nbphs_2017"}
    raw["indicators"]["period_months"] = 0
    raw["follow_up"]["settings"] = ["clinic", "phone"]
    raw["classification"][0]["source"] = "hearsay"
    with pytest.raises(ChronicPolicyError) as err:
        load_chronic_policy(raw)
    text = str(err.value)
    for key in ("colour: unknown key", "conditions.hypertension.targets[1].below.sbp", "conditions.hypertension.managed.min_age",
                "danger_values.glucose_high: 99", "actions[0].action", "actions[2].when.previous.mood",
                "intervals.two_weeks.weeks", "indicators.period_months", "follow_up.settings",
                "classification[0].source: 'hearsay'"):
        assert key in text, key
    path = tmp_path / "bad.yaml"
    path.write_text("id: [unclosed", encoding="utf-8")
    with pytest.raises(ChronicPolicyError, match="bad.yaml: not valid YAML"):
        load_chronic_policy(path)
    with pytest.raises(KeyError, match="No shipped chronic-care policy 'nowhere'"):
        load_chronic_policy("nowhere")


def test_policy_declares_each_number_once_with_a_secondary_source():
    policy = load_chronic_policy()
    assert policy.version == "chronic_default@1.0"
    assert "(secondary)" in policy.sources["nbphs_2017"] and "(secondary)" in policy.sources["hypertension_primary_care_2017"]
    text = DEFAULT.read_text(encoding="utf-8")
    body = text[text.index("\nid:"):]
    for number in ("180", "110", "16.7", "3.9", "7.0", "150"):
        assert body.count(number) == 1, number


# --- bad inputs are named --------------------------------------------------------------------------

def test_missing_columns_and_wrong_types_are_named():
    people = table("residents", [person("R1", hypertension=True)]).drop(columns=["birth_date"])
    visits = table("measurements", [visit("R1", "2025-03-01", sbp=130, dbp=80)]).drop(columns=["alarm_symptoms"])
    visits["sbp"] = True  # a column of booleans is no column of numbers
    with pytest.raises(ChronicInputError) as err:
        classify(visits, people)
    problems = err.value.problems
    assert set(zip(problems["table"], problems["column"])) == {
        ("residents", "birth_date"), ("measurements", "alarm_symptoms"), ("measurements", "sbp")}
    assert "must hold numbers" in str(err.value)


def test_bad_cells_are_named_with_row_column_value_and_rule():
    people = table("residents", [person("R1", hypertension=True)])
    visits = table("measurements", [visit("R1", "2025-03-01", sbp=130, dbp=80), visit("R9", "2025-03-01"),
                                    visit("R1", "2025-03-02", sbp=400, dbp=80), visit("R1", "2025-03-01", sbp=131, dbp=80),
                                    visit("R1", "2025-03-03", setting="phone")])
    with pytest.raises(ChronicInputError) as err:
        classify(visits, people)
    got = {(p.row, p.column, p.value) for p in err.value.problems.itertuples()}
    assert got == {(1, "resident_id", "R9"), (2, "sbp", 400), (4, "setting", "phone"),
                   (3, "resident_id, measured_on, setting", ("R1", pd.Timestamp("2025-03-01"), "clinic"))}
    rules = " ".join(err.value.problems["rule"])
    assert "refers to no row of residents" in rules and "plausible range 50 to 300 mmHg" in rules
    assert "repeats the key" in rules and "must be one of clinic, home, device" in rules
    blank = table("residents", [person("R1", hypertension=True)])
    blank["diabetes"] = pd.array([None], dtype="boolean")
    with pytest.raises(ChronicInputError, match="diabetes': value \\(none\\) is blank: record whether"):
        classify(table("measurements", []), blank)


def test_a_frame_of_python_objects_is_read_cell_by_cell():
    # as an app builds a one-row visit: every column of dtype object
    people = table("residents", [person("R1", hypertension=True)])
    visits = pd.DataFrame({"measurement_id": ["M1", "M2"], "resident_id": ["R1", "R1"],
                           "measured_on": ["2025-03-01", "2025-03-15"], "setting": ["clinic", "clinic"],
                           "sbp": [150, None], "dbp": [95, None], "fasting_glucose": [None, None], "random_glucose": [None, None],
                           "adverse_reaction": [False, None], "complication": [False, None], "alarm_symptoms": [None, True]},
                          dtype=object)
    out = classify(visits, people)
    assert out["rule"].tolist() == ["not_controlled", "urgent_referral"]
    visits.loc[0, "sbp"], visits.loc[1, "complication"], visits.loc[1, "measured_on"] = "high", "yes", "soon"
    with pytest.raises(ChronicInputError) as err:
        classify(visits, people)
    got = {(p.row, p.column, p.value, p.rule) for p in err.value.problems.itertuples()}
    assert got == {(0, "sbp", "high", "is not a number"), (1, "complication", "yes", "is not True or False"),
                   (1, "measured_on", "soon", "is not a date")}


def test_parameters_are_checked():
    with pytest.raises(ParameterError, match="'measurements' parameter of classify must be a pandas DataFrame"):
        classify({"sbp": [1]}, table("residents", []))
    with pytest.raises(ParameterError, match="'today' parameter of due_list must be a date"):
        due_list(Tables(), today="soon")
    with pytest.raises(ParameterError, match="'end' parameter of indicators must be None or a YYYY-MM text"):
        indicators(Tables(), end="2025-13")
    with pytest.raises(ParameterError, match="'by' parameter of indicators"):
        indicators(Tables(), by=("ward",))


# --- indicators, worked by hand ---------------------------------------------------------------------

def _community() -> Tables:
    bp = lambda rid, day, s, d, **kw: visit(rid, day, sbp=s, dbp=d, **kw)  # noqa: E731
    people = [
        person("A", hypertension=True), person("B", hypertension=True), person("C", hypertension=True),
        person("D", "1991-12-15", hypertension=True),         # 34 on 2025-12-31: not managed
        person("E", "1950-01-01", hypertension=True),         # managed, never followed up
        person("F", "1955-01-01", hypertension=True),         # died 2025-10-01
        person("G", hypertension=True), person("H", None, hypertension=True),  # H: age unknown, managed
        person("I", hypertension=True, community="C2"), person("J", hypertension=True, community="C2"),
        person("K", hypertension=True, community=None),       # community blank: in "all" only
        person("L", diabetes=True),
    ]
    visits = [
        bp("A", "2025-02-10", 145, 85), bp("A", "2025-05-10", 135, 85), bp("A", "2025-08-10", 130, 80),
        bp("A", "2025-11-10", 150, 95),
        bp("B", "2025-03-01", 150, 95), bp("B", "2025-06-01", 138, 88), bp("B", "2025-09-01", 136, 86),
        bp("B", "2025-12-01", 160, 100, setting="device"),      # a device reading: not counted, not the latest
        bp("C", "2024-12-20", 130, 80), bp("C", "2025-03-20", 130, 80), bp("C", "2025-06-20", 130, 80),
        bp("C", "2025-09-20", 130, 80), visit("C", "2025-12-20", weight_kg=70.0),  # no BP: not a classified follow-up
        bp("D", "2025-03-01", 130, 80), bp("D", "2025-06-01", 130, 80),
        bp("F", "2025-01-05", 130, 80), bp("F", "2025-04-05", 130, 80), bp("F", "2025-07-05", 130, 80),
        bp("F", "2025-09-05", 130, 80),
        bp("G", "2025-01-05", 130, 80), bp("G", "2025-04-05", 130, 80), bp("G", "2025-07-05", 130, 80),
        bp("G", "2025-10-05", 130, 80), bp("G", "2026-01-02", 150, 95),  # after the period and after "today"
        bp("H", "2025-06-01", 130, 80),
        bp("I", "2025-01-10", 130, 80), bp("I", "2025-04-10", 130, 80), bp("I", "2025-07-10", 150, 95),
        bp("I", "2025-10-05", 150, 95),
        bp("K", "2025-12-30", 182, 100),
        visit("L", "2025-06-01", fasting_glucose=6.5),
    ]
    events = pd.DataFrame({"event_id": pd.array(["E1"], dtype="string"), "resident_id": pd.array(["F"], dtype="string"),
                           "event_on": pd.to_datetime(["2025-10-01"]), "kind": pd.array(["death"], dtype="string"),
                           "source": pd.array([None], dtype="string"), "days": pd.array([None], dtype="Int16")})
    communities = pd.DataFrame({"community": pd.array(["C1", "C2"], dtype="string"),
                                "community_type": pd.array([None, None], dtype="string")})
    return Tables(residents=table("residents", people), measurements=table("measurements", visits), events=events,
                  communities=communities)


def test_indicators_by_hand():
    out = indicators(_community(), start="2025-11", end="2025-12")
    assert list(out.columns) == INDICATOR_COLUMNS
    got = out.set_index(["condition", "community", "month"])
    # 2025-12, the 12 months 2025-01-01 .. 2025-12-31. C1 hypertension: managed A B C E G H = 6 (D is 34,
    # F died); regular (>= 4 follow-ups): A (Feb May Aug Nov), G (Jan Apr Jul Oct) = 2 (B has 3 + a device
    # reading, C 3 + a visit without BP); latest reading controlled: B (Sep 136/86), C (Sep), G (Oct), H (Jun)
    # = 4, A's latest (Nov 150/95) is not; with a reading: A B C G H = 5.
    c1 = got.loc[("hypertension", "C1", "2025-12")]
    assert (c1["managed"], c1["regular"], c1["with_reading"], c1["controlled"]) == (6, 2, 5, 4)
    assert c1["regular_rate"] == pytest.approx(2 / 6) and c1["control_rate"] == pytest.approx(4 / 6)
    assert c1["status"] == "ok"
    assert (c1["period_start"], c1["period_end"]) == (pd.Timestamp("2025-01-01"), pd.Timestamp("2025-12-31"))
    # 2025-11 (2024-12-01 .. 2025-11-30): C's 2024-12-20 follow-up is in, so C is regular too: A C G = 3.
    nov = got.loc[("hypertension", "C1", "2025-11")]
    assert (nov["managed"], nov["regular"], nov["controlled"]) == (6, 3, 4)
    # C2: I (4 follow-ups, latest Oct 150/95 not controlled), J (none): 2 managed < 5: too few to judge
    c2 = got.loc[("hypertension", "C2", "2025-12")]
    assert (c2["managed"], c2["regular"], c2["controlled"], c2["status"]) == (2, 1, 0, "insufficient")
    assert c2["regular_rate"] == pytest.approx(0.5)
    # all: C1 6 + C2 2 + K 1 (community blank) = 9; regular 2 + 1 = 3; controlled 4 + 0 + 0 (K 182/100) = 4
    everyone = got.loc[("hypertension", "all", "2025-12")]
    assert (everyone["managed"], everyone["regular"], everyone["with_reading"], everyone["controlled"]) == (9, 3, 7, 4)
    # diabetes: L alone in C1 (6.5 mmol/L < 7.0): rate 1, but 1 < 5 managed
    dm = got.loc[("diabetes", "C1", "2025-12")]
    assert (dm["managed"], dm["controlled"], dm["control_rate"], dm["status"]) == (1, 1, 1.0, "insufficient")
    assert got.loc[("diabetes", "C2", "2025-12")]["managed"] == 0
    assert np.isnan(got.loc[("diabetes", "C2", "2025-12")]["control_rate"])  # no patient: no rate, never 0


def test_indicator_totals_and_groupings():
    tables = _community()
    total = indicators(tables, by=None, end="2025-12")
    assert total[["condition", "community", "month"]].values.tolist() == [["hypertension", "all", "2025-12"],
                                                                         ["diabetes", "all", "2025-12"]]
    assert total.iloc[0][["managed", "regular", "controlled"]].tolist() == [9, 3, 4]
    months = indicators(tables, by=("month",), start="2025-11", end="2025-12")
    assert set(months["community"]) == {"all"} and months["month"].tolist() == ["2025-11", "2025-12"] * 2
    by_comm = indicators(tables, by=("community",), end="2025-12")
    assert set(by_comm["month"]) == {"2025-12"} and set(by_comm["community"]) == {"C1", "C2", "all"}
    assert indicators(Tables()).empty


# --- the due list, worked by hand -------------------------------------------------------------------

def test_due_list_by_hand():
    out = due_list(_community(), today="2025-12-31")
    assert list(out.columns) == DUE_COLUMNS
    got = out.set_index(["resident_id", "condition"])
    assert "D" not in out["resident_id"].values and "F" not in out["resident_id"].values  # 34; dead
    a = got.loc[("A", "hypertension")]  # Nov 10 first not controlled after controlled: +14 = Nov 24, 37 days late
    assert (a["last_visit"], a["last_classification"], a["last_value"]) == (pd.Timestamp("2025-11-10"), "not_controlled", "150/95 mmHg")
    assert (a["next_due"], a["due"], a["overdue"], a["days_overdue"]) == (pd.Timestamp("2025-11-24"), True, True, 37)
    assert not a["uncontrolled_twice"] and not a["urgent_referral"]
    b = got.loc[("B", "hypertension")]  # Sep 1 controlled (the device reading is not a follow-up): +3 months = Dec 1
    assert (b["next_due"], b["days_overdue"], b["last_value"]) == (pd.Timestamp("2025-12-01"), 30, "136/86 mmHg")
    c = got.loc[("C", "hypertension")]  # Dec 20 without BP: recheck within 14 days = Jan 3, not yet due
    assert pd.isna(c["last_classification"]) and pd.isna(c["last_value"])
    assert (c["next_due"], c["due"], c["overdue"], c["days_overdue"]) == (pd.Timestamp("2026-01-03"), False, False, 0)
    e = got.loc[("E", "hypertension")]  # never followed up: due, since when unknown
    assert pd.isna(e["last_visit"]) and e["due"] and pd.isna(e["overdue"]) and pd.isna(e["days_overdue"])
    g = got.loc[("G", "hypertension")]  # the 2026-01-02 reading is after today: not read
    assert (g["last_visit"], g["next_due"], g["due"]) == (pd.Timestamp("2025-10-05"), pd.Timestamp("2026-01-05"), False)
    i = got.loc[("I", "hypertension")]  # Jul and Oct not controlled: refer, +14 = Oct 19, 73 days late
    assert i["uncontrolled_twice"] and (i["next_due"], i["days_overdue"]) == (pd.Timestamp("2025-10-19"), 73)
    k = got.loc[("K", "hypertension")]  # Dec 30 182/100: urgent referral, follow up by Jan 13
    assert k["urgent_referral"] and (k["next_due"], k["due"]) == (pd.Timestamp("2026-01-13"), False)
    assert got.loc[("H", "hypertension")]["last_value"] == "130/80 mmHg"
    assert got.loc[("L", "diabetes")]["last_value"] == "6.5 mmol/L"
    assert out["resident_id"].tolist() == sorted(out["resident_id"])


# --- an independent oracle, row by row ----------------------------------------------------------------

def _age(born: dt.date | None, day: dt.date) -> int | None:
    if born is None:
        return None
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def oracle(people: list[dict], visits: list[dict]) -> list[tuple]:
    """REFERENCE.md "Chronic disease follow-up", read line by line, one visit at a time.

    Follow-ups are face-to-face (clinic, home), of residents aged 35+ with the condition. BP
    controlled = SBP < 140 and DBP < 90; over-80s without diabetes or kidney disease (both recorded
    absent) < 150/90. Fasting glucose controlled < 7.0. Urgent: SBP >= 180 or DBP >= 110, glucose
    >= 16.7 or <= 3.9, alarm symptoms. Classification: complication, else adverse reaction, else
    (not) controlled. Then: urgent -> urgent referral; complication -> refer; two not controlled in
    a row -> refer; a reaction again -> refer; first not controlled or a reaction -> adjust;
    controlled -> routine (3 months); the others 2 weeks.
    """
    who = {p["resident_id"]: p for p in people}
    order = {"clinic": 0, "home": 1, "device": 2}
    last = {}  # (resident, condition, item) -> last recorded value
    out = []
    for v in sorted(visits, key=lambda v: (v["resident_id"], v["measured_on"], order[v["setting"]])):
        if v["setting"] == "device":
            continue
        p = who[v["resident_id"]]
        day = v["measured_on"]
        age = _age(p["birth_date"], day)
        for condition in ("hypertension", "diabetes"):
            if not p[condition] or (age is not None and age < 35):
                continue
            if condition == "hypertension":
                lenient = age is not None and age >= 80 and p["diabetes"] is False and p["ckd"] is False
                target = "<150/90 mmHg" if lenient else "<140/90 mmHg"
                if v["sbp"] is None or v["dbp"] is None:
                    controlled = None
                else:
                    controlled = v["sbp"] < (150 if lenient else 140) and v["dbp"] < 90
            else:
                target = "<7.0 mmol/L"
                controlled = None if v["fasting_glucose"] is None else v["fasting_glucose"] < 7.0
            danger = v["alarm_symptoms"] is True
            danger |= v["sbp"] is not None and v["sbp"] >= 180
            danger |= v["dbp"] is not None and v["dbp"] >= 110
            if condition == "diabetes":
                for g in (v["fasting_glucose"], v["random_glucose"]):
                    danger |= g is not None and (g >= 16.7 or g <= 3.9)
            if v["complication"] is True:
                classification = "complication"
            elif v["adverse_reaction"] is True:
                classification = "adverse_reaction"
            elif controlled is None:
                classification = None
            else:
                classification = "controlled" if controlled else "not_controlled"
            before = last.get((p["resident_id"], condition, "controlled"))
            reaction_before = last.get((p["resident_id"], condition, "adverse_reaction"))
            if danger:
                rule = "urgent_referral"
            elif classification == "complication":
                rule = "complication"
            elif controlled is False and before is False:
                rule = "not_controlled_twice"
            elif v["adverse_reaction"] is True and reaction_before is True:
                rule = "adverse_reaction_twice"
            elif controlled is False:
                rule = "not_controlled"
            elif classification == "adverse_reaction":
                rule = "adverse_reaction"
            elif classification == "controlled":
                rule = "controlled"
            else:
                rule = "not_measured"
            due = day + (relativedelta(months=3) if rule == "controlled" else dt.timedelta(days=14))
            out.append((v["measurement_id"], condition, target, controlled, classification, danger, rule, due))
            if controlled is not None:
                last[(p["resident_id"], condition, "controlled")] = controlled
            if v["adverse_reaction"] is not None:
                last[(p["resident_id"], condition, "adverse_reaction")] = v["adverse_reaction"]
    return out


def _random_community(seed: int, n_people: int = 1500, n_visits: int = 26000) -> tuple[list[dict], list[dict]]:
    rng = np.random.default_rng(seed)
    people = []
    for i in range(n_people):
        kind = rng.random()
        if kind < 0.1:
            born = None
        else:  # ages around 80 and around 35 at visits in 2024-2025
            base = dt.date(1944, 6, 15) if kind < 0.75 else dt.date(1989, 6, 15)
            born = base + dt.timedelta(days=int(rng.integers(-900, 900)))
        people.append({"resident_id": f"R{i:05d}", "birth_date": born, "hypertension": bool(rng.random() < 0.7),
                       "diabetes": bool(rng.random() < 0.45),
                       "ckd": [None, True, False][rng.choice(3, p=[0.3, 0.2, 0.5])]})
    pick = lambda options, p=None: options[rng.choice(len(options), p=p)]  # noqa: E731
    visits, seen = [], set()
    while len(visits) < n_visits:
        rid = f"R{rng.integers(n_people):05d}"
        day = dt.date(2024, 1, 1) + dt.timedelta(days=int(rng.integers(0, 730)))
        setting = pick(["clinic", "home", "device"], [0.6, 0.2, 0.2])
        if (rid, day, setting) in seen:
            continue
        seen.add((rid, day, setting))
        sbp = None if rng.random() < 0.1 else int(pick([140, 150, 180, 125]) + rng.integers(-3, 4))
        dbp = None if sbp is None else int(min(sbp - 10, pick([90, 110, 80]) + rng.integers(-3, 4)))
        glucose = lambda: None if rng.random() < 0.25 else round(float(pick([7.0, 16.7, 3.9, 6.0]) + rng.integers(-3, 4) / 10), 1)  # noqa: E731
        answer = lambda p: None if rng.random() < 0.05 else bool(rng.random() < p)  # noqa: E731
        visits.append({"measurement_id": f"M{len(visits)}", "resident_id": rid, "measured_on": day, "setting": setting,
                       "sbp": sbp, "dbp": dbp, "fasting_glucose": glucose(),
                       "random_glucose": glucose() if rng.random() < 0.2 else None,
                       "adverse_reaction": answer(0.12), "complication": answer(0.05), "alarm_symptoms": answer(0.03)})
    return people, visits


@pytest.mark.parametrize("seed", [1, 2])
def test_classify_agrees_with_an_oracle_written_from_the_policy_text(seed):
    people, visits = _random_community(seed)
    expected = oracle(people, visits)
    assert len(expected) > 10_000
    out = run(people, visits)
    got = list(zip(out["measurement_id"], out["condition"].astype(str), out["target"].astype(str),
                   [None if pd.isna(c) else bool(c) for c in out["controlled"]],
                   [None if pd.isna(c) else c for c in out["classification"]], out["urgent"].tolist(),
                   out["rule"].astype(str), [d.date() for d in out["next_due"]]))
    assert len(got) == len(expected)
    mismatched = [(g, e) for g, e in zip(sorted(got, key=str), sorted(expected, key=str)) if g != e]
    assert not mismatched, mismatched[:5]
    rules = {e[6] for e in expected}
    assert rules == {a.id for a in load_chronic_policy().actions}  # every rule fired somewhere
