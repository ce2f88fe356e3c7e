"""Outcome metrics against worked examples computed by hand from the cited definitions.

Sources (thresholds and citations live in workbench/outcomes/thresholds.yaml):
- Response = PHQ-9 fall >= 50% from baseline; remission = PHQ-9 < 5 (NCQA/HEDIS; AIMS Center).
- Not improving at week >= 8: neither PHQ-9 < 10 nor a fall >= 50%; psychiatric review due in
  weeks 8-12 (Washington MHIP, Sowa 2018, PMC6063310). No contact by week 4 (Bao 2016).
- Jacobson & Truax 1991 (J Consult Clin Psychol 59:12): S_diff = sqrt(2) SD_pre sqrt(1 - r),
  RCI = (post - pre) / S_diff, |RCI| > 1.96; a = M1 - 2 SD1, b = M0 + 2 SD0,
  c = (SD0 M1 + SD1 M0) / (SD0 + SD1).
- NHS Talking Therapies: finished = >= 2 attended treatment contacts; caseness PHQ-9 >= 10 or
  GAD-7 >= 8; reliable change 6 (PHQ-9) / 4 (GAD-7); denominators as in REFERENCE.md.
- CMS159: index PHQ-9 > 9; last PHQ-9 in index + 12 months +/- 60 days < 5; none = not remitted.
Every expected value below is worked out in the comments, never taken from the code's output.
"""

import math

import numpy as np
import pandas as pd
import pytest

from workbench.outcomes import (OutcomeConfigError, OutcomeDataError, change, cms159, jacobson_truax,
                                jt_cutoffs, load_thresholds, rates, referral_outcomes, registry_flags,
                                thresholds)

# Explicit norms for hand arithmetic: functional M0 = 3, SD0 = 3; clinical M1 = 17, SD1 = 6.
NORMS = dict(functional=(3.0, 3.0), clinical=(17.0, 6.0))


def assessments(rows, columns=("resident_id", "assessed_on", "phq9_score")):
    return pd.DataFrame(rows, columns=list(columns))


# --- thresholds as data ---------------------------------------------------------------------

def test_every_declared_value_has_a_source_and_a_version():
    t = thresholds()
    assert t.version == "1.1"
    table = t.table()
    assert table["source"].notna().all() and (table["source"].str.len() > 10).all()
    assert t.response_min_fall == 0.5 and t.remission_below["phq9"] == 5
    assert t.tt_caseness == {"phq9": 10, "gad7": 8} and t.tt_reliable_change == {"phq9": 6, "gad7": 4}


def test_a_bad_thresholds_file_fails_naming_every_key(tmp_path):
    text = thresholds().path.read_text()
    text = text.replace("min_fall: 0.5   # fraction", "min_fall: 1.5   # fraction")
    text = text.replace("        value: 0.84", "        value: 1.0")
    bad = tmp_path / "t.yaml"
    bad.write_text(text)
    with pytest.raises(OutcomeConfigError) as err:
        load_thresholds(bad)
    assert "response.min_fall: must be <= 1.0, got 1.5" in str(err.value)
    assert "jacobson_truax.instruments.phq9.reliability.value" in str(err.value)


def test_a_missing_source_is_an_error(tmp_path):
    text = thresholds().path.read_text().replace(
        '  days: 28\n  source:', '  days: 28\n  note:', 1)
    assert "  days: 28\n  note:" in text
    bad = tmp_path / "t.yaml"
    bad.write_text(text)
    with pytest.raises(OutcomeConfigError, match=r"no_contact\.source: is missing"):
        load_thresholds(bad)


# --- response and remission -----------------------------------------------------------------

@pytest.mark.parametrize("last, response", [
    (8, True),    # 18 -> 8: fall 10 = 55.6% >= 50%
    (9, True),    # 18 -> 9: fall 9 = exactly 50% -> response
    (10, False),  # 18 -> 10: fall 8 = 44.4%
])
def test_response_is_a_fall_of_at_least_half(last, response):
    out = change(assessments([["a", "2024-01-01", 18], ["a", "2024-03-01", last]]))
    assert bool(out.loc[0, "response"]) is response
    assert out.loc[0, "change"] == last - 18
    assert out.loc[0, "percent_change"] == pytest.approx(100 * (last - 18) / 18)


@pytest.mark.parametrize("last, remission", [(4, True), (5, False)])  # remission is PHQ-9 < 5
def test_remission_is_below_five(last, remission):
    out = change(assessments([["a", "2024-01-01", 12], ["a", "2024-03-01", last]]))
    assert bool(out.loc[0, "remission"]) is remission


