"""workbench.quality and the quality report: hand-worked measures on tiny analysis tables, declaration
errors, status thresholds, and the HTML report (alerts shown, small counts hidden).

The tiny tables are built as the registry saves a screening: wide answers become assessments
(:func:`workbench.records.assessments_from_forms`), scored once (``score_assessments``) and
decided once (``decide_screenings``, with a person's overrides); the quality measures must read
those stored scores and decided tiers and never score or tier again."""

from __future__ import annotations

import re
from collections import namedtuple
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from workbench import quality as q
from workbench.records import assessments_from_forms, decide_screenings, score_assessments
from workbench.report import quality_html, suppress_quality, write_quality_report
from workbench.sample import load_sample
from workbench.tables import CONDITIONS, TABLES, Tables, TablesError, coerce

MONTHS = ["2025-05", "2025-06", "2025-07"]
REF_ALERTS = Path(__file__).parent / "reference" / "quality_alerts"

#: Values of required columns the examples do not care about.
_DEFAULTS = {"sex": "female", "birth_date": "1960-01-01", "lives_alone": False, **dict.fromkeys(CONDITIONS, False),
             "community_type": "urban"}


def frame(name: str, rows) -> pd.DataFrame:
    """Rows of the analysis table ``name`` with its declared columns and types (columns not given
    get :data:`_DEFAULTS` or stay blank)."""
    given = pd.DataFrame(rows)
    full = pd.DataFrame(index=given.index)
    for column in TABLES[name].names:
        full[column] = given[column] if column in given.columns else _DEFAULTS.get(column)
    typed, problems = coerce(name, full)
    assert not problems, problems
    return typed


def _items(prefix: str, values: list[int]) -> dict:
    return {f"{prefix}_{i + 1}": v for i, v in enumerate(values)}


def make_tiny(overrides: list[tuple] | None = None) -> dict:
    """Six residents; screened 2025-06-02 (r6: 2025-07-01); the tiers the default policy suggests:

    r1 PHQ-9 27 (item 9 = 3), GAD-7 21 -> tier 3, urgent (self_harm)
    r2 PHQ-9 16 (item 9 = 0), GAD-7 14 -> tier 2 (screen_positive)
    r3 all 0                           -> tier 1
    r4 PHQ-9 9 (item 9 = 1), GAD-7 7   -> tier 3, urgent (self_harm)
    r5 PHQ-9 24 (item 9 = 0), GAD-7 0  -> tier 3 (severe), not urgent
    r6 all 0 (screened in July)        -> tier 1

    ``overrides``: (resident, screening date, tier decided, reason) for the tiers a person changed.
    Returns the tables as keyword arguments of :class:`Tables`.
    """
    residents = frame("residents", {"resident_id": [f"r{i}" for i in range(1, 7)],
                                    "community": ["c1", "c1", "c1", "c1", "c2", "c2"]})
    answers = {"r1": ([3] * 9, [3] * 7), "r2": ([2] * 8 + [0], [2] * 7), "r3": ([0] * 9, [0] * 7),
               "r4": ([1] * 9, [1] * 7), "r5": ([3] * 8 + [0], [0] * 7), "r6": ([0] * 9, [0] * 7)}
    forms = pd.DataFrame([{"resident_id": r, **_items("phq9", p), **_items("gad7", g)} for r, (p, g) in answers.items()])
    forms["assessed_on"] = ["2025-06-02"] * 5 + ["2025-07-01"]
    screenings = assessments_from_forms(forms, purpose="screening", ids=[f"S{k:02d}" for k in range(12)])
    reviews = pd.DataFrame([
        # r1: PHQ-9 4, GAD-7 3; r2: PHQ-9 9 (eight 1s + item 9 = 1), GAD-7 10
        {"resident_id": "r1", "referral_id": "F1", "assessed_on": "2025-06-20",
         **_items("phq9", [1, 1, 1, 1] + [0] * 5), **_items("gad7", [1, 1, 1] + [0] * 4)},
        {"resident_id": "r2", "referral_id": "F2", "assessed_on": "2025-06-19",
         **_items("phq9", [1] * 9), **_items("gad7", [2, 2, 2, 2, 1, 1, 0])},
    ])
    reviews = assessments_from_forms(reviews, purpose="review", ids=["V1", "V2", "V3", "V4"])
    assessments = pd.concat([screenings, reviews], ignore_index=True)
    scores = score_assessments(assessments)
    changed = None
    if overrides:
        changed = pd.DataFrame(overrides, columns=["resident_id", "assessed_on", "tier", "reason"])
        changed["assessed_on"] = pd.to_datetime(changed["assessed_on"])
    decisions = decide_screenings(assessments, scores, residents, by="counsellor_li",
                                  at=pd.Series(["2025-06-02 12:00"] * 5 + ["2025-07-01 12:00"]),
                                  overrides=changed, ids=[f"D{k}" for k in range(1, 7)])
    referrals = frame("referrals", {
        "referral_id": ["F1", "F2", "F4", "F5"], "resident_id": ["r1", "r2", "r4", "r5"],
        "referred_on": ["2025-06-02"] * 4, "tier": [3, 2, 3, 3],
        "ended_on": ["2025-06-30", "2025-06-20", "2025-07-10", None],
        "end_reason": ["completed", "dropped_out", "completed", None]})
    contacts = pd.DataFrame([
        # resident, referral, date, kind, status
        ("r1", "F1", "2025-06-02", "treatment", "attended"),   # same day
        ("r1", "F1", "2025-06-09", "treatment", "attended"),
        ("r1", "F1", "2025-06-20", "assessment", "attended"),
        ("r4", "F4", "2025-06-02", "treatment", "missed"),     # missed: does not count
        ("r4", "F4", "2025-06-03", "treatment", "planned"),    # planned, never happened: does not count
        ("r4", "F4", "2025-06-04", "treatment", "attended"),   # 2 days
        ("r5", None, "2025-05-20", "phone", "attended"),       # before the screening: not a response to it
        ("r5", "F5", "2025-06-05", "treatment", "attended"),   # 3 days
        ("r2", "F2", "2025-06-16", "treatment", "attended"),   # 14 days
        ("r2", "F2", "2025-06-18", "treatment", "attended"),
        ("r2", "F2", "2025-06-19", "assessment", "attended"),
    ], columns=["resident_id", "referral_id", "contact_on", "kind", "status"])
    contacts.insert(0, "contact_id", [f"C{k:02d}" for k in range(len(contacts))])
    return {"communities": frame("communities", {"community": ["c1", "c2"]}), "residents": residents,
            "assessments": assessments, "scores": scores, "decisions": decisions, "referrals": referrals,
            "contacts": frame("contacts", contacts)}


