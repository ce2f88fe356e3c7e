"""workbench.spc: p and XmR charts, the special-cause rules, the MDC variation and assurance icons.

Every expected number is worked by hand in the comments from the formulas of the sources the
rules file cites (Montgomery, Introduction to Statistical Quality Control: the p chart with a
variable sample size, the individuals / moving-range chart and the Western Electric rules;
Wheeler, Understanding Variation: X-bar +- 2.660 mR-bar; NHS England's Making Data Count, whose
rule lengths are 7 for a shift and 7 for a trend as NHSRplotthedots reads them), never from the
module's own output. The run lengths and the minimum of 12 months are written here as numbers,
so a changed declaration fails these tests until someone checks the new source.
"""

from __future__ import annotations

import math
import re
import warnings

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
import yaml

from workbench import spc
from workbench.params import ParameterError, sentence
from workbench.spc import SPCDataError, SPCRulesError, load_rules, p_chart, special_causes, xmr_chart

# A baseline of twelve months alternating 12 and 10 (ending on 10, below the centre):
#   mean = (6 x 12 + 6 x 10) / 12 = 11;  every moving range |12 - 10| = 2, so MR-bar = 2
#   limits 11 -+ 2.66 x 2 = 11 -+ 5.32 -> 5.68 and 16.32
#   sigma = MR-bar / d2 = 2.66 / 3 x 2 = 1.77333;  2-sigma lines 11 -+ 3.54667 -> 7.45333 and 14.54667
BASE = [12, 10] * 6


def chart_after(months, **kw):
    """An XmR chart whose limits are set by BASE alone (months 0-11) and the months after it."""
    return xmr_chart(BASE + list(months), baseline=12, **kw)


def flagged(signals, rule):
    return list(np.flatnonzero(signals.points[rule].to_numpy(bool)))


# --- declared constants --------------------------------------------------------------------------

def test_declared_constants_agree_with_their_derivation():
    # |X1 - X2| of two N(0, 1) values is half-normal with scale sqrt(2):
    # d2 = E|X1 - X2| = sqrt(2) sqrt(2 / pi) = 2 / sqrt(pi) = 1.128379
    # d3 = sd|X1 - X2| = sqrt(2 - (2 / sqrt(pi))^2) = sqrt(2 - 4 / pi) = 0.852502
    d2, d3 = 2 / math.sqrt(math.pi), math.sqrt(2 - 4 / math.pi)
    rules = load_rules()
    assert rules.xmr_limit_factor == pytest.approx(3 / d2, abs=0.005)       # 3 / 1.128379 = 2.6587 -> 2.66
    assert rules.mr_upper_factor == pytest.approx(1 + 3 * d3 / d2, abs=5e-4)  # 1 + 3 x 0.7555 = 3.2665 -> 3.267
    assert rules.sigma_multiplier == 3
    # the numbers the sources give (MDC via NHSRplotthedots): shift 7, trend 7, 2 of 3 beyond 2 sigma, 12 months
    assert (rules.shift_run, rules.trend_run, rules.two_of_three_count, rules.two_of_three_of,
            rules.two_of_three_sigma, rules.min_points) == (7, 7, 2, 3, 2, 12)
    assert rules.precedence == ("outside_limits", "trend", "two_of_three", "shift")
    for key in ("montgomery", "wheeler", "mdc", "nhsr_plotthedots"):
        assert rules.sources[key]


def test_labels_come_from_the_declaration_with_its_numbers_in_both_languages():
    rules = load_rules()
    assert rules.rule_label("trend", "en").startswith("7 or more points in a row")
    assert "连续7个" in rules.rule_label("shift", "zh")
    assert rules.rule_label("two_of_three", "en").startswith("2 of 3 points in a row beyond 2 sigma")
    assert "少于12个" in rules.variation_label("too_few", "zh")
    assert rules.assurance_label("hit_and_miss", "zh").startswith("时而达标")


def test_a_broken_rules_file_is_refused_naming_every_key(tmp_path):
    raw = yaml.safe_load(open(spc._FILE, encoding="utf-8"))
    raw["rules"]["shift"]["run_length"] = 1
    raw["rules"]["two_of_three"]["beyond_sigma"] = 3
    del raw["rules"]["trend"]["label"]["zh"]
    raw["precedence"] = ["outside_limits", "trend"]
    raw["constants"]["xmr_limit_factor"]["value"] = -2.66
    raw["variation"]["too_few"]["en"] = "fewer than {minimum}"
    path = tmp_path / "spc_rules.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(SPCRulesError) as err:
        load_rules(path)
    text = str(err.value)
    assert "6 problem(s)" in text
    for key in ("rules.shift.run_length", "rules.two_of_three.beyond_sigma", "rules.trend.label.zh", "precedence",
                "constants.xmr_limit_factor.value", "variation.too_few.en: unknown placeholder(s) ['minimum']"):
        assert key in text, key