def test_missing_scores_are_never_zero_in_change():
    # 15 then unscorable: no follow-up, so no change, no response (0 would give a 100% fall).
    out = change(assessments([["a", "2024-01-01", 15], ["a", "2024-02-01", np.nan],
                              ["b", "2024-01-01", np.nan], ["b", "2024-02-01", 14]]))
    a, b = out.set_index("resident_id").loc["a"], out.set_index("resident_id").loc["b"]
    assert pd.isna(a["last_score"]) and pd.isna(a["change"]) and pd.isna(a["response"])
    assert pd.isna(a["remission"]) and pd.isna(a["category"])
    # b's unscored first form is skipped: the baseline is 14 on 2024-02-01, with no follow-up.
    assert b["baseline_score"] == 14 and b["baseline_on"] == pd.Timestamp("2024-02-01")
    assert pd.isna(b["last_score"])


def test_change_reads_a_long_score_column_with_an_instrument_column():
    data = pd.DataFrame({"resident_id": ["a"] * 4, "assessed_on": ["2024-01-01"] * 2 + ["2024-02-26"] * 2,
                         "instrument": ["phq9", "gad7", "phq9", "gad7"], "score": [20, 15, 10, 3]})
    out = change(data)
    # PHQ-9 rows only: 20 -> 10 over 56 days = 8 weeks, fall 10 = 50% -> response
    assert (out.loc[0, "baseline_score"], out.loc[0, "last_score"], out.loc[0, "weeks"]) == (20, 10, 8)
    assert bool(out.loc[0, "response"])


def test_change_with_a_marked_baseline():
    data = assessments([["a", "2024-01-01", 8], ["a", "2024-01-15", 16], ["a", "2024-03-01", 6]])
    data["is_baseline"] = [False, True, False]
    out = change(data, baseline="is_baseline")
    # baseline 16 -> 6: fall 10 = 62.5% -> response; 6 is not < 5 -> no remission
    assert out.loc[0, "baseline_score"] == 16 and bool(out.loc[0, "response"]) and not out.loc[0, "remission"]


# --- Jacobson-Truax -------------------------------------------------------------------------

def test_rci_with_the_declared_phq9_parameters():
    # Declared: r = 0.84 (Kroenke 2001), SD_pre = clinical SD 6.1 (Kroenke 2001).
    # S_diff = sqrt(2) x 6.1 x sqrt(1 - 0.84) = 1.414214 x 6.1 x 0.4 = 3.450681
    # 18 -> 8: RCI = -10 / 3.450681 = -2.897979 -> improved
    # cut-off c = (SD0 M1 + SD1 M0)/(SD0 + SD1) = (3.51 x 17.1 + 6.1 x 2.91)/(3.51 + 6.1)
    #           = (60.021 + 17.751) / 9.61 = 8.0929; 18 >= 8.09 and 8 < 8.09 -> crossed -> recovered
    out = jacobson_truax(pd.DataFrame({"pre": [18], "post": [8]}), pre="pre", post="post")
    assert out.loc[0, "rci"] == pytest.approx(-2.897979, abs=1e-6)
    assert out.attrs["s_diff"] == pytest.approx(3.450681, abs=1e-6)
    assert out.attrs["cutoff_value"] == pytest.approx(8.0929, abs=1e-4)
    assert out.loc[0, "category"] == "recovered"


@pytest.mark.parametrize("post, expected", [
    # r = 0.5 makes S_diff = sqrt(2) x SD_pre x sqrt(0.5) = SD_pre; SD_pre = 5 / 1.96 = 2.5510204
    (15, "no_change"),     # 20 -> 15: RCI = -5 / (5 / 1.96) = -1.96 exactly: not beyond 1.96
    (14, "improved"),      # -6 / 2.5510204 = -2.352
    (25, "no_change"),     # +1.96 exactly
    (26, "deteriorated"),  # +2.352
])
def test_rci_boundary_is_strictly_beyond_1_96(post, expected):
    out = jacobson_truax(pd.DataFrame({"pre": [20], "post": [post]}), pre="pre", post="post",
                         reliability=0.5, sd_pre=5 / 1.96, **NORMS)
    assert out.loc[0, "rci"] == pytest.approx((post - 20) * 1.96 / 5)
    assert out.loc[0, "reliable_change"] == expected


@pytest.mark.parametrize("post, expected", [
    # declared PHQ-9: S_diff = 3.450681, so reliable change needs |diff| > 1.96 x 3.450681 = 6.763
    (12, "no_change"),  # 18 -> 12: -6 / 3.450681 = -1.739
    (11, "improved"),   # 18 -> 11: -7 / 3.450681 = -2.029
])
def test_declared_phq9_reliable_change_needs_seven_points(post, expected):
    out = jacobson_truax(pd.DataFrame({"pre": [18], "post": [post]}), pre="pre", post="post")
    assert out.loc[0, "reliable_change"] == expected


def test_cutoffs_follow_the_definitions():
    # a = M1 - 2 SD1 = 17 - 12 = 5; b = M0 + 2 SD0 = 3 + 6 = 9; c = (3 x 17 + 6 x 3)/(3 + 6) = 69/9
    cuts = jt_cutoffs(**NORMS)
    assert cuts["a"] == 5 and cuts["b"] == 9 and cuts["c"] == pytest.approx(69 / 9)