@pytest.fixture
def tiny() -> dict:
    return make_tiny()


def test_the_tiny_tables_are_valid_and_decided_as_documented(tiny):
    t = Tables(**tiny).validate()
    s = t.screenings(columns=("score", "self_harm")).set_index("resident_id")
    assert s["phq9_score"].tolist() == [27, 16, 0, 9, 24, 0] and s["gad7_score"].tolist() == [21, 14, 0, 7, 0, 0]
    assert s["tier"].tolist() == [3, 2, 1, 3, 3, 1] and s["urgent"].tolist() == [True, False, False, True, False, False]
    assert s["phq9_self_harm"].tolist() == [True, False, False, True, False, False]
    assert t.policy_versions == ["default@1.1"]


def _units(measure: str, data: dict, months=MONTHS, **parameters) -> pd.DataFrame:
    """The measure's units, with the parameters the shipped indicator declares unless given."""
    declared = next((i.parameters for i in q.load_indicators().indicators if i.measure == measure), {})
    out = q.units(Tables(**data), measure, months=months, **{**declared, **parameters})
    return out.sort_values(["period", "community", "outcome"]).reset_index(drop=True)


def _counts(units: pd.DataFrame) -> dict:
    """{(community, period): (numerator, denominator)} of 0/1 units."""
    g = units.dropna(subset=["outcome"]).groupby(["community", "period"])["outcome"]
    return {k: (int(v.sum()), len(v)) for k, v in g}


# --- measures, hand-worked -------------------------------------------------------------------

def test_screened_share(tiny):
    # target population: c1 r1-r4, c2 r5-r6. By end of May nobody; by end of June all of c1
    # and r5; by end of July everybody.
    c = _counts(_units("screened_share", tiny))
    assert c[("c1", "2025-05")] == (0, 4) and c[("c2", "2025-05")] == (0, 2)
    assert c[("c1", "2025-06")] == (4, 4) and c[("c2", "2025-06")] == (1, 2)
    assert c[("c2", "2025-07")] == (2, 2)


def test_urgent_contacted_24h(tiny):
    # shipped window 24 h (same or next day). urgent: r1 (seen same day: yes), r4 (missed
    # 06-02, first attended 06-04 = 2 days: no)
    assert _counts(_units("urgent_contacted_within", tiny, window_hours=24)) == {("c1", "2025-06"): (1, 2)}


def test_tier3_contacted_72h(tiny):
    # shipped window 72 h. tier 3: r1 (0 days), r4 (2 days), r5 (3 days, c2): all within 3 days
    # (r5's phone contact on 2025-05-20, before the screening, is not a response to it)
    assert q.load_indicators().indicator("T2").window_hours == 72
    assert _counts(_units("tier3_contacted_within", tiny)) == {("c1", "2025-06"): (2, 2), ("c2", "2025-06"): (1, 1)}


