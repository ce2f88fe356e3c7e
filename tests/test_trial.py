"""``workbench.trial`` against R 4.2.2 (base ``stats`` only), plus argument and bad-row errors.

Reference values come from R, never from our own output: ``Rscript
tests/reference/trial/make_reference.R`` (from the repository root) reads ``data_rct.csv`` (the
sample trial in wide form, written by ``make_data.py``; ``workbench.cohort.trial_frame`` gives the
same scores from the stored ones, see below), writes the seeded three-arm trial
``data_three_arm.csv``, and writes R's numbers to ``r_*.csv`` beside them
(``R_SESSION.txt`` is its ``sessionInfo()``). Every reference row carries the R call (``r_call``):

- ``r_ancova.csv``: ``summary(lm(y ~ baseline + relevel(factor(arm), ref)))`` and ``confint``.
- ``r_hedges.csv``: Hedges' g by hand (Hedges & Olkin 1985; Borenstein et al. 2009, 4.18-4.24).
- ``r_risk.csv``: RD interval from ``prop.test(correct = FALSE)`` (Wald), RR log-scale interval
  and NNT by hand; ``three_arm_rare`` has an arm with no events (RR 0, its interval NA).
- ``r_mixed_anova.csv`` (``make_reference_mixed.R``, run after ``make_reference.R``):
  ``summary(aov(y ~ arm * wave + Error(id / wave)))`` on complete cases by resident, uncorrected.

Agreement: 5 significant figures (``rtol=5e-6``); counts exactly; NA in R is NaN here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench import trial

REF = Path(__file__).resolve().parent / "reference" / "trial"
RTOL = 5e-6  # 5 significant figures
DATA = {name: pd.read_csv(REF / name) for name in ("data_rct.csv", "data_three_arm.csv")}
R_ANCOVA = pd.read_csv(REF / "r_ancova.csv")
R_HEDGES = pd.read_csv(REF / "r_hedges.csv")
R_RISK = pd.read_csv(REF / "r_risk.csv")
R_MIXED = pd.read_csv(REF / "r_mixed_anova.csv")


def _compare(ours: pd.DataFrame, theirs: pd.DataFrame, numbers: list[str], counts: list[str]) -> None:
    theirs = theirs.reset_index(drop=True)
    assert list(ours["arm"]) == list(theirs["arm"])
    for c in numbers:
        np.testing.assert_allclose(ours[c].to_numpy(float), theirs[c].to_numpy(float), rtol=RTOL, atol=0,
                                   equal_nan=True, err_msg=c)
    for c in counts:
        assert list(ours[c]) == list(theirs[c]), c


def _groups(ref: pd.DataFrame):
    return [pytest.param(case, rows, id=case) for case, rows in ref.groupby("case", sort=False)]


# --- agreement with R -------------------------------------------------------------------------

@pytest.mark.parametrize(("case", "r"), _groups(R_ANCOVA))
def test_ancova_matches_r_lm(case, r):
    # R: confint(lm(outcome ~ baseline + relevel(factor(arm), reference), data), level = 1 - alpha)
    k = r.iloc[0]
    ours = trial.ancova(DATA[k["data"]], outcome=k["outcome"], baseline=k["baseline"], arm="arm",
                        reference=k["reference"], alpha=float(k["alpha"]))
    _compare(ours, r, ["effect", "se", "ci_low", "ci_high", "p_value"], ["n", "n_excluded"])
    assert list(ours.columns) == ["arm", "effect", "se", "ci_low", "ci_high", "p_value", "n", "n_excluded"]


@pytest.mark.parametrize(("case", "r"), _groups(R_HEDGES))
def test_hedges_g_matches_r_by_hand(case, r):
    k = r.iloc[0]
    ours = trial.hedges_g(DATA[k["data"]], outcome=k["outcome"], arm="arm", reference=k["reference"],
                          alpha=float(k["alpha"]))
    _compare(ours, r, ["g", "se", "ci_low", "ci_high"], ["n", "n_reference", "n_excluded"])


@pytest.mark.parametrize(("case", "r"), _groups(R_RISK))
def test_risk_compare_matches_r(case, r):
    # R: prop.test(c(x1, x0), c(n1, n0), correct = FALSE)$conf.int; RR and NNT by hand
    k = r.iloc[0]
    ours = trial.risk_compare(DATA[k["data"]], outcome=k["outcome"], arm="arm", reference=k["reference"],
                              alpha=float(k["alpha"]))
    _compare(ours, r, ["risk", "risk_reference", "risk_difference", "rd_ci_low", "rd_ci_high", "risk_ratio",
                       "rr_ci_low", "rr_ci_high", "nnt"],
             ["events", "n", "events_reference", "n_reference", "n_excluded"])
    assert ours["nnt_kind"].tolist() == r["nnt_kind"].tolist()
    assert list(ours.columns[:10]) == ["arm", "risk", "risk_reference", "risk_difference", "rd_ci_low",
                                       "rd_ci_high", "risk_ratio", "rr_ci_low", "rr_ci_high", "nnt"]


@pytest.mark.parametrize(("case", "r"), _groups(R_MIXED))
def test_mixed_anova_matches_r_aov(case, r):
    # R: summary(aov(y ~ arm * wave + Error(id / wave), data)) on residents with every wave scored.
    # Sphericity: neither side corrects (aov never does; mixed_anova passes correction=False), so
    # F, df and p are the uncorrected ones; Greenhouse-Geisser values are not compared.
    k = r.iloc[0]
    wide = DATA[k["data"]].copy()
    if "resident_id" not in wide:
        wide["resident_id"] = np.arange(1, len(wide) + 1)   # as make_reference_mixed.R: the row number
    long = wide.melt(id_vars=["resident_id", "arm"], value_vars=k["waves"].split(";"),
                     var_name="wave", value_name="score")
    ours = trial.mixed_anova(long, dv="score", within="wave", subject="resident_id", arm="arm")
    r = r.reset_index(drop=True)
    assert list(ours["source"]) == list(r["source"]) == ["arm", "wave", "interaction"]
    for c in ["ss", "ms", "f", "p_value"]:
        np.testing.assert_allclose(ours[c].to_numpy(float), r[c].to_numpy(float), rtol=RTOL, atol=0, err_msg=c)
    for c in ["df1", "df2", "n", "n_excluded"]:
        assert list(ours[c]) == list(r[c]), c


def test_nnt_interval_runs_through_infinity_when_rd_interval_crosses_zero():
    # Altman 1998 (BMJ 317:1309): report "NNTB x to infinity to NNTH y", do not drop the NNT.
    # Interval limits against R: tests/test_trial_nnt.py (tests/reference/nnt).
    r = R_RISK[(R_RISK["case"] == "three_arm_rare") & (R_RISK["arm"] == "b_high")].iloc[0]
    assert r["rd_ci_low"] < 0 < r["rd_ci_high"]
    ours = trial.risk_compare(DATA["data_three_arm.csv"], outcome="rare", arm="arm", reference="control").set_index("arm")
    b = ours.loc["b_high"]
    assert b["nnt"] == r["nnt"] and b["nnt_ci_through_infinity"]
    assert (b["nnt_ci_low_kind"], b["nnt_ci_high_kind"]) == ("NNTB", "NNTH")
    a = ours.loc["a_low"]   # RD -0.222: 1 / 0.222 = 4.5, rounded up to 5, a number needed to harm
    assert (a["nnt"], a["nnt_kind"], a["nnt_unrounded"]) == (5, "NNTH", pytest.approx(4.5))


# --- the sample trial end to end ---------------------------------------------------------------

def test_consort_on_the_sample():
    from workbench.sample import load_sample

    s = load_sample()
    out = trial.consort(s, months=12)
    assert list(out.columns) == ["arm", "randomised", "assessed", "lost_to_follow_up", "percent_assessed"]
    rct = s.enrolments[s.enrolments["study"] == "rct_12m"]
    assert out["randomised"].sum() == len(rct) and out.set_index("arm")["randomised"].to_dict() == \
        rct["arm"].value_counts().to_dict()
    a = s.assessments
    twelve = a[(a["purpose"] == "study") & (a["study"] == "rct_12m") & (a["visit"] == 12)]["resident_id"].nunique()
    assert out["assessed"].sum() == twelve
    assert (out["randomised"] - out["assessed"] == out["lost_to_follow_up"]).all()


def test_the_sample_trial_from_stored_scores_is_the_data_r_analysed():
    # data_rct.csv was written (make_data.py) by scoring the sample's answers again; the analysis
    # tables' stored scores must give the very same trial. Response and remission apply only to a
    # baseline PHQ-9 >= 10 (NaN below: tests/test_trial_nnt.py checks them from the raw scores).
    from workbench.cohort import trial_frame
    from workbench.sample import load_sample

    ours = trial_frame(load_sample())
    theirs = DATA["data_rct.csv"]
    assert ours["resident_id"].tolist() == theirs["resident_id"].tolist()
    assert ours["arm"].tolist() == theirs["arm"].tolist()
    for c in ["phq9_0", "phq9_6", "phq9_12", "gad7_0", "gad7_6", "gad7_12", "response_12", "remission_12"]:
        np.testing.assert_array_equal(ours[c].to_numpy(float), theirs[c].to_numpy(float), err_msg=c)
    below = (theirs["phq9_0"] < 10).to_numpy()     # REFERENCE.md: caseness PHQ-9 >= 10 at baseline
    assert ours.loc[below, "response_12"].isna().all() and ours.loc[below, "remission_12"].isna().all()


def test_complete_case_excluded_count_matches_missing_rows():
    d = DATA["data_rct.csv"]
    out = trial.ancova(d, outcome="phq9_12", baseline="phq9_0", arm="arm", reference="usual_care")
    missing = d["phq9_12"].isna() | d["phq9_0"].isna()
    assert out["n_excluded"].iloc[0] == missing.sum()
    assert sorted(out.attrs["excluded"]) == list(d.index[missing])


def test_sensitivity_bocf_fills_only_missing_outcomes():
    d = DATA["data_rct.csv"]
    out = trial.ancova_sensitivity(d, outcome="phq9_12", baseline="phq9_0", arm="arm", reference="usual_care")
    assert list(out["analysis"]) == ["complete_case", "baseline_carried_forward"]
    filled = d.assign(phq9_12=d["phq9_12"].fillna(d["phq9_0"]))
    direct = trial.ancova(filled, outcome="phq9_12", baseline="phq9_0", arm="arm", reference="usual_care")
    assert out["effect"].iloc[1] == pytest.approx(direct["effect"].iloc[0])
    assert out["n_imputed"].iloc[1] == (d["phq9_12"].isna() & d["phq9_0"].notna()).sum()


def test_mixed_anova_counts_dropped_residents():
    d = DATA["data_rct.csv"]
    long = d.melt(id_vars=["resident_id", "arm"], value_vars=["phq9_0", "phq9_6", "phq9_12"],
                  var_name="wave", value_name="phq9")
    out = trial.mixed_anova(long, dv="phq9", within="wave", subject="resident_id", arm="arm")
    complete = d[["phq9_0", "phq9_6", "phq9_12"]].notna().all(axis=1).sum()
    assert list(out["source"]) == ["arm", "wave", "interaction"]
    assert (out["n"] == complete).all() and (out["n_excluded"] == len(d) - complete).all()


# --- argument errors and bad rows ----------------------------------------------------------------

SMALL = pd.DataFrame({"arm": ["ic", "uc"] * 4, "y0": [10, 12, 8, 9, 15, 14, 11, 10],
                      "y1": [4, 9, 3, 8, 7, 12, 5, 9], "hit": [1, 0, 1, 1, 0, 0, 1, 0]})


@pytest.mark.parametrize("alpha", [0, 1, 1.5, "0.05", True])
def test_bad_alpha(alpha):
    with pytest.raises(ValueError, match=r"The 'alpha' parameter of ancova must be a float in \(0, 1\)"):
        trial.ancova(SMALL, outcome="y1", baseline="y0", arm="arm", reference="uc", alpha=alpha)


def test_unknown_reference_and_absent_column():
    with pytest.raises(ValueError, match=r"The 'reference' parameter of risk_compare must be one of the arms .*"
                                         r"Got 'usual' instead"):
        trial.risk_compare(SMALL, outcome="hit", arm="arm", reference="usual")
    with pytest.raises(trial.TrialDataError, match="'phq9_12'.*absent"):
        trial.hedges_g(SMALL, outcome="phq9_12", arm="arm", reference="uc")
    with pytest.raises(TypeError, match="The 'data' parameter of ancova must be a pandas DataFrame"):
        trial.ancova(SMALL.to_dict(), outcome="y1", baseline="y0", arm="arm", reference="uc")


def test_bad_rows_are_all_named():
    bad = SMALL.astype(object).copy()
    bad.loc[2, "arm"] = None
    bad.loc[5, "y1"] = "seven"
    with pytest.raises(trial.TrialDataError) as err:
        trial.ancova(bad, outcome="y1", baseline="y0", arm="arm", reference="uc")
    p = err.value.problems
    assert list(p.columns) == ["table", "row", "column", "value", "rule"]  # the one problems shape
    assert set(zip(p["row"], p["column"])) == {(2, "arm"), (5, "y1")}
    assert "row 5, column 'y1': value 'seven'" in str(err.value)


def test_binary_outcome_must_be_0_or_1():
    bad = SMALL.assign(hit=[1, 0, 2, 1, 0, None, 1, 0])
    with pytest.raises(trial.TrialDataError) as err:
        trial.risk_compare(bad, outcome="hit", arm="arm", reference="uc")
    assert list(err.value.problems["row"]) == [2]  # the missing value in row 5 is excluded, not an error


def test_consort_bad_rows():
    from test_cohort import frame
    from workbench.tables import Tables

    e = frame("enrolments", {"resident_id": ["a", "b", "b"], "study": "rct_12m", "arm": ["ic", None, "uc"],
                             "enrolled_on": "2025-01-06"})
    f = frame("assessments", {"assessment_id": ["X1", "X2"], "resident_id": ["a", "z"], "assessed_on": "2026-01-06",
                              "instrument": "phq9", "instrument_version": "1.0", "purpose": "study",
                              "study": "rct_12m", "visit": [12, 12]})
    with pytest.raises(trial.TrialDataError) as err:
        trial.consort(Tables(enrolments=e, assessments=f))
    p = err.value.problems
    assert set(zip(p["row"], p["column"])) == {(1, "arm"), (2, "resident_id"), (1, "resident_id")}
    assert "was not randomised" in str(err.value)
    with pytest.raises(ValueError, match="The 'months' parameter of consort must be an int >= 1"):
        trial.consort(Tables(enrolments=e.iloc[:1], assessments=f.iloc[:1]), months=0)
    with pytest.raises(TypeError, match="The 'tables' parameter of consort must be workbench.tables.Tables"):
        trial.consort(e, months=12)


def test_consort_counts_only_the_trial_s_visits_at_the_month_asked():
    from test_cohort import frame
    from workbench.tables import Tables

    # a, b, c randomised; a seen at 6 and 12, b at 6, c only in the cohort study at wave 12:
    # at 12 months one of two intervention residents is assessed and the usual-care one is lost
    e = frame("enrolments", {"resident_id": ["a", "b", "c", "c"], "study": ["rct_12m"] * 3 + ["cohort_5y"],
                             "arm": ["ic", "ic", "uc", None], "enrolled_on": "2025-01-06"})
    visits = [("a", 6), ("a", 12), ("b", 6)]
    f = frame("assessments", {"assessment_id": ["X1", "X2", "X3", "X4"], "resident_id": ["a", "a", "b", "c"],
                              "assessed_on": ["2025-07-06", "2026-01-06", "2025-07-06", "2026-01-06"],
                              "instrument": "phq9", "instrument_version": "1.0", "purpose": "study",
                              "study": ["rct_12m"] * 3 + ["cohort_5y"], "visit": [v for _, v in visits] + [12]})
    out = trial.consort(Tables(enrolments=e, assessments=f), months=12)
    assert out.to_dict("list") == {"arm": ["ic", "uc"], "randomised": [2, 1], "assessed": [1, 0],
                                   "lost_to_follow_up": [1, 1], "percent_assessed": [50.0, 0.0]}
    assert trial.consort(Tables(enrolments=e, assessments=f), months=6)["assessed"].tolist() == [2, 0]