def test_cutoff_b_uses_the_functional_sd_not_the_clinical_sd():
    # b = M0 + 2 SD0 = 3 + 2 x 3 = 9. The clinicalsignificance trap, M0 + 2 SD1 = 3 + 12 = 15,
    # would call a follow-up of 12 "recovered". RCI: S_diff = sqrt(2) x 6 x sqrt(1 - 0.84)
    # = 1.414214 x 6 x 0.4 = 3.394113; 20 -> 12: RCI = -8 / 3.394113 = -2.357 -> improved.
    # 12 < 9 is false, so the cut-off is not crossed: category "improved", not "recovered".
    out = jacobson_truax(pd.DataFrame({"pre": [20], "post": [12]}), pre="pre", post="post",
                         reliability=0.84, sd_pre=6.0, cutoff="b", **NORMS)
    assert out.attrs["cutoff_value"] == 9
    assert out.loc[0, "rci"] == pytest.approx(-8 / (math.sqrt(2) * 6 * 0.4))
    assert not out.loc[0, "crossed_cutoff"] and out.loc[0, "category"] == "improved"


def test_sd_pre_sample_uses_the_baselines():
    # baselines 10, 14, 18: mean 14, SD (ddof=1) = sqrt((16 + 0 + 16) / 2) = 4
    # r = 0.5: S_diff = sqrt(2) x 4 x sqrt(0.5) = 4; 18 -> 10: RCI = -8 / 4 = -2
    data = pd.DataFrame({"pre": [10, 14, 18], "post": [10, 14, 10]})
    out = jacobson_truax(data, pre="pre", post="post", reliability=0.5, sd_pre="sample", **NORMS)
    assert out.attrs["sd_pre"] == pytest.approx(4) and out.loc[2, "rci"] == pytest.approx(-2)


def test_gad7_without_a_declared_clinical_sd_asks_for_one():
    data = pd.DataFrame({"pre": [12], "post": [4]})
    with pytest.raises(ValueError, match="clinical SD of 'gad7' is not declared"):
        jacobson_truax(data, pre="pre", post="post", instrument="gad7")
    out = jacobson_truax(data, pre="pre", post="post", instrument="gad7", sd_pre=5.0, cutoff="b")
    # b = M0 + 2 SD0 = 2.97 + 2 x 3.37 = 9.71 (Lowe 2008 pooled); 4 < 9.71 -> crossed
    assert out.attrs["cutoff_value"] == pytest.approx(9.71) and bool(out.loc[0, "crossed_cutoff"])


# --- NHS Talking Therapies ------------------------------------------------------------------

def tt_assessments(pairs):
    """pairs: {referral: [(date, phq9, gad7), ...]}"""
    rows = [(f"r_{ref}", ref, on, p, g) for ref, visits in pairs.items() for on, p, g in visits]
    return pd.DataFrame(rows, columns=["resident_id", "referral_id", "assessed_on", "phq9_score", "gad7_score"])


def tt_contacts(counts, kind="treatment", attended=True):
    rows = [(f"r_{ref}", ref, f"2024-01-{10 + i:02d}", kind, attended) for ref, n in counts.items() for i in range(n)]
    return pd.DataFrame(rows, columns=["resident_id", "referral_id", "contact_on", "kind", "attended"])


def test_one_attended_treatment_contact_is_not_finished():
    a = tt_assessments({"A": [("2024-01-01", 15, 12), ("2024-02-01", 4, 3)]})
    c = pd.concat([tt_contacts({"A": 1}), tt_contacts({"A": 1}, attended=False),
                   tt_contacts({"A": 2}, kind="assessment")])
    out = referral_outcomes(a, c)
    # 1 attended treatment contact (the unattended one and the assessments do not count) < 2
    assert out.loc[0, "n_treatment_contacts"] == 1 and not out.loc[0, "finished_treatment"]
    assert pd.isna(out.loc[0, "recovered"]) and pd.isna(out.loc[0, "reliable_improvement"])
    c2 = pd.concat([c, tt_contacts({"A": 1})])
    assert referral_outcomes(a, c2).loc[0, "finished_treatment"]  # 2 attended -> finished