def test_changed_windows_change_the_counts(tiny):
    # first attended contacts after screening: r1 0 days, r4 2 days (urgent, tier 3), r5 3 days
    # (tier 3, c2). Urgent within 48 h (<= 2 days): r1 and r4 -> 2/2 (24 h gave 1/2).
    assert _counts(_units("urgent_contacted_within", tiny, window_hours=48)) == {("c1", "2025-06"): (2, 2)}
    # tier 3 within 24 h (<= 1 day): only r1 -> c1 1/2, c2 0/1 (72 h gave 2/2 and 1/1);
    # within 48 h: r1, r4 -> c1 2/2, r5 (3 days) still late -> c2 0/1
    assert _counts(_units("tier3_contacted_within", tiny, window_hours=24)) == {
        ("c1", "2025-06"): (1, 2), ("c2", "2025-06"): (0, 1)}
    assert _counts(_units("tier3_contacted_within", tiny, window_hours=48)) == {
        ("c1", "2025-06"): (2, 2), ("c2", "2025-06"): (0, 1)}
    # self-harm flags (r1 0 days, r4 2 days) within 72 h instead of the same day: 2/2
    assert _counts(_units("self_harm_followed_within", tiny, window_hours=72)) == {("c1", "2025-06"): (2, 2)}


_URGENT = {"id": "U1", "category": "timeliness", "measure": "urgent_contacted_within", "period": "month",
           "direction": "higher_is_better", "window_hours": 24, "target": 1.0, "alert": {"below": 0.95},
           "label": {"en": "Urgent screenings contacted {window}", "zh": "紧急筛查{window}联系率"},
           "numerator": {"en": "contacted in time", "zh": "及时联系"}, "denominator": {"en": "urgent", "zh": "紧急"},
           "source": "a site's own indicator (test)"}


def _declare(tmp_path, *indicators, name: str = "indicators.yaml"):
    """The shipped file's header with only ``indicators`` (mappings, copied)."""
    raw = yaml.safe_load(q._FILE.read_text(encoding="utf-8"))
    raw["indicators"] = [dict(i) for i in indicators]
    path = tmp_path / name
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


def _shipped(id: str) -> dict:
    raw = yaml.safe_load(q._FILE.read_text(encoding="utf-8"))
    return next(i for i in raw["indicators"] if i["id"] == id)


def test_window_declared_in_yaml_drives_compute_and_label(tiny, tmp_path):
    assert "{window}" in _URGENT["label"]["en"]
    path24 = _declare(tmp_path, _URGENT, name="u24.yaml")
    path48 = _declare(tmp_path, {**_URGENT, "window_hours": 48}, name="u48.yaml")

    def row(indicators):
        r = q.compute(Tables(**tiny), months="2025-06", indicators=indicators)
        return r[(r["indicator"] == "U1") & (r["community"] == "c1")].iloc[0]
    assert (row(path24)["numerator"], row(path24)["denominator"]) == (1, 2)  # declared 24 h
    assert (row(path48)["numerator"], row(path48)["denominator"]) == (2, 2)  # declared 48 h
    ind = q.load_indicators(path48).indicator("U1")
    assert ind.label == {"en": "Urgent screenings contacted within 48 h", "zh": "紧急筛查48小时内联系率"}
    shipped = q.load_indicators()
    assert shipped.indicator("T1").label == {"en": "Self-harm answers seen the same day", "zh": "自伤回答当日随访率"}
    assert shipped.indicator("T2").label["zh"] == "三级人群72小时内联系率"


def test_bad_windows_are_refused_naming_the_rule(tmp_path):
    msg = _broken(tmp_path, lambda r: _in(r, "T2").update(window_hours=36))
    assert ("(T2).window_hours: must be a whole number of hours >= 0 and a multiple of 24") in msg and "got 36" in msg

    def change(r):
        del _in(r, "T2")["window_hours"]
        _in(r, "C1")["window_hours"] = 24
        _in(r, "T1")["label"]["en"] = "Self-harm flags followed up the same day"
        _in(r, "X1")["label"]["zh"] = "满意率{coverage}"
    msg = _broken(tmp_path, change)
    assert "(T2).window_hours: required by the measure 'tier3_contacted_within' and missing" in msg
    assert "(C1).window_hours: the measure 'dropout' takes no window_hours" in msg
    assert "(T1).label.en: must say {window}" in msg
    assert "(X1).label.zh: unknown placeholder {coverage}" in msg
    with pytest.raises(ValueError, match="'window_hours' parameter must be a whole number"):
        q.units(Tables(), "urgent_contacted_within", months=MONTHS, window_hours=12)


