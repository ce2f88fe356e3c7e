"""Need by community (workbench.geo.need): Marshall's empirical-Bayes smoothing on a worked
example, direct age standardisation against R (epitools::ageadjust.direct, tests/reference/geo),
the stored scores and decisions as the only source, and small-count suppression that hides every
number a hidden count could be worked out from."""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench.geo.need import MEASURES, eb_prior, eb_smooth, need_by_community, need_frame
from workbench.prevalence import screen_positive
from workbench.sample import load_sample

REF = Path(__file__).resolve().parent / "reference" / "geo"


@lru_cache(maxsize=1)
def sample():
    return load_sample()


@lru_cache(maxsize=1)
def sample_need():
    return need_by_community(sample())


# --- Marshall (1991) global empirical Bayes ----------------------------------------------------

def test_eb_smooth_hand_worked_example():
    """Marshall RJ, Applied Statistics 1991;40:283-294, pp. 284-285 (the formula of R spdep::EBest,
    family "poisson"), worked by hand for three communities:

        cases x = 2, 12, 16;  persons n = 20, 40, 40;  N = 100;  k = 3
        crude rates r = x / n            = 0.1, 0.3, 0.4
        overall rate b = 30 / 100        = 0.3
        s² = Σ n (r - b)² / N            = (20 * 0.04 + 40 * 0 + 40 * 0.01) / 100 = 1.2 / 100 = 0.012
        mean persons N / k               = 33.333...
        a = s² - b / (N / k)             = 0.012 - 0.3 / 33.333 = 0.012 - 0.009 = 0.003
        b / n                            = 0.015, 0.0075, 0.0075
        C = a / (a + b / n)              = 0.003 / 0.018 = 1/6;  0.003 / 0.0105 = 2/7;  2/7
        smoothed = b + C (r - b)         = 0.3 - 0.2/6 = 0.266667;  0.3;  0.3 + 0.1 * 2/7 = 0.328571
    """
    got = eb_smooth([2, 12, 16], [20, 40, 40])
    assert got == pytest.approx([0.3 - 0.2 / 6, 0.3, 0.3 + 0.1 * 2 / 7], abs=1e-15)
    a, b = eb_prior([2, 12, 16], [20, 40, 40])
    assert a == pytest.approx(0.003, abs=1e-15) and b == pytest.approx(0.3, abs=1e-15)


def test_eb_smooth_negative_between_variance_shrinks_everyone_to_the_overall_rate():
    """x = 1, 2; n = 10, 10: r = 0.1, 0.2; b = 0.15; s² = (10 * 0.0025 + 10 * 0.0025) / 20 = 0.0025;
    b / (N / k) = 0.15 / 10 = 0.015; a = 0.0025 - 0.015 < 0, so a = 0 and both are 0.15."""
    assert eb_smooth([1, 2], [10, 10]).tolist() == [0.15, 0.15]
    assert eb_smooth([7], [20]).tolist() == [0.35]                       # one area: its own rate = b


def test_eb_smooth_a_big_area_hardly_moves_a_small_one_moves_much():
    x, n = np.array([5, 300, 40, 2]), np.array([20, 1000, 200, 30])
    r, s = x / n, eb_smooth(x, n)
    b = x.sum() / n.sum()
    shrink = np.abs(s - r) / np.abs(b - r)
    assert shrink[1] < shrink[2] < shrink[0] and shrink[1] < shrink[3]
    assert ((s - b) * (r - b) >= 0).all()                                 # never past the overall rate


@pytest.mark.parametrize("cases,n", [([1, 2], [10]), ([1, np.nan], [10, 10]), ([1, 2], [10, 0]), ([-1, 2], [10, 10]),
                                     ([], [])])
def test_eb_smooth_refuses_what_it_cannot_smooth(cases, n):
    with pytest.raises(ValueError, match="eb_smooth"):
        eb_smooth(cases, n)


# --- age standardisation against R -------------------------------------------------------------

