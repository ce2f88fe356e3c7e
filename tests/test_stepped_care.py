"""Stepped care: the default policy against its written definition, policies as data, overrides.

The reference is the default policy as written in the stepped-care issue (rules 1-6, psych
status, disease category, next-contact intervals), with thresholds from Kroenke 2001 (PHQ-9:
screen-positive >= 10, severe >= 20, mild >= 5) and Spitzer 2006 (GAD-7: screen-positive >= 10,
severe >= 15, mild >= 5). `oracle` below is a row-by-row transcription of that text, written
independently of the vectorised engine, and hypothesis generates the cases.
"""

import datetime as dt
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import workbench
from workbench import AssignmentError, PolicyError, assign_tiers, decide, load_policy, screen
from workbench.instruments import get_instrument

CONDITIONS = ["hypertension", "diabetes", "chd", "stroke", "copd", "asthma"]
DEFAULT = Path(workbench.__file__).parent / "policies" / "default.yaml"


def oracle(phq9, gad7, conditions, assessed_on):
    """The default policy, transcribed from the issue text; phq9/gad7 are answer lists or None."""
    def total(answers, k, max_missing):
        if answers is None:
            return None, 0
        got = [a for a in answers if a is not None]
        if not got or k - len(got) > max_missing:
            return None, len(got)
        return math.floor(sum(got) * k / len(got) + 0.5), len(got)
    p, p_n = total(phq9, 9, 2)
    g, _ = total(gad7, 7, 1)
    item9 = None if phq9 is None else phq9[8]
    ge = lambda x, t: x is not None and x >= t  # noqa: E731
    if item9 is not None and item9 >= 1:
        rule, tier, urgent, review = "self_harm", 3, True, False
    elif p is None and g is None:
        rule, tier, urgent, review = "not_scorable", None, False, True
    elif ge(p, 20) or ge(g, 15):
        rule, tier, urgent, review = "severe", 3, False, False
    elif p_n > 0 and item9 is None:
        rule, tier, urgent, review = "self_harm_unknown", 2, False, True
    elif ge(p, 10) or ge(g, 10):
        rule, tier, urgent, review = "screen_positive", 2, False, False
    else:
        rule, tier, urgent, review = "universal", 1, False, False
    if ge(p, 10) or ge(g, 10) or rule == "self_harm":
        status = "clinical"
    elif ge(p, 5) or ge(g, 5):
        status = "subclinical"
    elif p is not None or g is not None:
        status = "normal"
    else:
        status = None
    if conditions.get("hypertension") or conditions.get("chd") or conditions.get("stroke"):
        category = "A"
    elif conditions.get("diabetes"):
        category = "B"
    elif conditions.get("copd") or conditions.get("asthma"):
        category = "C"
    else:
        category = "none"
    if urgent or rule == "not_scorable":
        days = 0
    elif tier == 3:
        days = 3
    elif tier == 2:
        days = 14
    elif tier == 1 and status == "subclinical":
        days = 90
    else:
        days = 365
    return {"rule": rule, "tier": tier, "urgent": urgent, "needs_review": review, "psych_status": status,
            "disease_category": category, "service_cell": None if status is None else f"{category}-{status}",
            "next_contact_due": assessed_on + dt.timedelta(days=days)}


answer = lambda hi: st.one_of(st.none(), st.none(), st.integers(0, hi))  # noqa: E731
# mostly complete forms, sometimes gaps, sometimes the questionnaire absent
form = lambda k: st.one_of(st.lists(st.integers(0, 3), min_size=k, max_size=k),  # noqa: E731
                           st.lists(answer(3), min_size=k, max_size=k), st.none())


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(form(9), form(7), st.fixed_dictionaries({c: st.booleans() for c in CONDITIONS}),
                          st.dates(dt.date(2024, 1, 1), dt.date(2026, 12, 31))), min_size=1, max_size=25))