def test_referral_wait_days(tiny, tmp_path):
    # waits to the first attended contact: F1 0, F2 14, F4 2 (c1); F5 3 (c2)
    u = _units("referral_wait_days", tiny)
    assert sorted(u[u["community"] == "c1"]["outcome"]) == [0, 2, 14]
    wait = {"id": "W1", "category": "timeliness", "measure": "referral_wait_days", "period": "month",
            "direction": "lower_is_better", "target": 3, "alert": {"above": 3},
            "label": {"en": "Mean referral wait", "zh": "转介平均等待天数"}, "numerator": {"en": "days", "zh": "天数"},
            "denominator": {"en": "referrals seen", "zh": "已接诊转介"}, "source": "a site's own indicator (test)"}
    r = q.compute(Tables(**tiny), months="2025-06", indicators=_declare(tmp_path, wait))
    row = r[(r["indicator"] == "W1") & (r["community"] == "c1")].iloc[0]
    assert row["numerator"] == 16 and row["denominator"] == 3
    assert row["value"] == pytest.approx(16 / 3)
    # log-scale interval (R: tests/reference/quality_alerts/r_mean_wait.csv, "0,2,14"): sd 7.5719,
    # 16/3 * exp(-+ qt(0.975, 2) * 7.5719 / (16/3 * sqrt(3))) = 0.1568 .. 181.41 (the t interval went to -13.48)
    ref = pd.read_csv(REF_ALERTS / "r_mean_wait.csv").set_index("waits").loc["0,2,14"]
    assert row["ci_low"] == pytest.approx(ref["lower"], rel=1e-9)
    assert row["ci_high"] == pytest.approx(ref["upper"], rel=1e-9)
    # one referral (c2) has no interval
    c2 = r[(r["indicator"] == "W1") & (r["community"] == "c2")].iloc[0]
    assert c2["value"] == 3 and np.isnan(c2["ci_low"])


def test_response_and_remission(tiny):
    # ended with baseline PHQ-9 >= 10: F1 (27 -> 4: fall 85%, < 5: both) and F2 (16 -> 9: fall
    # 44%, not < 5: neither), both ended in June. F4 has baseline 9 (excluded).
    assert _counts(_units("phq9_response", tiny)) == {("c1", "2025-06"): (1, 2)}
    assert _counts(_units("phq9_remission", tiny)) == {("c1", "2025-06"): (1, 2)}


def test_recovery(tiny):
    # finished (>= 2 attended treatment contacts) and at caseness at the start: F1 (27/21 ->
    # 4/3: below both cut-offs, recovered) and F2 (16/14 -> 9/10: GAD-7 10 >= 8, not recovered).
    # F4 has one attended treatment contact (not finished); F5 has not ended.
    # counted by workbench.outcomes.rates, per community and for "all"
    counts = q.units(Tables(**tiny), "tt_recovery", months=MONTHS)
    got = {(r.community, r.period): (int(r.numerator), int(r.denominator)) for r in counts.itertuples()}
    assert got == {("c1", "2025-06"): (1, 2), ("all", "2025-06"): (1, 2)}


def test_dropout(tiny):
    # ended in June: F1 completed, F2 dropped out -> 1/2; July: F4 completed -> 0/1; F5 open.
    assert _counts(_units("dropout", tiny)) == {("c1", "2025-06"): (1, 2), ("c1", "2025-07"): (0, 1)}


def test_self_harm_followed_same_day(tiny):
    # self-harm flags: r1 (attended contact same day: yes), r4 (missed same day: no)
    assert q.load_indicators().indicator("T1").window_hours == 0
    assert _counts(_units("self_harm_followed_within", tiny)) == {("c1", "2025-06"): (1, 2)}


def test_satisfaction_no_data_then_counted(tiny):
    assert q.units(Tables(**tiny), "satisfaction", months=MONTHS) is None  # no survey rows: nothing invented
    r = q.compute(Tables(**tiny), months="2025-06")
    sat = r[r["indicator"] == "X1"]
    assert set(sat["status"]) == {"no_data"} and sat["value"].isna().all()
    # with a survey: r1 satisfied, r2 not, r3 did not answer (excluded, never "no") -> 1/2
    tiny["surveys"] = frame("surveys", {"survey_id": ["Q1", "Q2", "Q3"], "resident_id": ["r1", "r2", "r3"],
                                        "referral_id": ["F1", "F2", None], "surveyed_on": ["2025-06-10"] * 3,
                                        "satisfied": [True, False, None]})
    assert _counts(_units("satisfaction", tiny)) == {("c1", "2025-06"): (1, 2)}