def test_recovery_denominator_excludes_those_not_at_caseness_at_start():
    a = tt_assessments({
        "R1": [("2024-01-01", 14, 6), ("2024-03-01", 6, 5)],    # caseness (14 >= 10) -> 6 & 5: recovered
        "R2": [("2024-01-01", 8, 6), ("2024-03-01", 3, 2)],     # 8 < 10 and 6 < 8: not a case at start
        "R3": [("2024-01-01", 12, 9), ("2024-03-01", 11, 9)],   # case -> still case: not recovered
        "R4": [("2024-01-01", 20, 15), ("2024-03-01", 2, 2)],   # 1 contact: not finished
    })
    c = tt_contacts({"R1": 3, "R2": 2, "R3": 4, "R4": 1})
    out = referral_outcomes(a, c).set_index("referral_id")
    assert out["caseness_start"].tolist() == [True, False, True, True]
    assert out.loc["R1", "recovered"] and not out.loc["R3", "recovered"]
    assert pd.isna(out.loc["R2", "recovered"]) and pd.isna(out.loc["R4", "recovered"])
    r = rates(out.reset_index()).set_index("metric")
    # recovery = recovered / (finished - not at caseness at start) = 1 / (3 - 1) = 0.5
    assert (r.loc["recovery", "numerator"], r.loc["recovery", "denominator"]) == (1, 2)
    assert r.loc["recovery", "rate"] == 0.5
    # reliable improvement over all finished (3): R1 PHQ-9 fall 14 - 6 = 8 >= 6 -> yes;
    # R2 fall 5 and GAD-7 fall 4 >= 4 -> yes; R3 falls 1 and 0 -> no.  2 / 3
    assert (r.loc["reliable_improvement", "numerator"], r.loc["reliable_improvement", "denominator"]) == (2, 3)
    # reliable recovery = recovered and reliable improvement (R1), over recovery's denominator 2
    assert (r.loc["reliable_recovery", "numerator"], r.loc["reliable_recovery", "denominator"]) == (1, 2)
    assert (r.loc["reliable_deterioration", "numerator"], r.loc["reliable_deterioration", "denominator"]) == (0, 3)


def test_improvement_on_phq9_with_deterioration_on_gad7_is_not_reliable_improvement():
    # PHQ-9 16 -> 8: fall 8 >= 6 (improvement); GAD-7 5 -> 10: rise 5 >= 4 (deterioration)
    a = tt_assessments({"A": [("2024-01-01", 16, 5), ("2024-03-01", 8, 10)]})
    out = referral_outcomes(a, tt_contacts({"A": 2}))
    assert not out.loc[0, "reliable_improvement"] and out.loc[0, "reliable_deterioration"]
    # caseness at end: GAD-7 10 >= 8 -> still a case -> not recovered
    assert not out.loc[0, "recovered"] and not out.loc[0, "reliable_recovery"]


@pytest.mark.parametrize("phq9_end, gad7_end, improved", [
    (10, 10, True),   # PHQ-9 fall 16 - 10 = 6 >= 6
    (11, 10, False),  # PHQ-9 fall 5, GAD-7 fall 0
    (11, 6, True),    # GAD-7 fall 10 - 6 = 4 >= 4
    (11, 7, False),   # GAD-7 fall 3
])
def test_reliable_change_thresholds_are_inclusive(phq9_end, gad7_end, improved):
    a = tt_assessments({"A": [("2024-01-01", 16, 10), ("2024-03-01", phq9_end, gad7_end)]})
    assert bool(referral_outcomes(a, tt_contacts({"A": 2})).loc[0, "reliable_improvement"]) is improved


def test_pairs_skip_assessments_missing_either_score_never_reading_zero():
    # The last form has no GAD-7: read as 0 it would give GAD-7 12 -> 0 and "recovered".
    # Paired assessments are the 1st and 2nd (both scores present): PHQ-9 15 -> 12, GAD-7 12 -> 11.
    a = tt_assessments({"A": [("2024-01-01", 15, 12), ("2024-02-01", 12, 11), ("2024-03-01", 3, np.nan)]})
    out = referral_outcomes(a, tt_contacts({"A": 2}))
    assert (out.loc[0, "phq9_last"], out.loc[0, "gad7_last"], out.loc[0, "n_paired"]) == (12, 11, 2)
    assert not out.loc[0, "recovered"]
    # only one paired form: no pair, metrics unknown; still in the finished denominator
    b = tt_assessments({"B": [("2024-01-01", 15, 12), ("2024-02-01", np.nan, 4)]})
    ob = referral_outcomes(b, tt_contacts({"B": 2}))
    assert pd.isna(ob.loc[0, "caseness_start"]) and pd.isna(ob.loc[0, "reliable_improvement"])
    r = rates(ob).set_index("metric")
    assert (r.loc["reliable_improvement", "numerator"], r.loc["reliable_improvement", "denominator"]) == (0, 1)
    assert r.loc["recovery", "no_paired_scores"] == 1


def test_rates_by_group():
    a = tt_assessments({"A": [("2024-01-01", 14, 9), ("2024-02-01", 4, 3)],
                        "B": [("2024-01-01", 14, 9), ("2024-02-01", 13, 9)]})
    out = referral_outcomes(a, tt_contacts({"A": 2, "B": 2})).assign(tier=[2, 3])
    r = rates(out, by="tier")
    rec = r[r["metric"] == "recovery"].set_index("tier")["rate"]
    assert rec.to_dict() == {2: 1.0, 3: 0.0}


# --- CMS159 ---------------------------------------------------------------------------------
# Index 2023-03-15 -> anniversary 2024-03-15. 2024 is a leap year:
# window start = 2024-03-15 - 60 days = 2024-01-15 (Mar 15 -> Feb 15 is 29 days, -> Jan 15 is 31 more)
# window end   = 2024-03-15 + 60 days = 2024-05-14 (-> Mar 31 is 16 days, -> Apr 30 is 30, -> May 14 is 14)