def test_default_policy_matches_its_written_definition(cases):
    rows = []
    for phq9, gad7, conditions, day in cases:
        row = {"assessed_on": day, **conditions}
        row.update({f"phq9_{n}": (np.nan if phq9 is None or phq9[n - 1] is None else phq9[n - 1]) for n in range(1, 10)})
        row.update({f"gad7_{n}": (np.nan if gad7 is None or gad7[n - 1] is None else gad7[n - 1]) for n in range(1, 8)})
        rows.append(row)
    result = screen(pd.DataFrame(rows))
    for i, (phq9, gad7, conditions, day) in enumerate(cases):
        # an all-blank form is the same as an absent one
        expected = oracle(None if phq9 is None or all(a is None for a in phq9) else phq9,
                          None if gad7 is None or all(a is None for a in gad7) else gad7, conditions, day)
        got = result.iloc[i]
        for key, value in expected.items():
            actual = got[key]
            if value is None:
                assert pd.isna(actual), (key, cases[i], actual)
            elif key == "next_contact_due":
                assert actual.date() == value, (key, cases[i])
            else:
                assert actual == value, (key, cases[i], actual, value)
        assert got["policy_version"] == "default@1.1"


def test_each_rule_on_a_worked_case():
    base = {"assessed_on": "2025-05-06", **{c: False for c in CONDITIONS}}
    phq = lambda *a: {f"phq9_{n}": v for n, v in enumerate(a, start=1)}  # noqa: E731
    gad = lambda *a: {f"gad7_{n}": v for n, v in enumerate(a, start=1)}  # noqa: E731
    rows = [
        {**base, **phq(0, 0, 0, 0, 0, 0, 0, 0, 1), **gad(*[None] * 7)},       # self_harm with total 1
        {**base, **phq(*[None] * 9), **gad(*[None] * 7)},                     # nothing scorable
        {**base, **phq(*[0] * 9), **gad(3, 3, 3, 2, 2, 1, 1)},                 # GAD-7 15: severe
        {**base, **phq(2, 2, 1, 1, 1, 0, 0, 0, None), **gad(*[0] * 7)},       # item 9 blank
        {**base, **phq(*[0] * 9), **gad(2, 2, 2, 1, 1, 1, 1), "copd": True},  # GAD-7 10
        {**base, **phq(1, 1, 1, 1, 1, 0, 0, 0, 0), **gad(*[0] * 7), "diabetes": True, "stroke": True},
    ]
    result = screen(pd.DataFrame(rows))
    assert result["rule"].tolist() == ["self_harm", "not_scorable", "severe", "self_harm_unknown",
                                       "screen_positive", "universal"]
    assert result["tier"].tolist()[2:] == [3, 2, 2, 1] and pd.isna(result["tier"].iloc[1])
    assert result["urgent"].tolist() == [True, False, False, False, False, False]
    assert result["needs_review"].tolist() == [False, True, False, True, False, False]
    assert result["service_cell"].tolist()[4:] == ["C-clinical", "A-subclinical"]  # stroke (A) before diabetes (B)
    due = (result["next_contact_due"] - pd.Timestamp("2025-05-06")).dt.days.tolist()
    assert due == [0, 0, 3, 14, 14, 90]
    assert "cardiac rehabilitation" not in result["service"].iloc[5].lower()
    a_clinical = load_policy().services["A-clinical"]["en"].lower()
    assert "cardiac rehabilitation" in a_clinical and "cardiologist" in a_clinical