def test_compute_columns_wilson_and_all_row(tiny):
    r = q.compute(Tables(**tiny), months=["2025-06", "2025-07"])
    assert list(r.columns) == q.COLUMNS
    assert set(r["community"]) == {"c1", "c2", "all"}
    row = r[(r["indicator"] == "T1") & (r["community"] == "all") & (r["period"] == "2025-06")].iloc[0]
    # 1/2 with Wilson (R: prop.test(1, 2, correct = FALSE)$conf.int = 0.0945312 0.9054688)
    assert (row["numerator"], row["denominator"], row["value"]) == (1, 2, 0.5)
    assert row["ci_low"] == pytest.approx(0.0945312, abs=1e-6)
    assert row["ci_high"] == pytest.approx(0.9054688, abs=1e-6)
    assert row["status"] == "insufficient"  # 2 < min_denominator 5
    empty = r[(r["indicator"] == "C1") & (r["community"] == "c2")]
    assert (empty["denominator"] == 0).all() and (empty["status"] == "insufficient").all()


# --- what is recorded, not computed again ---------------------------------------------------

def test_tier3_timeliness_counts_the_decided_tier_not_the_suggestion():
    # r2: the policy suggests tier 2 (screen_positive); a counsellor decides tier 3. Its first
    # attended contact is 14 days later, so tier 3 within 72 h in c1 becomes 2 of 3 (was 2 of 2).
    parts = make_tiny(overrides=[("r2", "2025-06-02", 3, "previous attempt disclosed at interview")])
    d = parts["decisions"].set_index("resident_id")
    assert (d.loc["r2", "suggested_tier"], d.loc["r2", "tier"], d.loc["r2", "overridden"]) == (2, 3, True)
    assert _counts(_units("tier3_contacted_within", parts)) == {("c1", "2025-06"): (2, 3), ("c2", "2025-06"): (1, 1)}
    r = q.compute(Tables(**parts), months="2025-06")
    row = r[(r["indicator"] == "T2") & (r["community"] == "all")].iloc[0]
    assert (row["numerator"], row["denominator"]) == (3, 4)
    # the other way: r5 suggested tier 3 (severe), decided tier 2: c2 has no tier-3 screening left
    parts = make_tiny(overrides=[("r5", "2025-06-02", 2, "already in hospital care")])
    assert _counts(_units("tier3_contacted_within", parts)) == {("c1", "2025-06"): (2, 2)}


def test_a_screening_nobody_decided_on_has_no_tier(tiny):
    # r1's and r5's screenings without a decision: neither tier 3 nor urgent until a person
    # decides (r1's stored self-harm flag still counts for the safety indicator)
    d = tiny["decisions"]
    tiny["decisions"] = d[~d["resident_id"].isin(["r1", "r5"])].reset_index(drop=True)
    assert _counts(_units("tier3_contacted_within", tiny)) == {("c1", "2025-06"): (1, 1)}  # r4 only
    assert _counts(_units("urgent_contacted_within", tiny, window_hours=24)) == {("c1", "2025-06"): (0, 1)}  # r4 only, 2 days
    assert _counts(_units("self_harm_followed_within", tiny)) == {("c1", "2025-06"): (1, 2)}


def test_measures_read_the_stored_scores_and_flags(tiny):
    # what was stored when the answers were saved is what counts, even where today's rules
    # would score the answers differently: F2's review stored as PHQ-9 4 (not 9) -> remission
    # 2 of 2; r4's self-harm flag stored as False -> the same-day follow-up counts r1 only
    s = tiny["scores"]
    review = (s["resident_id"] == "r2") & (s["assessed_on"] == "2025-06-19") & (s["instrument"] == "phq9")
    assert s.loc[review, "score"].item() == 9
    s.loc[review, "score"] = 4.0
    s.loc[(s["resident_id"] == "r4") & (s["assessed_on"] == "2025-06-02") & (s["instrument"] == "phq9"), "self_harm"] = False
    assert _counts(_units("phq9_remission", tiny)) == {("c1", "2025-06"): (2, 2)}
    assert _counts(_units("self_harm_followed_within", tiny)) == {("c1", "2025-06"): (1, 1)}


def test_compute_refuses_anything_but_tables(tiny):
    Sample = namedtuple("Sample", ["residents", "screenings", "referrals", "contacts", "followups"])
    for data in (tiny, Sample(*[pd.DataFrame()] * 5), tiny["residents"], None):
        with pytest.raises(TypeError, match=r"^The 'tables' parameter of compute must be the analysis tables "
                                            r"\(workbench.tables.Tables: .*\)\. Got .+ instead\.$"):
            q.compute(data, months="2025-06")
    with pytest.raises(TypeError, match="'tables' parameter of units"):
        q.units(tiny, "dropout")
    with pytest.raises(ValueError, match="'alpha' parameter of compute must be a float in \\(0, 1\\)"):
        q.compute(Tables(**tiny), alpha=1.5)