# --- p chart -------------------------------------------------------------------------------------

# Twelve months with denominators 16, 64, 100 (four times each) and numerators 3, 13, 20:
#   p-bar = (4 x 3 + 4 x 13 + 4 x 20) / (4 x 16 + 4 x 64 + 4 x 100) = 144 / 720 = 0.2
#   (the mean of the monthly proportions would be (0.1875 + 0.203125 + 0.2) / 3 = 0.196875: not p-bar)
#   n = 16:  sigma = sqrt(0.2 x 0.8 / 16) = 0.1,  limits 0.2 -+ 0.3 -> -0.1 clipped to 0, and 0.5;
#            2-sigma lines 0.0 and 0.4
#   n = 64:  sigma = sqrt(0.16 / 64) = 0.05,      limits 0.05 and 0.35;  2-sigma lines 0.1 and 0.3
#   n = 100: sigma = sqrt(0.16 / 100) = 0.04,     limits 0.08 and 0.32;  2-sigma lines 0.12 and 0.28
P_NUM, P_DEN = [3, 13, 20] * 4, [16, 64, 100] * 4


def test_p_chart_with_varying_denominators():
    c = p_chart(P_NUM, P_DEN)
    assert c.kind == "p" and c.status == "ok" and c.n_baseline == 12
    assert c.centre == pytest.approx(0.2)
    p = c.points
    assert list(p.columns) == spc.POINT_COLUMNS
    assert p["value"].tolist()[:3] == pytest.approx([3 / 16, 13 / 64, 0.2])
    assert p["sigma"].tolist()[:3] == pytest.approx([0.1, 0.05, 0.04])
    assert p["lower"].tolist()[:3] == pytest.approx([0.0, 0.05, 0.08])       # -0.1 clipped to 0
    assert p["upper"].tolist()[:3] == pytest.approx([0.5, 0.35, 0.32])
    assert p["lower_warning"].tolist()[:3] == pytest.approx([0.0, 0.1, 0.12], abs=1e-12)
    assert p["upper_warning"].tolist()[:3] == pytest.approx([0.4, 0.3, 0.28])
    assert p["moving_range"].isna().all() and not p["gap"].any()


def test_p_chart_limits_are_clipped_to_0_and_1():
    # twelve months of 3 of 5: p-bar = 36 / 60 = 0.6; sigma = sqrt(0.6 x 0.4 / 5) = 0.219089;
    # 0.6 + 3 x 0.219089 = 1.257 -> clipped to 1; 0.6 - 0.657 = -0.057 -> clipped to 0
    c = p_chart([3] * 12, [5] * 12)
    assert c.centre == pytest.approx(0.6)
    assert c.points["upper"].tolist() == [1.0] * 12 and c.points["lower"].tolist() == [0.0] * 12
    # a limit is a boundary, not a signal: 5 of 5 (= the clipped upper limit 1) and 0 of 5 (= the
    # clipped lower limit 0) are inside; only a point strictly beyond a limit is outside
    s = special_causes(p_chart([3] * 12 + [5, 0], [5] * 14, baseline=12))
    assert s.points["value"].tolist()[12:] == [1.0, 0.0] and flagged(s, "outside_limits") == []


def test_p_chart_baseline_sets_p_bar_for_later_months():
    # baseline: the first 12 months (p-bar 0.2); month 12: 40 of 100 = 0.4 > upper 0.32 -> outside
    c = p_chart(P_NUM + [40], P_DEN + [100], baseline=12, labels=[f"m{i}" for i in range(13)])
    assert c.centre == pytest.approx(0.2)
    assert c.points["baseline"].tolist() == [True] * 12 + [False]
    assert c.points["upper"].iloc[12] == pytest.approx(0.32)
    s = special_causes(c, direction="higher_is_better")
    assert s.points["rules"].iloc[12] == "outside_limits" and s.variation == "special_cause_improvement"
    assert s.summary["latest"].iloc[0] == "m12"


