"""Severe mental disorders (workbench.smd): every grade boundary, stability rule, interval,
referral and indicator worked by hand from the policy text (../shared/REFERENCE.md "Severe mental
disorders": 严重精神障碍管理治疗工作规范 2018, secondary copies), blanks, a changed policy file, bad
policies and inputs named, and a row-by-row oracle written straight from that text, agreeing with
classify on random follow-ups.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from dateutil.relativedelta import relativedelta

from workbench.params import ParameterError
from workbench.smd import (CLASSIFY_COLUMNS, DISORDERS, DUE_COLUMNS, INDICATOR_COLUMNS, SmdInputError, SmdPolicyError,
                           classify, due_list, indicators, load_smd_policy)

DEFAULT = Path(__file__).resolve().parents[1] / "workbench" / "policies" / "smd_default.yaml"

# A follow-up where nothing is wrong: what REFERENCE.md calls stable.
_WELL = {"mode": "face_to_face", "risk_grade": 0, "symptoms": "remitted", "insight": "full", "social_function": "fair",
         "on_medication": True, "medication_regularity": "regular", "adverse_reaction": "none",
         "physical_illness": "none", "outcome": None, "referred": False, "recorded_by": "doctor1"}
_FU_TYPES = {"followup_id": "string", "resident_id": "string", "followed_on": "datetime64[ns]", "mode": "string",
             "risk_grade": "Int8", "symptoms": "string", "insight": "string", "social_function": "string",
             "on_medication": "boolean", "medication_regularity": "string", "adverse_reaction": "string",
             "physical_illness": "string", "outcome": "string", "referred": "boolean", "recorded_by": "string"}
_REG_TYPES = {"resident_id": "string", "diagnosis": "string", "diagnosed_on": "datetime64[ns]",
              "registered_on": "datetime64[ns]", "guardian": "string", "consent": "boolean",
              "consent_on": "datetime64[ns]", "left_on": "datetime64[ns]", "left_reason": "string"}


def followups(rows: list[dict]) -> pd.DataFrame:
    """Follow-ups with the contract's columns and types; a column not given is a well follow-up's."""
    full = [{"followup_id": r.get("followup_id", f"F{i}"), **_WELL, **r} for i, r in enumerate(rows)]
    data = {}
    for c, dtype in _FU_TYPES.items():
        values = [r.get(c) for r in full]
        if dtype.startswith("datetime"):
            data[c] = pd.to_datetime(pd.Series(values, dtype=object))
        else:
            data[c] = pd.array(values, dtype=dtype)
    return pd.DataFrame(data)


def fu(rid: str, day: str, **kw) -> dict:
    return {"resident_id": rid, "followed_on": day, **kw}


def register(rows: list[dict]) -> pd.DataFrame:
    base = {"diagnosis": "schizophrenia", "diagnosed_on": None, "registered_on": "2020-01-01", "guardian": "parent",
            "consent": True, "consent_on": None, "left_on": None, "left_reason": None}
    full = [{**base, **r} for r in rows]
    data = {}
    for c, dtype in _REG_TYPES.items():
        values = [r.get(c) for r in full]
        data[c] = pd.to_datetime(pd.Series(values, dtype=object)) if dtype.startswith("datetime") else pd.array(values, dtype=dtype)
    return pd.DataFrame(data)


def one(**answers) -> pd.Series:
    return classify(followups([fu("R1", "2025-03-01", **answers)])).iloc[0]


# --- risk grades: every boundary ----------------------------------------------------------------

@pytest.mark.parametrize("grade, stability, rule, refer", [
    (0, "stable", "stable", False),                       # grade 0 with everything well: stable
    (1, "basically_stable", "basically_stable", False),   # grade 1-2: basically stable
    (2, "basically_stable", "basically_stable", False),
    (3, "unstable", "unstable_risk", True),               # grade 3-5: unstable, refer now
    (4, "unstable", "unstable_risk", True),
    (5, "unstable", "unstable_risk", True),
])
def test_each_risk_grade(grade, stability, rule, refer):
    row = one(risk_grade=grade)
    assert (row["stability"], row["rule"], bool(row["refer"]), bool(row["banner"])) == (stability, rule, refer, refer)
    assert row["risk_grade"] == grade


def test_no_risk_grade_is_not_assessed_never_grade_0():
    row = one(risk_grade=None)
    assert pd.isna(row["risk_grade"]) and pd.isna(row["stability"])      # not "stable", as grade 0 would give
    assert row["rule"] == "not_assessed" and not row["refer"]
    assert row["next_due"] == pd.Timestamp("2025-03-15")                 # assess within 2 weeks: 1 March + 14
    # marked symptoms are unstable whatever the grade would have been
    row = one(risk_grade=None, symptoms="marked")
    assert (row["stability"], row["rule"], bool(row["refer"])) == ("unstable", "unstable_clinical", True)


# --- stability: each condition REFERENCE.md lists ---------------------------------------------------

@pytest.mark.parametrize("answers", [{"symptoms": "marked"}, {"insight": "none"}, {"adverse_reaction": "acute"},
                                     {"physical_illness": "serious"}])
def test_each_unstable_condition_alone(answers):
    row = one(**answers)  # grade 0, every other answer well: one of them is enough
    assert (row["stability"], row["rule"], bool(row["refer"]), bool(row["banner"])) == (
        "unstable", "unstable_clinical", True, True)
    assert row["next_due"] == pd.Timestamp("2025-03-15")  # refer now, follow up within 2 weeks


@pytest.mark.parametrize("answers", [{"symptoms": "residual"}, {"insight": "partial"}, {"social_function": "poor"}])
def test_one_of_symptoms_insight_social_function_poor_is_basically_stable(answers):
    row = one(**answers)
    assert (row["stability"], row["rule"], bool(row["refer"])) == ("basically_stable", "basically_stable", False)


@pytest.mark.parametrize("answers", [{"adverse_reaction": "mild"}, {"physical_illness": "mild"}])
def test_a_mild_reaction_or_mild_physical_illness_does_not_unsettle_a_stable_patient(answers):
    # REFERENCE.md: unstable needs an ACUTE reaction or a SERIOUS illness; stable lists grade 0,
    # symptoms gone, insight and social function fair
    assert one(**answers)["stability"] == "stable"


def test_the_most_serious_condition_wins():
    row = one(risk_grade=1, symptoms="marked", social_function="poor")  # basically (grade 1, poor) and unstable (marked)
    assert (row["stability"], row["rule"]) == ("unstable", "unstable_clinical")
    row = one(risk_grade=4, symptoms="marked")                          # both unstable rules: the risk one is first
    assert row["rule"] == "unstable_risk"


@pytest.mark.parametrize("answers, rule, stability", [
    ({"risk_grade": 1, "symptoms": None}, "incomplete", None),         # symptoms blank: could be marked
    ({"risk_grade": 0, "insight": None}, "incomplete", None),
    ({"risk_grade": 0, "adverse_reaction": None}, "incomplete", None),
    ({"risk_grade": 0, "physical_illness": None}, "incomplete", None),
    ({"risk_grade": 0, "social_function": None}, "social_function_blank", None),  # stable or basically? unknown
    ({"risk_grade": 2, "social_function": None}, "basically_stable", "basically_stable"),  # grade 2 settles it
    ({"risk_grade": 3, "symptoms": None, "insight": None}, "unstable_risk", "unstable"),   # grade 3 settles it
])
def test_blank_answers_are_never_read_as_well(answers, rule, stability):
    row = one(**answers)
    assert row["rule"] == rule
    assert (None if pd.isna(row["stability"]) else row["stability"]) == stability


# --- intervals and referral ------------------------------------------------------------------------

def test_next_follow_up_after_each_class():
    out = classify(followups([fu("R1", "2025-01-31"),                         # stable: + 3 months
                              fu("R1", "2025-05-02", risk_grade=2),           # basically stable: + 14 days
                              fu("R1", "2025-05-16", risk_grade=5),           # unstable: + 14 days
                              fu("R2", "2025-11-30"),                          # stable: + 3 months, over the year end
                              fu("R3", "2024-12-31", insight="partial")]))    # basically stable: + 14 days
    assert out["next_due"].dt.strftime("%Y-%m-%d").tolist() == [
        "2025-04-30",   # 31 January + 3 months: April has no 31st, so its last day
        "2025-05-16", "2025-05-30",
        "2026-02-28",   # 30 November + 3 months: February 2026 has 28 days
        "2025-01-14"]
    assert list(out.columns) == CLASSIFY_COLUMNS
    assert (out["policy_version"] == "smd_default@1.0").all()
    assert out["followup_id"].tolist() == ["F0", "F1", "F2", "F3", "F4"]  # the order given


def test_referral_text_and_risk_grade_definitions_in_both_languages():
    pol = load_smd_policy()
    assert pol.referral.action["en"].endswith("within 14 days") and pol.referral.action["zh"].endswith("14天内随访转诊情况")
    assert sorted(pol.risk_grades) == [0, 1, 2, 3, 4, 5]
    assert "self-harm and suicide" in pol.risk_grades[4]["en"] and "自伤、自杀" in pol.risk_grades[4]["zh"]
    assert "weapon" in pol.risk_grades[5]["en"] and "纵火、爆炸" in pol.risk_grades[5]["zh"]
    assert "stops when talked to" in pol.risk_grades[2]["en"] and "能被劝说制止" in pol.risk_grades[2]["zh"]
    assert "does not stop" in pol.risk_grades[3]["en"] and "不能接受劝说而停止" in pol.risk_grades[3]["zh"]
    assert set(pol.disorders) == set(DISORDERS) and pol.disorders["bipolar"]["zh"] == "双相（情感）障碍"
    assert pol.stability["unstable"].description["zh"] == "病情不稳定：立即转诊至精神专科医院，14天内随访转诊情况"
    assert pol.stability["stable"].description["en"] == "Stable: next follow-up within 3 months"


def test_policy_declares_each_number_once_with_a_secondary_source():
    pol = load_smd_policy()
    assert "(secondary)" in pol.sources["smd_2018"] and "(secondary)" in pol.sources["implementations"]
    assert "(project reading)" in pol.sources["project"]
    assert pol.national_2018 == {"registered": 5994054, "prevalence_percent": 0.43, "management_rate": 0.949,
                                 "regular_management_rate": 0.827, "medication_rate": 0.813,
                                 "regular_medication_rate": 0.418}
    assert pol.target_regular_management_rate == 0.80 and pol.regular_follow_ups == 4
    body = DEFAULT.read_text(encoding="utf-8")
    body = body[body.index("\nid:"):]
    body = body[:body.index("\nsources:")] + body[body.index("\n# The six registered"):]  # the citations repeat them
    for text in ("5994054", "0.43", "0.949", "0.827", "0.813", "0.418", "0.80", "months: 3", "days: 14",
                 "regular_follow_ups: 4"):
        assert body.count(text) == 1, text


def test_not_a_stepped_care_policy():
    from workbench.policy import load_policy, policy_ids

    assert "smd_default" not in policy_ids()
    with pytest.raises(KeyError):
        load_policy("smd_default")
    with pytest.raises(KeyError, match="No shipped SMD policy 'nowhere'"):
        load_smd_policy("nowhere")


# --- a changed policy file changes results, with no code change --------------------------------------

def test_a_changed_policy_file_changes_results(tmp_path):
    raw = yaml.safe_load(DEFAULT.read_text(encoding="utf-8"))
    raw["id"], raw["version"] = "smd_site", "2.0"
    raw["rules"][0]["when"] = {"any": {"risk_grade": [4, 5]}}                                     # grade 3 no longer unstable
    raw["rules"][4]["when"]["any"]["risk_grade"] = [1, 2, 3]
    raw["referral"]["risk_grades"] = [4, 5]
    raw["intervals"]["three_months"] = {"months": 1, "source": "project"}
    raw["indicators"]["regular_follow_ups"] = 2
    raw["indicators"]["modes"] = ["face_to_face"]
    raw["intervals"]["one_week"] = {"days": 7, "source": "project"}
    raw["referral"]["follow_up"] = "one_week"                                                    # refer: see in a week
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    visits = followups([fu("R1", "2025-03-01", risk_grade=3), fu("R1", "2025-04-01"),
                        fu("R1", "2025-05-01", mode="phone"), fu("R2", "2025-05-01", risk_grade=5)])
    before, after = classify(visits), classify(visits, policy=path)
    assert before["stability"].tolist()[0] == "unstable" and bool(before["refer"].iloc[0])
    assert after["stability"].tolist()[0] == "basically_stable" and not after["refer"].iloc[0]
    assert after["next_due"].iloc[1] == pd.Timestamp("2025-05-01")    # stable: 1 month now
    assert (after["policy_version"] == "smd_site@2.0").all()
    # unstable: the earlier of its 14 days and the referral's 7
    assert (before["next_due"].iloc[3], after["next_due"].iloc[3]) == (pd.Timestamp("2025-05-15"), pd.Timestamp("2025-05-08"))
    assert after.loc[3, "refer"] and after.loc[3, "stability"] == "unstable"
    visits = visits.iloc[:3]
    reg = register([{"resident_id": "R1"}])
    people = pd.DataFrame({"resident_id": ["R1"], "community": ["C1"]})
    get = lambda p: indicators(reg, visits, people, policy=p, by=None, end="2025-05").iloc[0]  # noqa: E731
    d, s = get("default"), get(path)
    assert (d["regular"], s["regular"]) == (0, 1)    # 3 assessed follow-ups: not 4, but 2 (the phone one not counted)
    assert d["on_medication"] == s["on_medication"] == 1


def test_bad_policy_keys_are_all_named(tmp_path):
    raw = yaml.safe_load(DEFAULT.read_text(encoding="utf-8"))
    raw["colour"] = "blue"
    raw["rules"][0]["when"] = {"any": {"risk_grade": [3, 7]}}
    raw["rules"][2]["when"] = {"blank": ["mood"]}
    raw["rules"][1]["source"] = "hearsay"
    raw["intervals"]["two_weeks"] = {"weeks": 2, "source": "smd_2018"}
    raw["referral"]["banner"] = "yes"
    raw["indicators"]["regular_follow_ups"] = 0
    raw["indicators"]["modes"] = ["letter"]
    del raw["disorders"]["labels"]["bipolar"]
    del raw["risk_grades"]["grades"][3]["zh"]
    raw["stability"]["stable"]["follow_up"] = "soon"
    raw["national_2018"]["medication_rate"] = 81.3
    raw["rules"].append({"id": "extra", "when": {"any": {"insight": ["partial"]}}, "stability": "stable",
                         "source": "project"})
    with pytest.raises(SmdPolicyError) as err:
        load_smd_policy(raw)
    text = str(err.value)
    for key in ("colour: unknown key", "rules[0].when.any.risk_grade: must list values among [0, 1, 2, 3, 4, 5], got [3, 7]",
                "rules[2].when.blank", "rules[1].source: 'hearsay'", "intervals.two_weeks.weeks",
                "referral.banner", "indicators.regular_follow_ups", "indicators.modes", "disorders.labels",
                "risk_grades.grades.3.zh", "stability.stable.follow_up: must name an interval",
                "national_2018.medication_rate", "the last rule must have when: {always: true}",
                "only the last rule may have when: {always: true}"):
        assert key in text, key
    path = tmp_path / "bad.yaml"
    path.write_text("id: [unclosed", encoding="utf-8")
    with pytest.raises(SmdPolicyError, match="bad.yaml: not valid YAML"):
        load_smd_policy(path)


# --- bad inputs are named (row, column, value, rule) ---------------------------------------------------

def test_bad_parameters_are_named():
    with pytest.raises(ParameterError, match="followups"):
        classify("followups.csv")
    with pytest.raises(ParameterError, match="today"):
        due_list(register([]), followups([]), today=None)
    with pytest.raises(ParameterError, match="by"):
        indicators(register([]), followups([]), pd.DataFrame({"resident_id": [], "community": []}), by=("ward",))
    with pytest.raises(ParameterError, match="start"):
        indicators(register([{"resident_id": "R1"}]), followups([fu("R1", "2025-03-01")]),
                   pd.DataFrame({"resident_id": ["R1"], "community": ["C1"]}), start="2025-05", end="2025-03")


def test_missing_columns_and_wrong_types_are_named():
    visits = followups([fu("R1", "2025-03-01")]).drop(columns=["insight"])
    visits["risk_grade"] = ["high"]                       # text where a grade belongs
    with pytest.raises(SmdInputError) as err:
        classify(visits)
    got = {(p.column, p.value, p.rule) for p in err.value.problems.itertuples()}
    assert ("insight", None, "is missing: the table must have this column") in got
    assert ("risk_grade", "high", "is not a number") in got
    visits = followups([fu("R1", "2025-03-01")])
    visits["on_medication"] = pd.array([1], dtype="Int64")  # a number is not True/False
    with pytest.raises(SmdInputError, match="on_medication.*must hold True/False"):
        indicators(register([{"resident_id": "R1"}]), visits, pd.DataFrame({"resident_id": ["R1"], "community": ["C1"]}))


def test_bad_follow_up_cells_are_named():
    visits = followups([fu("R1", "2025-03-01"), fu("R1", "2025-03-02", risk_grade=6),
                        fu("R1", "2025-03-03", symptoms="bad"), fu("R1", "2025-03-04", followup_id="F0"),
                        fu("R1", None), fu("R1", "2025-03-06", mode="letter"),
                        fu("R1", "2025-03-07", on_medication=False, medication_regularity="regular"),
                        fu("R1", "2025-03-08", on_medication=True, medication_regularity="none"),
                        fu("R9", "2025-03-09"), fu("R1", "2025-03-01", followup_id="F99")])
    visits["risk_grade"] = visits["risk_grade"].astype("Float64")
    visits.loc[0, "risk_grade"] = 2.5
    with pytest.raises(SmdInputError) as err:
        indicators(register([{"resident_id": "R1"}]), visits, pd.DataFrame({"resident_id": ["R1"], "community": ["C1"]}))
    got = {(p.row, p.column): p.value for p in err.value.problems.itertuples()}
    assert set(got) == {(0, "risk_grade"), (1, "risk_grade"), (2, "symptoms"), (3, "followup_id"), (4, "followed_on"),
                        (5, "mode"), (6, "medication_regularity"), (7, "medication_regularity"), (8, "resident_id"),
                        (9, "resident_id, followed_on")}
    assert (got[(0, "risk_grade")], got[(1, "risk_grade")], got[(2, "symptoms")], got[(3, "followup_id")]) == (2.5, 6, "bad", "F0")
    assert pd.isna(got[(4, "followed_on")]) and got[(5, "mode")] == "letter" and got[(8, "resident_id")] == "R9"
    assert got[(9, "resident_id, followed_on")] == ("R1", pd.Timestamp("2025-03-01"))
    rules = " ".join(err.value.problems["rule"])
    for text in ("must be a whole grade from 0 to 5", "must be one of remitted, residual, marked", "is repeated",
                 "is blank but required", "must be one of face_to_face, phone", "contradicts on_medication False",
                 "contradicts on_medication True", "refers to no row of register", "one follow-up per resident and day"):
        assert text in rules, text


def test_bad_register_cells_are_named():
    reg = register([{"resident_id": "R1", "diagnosis": "depression"},
                    {"resident_id": "R2", "left_on": "2025-01-01"},                          # no reason
                    {"resident_id": "R3", "left_on": "2019-01-01", "left_reason": "moved"},  # before registration
                    {"resident_id": "R4", "left_reason": "died"},                            # reason, no date
                    {"resident_id": "R5", "diagnosed_on": "2021-01-01"},                     # after registration
                    {"resident_id": "R6", "guardian": "neighbour"},
                    {"resident_id": "R6"}, {"resident_id": "R7", "registered_on": None}])
    with pytest.raises(SmdInputError) as err:
        due_list(reg, followups([]), today="2025-06-30")
    got = {(p.row, p.column) for p in err.value.problems.itertuples()}
    assert got == {(0, "diagnosis"), (1, "left_reason"), (2, "left_on"), (3, "left_reason"), (4, "diagnosed_on"),
                   (5, "guardian"), (6, "resident_id"), (7, "registered_on")}
    rules = " ".join(err.value.problems["rule"])
    assert "must be one of schizophrenia, schizoaffective" in rules and "is blank but required when left_on" in rules
    # a registered patient who is no resident
    with pytest.raises(SmdInputError, match="refers to no row of residents"):
        indicators(register([{"resident_id": "R1"}]), followups([]), pd.DataFrame({"resident_id": ["R2"], "community": ["C1"]}),
                   end="2025-01")


def test_a_frame_of_python_objects_is_read_cell_by_cell():
    # as an app builds a one-row follow-up: every column of dtype object
    visits = pd.DataFrame({"followup_id": ["F1"], "resident_id": ["R1"], "followed_on": [dt.date(2025, 3, 1)],
                           "risk_grade": [4], "symptoms": ["remitted"], "insight": ["full"], "social_function": ["fair"],
                           "adverse_reaction": ["none"], "physical_illness": ["none"]}, dtype=object)
    row = classify(visits).iloc[0]
    assert (row["rule"], bool(row["refer"]), row["next_due"]) == ("unstable_risk", True, pd.Timestamp("2025-03-15"))
    visits["risk_grade"] = pd.Series([True], dtype=object)  # True is not grade 1
    with pytest.raises(SmdInputError, match="is not a number"):
        classify(visits)


# --- indicators, worked by hand ------------------------------------------------------------------------

def _city():
    # C1 has 1,000 residents, C2 200, and K has no community recorded: 1,201 in all
    people = pd.DataFrame({"resident_id": [f"C1-{i:04d}" for i in range(1000)] + [f"C2-{i:03d}" for i in range(200)] + ["K"],
                           "community": ["C1"] * 1000 + ["C2"] * 200 + [None]})
    A, B, C, D, E, F, G, H, I = (f"C1-{i:04d}" for i in range(9))  # noqa: E741
    J, N = "C2-000", "C2-001"
    reg = register([
        {"resident_id": A}, {"resident_id": B}, {"resident_id": C, "diagnosis": "bipolar"}, {"resident_id": D},
        {"resident_id": E, "registered_on": "2025-06-01", "diagnosed_on": "2025-05-01"},
        {"resident_id": F, "left_on": "2025-10-15", "left_reason": "moved"},
        {"resident_id": G, "registered_on": "2026-01-05"},
        {"resident_id": H, "left_on": "2025-12-31", "left_reason": "died"},
        {"resident_id": I}, {"resident_id": J}, {"resident_id": N, "registered_on": "2025-12-01"},
        {"resident_id": "K", "registered_on": "2024-01-01"}])
    visits = followups([
        # A: 4 risk-assessed follow-ups; latest (Nov) on medication, regular, recorded stable
        fu(A, "2025-02-10"), fu(A, "2025-05-10"), fu(A, "2025-08-10"), fu(A, "2025-11-10", outcome="stable"),
        fu(A, "2026-01-10", risk_grade=5),   # after the period and after "today"
        # B: 4 follow-ups, one without a risk grade: managed, not regular; latest intermittent, basically stable
        fu(B, "2025-01-05"), fu(B, "2025-04-05", risk_grade=None), fu(B, "2025-07-05"),
        fu(B, "2025-10-05", medication_regularity="intermittent", outcome="basically_stable"),
        # C: 5 follow-ups, one by phone (counted); latest off medication, outcome not recorded
        fu(C, "2025-03-20"), fu(C, "2025-06-20", mode="phone"), fu(C, "2025-09-20"), fu(C, "2025-11-20"),
        fu(C, "2025-12-20", risk_grade=1, on_medication=False, medication_regularity="none"),
        # D: last seen in November 2024
        fu(D, "2024-11-15", outcome="stable"),
        # E: one follow-up before registration (not counted), three after; latest grade 3, regularity blank
        fu(E, "2025-05-20"), fu(E, "2025-07-15"), fu(E, "2025-08-15"), fu(E, "2025-10-15", risk_grade=3, medication_regularity=None,
                                                     outcome="unstable"),
        # F: moved out in October
        fu(F, "2025-01-20"), fu(F, "2025-04-20"), fu(F, "2025-07-20"), fu(F, "2025-09-20"),
        # I: latest (Dec) left medication blank, recorded stable though symptoms remain; September was regular
        fu(I, "2025-09-10"), fu(I, "2025-12-10", symptoms="residual", on_medication=None, medication_regularity=None,
                                outcome="stable"),
        # J: 4 follow-ups, all well; staff recorded the last one unstable
        fu(J, "2025-03-01"), fu(J, "2025-06-01"), fu(J, "2025-09-01"), fu(J, "2025-12-01", outcome="unstable"),
        fu("K", "2025-03-01", outcome="stable"),
    ])
    return reg, visits, people, dict(A=A, B=B, C=C, D=D, E=E, F=F, G=G, H=H, I=I, J=J, N=N)


def test_indicators_by_hand():
    reg, visits, people, _ = _city()
    out = indicators(reg, visits, people, start="2025-09", end="2025-12")
    assert list(out.columns) == INDICATOR_COLUMNS
    got = out.set_index(["community", "month"])
    # 2025-12 (2025-01-01 .. 2025-12-31), C1: registered on 31 December A B C D E I = 6 (F moved in
    # October, G registers in 2026, H died on 31 December: not on the register at the end of that day)
    c1 = got.loc[("C1", "2025-12")]
    assert (c1["population"], c1["registered"], c1["prevalence_per_mille"]) == (1000, 6, pytest.approx(6.0))  # 6/1000*1000
    assert (c1["period_start"], c1["period_end"]) == (pd.Timestamp("2025-01-01"), pd.Timestamp("2025-12-31"))
    # managed (>= 1 follow-up): A B C E I = 5 (D's was in 2024); regular (>= 4 risk-assessed): A, C = 2
    # (B has 3 with a grade; E has 3 since its registration: its May follow-up came before and does not count)
    assert (c1["managed"], c1["regular"]) == (5, 2)
    assert c1["management_rate"] == pytest.approx(5 / 6) and c1["regular_management_rate"] == pytest.approx(2 / 6)
    # at the latest follow-up: on medication A B E = 3 (C off, I blank, D none: 2 not recorded)
    assert (c1["on_medication"], c1["medication_not_recorded"], c1["medication_rate"]) == (3, 2, pytest.approx(3 / 6))
    # regular medication A = 1 (B intermittent, C none); not recorded D E I = 3
    assert (c1["regular_medication"], c1["regularity_not_recorded"]) == (1, 3)
    assert c1["regular_medication_rate"] == pytest.approx(1 / 6)
    # stable as RECORDED: A, I = 2 (I although classify would suggest basically stable); not judged: C (blank), D (none)
    assert (c1["stable"], c1["stability_not_judged"], c1["stability_rate"]) == (2, 2, pytest.approx(2 / 6))
    assert c1["status"] == "ok" and c1["policy_version"] == "smd_default@1.0"
    # 2025-09 (2024-10-01 .. 2025-09-30): registered A B C D E F H I = 8; managed: all but H = 7 (D's
    # November 2024 follow-up is in this period; E's July one counts, its May one does not)
    sep = got.loc[("C1", "2025-09")]
    assert (sep["registered"], sep["managed"]) == (8, 7)
    # C2: J and N (registered 1 December, no follow-up yet) = 2 of 200: 10 per mille; 2 < 5: too few to judge
    c2 = got.loc[("C2", "2025-12")]
    assert (c2["registered"], c2["prevalence_per_mille"], c2["managed"], c2["regular"], c2["stable"]) == (
        2, pytest.approx(10.0), 1, 1, 0)
    assert c2["status"] == "insufficient" and c2["stability_not_judged"] == 1 and c2["regular_management_rate"] == 0.5
    # all: 6 + 2 + K (no community) = 9 of 1,201; managed 5 + 1 + 1 = 7; regular 2 + 1 = 3;
    # on medication 3 + J + K = 5; regular medication A J K = 3; stable A I K = 3
    everyone = got.loc[("all", "2025-12")]
    assert (everyone["population"], everyone["registered"], everyone["managed"], everyone["regular"],
            everyone["on_medication"], everyone["regular_medication"], everyone["stable"]) == (1201, 9, 7, 3, 5, 3, 3)
    assert everyone["prevalence_per_mille"] == pytest.approx(9 / 1201 * 1000)
    assert out.attrs["followups_before_registration"] == 1 and out.attrs["patients_without_community"] == 1
    assert "never" in out.attrs["counted_from"]


def test_indicator_groupings_and_nobody_registered():
    reg, visits, people, _ = _city()
    total = indicators(reg, visits, people, by=None, end="2025-12")
    assert total[["community", "month"]].values.tolist() == [["all", "2025-12"]] and total.iloc[0]["registered"] == 9
    months = indicators(reg, visits, people, by=("month",), start="2025-11", end="2025-12")
    assert months["community"].tolist() == ["all", "all"] and months["month"].tolist() == ["2025-11", "2025-12"]
    by_comm = indicators(reg, visits, people, by=("community",), end="2025-12")
    assert by_comm["community"].tolist() == ["C1", "C2", "all"] and set(by_comm["month"]) == {"2025-12"}
    # before anyone registered: no rate, never 0
    early = indicators(reg, visits, people, by=None, start="2019-06", end="2019-06").iloc[0]
    assert early["registered"] == 0 and np.isnan(early["management_rate"]) and np.isnan(early["stability_rate"])
    assert early["status"] == "insufficient"
    assert indicators(register([]), followups([]), people).empty


# --- the due list, worked by hand --------------------------------------------------------------------

def test_due_list_by_hand():
    reg, visits, _, p = _city()
    out = due_list(reg, visits, today="2025-12-31")
    assert list(out.columns) == DUE_COLUMNS
    # registered on 31 December, in the register's order: A B C D E I J N K (F moved, G later, H died)
    assert out["resident_id"].tolist() == [p["A"], p["B"], p["C"], p["D"], p["E"], p["I"], p["J"], p["N"], "K"]
    got = out.set_index("resident_id")
    a = got.loc[p["A"]]  # Nov 10 stable (and recorded stable): + 3 months = 10 Feb 2026; the 2026 grade 5 is not read
    assert (a["last_followup"], a["last_risk_grade"], a["next_due"], a["due"], a["overdue"]) == (
        pd.Timestamp("2025-11-10"), 0, pd.Timestamp("2026-02-10"), False, False)
    assert a["assessed_in_period"] == 4 and not a["unstable"] and not a["high_risk"]
    b = got.loc[p["B"]]  # suggested stable (+3 months) but recorded basically stable (+14 days): the earlier, 19 Oct
    assert (b["suggested"], b["last_outcome"], b["next_due"], b["days_overdue"]) == (
        "stable", "basically_stable", pd.Timestamp("2025-10-19"), 73)  # 12 days of October + 30 + 31
    assert b["assessed_in_period"] == 3
    c = got.loc[p["C"]]  # Dec 20 grade 1: basically stable, + 14 = 3 January: not yet due; outcome not recorded
    assert (c["suggested"], c["next_due"], c["due"]) == ("basically_stable", pd.Timestamp("2026-01-03"), False)
    assert pd.isna(c["last_outcome"])
    d = got.loc[p["D"]]  # 15 Nov 2024 stable: due 15 Feb 2025, 319 days ago (28 + 275 + 16)
    assert (d["next_due"], d["due"], d["overdue"], d["days_overdue"]) == (pd.Timestamp("2025-02-15"), True, True, 319)
    e = got.loc[p["E"]]  # Oct 15 grade 3: unstable, refer, + 14 = 29 Oct, 63 days overdue (2 + 30 + 31)
    assert (e["rule"], e["unstable"], e["high_risk"], e["refer"], e["days_overdue"]) == ("unstable_risk", True, True, True, 63)
    i = got.loc[p["I"]]  # recorded stable, but symptoms remain: suggested basically stable, + 14 = 24 Dec: 7 days late
    assert (i["last_outcome"], i["suggested"], i["next_due"], i["days_overdue"]) == (
        "stable", "basically_stable", pd.Timestamp("2025-12-24"), 7)
    j = got.loc[p["J"]]  # every answer well, but staff recorded unstable: shown as unstable, no high risk
    assert (j["suggested"], j["last_outcome"], j["unstable"], j["high_risk"], j["refer"]) == (
        "stable", "unstable", True, False, False)
    assert j["next_due"] == pd.Timestamp("2025-12-15")  # the recorded unstable's 14 days, before the suggestion's 3 months
    n = got.loc[p["N"]]  # never followed up: due, since when unknown
    assert pd.isna(n["last_followup"]) and n["due"] and pd.isna(n["overdue"]) and pd.isna(n["days_overdue"])
    assert pd.isna(n["last_risk_grade"]) and pd.isna(n["suggested"]) and n["assessed_in_period"] == 0
    assert out.attrs["policy_version"] == "smd_default@1.0"


def test_due_list_when_nobody_has_been_followed_up_yet():
    """A team whose registered patients have no follow-up at all (a new register): everyone is due,
    since when unknown (this crashed on an empty follow-up table)."""
    reg, _, _, p = _city()
    out = due_list(reg, followups([]), today="2025-12-31")
    assert len(out) == 9 and out["due"].all() and out["last_followup"].isna().all()
    assert out["overdue"].isna().all() and out["days_overdue"].isna().all() and out["last_risk_grade"].isna().all()
    assert not out["unstable"].any() and not out["high_risk"].any() and not out["refer"].any()
    assert (out["assessed_in_period"] == 0).all()


# --- an independent oracle, row by row ---------------------------------------------------------------

def oracle(v: dict) -> tuple:
    """REFERENCE.md "Severe mental disorders", read line by line, for one follow-up.

    Unstable: grade 3-5, or marked symptoms, no insight, an acute drug reaction, a serious physical
    illness -> refer now, follow up within 2 weeks. Basically stable: grade 1-2, or one of symptoms,
    insight, social function poor -> 2 weeks. Stable: grade 0, symptoms largely gone, insight and
    social function fair -> 3 months. Refer when grade >= 3 or unstable. A blank answer is unknown:
    when it could change the class, there is no suggestion and the next contact is within 2 weeks.
    """
    g = v["risk_grade"]
    if (g is not None and g >= 3) or v["symptoms"] == "marked" or v["insight"] == "none" \
            or v["adverse_reaction"] == "acute" or v["physical_illness"] == "serious":
        stability = "unstable"
    elif g is None or None in (v["symptoms"], v["insight"], v["adverse_reaction"], v["physical_illness"]):
        stability = None              # unstable cannot be ruled out
    elif g in (1, 2) or v["symptoms"] == "residual" or v["insight"] == "partial" or v["social_function"] == "poor":
        stability = "basically_stable"
    elif v["social_function"] is None:
        stability = None              # stable or basically stable: cannot tell
    else:
        stability = "stable"
    refer = (g is not None and g >= 3) or stability == "unstable"
    due = v["followed_on"] + (relativedelta(months=3) if stability == "stable" else dt.timedelta(days=14))
    return v["followup_id"], stability, refer, due


def _random_followups(seed: int, n: int) -> list[dict]:
    rng = np.random.default_rng(seed)

    def pick(options, blank):
        k = rng.integers(0, len(options), n)
        out = np.array(options, dtype=object)[k]
        out[rng.random(n) < blank] = None
        return out

    # well answers are common, so every rule fires; blanks at 3-8 %
    weights = lambda good, others: [good] * 6 + others  # noqa: E731
    grade = pick([0, 0, 0, 0, 1, 2, 3, 4, 5], 0.06)
    cols = {"symptoms": pick(weights("remitted", ["residual", "marked"]), 0.04),
            "insight": pick(weights("full", ["partial", "none"]), 0.04),
            "social_function": pick(weights("fair", ["poor"]), 0.05),
            "adverse_reaction": pick(weights("none", ["mild", "acute"]), 0.03),
            "physical_illness": pick(weights("none", ["mild", "serious"]), 0.03)}
    start = dt.date(2024, 1, 1)
    days = rng.integers(0, 800, n)
    return [{"followup_id": f"F{i}", "resident_id": f"R{i % 5000}", "followed_on": start + dt.timedelta(days=int(days[i])),
             "risk_grade": grade[i], **{c: cols[c][i] for c in cols}} for i in range(n)]


@pytest.mark.parametrize("seed", [1, 2])
def test_classify_agrees_with_an_oracle_written_from_the_policy_text(seed):
    rows = _random_followups(seed, 25_000)
    assert len(rows) >= 20_000
    expected = [oracle(v) for v in rows]
    frame = followups([{**v, "followed_on": v["followed_on"].isoformat()} for v in rows])
    out = classify(frame)
    got = list(zip(out["followup_id"], [None if pd.isna(s) else s for s in out["stability"]], out["refer"].tolist(),
                   [d.date() for d in out["next_due"]]))
    mismatched = [(g, e) for g, e in zip(got, expected) if g != e]
    assert not mismatched, mismatched[:5]
    assert set(out["rule"]) == {r.id for r in load_smd_policy().rules}   # every rule fired somewhere
    assert {e[1] for e in expected} == {None, "stable", "basically_stable", "unstable"}