def _make_inputs():
    spec = importlib.util.spec_from_file_location("geo_make_inputs", REF / "make_geo_inputs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_r_inputs_are_the_sample_s_counts():
    made = _make_inputs()
    committed = pd.read_csv(REF / "age_counts.csv")
    now = made.age_counts()
    now["age_group"] = now["age_group"].astype(str)
    pd.testing.assert_frame_equal(now.reset_index(drop=True), committed, check_dtype=False,
                                  obj="rerun tests/reference/geo/make_geo_inputs.py and make_reference.R")
    pd.testing.assert_frame_equal(made.std_pop(), pd.read_csv(REF / "std_pop.csv"), check_dtype=False)


def test_adjusted_rates_and_intervals_equal_epitools():
    r = pd.read_csv(REF / "r_ageadjust.csv")
    need = sample_need().merge(r, on=["measure", "community"], suffixes=("", "_r"))
    assert len(need) == len(r) == 12
    for column in ("adjusted", "ci_low", "ci_high"):
        np.testing.assert_allclose(need[column], need[f"{column}_r"], rtol=1e-10, err_msg=column)
    # R's crude rate counts residents with an age group; every sample resident has one
    np.testing.assert_allclose(need["crude"], need["crude_r"], rtol=1e-12)


def test_screen_positive_is_what_the_prevalence_module_says():
    need = sample_need()
    sp = need[need["measure"] == "screen_positive"].set_index("community")
    ref = screen_positive(sample(), instrument=("phq9", "gad7"), by="community",
                          standard="china_2020_census").set_index("community")
    assert sp["n"].tolist() == ref["n"].tolist()
    assert sp["cases"].astype(int).tolist() == ref["cases"].tolist()
    assert sp["missing"].tolist() == ref["missing"].tolist()
    np.testing.assert_allclose(sp["crude"], ref["prevalence"], rtol=1e-12)
    np.testing.assert_allclose(sp["adjusted"], ref["adjusted"], rtol=1e-12)


def test_the_output_shape():
    need = sample_need()
    assert need.columns.tolist() == ["community", "measure", "n", "cases", "crude", "adjusted", "ci_low", "ci_high",
                                     "smoothed", "suppressed", "suppressed_reason", "missing", "note"]
    assert list(need["measure"].unique()) == list(MEASURES) and len(need) == 12
    assert str(need["cases"].dtype) == "Int64"
    assert need.attrs["standard"] == "china_2020_census" and set(need.attrs["prior"]) == set(MEASURES)
    assert not need["suppressed"].any()


# --- the stored scores and decisions are the only source ---------------------------------------

def test_need_reads_the_stored_scores_and_decisions_never_rescoring():
    t = sample()
    urban = set(t.residents.loc[t.residents["community"] == "urban-02", "resident_id"])
    scores = t.scores.copy()
    mine = scores["resident_id"].isin(urban) & (scores["instrument"] == "phq9")
    scores.loc[mine, "score"] = 27.0            # stored totals changed, answers left as they were
    decisions = t.decisions.copy()
    decisions.loc[decisions["resident_id"].isin(urban), "tier"] = 1
    need = need_by_community(t.replace(scores=scores, decisions=decisions))
    row = need[(need["community"] == "urban-02") & (need["measure"] == "screen_positive")].iloc[0]
    assert row["cases"] == row["n"] and row["crude"] == 1.0
    tier = need[(need["community"] == "urban-02") & (need["measure"] == "tier_2_3")].iloc[0]
    assert tier["cases"] == 0 and tier["crude"] == 0.0 and not tier["suppressed"]   # 0 is shown: not sensitive
    before = sample_need().set_index(["community", "measure"])
    after = need.set_index(["community", "measure"])
    assert after.loc[("rural-01", "tier_2_3"), "cases"] == before.loc[("rural-01", "tier_2_3"), "cases"]


def test_a_blank_stored_score_is_missing_never_negative():
    t = sample()
    d = need_frame(t)
    some = d.loc[(d["community"] == "rural-01") & d["screen_positive"].notna(), "resident_id"].head(30)
    scores = t.scores.copy()
    scores.loc[scores["resident_id"].isin(some), "score"] = np.nan      # not scorable: both totals blank
    need = need_by_community(t.replace(scores=scores)).set_index(["community", "measure"])
    before = sample_need().set_index(["community", "measure"])
    key = ("rural-01", "screen_positive")
    assert need.loc[key, "n"] == before.loc[key, "n"] - 30                # left out of the denominator ...
    assert need.loc[key, "missing"] == before.loc[key, "missing"] + 30    # ... and counted as missing
    was_positive = int(d.loc[d["resident_id"].isin(some), "screen_positive"].sum())
    assert need.loc[key, "cases"] == before.loc[key, "cases"] - was_positive   # not counted negative either


# --- small counts -----------------------------------------------------------------------------

def _with_urban02(n_positive: int, n_negative: int = 40):
    """The sample with urban-02 cut to ``n_positive`` screen-positive and ``n_negative`` negative residents."""
    t = sample()
    d = need_frame(t)
    u = d[d["community"] == "urban-02"]
    keep = pd.concat([d.loc[d["community"] != "urban-02", "resident_id"],
                      u.loc[u["screen_positive"] == 1, "resident_id"].head(n_positive),
                      u.loc[u["screen_positive"] == 0, "resident_id"].head(n_negative)])
    return t.subset(keep)


def test_a_small_count_is_blank_with_everything_computed_from_it():
    tables = _with_urban02(3)
    need = need_by_community(tables, min_count=5)
    everything = need_by_community(tables, min_count=1)
    sp = need[need["measure"] == "screen_positive"].set_index("community")
    row = sp.loc["urban-02"]
    assert row["suppressed"] and row["suppressed_reason"] == "small count"
    assert pd.isna(row["cases"]) and row["n"] == 43                     # blank, never 0; n stays
    assert all(np.isnan(row[c]) for c in ("crude", "adjusted", "ci_low", "ci_high", "smoothed"))
    # its complement in the column: the smallest other count is hidden too (a total would give it away)
    second = sp[sp["suppressed_reason"] == "protects a hidden count"]
    counts = everything[everything["measure"] == "screen_positive"].set_index("community")["cases"].drop("urban-02")
    assert second.index.tolist() == [counts.astype(float).idxmin()]
    assert pd.isna(second["cases"].iloc[0]) and np.isnan(second["smoothed"].iloc[0])


def test_no_shown_number_depends_on_a_hidden_count():
    three = need_by_community(_with_urban02(3), min_count=5)
    four = need_by_community(_with_urban02(4, n_negative=39), min_count=5)      # same n, one case more
    three, four = (t[t["measure"] == "screen_positive"] for t in (three, four))
    assert three["suppressed"].tolist() == four["suppressed"].tolist() and three["suppressed"].sum() == 2
    columns = ["community", "n", "cases", "crude", "adjusted", "ci_low", "ci_high", "smoothed"]
    shown = ~three["suppressed"]
    pd.testing.assert_frame_equal(three.loc[shown, columns], four.loc[shown, columns])
    assert three.attrs["prior"]["screen_positive"] == four.attrs["prior"]["screen_positive"]


def test_min_count_one_hides_nothing_and_large_ones_hide_a_community_s_non_cases_too():
    assert not need_by_community(_with_urban02(3), min_count=1)["suppressed"].any()
    need = need_by_community(_with_urban02(45, n_negative=2), min_count=5)     # 2 non-cases: nearly all positive
    row = need[(need["measure"] == "screen_positive") & (need["community"] == "urban-02")].iloc[0]
    assert row["suppressed"] and row["suppressed_reason"] == "small count" and pd.isna(row["cases"])


def test_parameters_are_checked():
    from workbench.params import ParameterError

    with pytest.raises(ParameterError, match="min_count"):
        need_by_community(sample(), min_count=0)
    with pytest.raises(ParameterError, match="standard"):
        need_by_community(sample(), standard="world")


def test_a_community_missing_an_age_group_has_no_adjusted_rate_and_says_why():
    t = sample()
    d = need_frame(t)
    gone = d.loc[(d["community"] == "urban-02") & (d["age_group"] == "80+"), "resident_id"]
    assert len(gone) > 0
    need = need_by_community(t.subset(set(t.residents["resident_id"]) - set(gone)))
    row = need[(need["community"] == "urban-02") & (need["measure"] == "screen_positive")].iloc[0]
    assert np.isnan(row["adjusted"]) and np.isnan(row["ci_low"]) and "age group 80+ has no residents" in row["note"]
    assert not np.isnan(row["crude"]) and not np.isnan(row["smoothed"])   # the rest is still shown