@pytest.mark.parametrize("follow_up_on, remitted", [
    ("2024-01-14", False),  # a day before the window: no follow-up -> not remitted
    ("2024-01-15", True),   # first day of the window
    ("2024-05-14", True),   # last day of the window
    ("2024-05-15", False),  # a day after
])
def test_cms159_window_edges(follow_up_on, remitted):
    out = cms159(assessments([["a", "2023-03-15", 14], ["a", follow_up_on, 3]]))
    assert out.loc[0, "window_start"] == pd.Timestamp("2024-01-15")
    assert out.loc[0, "window_end"] == pd.Timestamp("2024-05-14")
    assert bool(out.loc[0, "remitted"]) is remitted


def test_cms159_index_needs_more_than_nine_and_the_last_score_counts():
    out = cms159(assessments([
        ["a", "2023-01-01", 9],    # 9 is not > 9: no index
        ["a", "2023-03-15", 10],   # index
        ["a", "2024-02-01", 3],    # in the window, but not the last
        ["a", "2024-04-01", 6],    # last in the window: 6 is not < 5 -> not remitted
        ["b", "2023-03-15", 12],   # index with no follow-up at all -> not remitted
        ["b", "2024-03-15", np.nan],  # unscored: never 0
    ]))
    assert out["index_on"].tolist() == [pd.Timestamp("2023-03-15")] * 2
    assert out.loc[0, "last_score"] == 6 and not out.loc[0, "remitted"]
    assert pd.isna(out.loc[1, "last_score"]) and not out.loc[1, "remitted"]


def test_cms159_window_still_open_on_the_evaluation_date_is_unknown():
    out = cms159(assessments([["a", "2023-03-15", 14], ["a", "2024-02-01", 3]]), on="2024-04-01")
    assert pd.isna(out.loc[0, "remitted"])  # window ends 2024-05-14, after 2024-04-01
    out = cms159(assessments([["a", "2023-03-15", 14], ["a", "2024-02-01", 3]]), on="2024-05-14")
    assert bool(out.loc[0, "remitted"])


# --- registry flags -------------------------------------------------------------------------

REFERRED = pd.Timestamp("2024-01-01")


def flags(on, *, phq9=(), contacts=(), due=None, set_on=None):
    refs = pd.DataFrame({"referral_id": ["A"], "resident_id": ["r1"], "tier": [2], "referred_on": [REFERRED]})
    if due is not None:
        refs["next_contact_due"] = [due]
    if set_on is not None:
        refs["next_contact_set_on"] = [set_on]
    a = pd.DataFrame({"referral_id": "A", "assessed_on": [d for d, _ in phq9], "phq9_score": [s for _, s in phq9]},
                     columns=["referral_id", "assessed_on", "phq9_score"])
    c = pd.DataFrame({"referral_id": "A", "contact_on": list(contacts), "attended": True},
                     columns=["referral_id", "contact_on", "attended"])
    return registry_flags(a, c, refs, on=on).iloc[0]


@pytest.mark.parametrize("days, week, flagged", [(27, 3, False), (28, 4, True)])
def test_no_contact_by_week_4(days, week, flagged):
    # no contact at all: the clock starts at the referral; day 27 = week 3, day 28 = week 4
    row = flags(REFERRED + pd.Timedelta(days=days))
    assert row["week"] == week and bool(row["no_contact_by_week_4"]) is flagged


def test_no_follow_up_within_4_weeks_of_the_first_contact():
    # first contact 2024-01-05; next 2024-02-05 is 31 days later (> 28): flagged on 2024-02-10
    assert flags("2024-02-10", contacts=["2024-01-05", "2024-02-05"])["no_contact_by_week_4"]
    # follow-up on 2024-02-02 = day 28 after the first contact: in time
    assert not flags("2024-02-10", contacts=["2024-01-05", "2024-02-02"])["no_contact_by_week_4"]


@pytest.mark.parametrize("days, week, not_improving, review", [
    (55, 7, False, False),  # week 7: not yet judged
    (56, 8, True, True),    # week 8: 16 -> 12 is a 25% fall and 12 >= 10 -> not improving; review due
    (90, 12, True, True),   # day 90 = week 12: still in the review window
    (91, 13, True, False),  # week 13: still not improving, but past the weeks 8-12 review window
])
def test_not_improving_and_review_window(days, week, not_improving, review):
    row = flags(REFERRED + pd.Timedelta(days=days), phq9=[("2024-01-01", 16), ("2024-02-20", 12)])
    assert row["week"] == week
    assert bool(row["not_improving"]) is not_improving and bool(row["psychiatric_review_due"]) is review