def test_two_step_screening_rules_on_worked_cases():
    """Version 1.1 of the default policy: PHQ-2 >= 3 positive (Kroenke 2003, Med Care 41:1284), GAD-2
    >= 3 positive (Kroenke 2007, Ann Intern Med 146:317); a family doctor asks the full questionnaire
    only when its screener is positive (the visit app). Both negative is a complete negative screen;
    a positive screener without its full questionnaire is never taken as negative."""
    base = {"assessed_on": "2025-05-06", **{c: False for c in CONDITIONS}, "hypertension": True}
    two = lambda name, a, b: {f"{name}_1": a, f"{name}_2": b}  # noqa: E731
    gad = lambda *a: {f"gad7_{n}": v for n, v in enumerate(a, start=1)}  # noqa: E731
    rows = [
        {**base, **two("phq2", 0, 2), **two("gad2", 1, 1)},              # 2 and 2: both negative
        {**base, **two("phq2", 2, 1), **two("gad2", 0, 0)},              # PHQ-2 = 3: positive, no PHQ-9
        {**base, **two("phq2", 0, 1)},                                   # GAD-2 not asked: anxiety unscreened
        {**base, **two("phq2", 0, 1), **two("gad2", None, 1)},           # GAD-2 half answered: not scorable
        {**base, **two("phq2", 1, 1), **gad(2, 2, 1, 1, 1, 1, 2)},        # GAD-2 was positive: GAD-7 = 10
        {**base, **two("phq2", 3, 1), **gad(3, 3, 3, 2, 2, 1, 1)},        # GAD-7 = 15 severe beats PHQ-2 = 4
        {**base, **two("phq2", 1, 1), **two("gad2", 2, 2)},              # GAD-2 = 4 positive, no GAD-7
    ]
    result = screen(pd.DataFrame(rows))
    assert result["rule"].tolist() == ["screeners_negative", "screener_positive", "not_scorable", "not_scorable",
                                       "screen_positive", "severe", "screener_positive"]
    assert result["tier"].tolist()[:2] == [1, 2] and result["tier"].tolist()[4:] == [2, 3, 2]
    assert result["tier"].iloc[2:4].isna().all()
    assert result["needs_review"].tolist() == [False, True, True, True, False, False, True]
    assert result["psych_status"].tolist()[:2] == ["normal", "clinical"]
    assert result["psych_status"].iloc[2:4].isna().all()
    # next contact: a year after a negative screen, 14 days at tier 2, the same day when not scorable
    assert [d.strftime("%Y-%m-%d") for d in result["next_contact_due"]] == [
        "2026-05-06", "2025-05-20", "2025-05-06", "2025-05-06", "2025-05-20", "2025-05-09", "2025-05-20"]


def test_service_text_in_chinese():
    data = pd.DataFrame({**{f"phq9_{n}": [2] for n in range(1, 10)}, "phq9_9": [0], "assessed_on": ["2025-01-01"],
                         "hypertension": [True]})
    assert screen(data, lang="zh")["service"].iloc[0] == load_policy().services["A-clinical"]["zh"]


def test_bad_dates_and_blank_conditions_are_named_and_nothing_is_assigned():
    data = pd.DataFrame({**{f"gad7_{n}": [1, 1, 1] for n in range(1, 8)},
                         "assessed_on": ["2025-01-01", "not a date", "2025-01-03"],
                         "diabetes": [True, False, None]}, index=["a", "b", "c"])
    with pytest.raises(AssignmentError) as err:
        screen(data)
    message = str(err.value)
    assert "row 'b', column 'assessed_on': value 'not a date'" in message
    assert "row 'c', column 'diabetes': value (none) must be True or False" in message
    with pytest.raises(AssignmentError, match="assessed_on"):
        screen(data.drop(columns="assessed_on"))


def test_bad_answers_stop_screening():
    data = pd.DataFrame({**{f"phq9_{n}": [1] for n in range(1, 10)}, "assessed_on": ["2025-01-01"]})
    data["phq9_3"] = 4
    with pytest.raises(workbench.ResponseError, match="phq9_3"):
        screen(data)


# --- policies are data ----------------------------------------------------------------------

def _policy_file(tmp_path, edit, name="shanghai_adults"):
    raw = yaml.safe_load(DEFAULT.read_text(encoding="utf-8"))
    raw["id"] = name
    edit(raw)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def test_a_changed_policy_file_changes_results_with_no_code_change(tmp_path):
    # Wang 2014 (REFERENCE.md): PHQ-9 >= 7 in Shanghai community adults
    def edit(raw):
        raw["version"] = "2025.1"
        raw["thresholds"]["screen_positive"]["phq9"] = 7
    path = _policy_file(tmp_path, edit)
    data = pd.DataFrame({**{f"phq9_{n}": [1] for n in range(1, 10)}, "phq9_9": [0], "assessed_on": ["2025-01-01"]})
    default, local = screen(data), screen(data, policy=path)
    assert (default["tier"].iloc[0], default["rule"].iloc[0]) == (1, "universal")  # PHQ-9 = 8
    assert (local["tier"].iloc[0], local["rule"].iloc[0]) == (2, "screen_positive")
    assert local["psych_status"].iloc[0] == "clinical" and local["policy_version"].iloc[0] == "shanghai_adults@2025.1"
    assert local.attrs["thresholds"]["screen_positive"]["phq9"] == 7