def test_zero_denominators_are_gaps_and_do_not_count_towards_the_minimum():
    # 12 months, one with no units: 11 months with data < 12 -> too few to judge
    num, den = P_NUM[:11] + [0], P_DEN[:11] + [0]
    c = p_chart(num, den)
    assert c.status == "too_few" and c.n_baseline == 11 and math.isnan(c.centre)
    assert c.points["gap"].tolist() == [False] * 11 + [True]
    assert c.points[["centre", "lower", "upper"]].isna().all().all()
    # a 13th month with data: 12 months with data -> limits; the gap has none and no value (never 0)
    c = p_chart(num + [20], den + [100])
    assert c.status == "ok" and c.n_baseline == 12
    # p-bar = (144 - 20 + 20) / (720 - 100 + 100) = 0.2
    assert c.centre == pytest.approx(0.2)
    gap = c.points.iloc[11]
    assert gap["gap"] and math.isnan(gap["value"]) and math.isnan(gap["upper"]) and math.isnan(gap["sigma"])
    s = special_causes(c)
    assert s.points["variation"].iloc[11] is None and s.points["rules"].iloc[11] == ""
    # both counts missing is a gap too
    assert p_chart(P_NUM[:11] + [None, 20], P_DEN[:11] + [np.nan, 100]).points["gap"].iloc[11]


# --- XmR chart -----------------------------------------------------------------------------------

def test_xmr_chart_worked_example():
    # values 3 5 4 6 2 4 5 3 4 6 5 4: mean = 51 / 12 = 4.25
    # moving ranges 2 1 2 4 2 1 2 1 2 1 1 -> MR-bar = 19 / 11 = 1.727273
    # limits 4.25 -+ 2.66 x 1.727273 = 4.25 -+ 4.594545 -> -0.344545 and 8.844545 (not clipped)
    # MR chart upper limit 3.267 x 1.727273 = 5.643; sigma = 2.66 / 3 x 1.727273 = 1.531515
    c = xmr_chart([3, 5, 4, 6, 2, 4, 5, 3, 4, 6, 5, 4])
    assert c.kind == "xmr" and c.status == "ok"
    assert c.centre == pytest.approx(4.25)
    assert c.mean_moving_range == pytest.approx(19 / 11)
    assert c.mr_upper == pytest.approx(5.643, abs=5e-4)
    p = c.points
    assert p["lower"].iloc[0] == pytest.approx(-0.344545, abs=1e-6)
    assert p["upper"].iloc[0] == pytest.approx(8.844545, abs=1e-6)
    assert p["sigma"].iloc[0] == pytest.approx(1.531515, abs=1e-6)
    assert np.isnan(p["moving_range"].iloc[0]) and p["moving_range"].tolist()[1:] == [2, 1, 2, 4, 2, 1, 2, 1, 2, 1, 1]
    assert p["numerator"].isna().all() and p["denominator"].isna().all()


def test_xmr_baseline_int_and_slice():
    # later months do not move the limits set by the first 12
    c = chart_after([30, 40])
    assert (c.centre, c.mean_moving_range) == (11, 2)
    assert c.points["upper"].iloc[13] == pytest.approx(16.32)
    # a slice: months 2-13 of [0, 100] + BASE -> the same 12 values as BASE
    c = xmr_chart([0, 100] + BASE, baseline=slice(2, 14))
    assert (c.centre, c.mean_moving_range, c.n_baseline) == (11, 2, 12)
    assert c.points["baseline"].tolist() == [False, False] + [True] * 12


def test_moving_ranges_skip_gaps():
    # 1, (gap), 4, 6: the moving range of 4 is |4 - 1| = 3, of 6 it is 2
    c = xmr_chart([1, None, 4, 6])
    assert c.status == "too_few"
    mr = c.points["moving_range"].tolist()
    assert np.isnan(mr[0]) and np.isnan(mr[1]) and mr[2:] == [3, 2]


def test_too_few_points_boundary_11_and_12():
    assert xmr_chart(BASE[:11]).status == "too_few"
    assert xmr_chart(BASE).status == "ok"
    few = special_causes(xmr_chart(BASE[:11]), direction="higher_is_better", target=1)
    assert few.variation == "too_few" and few.assurance is None
    assert not few.points[list(spc.RULES)].any().any() and few.points["variation"].isna().all()
    # a series with a gap: 12 months but 11 with data
    assert xmr_chart(BASE[:11] + [float("nan")]).status == "too_few"