@pytest.mark.parametrize("baseline, latest, not_improving", [
    (22, 11, False),  # fall 11 = exactly 50% -> improving, although 11 >= 10
    (22, 12, True),   # fall 10 = 45.5% and 12 >= 10
    (11, 9, False),   # 9 < 10 -> improving, although the fall is 18%
])
def test_not_improving_thresholds(baseline, latest, not_improving):
    row = flags("2024-03-01", phq9=[("2024-01-01", baseline), ("2024-02-20", latest)])
    assert bool(row["not_improving"]) is not_improving


def test_not_improving_is_unknown_without_any_phq9():
    row = flags("2024-03-01")  # day 60 = week 8
    assert row["week"] == 8 and pd.isna(row["not_improving"]) and pd.isna(row["psychiatric_review_due"])


def test_overdue_next_contact():
    # due 2024-02-01, no contact since: overdue on 2024-02-10 by 9 days
    row = flags("2024-02-10", contacts=["2024-01-10"], due="2024-02-01")
    assert row["overdue"] and row["days_overdue"] == 9
    # due date set on 2024-01-15, attended contact 2024-01-20 since: not overdue
    row = flags("2024-02-10", contacts=["2024-01-20"], due="2024-02-01", set_on="2024-01-15")
    assert not row["overdue"] and row["days_overdue"] == 0
    # due date not yet passed
    assert not flags("2024-02-01", due="2024-02-01")["overdue"]


def test_registry_ignores_data_after_the_date_and_closed_referrals():
    refs = pd.DataFrame({"referral_id": ["A", "B", "C"], "resident_id": ["r1", "r2", "r3"],
                         "referred_on": ["2024-01-01", "2024-01-01", "2024-03-10"],
                         "ended_on": [None, "2024-01-20", None]})
    a = pd.DataFrame({"referral_id": ["A", "A"], "assessed_on": ["2024-01-01", "2024-03-05"],
                      "phq9_score": [16, 4]})
    c = pd.DataFrame({"referral_id": ["A"], "contact_on": ["2024-03-05"], "attended": [True]})
    out = registry_flags(a, c, refs, on="2024-03-04")
    # B closed before the date, C not yet referred; A's score of 4 and contact are after the date.
    # A on 2024-03-04: 63 days = week 9; latest PHQ-9 is the baseline 16: not improving;
    # no attended contact at all by day 28 -> no_contact_by_week_4
    assert out["referral_id"].tolist() == ["A"]
    row = out.iloc[0]
    assert row["week"] == 9 and row["latest_phq9"] == 16 and row["not_improving"]
    assert row["no_contact_by_week_4"] and pd.isna(row["first_contact_on"])


# --- errors name the row, column, value and rule ---------------------------------------------

def test_on_is_required_and_checked():
    empty = pd.DataFrame(columns=["referral_id", "assessed_on", "phq9_score"])
    refs = pd.DataFrame(columns=["referral_id", "resident_id", "referred_on"])
    contacts = pd.DataFrame(columns=["referral_id", "contact_on", "attended"])
    with pytest.raises(ValueError, match=r"The 'on' parameter of registry_flags must be a date .* Got None instead\."):
        registry_flags(empty, contacts, refs, on=None)


def test_bad_input_is_reported_all_at_once():
    data = pd.DataFrame({"resident_id": ["a", "a", "b"], "assessed_on": ["2024-01-01", "soon", "2024-01-01"],
                         "phq9_score": [12, 30, 5.5]})
    with pytest.raises(OutcomeDataError) as err:
        change(data)
    problems = err.value.problems
    assert set(zip(problems["row"], problems["column"])) == {(1, "assessed_on"), (1, "phq9_score"), (2, "phq9_score")}
    assert "row 1, column 'phq9_score': value 30.0 is not a phq9 total" in str(err.value)


def test_a_blank_attended_is_an_error_not_a_no():
    a = tt_assessments({"A": [("2024-01-01", 15, 12), ("2024-02-01", 4, 3)]})
    c = tt_contacts({"A": 2}).astype({"attended": object})
    c.loc[1, "attended"] = None
    with pytest.raises(OutcomeDataError, match="a blank is not 'no'"):
        referral_outcomes(a, c)


def test_bad_arguments_use_one_sentence_shape():
    data = pd.DataFrame({"pre": [10], "post": [5]})
    cutoff = r"The 'cutoff' parameter of jacobson_truax must be one of 'a', 'b', 'c'\. Got 'd' instead\."
    with pytest.raises(ValueError, match=cutoff):
        jacobson_truax(data, pre="pre", post="post", cutoff="d")
    r = r"The 'reliability' parameter of jacobson_truax must be None or a float in \(0, 1\)\. Got 1.2 instead\."
    with pytest.raises(ValueError, match=r):
        jacobson_truax(data, pre="pre", post="post", reliability=1.2)
    with pytest.raises(ValueError, match=r"The 'by' parameter of rates must be"):
        rates(pd.DataFrame(), by=3)


# --- one coding of response, remission, recovery and reliable change (workbench.outcomes.pairs) ---