def test_policy_thresholds_come_from_the_declarations():
    policy = load_policy()
    assert policy.thresholds == {"screen_positive": {"phq9": 10, "gad7": 10}, "severe": {"phq9": 20, "gad7": 15},
                                 "subclinical": {"phq9": 5, "gad7": 5}, "phq2_positive": {"phq2": 3},
                                 "gad2_positive": {"gad2": 3}}


@pytest.mark.parametrize("edit, expected", [
    (lambda r: r["thresholds"]["severe"].update(phq9={"band": "very_severe"}), "thresholds.severe.phq9.band"),
    (lambda r: r["thresholds"]["severe"].update(phq9=30), "thresholds.severe.phq9: 30 is outside"),
    (lambda r: r["thresholds"]["severe"].update(epds=13), "'epds' is not a declared questionnaire"),
    (lambda r: r["rules"][2].update(tier=4), "rules[2].tier"),
    (lambda r: r["rules"][2]["when"].update(at_least="sever"), "rules[2].when.at_least: 'sever'"),
    (lambda r: r["rules"][0]["when"].update(flag="phq9_suicide"), "rules[0].when.flag"),
    (lambda r: r["rules"].pop(), "the last rule must have when: {always: true}"),
    (lambda r: r["rules"][1].update(id="self_harm"), "distinct id"),
    (lambda r: r["services"].pop("B-clinical"), "services.B-clinical"),
    (lambda r: r["services"]["A-normal"].pop("zh"), "services.A-normal.zh"),
    (lambda r: r["next_contact"][2].update(days=-3), "next_contact[2].days"),
    (lambda r: r["next_contact"][2]["when"].update(rule="severe_ish"), "next_contact[2].when.rule"),
    (lambda r: r["disease_categories"][1].update(conditions=["diabetes", "obesity"]), "disease_categories[1].conditions"),
    (lambda r: r.pop("version"), "version: required key is missing"),
    (lambda r: r.update(tiers=3), "tiers: unknown key"),
])
def test_a_broken_policy_is_refused_naming_the_key(tmp_path, edit, expected):
    path = _policy_file(tmp_path, edit)
    with pytest.raises(PolicyError) as err:
        load_policy(path)
    assert expected in str(err.value) and path.name in str(err.value)


# --- a person confirms or overrides ---------------------------------------------------------

def _screened():
    data = pd.DataFrame({**{f"phq9_{n}": [0, 2, None] for n in range(1, 10)}, "assessed_on": "2025-02-03"})
    return screen(data)


def test_override_keeps_suggestion_decision_who_when_and_why():
    screened = _screened()
    overrides = pd.DataFrame({"tier": [2, 1], "reason": ["lives alone after bereavement", "re-screened by phone: fine"]},
                             index=[0, 2])
    result = decide(screened, by="counsellor_li", at="2025-02-03 14:00", overrides=overrides)
    assert result["suggested_tier"].tolist()[:2] == [1, 3] and pd.isna(result["suggested_tier"].iloc[2])
    assert result["tier"].tolist() == [2, 3, 1]
    assert result["overridden"].tolist() == [True, False, True]
    assert result["override_reason"].iloc[0] == "lives alone after bereavement" and pd.isna(result["override_reason"].iloc[1])
    assert (result["decided_by"] == "counsellor_li").all()
    assert (result["decided_at"] == pd.Timestamp("2025-02-03 14:00", tz="UTC")).all()  # naive times are UTC
    assert result["rule"].tolist() == ["universal", "self_harm", "not_scorable"]


