"""workbench.quality's core beyond the measures: the ratio and rate kinds against R (epitools,
stats::poisson.test; tests/reference/quality/make_reference.R), the "rise above the 12 months
before" alert, programme-level ratios, the months a result covers, the control chart of every
indicator and community (p chart or XmR, "too few to judge" months as gaps), and the declared
parameters' checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench import quality as q
from workbench import spc
from workbench.sample import load_sample
from workbench.tables import Tables

REF = Path(__file__).parent / "reference" / "quality"


def _ratio_units(x1, n1, x2, n2, period="2025-06") -> pd.DataFrame:
    groups = ["numerator"] * n1 + ["denominator"] * n2
    outcome = [1.0] * x1 + [0.0] * (n1 - x1) + [1.0] * x2 + [0.0] * (n2 - x2)
    return pd.DataFrame({"community": "c1", "period": period, "outcome": outcome, "group": groups})


@pytest.mark.parametrize("case", pd.read_csv(REF / "r_ratio.csv").to_dict("records"))
def test_ratio_and_katz_interval_equal_epitools(case):
    x1, n1, x2, n2 = (int(case[k]) for k in ("x1", "n1", "x2", "n2"))
    # a blank outcome (not known) and a blank group are left out, never counted as 0
    units = pd.concat([_ratio_units(x1, n1, x2, n2),
                       pd.DataFrame({"community": ["c1", "c1"], "period": "2025-06", "outcome": [np.nan, 1.0],
                                     "group": ["numerator", None]})], ignore_index=True)
    row = q._aggregate(units, "ratio", 1 - case["conf_level"]).iloc[0]
    assert row["community"] == "all" and np.isnan(row["numerator"]) and row["denominator"] == min(n1, n2)
    assert row["value"] == pytest.approx(case["ratio"], rel=1e-12)
    assert row["ci_low"] == pytest.approx(case["lower"], rel=1e-9)
    assert row["ci_high"] == pytest.approx(case["upper"], rel=1e-9)


def test_a_ratio_with_no_one_in_a_group_has_no_value():
    row = q._aggregate(_ratio_units(3, 10, 0, 0), "ratio", 0.05).iloc[0]
    assert np.isnan(row["value"]) and row["denominator"] == 0
    assert q.status_of(row["value"], row["denominator"], alert=("below", 0.8), min_denominator=5,
                       ci_low=row["ci_low"], ci_high=row["ci_high"]) == "insufficient"


@pytest.mark.parametrize("case", pd.read_csv(REF / "r_rate.csv").to_dict("records"))
def test_rate_per_1000_person_years_equals_poisson_test(case):
    # the events of one month split over three referral-months of two communities: the "all" row
    x, t = int(case["x"]), case["t"]
    units = pd.DataFrame({"community": ["c1", "c1", "c2"], "period": "2025-06",
                          "outcome": [x // 2, 0, x - x // 2], "exposure": [t / 4, t / 4, t / 2]})
    agg = q._aggregate(units, "rate", 1 - case["conf_level"], per=1000).set_index("community")
    row = agg.loc["all"]
    assert (row["numerator"], row["denominator"]) == (x, pytest.approx(t))
    assert row["value"] == pytest.approx(case["rate"], rel=1e-12)
    assert row["ci_low"] == pytest.approx(case["lower"], rel=1e-9, abs=1e-12)
    assert row["ci_high"] == pytest.approx(case["upper"], rel=1e-9)
    assert agg.loc["c2", "numerator"] == x - x // 2 and agg.loc["c2", "denominator"] == pytest.approx(t / 2)


def test_rise_above_compares_with_the_pooled_12_months_before():
    # c1: 12 months of 2 events in 10 person-years (200 per 1,000) then 2025-01: 4 in 10 (400):
    # an alert when the interval's lower limit is above 1.5 x 200 = 300; exactly 300: no alert
    months = [str(p) for p in pd.period_range("2024-01", "2025-01", freq="M")]
    agg = pd.DataFrame({"community": "c1", "period": months, "numerator": [2.0] * 12 + [4.0],
                        "denominator": 10.0})
    ref = q._reference(agg, ["2025-01"], "rate", 1000)
    assert ref[("c1", "2025-01")] == pytest.approx(200.0)
    assert q.status_of(400.0, 10.0, alert=("rise_above", 0.5), min_denominator=5, ci_low=301.0, ci_high=500.0,
                       reference=200.0) == "alert"
    assert q.status_of(400.0, 10.0, alert=("rise_above", 0.5), min_denominator=5, ci_low=300.0, ci_high=500.0,
                       reference=200.0) == "ok"
    # 4 events in 10 person-years: exact interval 109-1,024 per 1,000, which holds 300: no alert
    agg4 = q._aggregate(pd.DataFrame({"community": ["c1"], "period": ["2025-01"], "outcome": [4.0],
                                      "exposure": [10.0]}), "rate", 0.05, per=1000).iloc[0]
    assert q.status_of(agg4["value"], 10.0, alert=("rise_above", 0.5), min_denominator=5, ci_low=agg4["ci_low"],
                       ci_high=agg4["ci_high"], reference=200.0) == "ok"
    # months before with no person-time at all: nothing to compare with, too few to judge
    empty = q._reference(agg.assign(denominator=[0.0] * 12 + [10.0]), ["2025-01"], "rate", 1000)
    assert np.isnan(empty[("c1", "2025-01")])
    assert q.status_of(400.0, 10.0, alert=("rise_above", 0.5), min_denominator=5, ci_low=301.0, ci_high=500.0,
                       reference=empty[("c1", "2025-01")]) == "insufficient"


def test_pre_aggregated_counts_get_wilson_intervals():
    # 1/2 -> R prop.test(1, 2, correct = FALSE)$conf.int = 0.0945312 0.9054688; 0/0 -> no value
    counts = pd.DataFrame({"community": ["c1", "all"], "period": "2025-06", "numerator": [1, 0],
                           "denominator": [2, 0]})
    agg = q._aggregate(counts, "proportion", 0.05).set_index("community")
    assert agg.loc["c1", "value"] == 0.5
    assert agg.loc["c1", "ci_low"] == pytest.approx(0.0945312, abs=1e-6)
    assert agg.loc["c1", "ci_high"] == pytest.approx(0.9054688, abs=1e-6)
    assert np.isnan(agg.loc["all", "value"]) and np.isnan(agg.loc["all", "ci_low"])


# --- months and control charts ----------------------------------------------------------------

@pytest.fixture(scope="module")
def sample() -> Tables:
    return load_sample()


@pytest.fixture(scope="module")
def result(sample) -> pd.DataFrame:
    return q.compute(sample)


def test_default_months_run_without_gaps_from_the_first_screening_to_the_last_record(sample):
    months = q.default_months(sample)
    first = sample.assessments.loc[sample.assessments["purpose"] == "screening", "assessed_on"].min()
    last = max(sample.contacts["contact_on"].max(), sample.assessments["assessed_on"].max(),
               sample.referrals["ended_on"].max(), sample.events["event_on"].max())
    assert months[0] == first.strftime("%Y-%m") and months[-1] == last.strftime("%Y-%m")
    assert len(months) == (pd.Period(months[-1], "M") - pd.Period(months[0], "M")).n + 1
    assert q.default_months(Tables()) == []


def test_a_proportion_gets_a_p_chart_from_its_usable_months(result):
    rows = result[(result["indicator"] == "C1") & (result["community"] == "all")].sort_values("period")
    signals = q.control_chart(result, "C1")
    assert signals.chart.kind == "p" and signals.direction == "lower_is_better" and signals.target == 0.15
    usable = rows["status"].isin(["ok", "alert"]).to_numpy()
    # centre = pooled proportion of the months that can be judged; "too few" months are gaps
    assert signals.chart.centre == pytest.approx(rows.loc[usable, "numerator"].sum() / rows.loc[usable, "denominator"].sum())
    assert signals.points["gap"].to_numpy().tolist() == (~usable).tolist()
    # the result's variation and rules are the chart's, month by month
    assert rows["variation"].tolist() == signals.points["variation"].fillna("").tolist()
    assert rows["rules"].tolist() == signals.points["rules"].fillna("").tolist()


def test_other_kinds_get_an_xmr_chart(result, tmp_path):
    wait = {"id": "W1", "category": "timeliness", "measure": "referral_wait_days", "period": "month",
            "direction": "lower_is_better", "target": 3, "alert": {"above": 3},
            "label": {"en": "Mean referral wait", "zh": "转介平均等待天数"}, "numerator": {"en": "days", "zh": "天数"},
            "denominator": {"en": "referrals seen", "zh": "已接诊转介"}, "source": "test"}
    import yaml
    raw = yaml.safe_load(q._FILE.read_text(encoding="utf-8"))
    raw["indicators"] = [wait]
    path = tmp_path / "w.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    r = q.compute(load_sample(), indicators=path)
    signals = q.control_chart(r, "W1", "all")
    rows = r[r["community"] == "all"].sort_values("period")
    values = rows["value"].where(rows["status"].isin(["ok", "alert"])).dropna().to_numpy()
    assert signals.chart.kind == "xmr" and signals.chart.centre == pytest.approx(values.mean())
    assert signals.chart.mean_moving_range == pytest.approx(np.abs(np.diff(values)).mean())
    with pytest.raises(KeyError, match="no rows for indicator 'W1' and community 'nowhere'"):
        q.control_chart(r, "W1", "nowhere")


def test_too_few_months_give_no_signal(sample):
    r = q.compute(sample, months=["2025-06", "2025-07", "2025-08"])
    assert (r["variation"] == "").all() and (r["rules"] == "").all()
    assert q.control_chart(r, "C1").chart.status == "too_few"
    off = q.compute(sample, months=q.default_months(sample), spc=False)
    assert (off["variation"] == "").all()


def test_results_keep_their_declarations(result):
    assert result.attrs["indicators"] is not None and result.attrs["version"] == q.load_indicators().version
    assert list(result.columns) == q.COLUMNS and set(result["status"]) <= set(q.STATUSES)


# --- parameter checks ------------------------------------------------------------------------

@pytest.mark.parametrize("name, value, words", [
    ("days", -1, "must be a whole number from 0"),
    ("days", 2.5, "must be a whole number from 0"),
    ("tiers", [2, 4], "[4] not tiers"),
    ("tiers", [], "non-empty list"),
    ("min_age", True, "whole number"),
    ("lives_alone", "yes", "must be true or false"),
    ("conditions", ["hypertension", "gout"], "['gout'] not chronic conditions"),
    ("event_kinds", ["crisis", "crisis"], "without repeats"),
    ("contact_kinds", [""], "not contact kinds"),
    ("pass_share", 0, "must be a number in (0, 1]"),
    ("pass_share", 1.2, "must be a number in (0, 1]"),
    ("screens", {"depression": {"full": "phq99"}}, "'phq99' is not a declared questionnaire"),
    ("screens", {"depression": {"screener": "phq2"}}, "must be {full: <questionnaire>}"),
    ("screens", {"depression": {"full": "phq9", "screener": "who5"}}, "declares no screen-positive threshold"),
    ("groups", {"numerator": ["rural"], "denominator": ["rural"]}, "cannot be in both groups"),
    ("groups", {"numerator": ["rural"]}, "must be {numerator"),
])
def test_declared_parameters_are_checked(name, value, words):
    problem = q.PARAMETERS[name](value)
    assert problem is not None and words in problem, problem


def test_valid_parameters_pass():
    ok = {"days": 30, "tiers": [2, 3], "min_age": 60, "lives_alone": True, "conditions": ["copd"],
          "event_kinds": ["crisis", "psychiatric_emergency"], "contact_kinds": ["treatment"], "pass_share": 1.0,
          "screens": {"depression": {"full": "phq9", "screener": "phq2"}, "loneliness": {"full": "ucla3"}},
          "groups": {"numerator": ["rural"], "denominator": ["urban"]}, "include_discharge_day": False,
          "window_hours": 72}
    assert {name: q.PARAMETERS[name](value) for name, value in ok.items()} == dict.fromkeys(ok)