PAIRS = pd.DataFrame({
    # start PHQ-9, GAD-7; end PHQ-9, GAD-7            worked out from the definitions:
    "p0": [18, 18, 12, 4, 0, 11, 9, np.nan],
    "g0": [9, 9, 5, 9, 0, 11, 10, 12],
    "p1": [9, 10, 4, 5, 0, np.nan, 3, 2],
    "g1": [3, 8, 7, 8, 0, 9, 4, 2],
})
# 0: 18 -> 9 is exactly half: response; 9 >= 5: no remission; case at start (18), 9 < 10 and 3 < 8 at
#    the end: recovered; PHQ-9 fall 9 >= 6: reliable improvement and reliable recovery
# 1: 18 -> 10 falls 8 < 9: no response; GAD-7 8 is caseness at the end: not recovered
# 2: 12 -> 4: response (8 >= 6) and remission (4 < 5); GAD-7 rises 2 < 4: no deterioration
# 3: 4 -> 5: start below PHQ-9 caseness (10): response and remission do not apply (NA, not False);
#    GAD-7 9 -> 8: case at both ends: not recovered
# 4: 0 -> 0: start below caseness: response and remission NA; not a case: recovery does not apply
# 5: end PHQ-9 unknown: response and remission unknown; GAD-7 9 is caseness, yet recovery needs both end scores
# 6: PHQ-9 9 -> 3 is a fall of 6 >= 6 with GAD-7 10 -> 4 falling 6 >= 4: reliable improvement; case at start
#    on GAD-7 only (10 >= 8): recovered; PHQ-9 start 9 < 10: PHQ-9 response and remission do not apply
# 7: start PHQ-9 unknown, GAD-7 12 is caseness: recovery applies (2 and 2 below); reliable change
#    needs all four scores: unknown; response and remission need the start: unknown
EXPECTED = {
    "response": [True, False, True, None, None, None, None, None],
    "remission": [False, False, True, None, None, None, None, None],
    "caseness_start": [True, True, True, True, False, True, True, True],
    "caseness_end": [False, True, False, True, False, True, False, False],
    "recovered": [True, False, True, False, None, None, True, True],
    "reliable_improvement": [True, True, True, False, False, None, True, None],
    "reliable_deterioration": [False, False, False, False, False, None, False, None],
    "reliable_recovery": [True, False, True, False, None, None, True, None],
}


def _listed(values) -> list:
    return [None if pd.isna(v) else bool(v) for v in values]


def test_classify_pairs_follows_the_definitions():
    from workbench.outcomes import classify_pairs

    out = classify_pairs(PAIRS, start={"phq9": "p0", "gad7": "g0"}, end={"phq9": "p1", "gad7": "g1"})
    assert list(out.columns) == list(EXPECTED) and out.attrs["thresholds_version"] == "1.1"
    for column, expected in EXPECTED.items():
        assert _listed(out[column]) == expected, column


def test_change_referral_outcomes_and_the_trial_frame_use_the_same_coding():
    from workbench.outcomes import classify_pairs

    pairs = PAIRS.dropna().reset_index(drop=True)  # the functions below need both scores of a pair
    expected = classify_pairs(pairs, start={"phq9": "p0", "gad7": "g0"}, end={"phq9": "p1", "gad7": "g1"})
    long = pd.concat([pd.DataFrame({"resident_id": pairs.index.astype(str), "assessed_on": "2024-01-01",
                                    "phq9_score": pairs["p0"], "gad7_score": pairs["g0"]}),
                      pd.DataFrame({"resident_id": pairs.index.astype(str), "assessed_on": "2024-03-01",
                                    "phq9_score": pairs["p1"], "gad7_score": pairs["g1"]})], ignore_index=True)
    ch = change(long, sd_pre=6.0)
    assert _listed(ch["response"]) == _listed(expected["response"])
    assert _listed(ch["remission"]) == _listed(expected["remission"])
    tt = referral_outcomes(long.assign(referral_id=long["resident_id"]),
                           tt_contacts({str(k): 2 for k in pairs.index}).assign(resident_id=lambda d: d["referral_id"]))
    for column in ("caseness_start", "caseness_end", "recovered", "reliable_improvement", "reliable_deterioration",
                   "reliable_recovery"):
        assert _listed(tt[column]) == _listed(expected[column]), column


def test_classify_pairs_names_bad_scores_and_arguments():
    from workbench.outcomes import classify_pairs

    bad = PAIRS.assign(p1=PAIRS["p1"].astype(object))
    bad.loc[2, "p1"] = 28
    with pytest.raises(OutcomeDataError) as err:
        classify_pairs(bad, start={"phq9": "p0"}, end={"phq9": "p1"})
    assert err.value.problems[["row", "column"]].values.tolist() == [[2, "p1"]]
    with pytest.raises(ValueError, match="The 'start' parameter of classify_pairs must be a mapping"):
        classify_pairs(PAIRS, start="p0", end={"phq9": "p1"})
    with pytest.raises(ValueError, match="The 'start' parameter of classify_pairs must be a mapping with a column for the instrument 'phq9'"):
        classify_pairs(PAIRS, start={"gad7": "g0"}, end={"gad7": "g1"})
    # GAD-7 alone: response from a declared baseline caseness (GAD-7 >= 10) but no declared
    # remission threshold (NA), no recovery columns
    out = classify_pairs(PAIRS, start={"gad7": "g0"}, end={"gad7": "g1"}, instrument="gad7")
    assert list(out.columns) == ["response", "remission"] and out["remission"].isna().all()
    # starts 9, 9, 5, 9, 0 are below 10: NA; 11 -> 9 no, 10 -> 4 yes, 12 -> 2 yes
    assert _listed(out["response"]) == [None] * 5 + [False, True, True]