def test_bad_tables_are_refused_naming_every_cell(tiny):
    contacts = tiny["contacts"].copy()
    contacts.loc[2, "status"] = "seen"
    with pytest.raises(TablesError) as err:
        q.compute(Tables(**{**tiny, "contacts": contacts}), months="2025-06")
    problems = err.value.problems
    assert problems[["table", "row", "column", "value"]].values.tolist() == [["contacts", 2, "status", "seen"]]
    assert "must be one of planned, attended, missed" in problems["rule"].item()


def test_result_says_which_policy_versions_the_decisions_were_made_under(tiny):
    r = q.compute(Tables(**tiny), months="2025-06")
    assert r.attrs["policy_versions"] == ["default@1.1"] and r.attrs["version"] == q.load_indicators().version
    assert (r.attrs["source"], r.attrs["pseudonymised"]) == ("memory", False)
    assert q.compute(Tables(), months="2025-06").attrs["policy_versions"] == []


# --- status thresholds -------------------------------------------------------------------------

def test_status_at_thresholds():
    # an alert needs the whole interval beyond the level; an interval touching it is no alert
    above = ("above", 0.15)
    assert q.status_of(0.3, 20, alert=above, min_denominator=5, ci_low=3 / 20, ci_high=0.5) == "ok"
    assert q.status_of(0.3, 20, alert=above, min_denominator=5, ci_low=0.151, ci_high=0.5) == "alert"
    below = ("below", 0.8)
    assert q.status_of(0.6, 20, alert=below, min_denominator=5, ci_low=0.4, ci_high=16 / 20) == "ok"
    assert q.status_of(0.6, 20, alert=below, min_denominator=5, ci_low=0.4, ci_high=0.79) == "alert"
    assert q.status_of(0.0, 4, alert=below, min_denominator=5, ci_low=0.0, ci_high=0.49) == "insufficient"
    assert q.status_of(0.0, 5, alert=below, min_denominator=5, ci_low=0.0, ci_high=0.43) == "alert"
    assert q.status_of(np.nan, 0, alert=below, min_denominator=5, ci_low=np.nan, ci_high=np.nan) == "insufficient"
    # a value without an interval cannot be judged
    assert q.status_of(0.1, 9, alert=below, min_denominator=5, ci_low=np.nan, ci_high=np.nan) == "insufficient"


def test_dropout_exactly_15_percent_is_ok():
    # 20 referrals ended in June, 3 dropped out: 15%, not above 15%; a 4th makes 20%, above on the
    # point but its Wilson interval (8.1-41.6 %) holds 15 %: no alert; 9 of 20 (25.8-65.8 %): alert
    ids = [f"r{i}" for i in range(20)]
    res = frame("residents", {"resident_id": ids, "community": "c1"})
    refs = {"referral_id": [f"F{i}" for i in range(20)], "resident_id": ids, "referred_on": "2025-05-01",
            "ended_on": "2025-06-15", "end_reason": ["dropped_out"] * 3 + ["completed"] * 17}

    def status(refs):
        data = Tables(communities=frame("communities", {"community": ["c1"]}), residents=res,
                      referrals=frame("referrals", refs))
        units = q.units(data, "dropout", months=["2025-06"])
        row = q._aggregate(units, "proportion", 0.05).iloc[0]
        ind = q.load_indicators().indicator("C1")
        return q.status_of(row["value"], row["denominator"], alert=ind.alert, min_denominator=5,
                           ci_low=row["ci_low"], ci_high=row["ci_high"])
    assert status(refs) == "ok"
    refs["end_reason"][3] = "dropped_out"
    assert status(refs) == "ok"
    refs["end_reason"] = ["dropped_out"] * 9 + ["completed"] * 11
    assert status(refs) == "alert"


# --- declarations ----------------------------------------------------------------------------

#: The programme's 28 indicators by category, as ../shared/INDICATORS.md lists them.
PROGRAMME = {"access": ["A1", "A2", "A3", "A4", "A5"], "timeliness": ["T1", "T2", "T3", "T4"],
             "effectiveness": ["E1", "E2", "E3", "E4", "E5", "E6"], "continuity": ["C1", "C2", "C3", "C4", "C5"],
             "safety": ["S1", "S2", "S3", "S4"], "experience": ["X1", "X2", "X3", "X4"]}