def test_override_needs_a_reason_a_valid_tier_a_person_and_a_time():
    screened = _screened()
    with pytest.raises(AssignmentError, match="reason.*is required"):
        decide(screened, by="x", at="2025-02-03", overrides=pd.DataFrame({"tier": [2], "reason": [" "]}, index=[0]))
    with pytest.raises(AssignmentError, match="must be 1, 2 or 3"):
        decide(screened, by="x", at="2025-02-03", overrides=pd.DataFrame({"tier": [4], "reason": ["r"]}, index=[0]))
    with pytest.raises(AssignmentError, match="not a row"):
        decide(screened, by="x", at="2025-02-03", overrides=pd.DataFrame({"tier": [2], "reason": ["r"]}, index=[9]))
    with pytest.raises(ValueError, match="'by' parameter"):
        decide(screened, by="", at="2025-02-03")
    with pytest.raises(ValueError, match="'at' parameter"):
        decide(screened, by="x", at=None)


def test_assign_tiers_on_already_scored_data_and_absent_questionnaires():
    scored = workbench.score_all(pd.DataFrame({f"gad7_{n}": [3] * 2 for n in range(1, 8)}))
    scored["assessed_on"] = ["2025-01-01", "2025-01-02"]
    result = assign_tiers(scored)  # no PHQ-9 given: GAD-7 21 alone decides
    assert result["rule"].tolist() == ["severe", "severe"] and result["psych_status"].tolist() == ["clinical"] * 2


# --- what-if thresholds must be plausible (notebook 02's slider) --------------------------------

def test_what_if_refuses_an_implausible_screen_positive_threshold_naming_value_and_rule(tmp_path):
    from workbench.policy import derive_policy
    from workbench.sample import load_sample
    from workbench.stepped_care import ThresholdError, threshold_range, what_if

    tables = load_sample()
    r = threshold_range("phq9")
    phq9 = get_instrument("phq9")
    # the bounds come from the declared bands, inside the declared totals
    assert r["lowest"] == next(b for b in phq9.bands if b.id == "mild").lower
    assert r["highest"] == next(b for b in phq9.bands if b.id == "severe").lower
    assert phq9.score_min < r["lowest"] <= phq9.screen_positive <= r["highest"] <= phq9.score_max
    with pytest.raises(ThresholdError) as err:   # the slider's derive_policy refuses at once
        derive_policy("default", id="explore", version="25", thresholds={"screen_positive": {"phq9": 25}})
    assert str(err.value).startswith("PHQ-9 screen-positive threshold 25 is refused")
    # a policy file saying 25 loads (within the totals) but what-if refuses to run it
    raw = yaml.safe_load(load_policy("default").path.read_text(encoding="utf-8"))
    raw.update(id="explore", version="25")
    raw["thresholds"]["screen_positive"]["phq9"] = 25
    path = tmp_path / "explore.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ThresholdError) as err:
        what_if(tables, policy=load_policy(path), lang="zh")
    assert "阈值 25" in str(err.value)
    text = err.value.messages["en"]
    assert "PHQ-9" in text and "25" in text and f"{r['lowest']} to {r['highest']}" in text
    assert "the 'Mild' band" in text and "screening_thresholds.yaml" in text
    assert "阈值 25" in err.value.messages["zh"]
    zh = err.value.messages["zh"]  # wholly Chinese: band labels and the source in zh
    assert "“轻度”档" in zh and "Validated" not in zh and "band" not in zh
    for ok in (r["lowest"], r["highest"]):   # the ends of the range are accepted
        what_if(tables, policy=derive_policy("default", id="explore", version=str(ok),
                                             thresholds={"screen_positive": {"phq9": ok}}))


def test_every_screen_positive_instrument_declares_a_plausible_range_around_its_threshold():
    from workbench.prevalence import screen_positive_instruments
    from workbench.stepped_care import threshold_range

    for inst_id in screen_positive_instruments():
        r = threshold_range(inst_id)
        inst = get_instrument(inst_id)
        assert r is not None, inst_id
        assert inst.score_min < r["lowest"] <= inst.screen_positive <= r["highest"] <= inst.score_max, inst_id