def test_referral_outcomes_reads_the_contacts_status():
    a = tt_assessments({"A": [("2024-01-01", 15, 12), ("2024-02-01", 4, 3)]})
    c = tt_contacts({"A": 4}).drop(columns="attended").assign(status=["attended", "missed", "planned", "attended"])
    out = referral_outcomes(a, c)
    # two attended treatment contacts (missed and planned do not count): finished
    assert out.loc[0, "n_treatment_contacts"] == 2 and out.loc[0, "finished_treatment"]
    c.loc[1, "status"] = None
    with pytest.raises(OutcomeDataError) as err:
        referral_outcomes(a, c)
    assert err.value.problems[["table", "row", "column"]].values.tolist() == [["contacts", 1, "status"]]


def test_referral_outcomes_from_the_analysis_tables():
    from test_cohort import gad7_total, hand_tables, phq9_total, with_stored_score

    t = hand_tables(
        residents={"resident_id": ["r1", "r2"]},
        screenings=[{"resident_id": "r1", "assessed_on": "2025-01-06", **phq9_total(15), **gad7_total(12)},
                    {"resident_id": "r2", "assessed_on": "2025-01-06", **phq9_total(12), **gad7_total(6)}],
        reviews=[{"resident_id": "r1", "referral_id": "F1", "assessed_on": "2025-03-03", **phq9_total(4), **gad7_total(3)},
                 {"resident_id": "r2", "referral_id": "F2", "assessed_on": "2025-03-03", **phq9_total(11), **gad7_total(6)}],
        referrals={"referral_id": ["F1", "F2"], "resident_id": ["r1", "r2"], "referred_on": "2025-01-06"},
        contacts={"resident_id": ["r1", "r1", "r2", "r2"], "referral_id": ["F1", "F1", "F2", "F2"],
                  "contact_on": ["2025-01-13", "2025-01-20", "2025-01-13", "2025-01-20"],
                  "status": ["attended", "attended", "attended", "missed"]})
    out = referral_outcomes(t).set_index("referral_id")
    # F1: 15/12 -> 4/3 after 2 attended treatment contacts: recovered; F2: one attended: not finished
    assert out.loc["F1", "recovered"] and out.loc["F1", "phq9_first"] == 15
    assert not out.loc["F2", "finished_treatment"] and pd.isna(out.loc["F2", "recovered"])
    # the stored score is the one used: F1's review PHQ-9 stored as 10 keeps F1 at caseness
    edited = referral_outcomes(with_stored_score(t, "r1", "2025-03-03", "phq9", 10)).set_index("referral_id")
    assert edited.loc["F1", "phq9_last"] == 10 and not edited.loc["F1", "recovered"]
    with pytest.raises(ValueError, match="The 'contacts' parameter of referral_outcomes must be None when 'assessments' are the analysis tables"):
        referral_outcomes(t, t.contacts)


def test_response_and_remission_do_not_apply_below_baseline_caseness():
    # REFERENCE.md "Change and outcome metrics": remission and response are measured for those at
    # caseness at baseline (CMS159: index PHQ-9 > 9). Starting at 3 and ending at 2 is not a
    # remission, nor a failure to remit: NA, outside the denominator, never False.
    from workbench.outcomes import classify_pairs

    d = pd.DataFrame({"p0": [3, 9, 10, 20, 12], "p1": [2, 4, 4, 10, 6]})
    out = classify_pairs(d, start={"phq9": "p0"}, end={"phq9": "p1"})
    assert _listed(out["remission"]) == [None, None, True, False, False]
    assert _listed(out["response"]) == [None, None, True, True, True]
    assert thresholds().baseline_caseness["phq9"] == 10
    ch = change(pd.DataFrame({"resident_id": ["a", "a"], "assessed_on": ["2024-01-01", "2024-04-01"],
                              "phq9_score": [3, 1]}))
    assert pd.isna(ch.loc[0, "remission"]) and pd.isna(ch.loc[0, "response"])


def test_a_remission_threshold_needs_a_baseline_caseness(tmp_path):
    import yaml

    raw = yaml.safe_load(thresholds().path.read_text(encoding="utf-8"))
    del raw["baseline_caseness"]["phq9"]
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    with pytest.raises(OutcomeConfigError, match=r"remission.phq9: has no baseline_caseness.phq9.at_least"):
        load_thresholds(path)