#: Alerts as INDICATORS.md gives them (None: report only); S2's is a rise on the 12 months before.
ALERTS = {"A1": ("below", 0.6), "A2": ("below", 0.8), "A3": ("below", 0.8), "A4": ("below", 0.8), "A5": ("below", 0.7),
          "T1": ("below", 1.0), "T2": ("below", 0.9), "T3": ("below", 0.8), "T4": ("below", 0.8),
          "E1": ("below", 0.67), "E2": ("below", 0.5), "E3": ("below", 0.48), "E4": None, "E5": ("below", 0.6),
          "E6": ("below", 0.6), "C1": ("above", 0.15), "C2": ("below", 0.9), "C3": ("below", 0.8), "C4": ("below", 0.8),
          "C5": ("below", 0.8), "S1": ("above", 0.1), "S2": ("rise_above", 0.5), "S3": ("below", 0.8),
          "S4": ("below", 0.6), "X1": ("below", 0.8), "X2": ("below", 0.3), "X3": None, "X4": ("below", 0.7)}
#: The ones INDICATORS.md marks "(setting)": programme defaults, not facts.
SETTINGS = {"A2", "A3", "A4", "A5", "T2", "T3", "T4", "E5", "E6", "C3", "C4", "C5", "S1", "S2", "S4", "X2", "X4"}


def test_shipped_declarations_are_the_programmes_28_by_category():
    spec = q.load_indicators()
    assert [(c, [i.id for i in inds]) for c, inds in spec.by_category()] == list(PROGRAMME.items())
    assert {i.id: i.alert for i in spec.indicators} == ALERTS
    assert {i.id for i in spec.indicators if i.setting} == SETTINGS
    assert {i.id for i in spec.indicators if i.report_only} == {"E4", "X3"}
    assert all(i.measure in q.MEASURES and i.label["zh"] and i.numerator["zh"] and i.denominator["en"]
               and i.source.startswith(f"INDICATORS.md {i.id}") for i in spec.indicators)
    assert {c: spec.categories[c]["zh"] for c in ("access", "effectiveness", "experience")} == {
        "access": "服务可及性", "effectiveness": "干预有效性", "experience": "居民满意度"}


def _in(raw: dict, id: str) -> dict:
    return next(i for i in raw["indicators"] if i["id"] == id)


def _at(id: str) -> str:
    """How an error names the shipped indicator ``id``: ``indicators[k] (id)``."""
    raw = yaml.safe_load(q._FILE.read_text(encoding="utf-8"))
    return f"indicators[{[i['id'] for i in raw['indicators']].index(id)}] ({id})"


def _broken(tmp_path, change) -> str:
    raw = yaml.safe_load(q._FILE.read_text(encoding="utf-8"))
    change(raw)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(q.QualityError) as err:
        q.load_indicators(path)
    return str(err.value)


def test_unknown_measure(tmp_path):
    msg = _broken(tmp_path, lambda r: _in(r, "T1").update(measure="vibes"))
    assert f"{_at('T1')}.measure: 'vibes' is not a known measure" in msg


def test_bad_alert_rule(tmp_path):
    msg = _broken(tmp_path, lambda r: _in(r, "C1").update(alert={"over": 0.15}))
    assert f"{_at('C1')}.alert: must be {{below: <number>}}, {{above: <number>}}, {{rise_above: <share>}} or null" in msg
    msg = _broken(tmp_path, lambda r: _in(r, "C1").update(alert={"above": 15}))
    assert "a proportion's threshold must be in [0, 1]" in msg
    msg = _broken(tmp_path, lambda r: _in(r, "T2").update(alert={"rise_above": 0.5}, direction="sideways",
                                                         period="rolling_12"))
    assert f"{_at('T2')}.direction: 'sideways' is not one of ['higher_is_better', 'lower_is_better']" in msg
    assert f"{_at('T2')}.period: the measure 'tier3_contacted_within' counts 'month'" in msg
    assert "rise_above compares pooled counts" not in msg  # a proportion may rise


def test_report_only_indicators_are_never_alerts(tiny, tmp_path):
    # dropout 1/2 in June for c1 would be an alert above 15 %; with alert: null it is shown, never flagged
    path = _declare(tmp_path, {**_shipped("C1"), "alert": None, "min_denominator": 1})
    r = q.compute(Tables(**tiny), months=["2025-06", "2025-07"], indicators=path)
    row = r[(r["community"] == "c1") & (r["period"] == "2025-06")].iloc[0]
    assert (row["numerator"], row["denominator"], row["status"]) == (1, 2, "ok")
    assert q.load_indicators(path).indicator("C1").report_only