# --- special-cause rules, each at its boundary -----------------------------------------------------

def test_outside_limits_fires_only_beyond_a_limit():
    s = special_causes(chart_after([16.3, 16.4, 5.7, 5.6]))
    # 16.3 < 16.32 and 5.7 > 5.68 are inside; 16.4 and 5.6 are outside
    assert flagged(s, "outside_limits") == [13, 15]
    assert s.points["side"].iloc[13] == "high" and s.points["side"].iloc[15] == "low"
    assert s.points["variation"].iloc[13] == "special_cause_neutral_high"
    assert s.points["variation"].iloc[15] == "special_cause_neutral_low"


def test_shift_needs_7_points_on_one_side():
    # BASE ends on 10 (below 11); then 13s, above the centre and inside the 2-sigma line 14.547
    six = special_causes(chart_after([13] * 6))
    assert flagged(six, "shift") == [] and six.variation == "common_cause"
    seven = special_causes(chart_after([13] * 7), direction="higher_is_better")
    assert flagged(seven, "shift") == list(range(12, 19))
    assert seven.points["rules"].iloc[12] == "shift" and seven.variation == "special_cause_improvement"
    assert special_causes(chart_after([13] * 7), direction="lower_is_better").variation == "special_cause_concern"


def test_a_point_on_the_centre_line_breaks_a_shift_and_a_gap_does_not():
    on_line = special_causes(chart_after([13] * 6 + [11] + [13] * 6))
    assert flagged(on_line, "shift") == []
    # 6 months above, a month without data, 1 more above: 7 months with data in a row
    gap = special_causes(chart_after([13] * 6 + [None, 13]))
    assert flagged(gap, "shift") == [12, 13, 14, 15, 16, 17, 19]
    assert gap.points["variation"].iloc[18] is None


def test_trend_needs_7_points_each_higher_than_the_one_before():
    # BASE ends ..., 12, 10; from 10 on: 10 10.5 11 11.5 12 12.5 = 6 points rising (5 rises): no trend
    six = special_causes(chart_after([10.5, 11, 11.5, 12, 12.5]))
    assert flagged(six, "trend") == []
    # one more rise, 13: 7 points (the baseline's last month, 11, and the six after it)
    seven = special_causes(chart_after([10.5, 11, 11.5, 12, 12.5, 13]), direction="higher_is_better")
    assert flagged(seven, "trend") == list(range(11, 18))
    assert set(seven.points["side"].iloc[11:18]) == {"high"} and seven.variation == "special_cause_improvement"
    # no shift here: 11 is on the centre line
    assert flagged(seven, "shift") == []


def test_a_tie_breaks_a_trend_and_falling_trends_are_low():
    tie = special_causes(chart_after([10.5, 11, 11, 11.5, 12, 12.5, 13]))
    assert flagged(tie, "trend") == []
    # BASE ends 12, 10: from 12 (month 10) falling? 12 -> 10 then 9.5 ... : 12 10 9.5 9 8.5 8 7.6 = 7 points falling
    falling = special_causes(chart_after([9.5, 9, 8.5, 8, 7.6]), direction="lower_is_better")
    assert flagged(falling, "trend") == list(range(10, 17))
    assert falling.points["side"].iloc[16] == "low" and falling.variation == "special_cause_improvement"


def test_two_of_three_beyond_two_sigma_on_the_same_side():
    # 2-sigma lines 7.45333 and 14.54667; 15 is beyond the upper one, 11.5 is not
    fires = special_causes(chart_after([15, 11.5, 15]), direction="lower_is_better")
    assert flagged(fires, "two_of_three") == [12, 14]          # the middle month is not flagged
    assert fires.points["rules"].iloc[13] == "" and fires.variation == "special_cause_concern"
    # 15 _ _ 15: never 2 in one window of 3
    assert flagged(special_causes(chart_after([15, 11.5, 11.5, 15])), "two_of_three") == []
    # one beyond the upper line, one beyond the lower: not the same side
    assert flagged(special_causes(chart_after([15, 11.5, 7.4])), "two_of_three") == []
    # 14.5 is inside the 2-sigma line (14.54667)
    assert flagged(special_causes(chart_after([14.5, 11.5, 15])), "two_of_three") == []
    # a month beyond the limit counts as beyond 2 sigma too (Montgomery's wording)
    both = special_causes(chart_after([17, 11.5, 15]))
    assert both.points["rules"].iloc[12] == "outside_limits,two_of_three"
    assert both.points["rules"].iloc[14] == "two_of_three"


def test_precedence_trend_over_shift():
    # from 10 (month 11): 10 10.1 10.2 10.3 10.4 10.5 10.6 rise (a trend, high) and all sit below 11
    # (a shift, low); the trend comes first in the precedence, so the side is high
    s = special_causes(chart_after([10.1, 10.2, 10.3, 10.4, 10.5, 10.6]), direction="higher_is_better")
    assert flagged(s, "trend") == list(range(11, 18)) and flagged(s, "shift") == list(range(11, 18))
    assert s.points["rules"].iloc[17] == "shift,trend"
    assert s.points["side"].iloc[17] == "high" and s.variation == "special_cause_improvement"


def test_a_month_ending_one_trend_and_starting_the_next_takes_the_later_side():
    # 10 (month 11) rising to 13 (month 17), then falling 12.5 ... 10 (month 23): both trends share month 17
    s = special_causes(chart_after([10.5, 11, 11.5, 12, 12.5, 13, 12.5, 12, 11.5, 11, 10.5, 10]))
    assert flagged(s, "trend") == list(range(11, 24))
    assert s.points["side"].iloc[16] == "high" and s.points["side"].iloc[17] == "low"


def test_p_chart_rules_use_each_months_limits():
    # month 12 has 100 units (upper limit 0.32): 33 of 100 = 0.33 is outside; month 13 has 64
    # (upper limit 0.35): 22 of 64 = 0.34375 is inside, although it is the higher proportion
    s = special_causes(p_chart(P_NUM + [33, 22], P_DEN + [100, 64], baseline=12))
    assert flagged(s, "outside_limits") == [12]


# --- assurance -----------------------------------------------------------------------------------

@pytest.mark.parametrize("direction,target,expected", [
    ("higher_is_better", 5, "consistently_passing"),   # target below the lower limit 5.68
    ("higher_is_better", 17, "consistently_failing"),  # above the upper limit 16.32
    ("higher_is_better", 11, "hit_and_miss"),
    ("lower_is_better", 17, "consistently_passing"),
    ("lower_is_better", 5, "consistently_failing"),
    ("lower_is_better", 16, "hit_and_miss"),
    (None, 5, None),                                   # neither direction is better: no assurance
    ("higher_is_better", None, None),
])
def test_assurance_against_the_target(direction, target, expected):
    assert special_causes(xmr_chart(BASE), direction=direction, target=target).assurance == expected


def test_p_chart_assurance_uses_the_latest_months_limits():
    # latest month 100 units: lower limit 0.08 -> a target of 0.07 is always passed
    assert special_causes(p_chart(P_NUM, P_DEN), direction="higher_is_better", target=0.07).assurance == \
        "consistently_passing"
    # latest month 16 units: lower limit 0 -> the same target is hit and miss
    assert special_causes(p_chart(P_NUM[:-1] + [3], P_DEN[:-1] + [16]), direction="higher_is_better",
                          target=0.07).assurance == "hit_and_miss"
    with pytest.raises(ParameterError, match="The 'target' parameter of special_causes must be a number in"):
        special_causes(p_chart(P_NUM, P_DEN), direction="higher_is_better", target=80)


# --- refused input -------------------------------------------------------------------------------

def test_lengths_must_agree():
    with pytest.raises(ParameterError) as err:
        p_chart([1, 2, 3], [5, 5])
    assert str(err.value) == ("The 'denominators' parameter of p_chart must be one denominator per numerator "
                              "(3 months). Got [5, 5] instead.")
    with pytest.raises(ParameterError, match="'labels' parameter of xmr_chart must be None or one label per month"):
        xmr_chart([1, 2], labels=["a"])


def test_bad_counts_are_named_by_position_and_rule_all_at_once():
    with pytest.raises(SPCDataError) as err:
        p_chart([3, -1, 6, 2.5, "x", None, 4], [5, 5, 5, 5, 5, 5, None])
    rows = err.value.problems
    assert list(rows.columns) == ["table", "row", "column", "value", "rule"]
    got = {(r.table, r.row): r for r in rows.itertuples()}
    assert set(got) == {("numerators", 1), ("numerators", 2), ("numerators", 3), ("numerators", 4),
                        ("numerators", 5), ("denominators", 6)}
    assert got[("numerators", 1)].value == -1 and "whole number >= 0" in got[("numerators", 1)].rule
    assert got[("numerators", 2)].rule == "must not exceed the month's denominator (5)"
    assert got[("numerators", 3)].value == 2.5
    assert "never assumed to be 0" in got[("numerators", 5)].rule
    assert "give both counts" in got[("denominators", 6)].rule
    assert "numerators, row 1: value -1 must be a whole number >= 0" in str(err.value)
    assert "nothing was analysed" in str(err.value)