def test_missing_zh_label_and_more_at_once(tmp_path):
    def change(r):
        del _in(r, "X1")["label"]["zh"]
        _in(r, "T2")["category"] = "speed"
        _in(r, "C1")["colour"] = "red"
        del _in(r, "T1")["numerator"]["zh"]
    msg = _broken(tmp_path, change)
    assert f"{_at('X1')}.label.zh: the zh text is missing or empty" in msg
    assert f"{_at('T2')}.category: 'speed' is not one of" in msg
    assert f"{_at('C1')}.colour: unknown key" in msg
    assert f"{_at('T1')}.numerator.zh: the zh text is missing or empty" in msg
    assert "4 problem(s)" in msg


def test_bad_month():
    with pytest.raises(ValueError, match="YYYY-MM"):
        q.compute(Tables(), months="2025-6")


# --- suppression and the report ------------------------------------------------------------

def test_suppression_hides_small_counts_and_their_values(tiny):
    r = q.compute(Tables(**tiny), months="2025-06")
    s = suppress_quality(r)
    kinds = {i.id: i.kind for i in q.load_indicators().indicators}
    for _, row in s.iterrows():
        # a rate's denominator is person-years, not a count of people: only its events are hidden
        for col in ("numerator",) if kinds[row["indicator"]] == "rate" else ("numerator", "denominator"):
            v = row[col]
            assert v is pd.NA or pd.isna(v) or v == 0 or v >= 5, (row["indicator"], row["community"], col, v)
    # c1 self-harm 1/2: both hidden, value and interval too
    row = s[(s["indicator"] == "T1") & (s["community"] == "c1")].iloc[0]
    assert row["numerator"] is pd.NA and row["value"] is pd.NA and row["ci_low"] is pd.NA


def _count_cells(text: str) -> list[str]:
    return re.findall(r'<td class="count">([^<]*)</td>', text)


@pytest.fixture(scope="module")
def sample() -> Tables:
    return load_sample()


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_report_on_the_sample(tmp_path, lang, sample):
    out = write_quality_report(sample, month="2025-06", out=tmp_path / "report.html", lang=lang)
    text = out.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and "<style>" in text
    # nothing fetched: no script, no link or image from elsewhere (a source may quote an address as text)
    assert "<script" not in text and 'src="http' not in text and "href=" not in text and "url(" not in text
    # the sample's dropout in June 2025, counted from its referrals table: 13 of 60 (21.7 %) is above
    # 15 % on the point, but its Wilson interval (13.1-33.6 %) holds 15 %: not listed as an alert
    r = sample.referrals
    ended = r[r["ended_on"].dt.strftime("%Y-%m") == "2025-06"]
    dropped = int((ended["end_reason"] == "dropped_out").sum())
    assert dropped / len(ended) > 0.15
    alerts = re.search(r'<ul class="alerts">(.*?)</ul>', text, re.S).group(1)
    label = q.load_indicators().indicator("C1").label[lang]
    assert f"{label} — {'全部社区' if lang == 'zh' else 'all communities'}" not in alerts
    # T4 for all communities (41.7 %, its interval wholly below 80 %) is listed and highlighted
    assert q.load_indicators().indicator("T4").label[lang] in alerts and "41.7%" in alerts
    assert '<tr class="alert">' in text
    # every count shown is 0 or >= 5; the small ones are "&lt;5"
    cells = _count_cells(text)
    assert "&lt;5" in cells
    shown = [int(c) for c in cells if c.isdigit()]
    assert shown and all(c == 0 or c >= 5 for c in shown)
    # the report says which policy versions the tier decisions were made under
    assert sample.policy_versions == ["default@1.1"] and "default@1.1" in text
    assert ("分级决定所依据的政策" if lang == "zh" else "Tier decisions made under policy") in text


def test_report_without_a_survey_says_no_data(tmp_path, tiny):
    out = write_quality_report(Tables(**tiny), month="2025-06", out=tmp_path / "r.html", lang="zh")
    text = out.read_text(encoding="utf-8")
    assert "无数据" in text  # satisfaction: no survey rows
    assert all(c in ("&lt;5", "—") or c == "0" or int(c) >= 5 for c in _count_cells(text))
    text = quality_html(q.compute(Tables(**tiny), months="2025-06"), month="2025-06")
    assert all(c in ("&lt;5", "—") or c == "0" or int(c) >= 5 for c in _count_cells(text))


def test_report_refuses_what_is_not_tables_and_writes_nothing(tmp_path, tiny):
    out = tmp_path / "r.html"
    with pytest.raises(TypeError, match="'tables' parameter of compute must be the analysis tables"):
        write_quality_report(tiny, month="2025-06", out=out)
    with pytest.raises(ValueError, match="YYYY-MM"):
        write_quality_report(Tables(**tiny), month="June", out=out)
    assert not out.exists()