def test_a_month_without_units_cannot_have_cases():
    with pytest.raises(SPCDataError, match=r"numerators, row 0: value 2 must not exceed the month's denominator \(0\)"):
        p_chart([2] + P_NUM, [0] + P_DEN)


def test_bad_values_are_refused():
    with pytest.raises(SPCDataError) as err:
        xmr_chart([1, float("inf"), True, "7", 3])
    assert err.value.problems["row"].tolist() == [1, 2, 3]
    assert set(err.value.problems["table"]) == {"values"}


@pytest.mark.parametrize("baseline,words", [
    (0, "None (every month), an int n >= 1"), (13, "an int in [1, 12]"),
    (slice(0, 12, 2), "a slice of consecutive positions"), (slice(20, 30), "a slice of consecutive positions"),
    (2.5, "None (every month), an int n >= 1")])
def test_bad_baselines(baseline, words):
    with pytest.raises(ParameterError, match=re.escape(f"The 'baseline' parameter of xmr_chart must be {words}")):
        xmr_chart(BASE, baseline=baseline)


def test_labels_default_to_the_series_index():
    months = pd.period_range("2025-01", periods=12, freq="M").astype(str)
    c = xmr_chart(pd.Series(BASE, index=months))
    assert c.points["label"].tolist() == list(months)
    assert p_chart(P_NUM, P_DEN).points["label"].tolist() == list(range(12))


DECLARED = [(fn, name) for fn in (spc.p_chart, spc.xmr_chart, spc.special_causes) for name in fn.parameter_constraints]


@pytest.mark.parametrize("fn,name", DECLARED, ids=[f"{f.__name__}:{n}" for f, n in DECLARED])
def test_each_declared_parameter_refuses_a_bad_value_with_the_sentence(fn, name):
    # as tests/test_params.py's conformance suite: the bad value alone, checked before the body runs
    constraint = fn.parameter_constraints[name]
    bad = next(v for v in ("no such value", object(), -1, None) if not constraint.accepts(v))
    with pytest.raises(ParameterError) as err:
        fn(**{name: bad})
    assert str(err.value) == sentence(fn.__name__, name, constraint.describe(), bad)


# --- the plot ------------------------------------------------------------------------------------

def test_spc_chart_draws_limits_icons_and_words_in_chinese():
    from workbench.plots import SPC_COLOURS, spc_chart

    signals = special_causes(chart_after([13] * 7), direction="higher_is_better", target=5)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="Glyph .* missing")  # Chinese must render, not boxes
        ax = spc_chart(signals, title="随访及时率", lang="zh")
        ax.figure.canvas.draw()
    assert ax.get_title() == "随访及时率" and ax.get_ylabel() == "数值"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["中心线", "控制限（3倍标准差）", "目标值"]
    corner = ax.texts[0].get_text()
    assert "特殊原因变异：改善" in corner and "持续达标" in corner       # the target 5 is below the lower limit 5.68
    colours = ax.collections[0].get_facecolors()
    improvement = matplotlib.colors.to_rgba(SPC_COLOURS["special_cause_improvement"])
    common = matplotlib.colors.to_rgba(SPC_COLOURS["common_cause"])
    assert tuple(colours[12]) == improvement and tuple(colours[0]) == common


def test_spc_chart_with_too_few_months_says_so_and_draws_no_limits():
    from workbench.plots import spc_chart

    ax = spc_chart(p_chart([3, 4, 0], [10, 10, 0], labels=["2025-01", "2025-02", "2025-03"]), title="x", lang="en")
    assert ax.get_legend() is None and len(ax.lines) == 1           # the values only
    assert ax.texts[0].get_text() == "Too few points to judge (fewer than 12 months with data)"
    assert ax.get_ylabel() == "Proportion"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["2025-01", "2025-02", "2025-03"]
    assert np.isnan(ax.lines[0].get_ydata()[2])                     # the month without units is a gap
    with pytest.raises(ParameterError, match="The 'lang' parameter of spc_chart must be one of 'en', 'zh'"):
        spc_chart(xmr_chart(BASE), lang="fr")
