"""Issue 20: trial outcomes with the right denominators, the NNT with its interval, the trajectory.

- Remission (PHQ-9 < 5) and response (fall >= 50%) apply only to those at caseness at baseline
  (PHQ-9 >= 10: REFERENCE.md "Change and outcome metrics"; CMS159 index PHQ-9 > 9). Outside it
  the flag is NaN (out of the denominator), never 0. The sample's counts are recomputed here from
  the raw scores, and by R (``tests/reference/nnt/make_reference.R``).
- NNT = 1/|RD| rounded up (Cook & Sackett 1995, BMJ 310:452), NNTB/NNTH, interval from RD's
  Wald interval (R ``prop.test(correct = FALSE)``), "NNTB x to infinity to NNTH y" when RD's
  interval includes 0 (Altman 1998, BMJ 317:1309): ``tests/reference/nnt/r_nnt.csv``.
- ``trial.trajectory``: mean and ``t.test`` interval by arm and month, against
  ``tests/reference/trajectory/r_trajectory.csv``.

Regenerate (repository root): ``.venv/bin/python tests/reference/trial/make_data.py``, then
``Rscript tests/reference/trial/make_reference.R``, ``Rscript tests/reference/nnt/make_reference.R``
and ``Rscript tests/reference/trajectory/make_reference.R``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench import trial

REF = Path(__file__).resolve().parent / "reference"
R_NNT = pd.read_csv(REF / "nnt" / "r_nnt.csv")
R_TRAJ = pd.read_csv(REF / "trajectory" / "r_trajectory.csv")
RTOL = 5e-6
# REFERENCE.md: caseness PHQ-9 >= 10 at baseline; remission PHQ-9 < 5; response a fall >= 50%
CASE, REMITTED_BELOW = 10, 5


@pytest.fixture(scope="module")
def rct():
    from workbench.cohort import trial_frame
    from workbench.sample import load_sample

    return trial_frame(load_sample())


def _by_arm(rct: pd.DataFrame, flag) -> dict:
    """Events and denominators by arm, from the raw scores (not from workbench.outcomes)."""
    out = {}
    for arm in ("intervention", "usual_care"):
        d = rct[(rct["arm"] == arm) & (rct["phq9_0"] >= CASE) & rct["phq9_12"].notna()]
        out[arm] = (int(flag(d).sum()), len(d))
    return out


# --- finding 1: the denominators -------------------------------------------------------------------

def test_remission_and_response_are_nan_below_baseline_caseness(rct):
    below = rct["phq9_0"] < CASE
    assert below.sum() > 0
    # 34.6% of the sample trial started below 5, and most of them would "remit" if counted
    assert (rct["phq9_0"] < REMITTED_BELOW).mean() == pytest.approx(0.346)
    assert rct.loc[below, "remission_12"].isna().all()
    assert rct.loc[below, "response_12"].isna().all()
    known = (rct["phq9_0"] >= CASE) & rct["phq9_12"].notna()
    assert rct.loc[known, "remission_12"].notna().all() and rct.loc[known, "response_12"].notna().all()
    np.testing.assert_array_equal(rct.loc[known, "remission_12"], (rct.loc[known, "phq9_12"] < REMITTED_BELOW).astype(float))


def test_sample_remission_by_arm_counts_only_baseline_cases(rct):
    expected = _by_arm(rct, lambda d: d["phq9_12"] < REMITTED_BELOW)
    assert expected == {"intervention": (38, 79), "usual_care": (31, 73)}     # 48.1% vs 42.5%
    r = trial.risk_compare(rct, outcome="remission_12", arm="arm", reference="usual_care").iloc[0]
    assert (r["events"], r["n"], r["events_reference"], r["n_reference"]) == (38, 79, 31, 73)
    assert (round(100 * r["risk"], 1), round(100 * r["risk_reference"], 1)) == (48.1, 42.5)
    # the same counts in R (computed from the raw scores by make_reference.R)
    k = R_NNT.set_index("case").loc["sample_remission_12"]
    assert (k["events"], k["n"], k["events_reference"], k["n_reference"]) == (38, 79, 31, 73)


def test_sample_response_by_arm_counts_only_baseline_cases(rct):
    expected = _by_arm(rct, lambda d: d["phq9_0"] - d["phq9_12"] >= 0.5 * d["phq9_0"])
    r = trial.risk_compare(rct, outcome="response_12", arm="arm", reference="usual_care").iloc[0]
    assert {"intervention": (r["events"], r["n"]), "usual_care": (r["events_reference"], r["n_reference"])} == expected
    k = R_NNT.set_index("case").loc["sample_response_12"]
    assert expected == {"intervention": (k["events"], k["n"]), "usual_care": (k["events_reference"], k["n_reference"])}


def test_cost_effectiveness_of_remission_uses_the_caseness_denominator(rct):
    from workbench.economics import cost_effectiveness

    d = rct.assign(cost=np.where(rct["arm"] == "intervention", 1200.0, 0.0))
    r = cost_effectiveness(d, arm="arm", cost="cost", effect="remission_12", reference="usual_care", n_boot=200)
    row = r.iloc[0]
    assert (row["n"], row["n_reference"]) == (79, 73)
    assert row["n_excluded"] == len(rct) - 79 - 73      # NaN effect: dropped and counted, never 0
    assert row["mean_effect"] == pytest.approx(38 / 79) and row["mean_effect_reference"] == pytest.approx(31 / 73)


# --- finding 2: NNT and its interval against R ---------------------------------------------------------

def _counts_frame(k) -> pd.DataFrame:
    x1, n1, x0, n0 = (int(k[c]) for c in ("events", "n", "events_reference", "n_reference"))
    return pd.DataFrame({"arm": ["ic"] * n1 + ["uc"] * n0,
                         "y": [1] * x1 + [0] * (n1 - x1) + [1] * x0 + [0] * (n0 - x0)})


@pytest.mark.parametrize("case", R_NNT["case"].tolist())
def test_nnt_and_interval_match_r(case):
    k = R_NNT.set_index("case").loc[case]
    ours = trial.risk_compare(_counts_frame(k), outcome="y", arm="arm", reference="uc", alpha=float(k["alpha"])).iloc[0]
    for c in ("risk_difference", "rd_ci_low", "rd_ci_high", "nnt_unrounded", "nnt_ci_low", "nnt_ci_high"):
        assert ours[c] == pytest.approx(k[c], rel=RTOL), c
    assert ours["nnt"] == k["nnt"] and float(ours["nnt"]).is_integer()
    for c in ("nnt_kind", "nnt_ci_low_kind", "nnt_ci_high_kind"):
        assert ours[c] == k[c], c
    assert bool(ours["nnt_ci_through_infinity"]) is bool(k["nnt_ci_through_infinity"])


def test_sample_nnt_is_rounded_up_with_altmans_interval(rct):
    r = trial.risk_compare(rct, outcome="remission_12", arm="arm", reference="usual_care")
    assert r.loc[0, "nnt"] == 18 and r.loc[0, "nnt_kind"] == "NNTB" and r.loc[0, "nnt_ci_through_infinity"]
    assert trial.nnt_text(r).item() == "NNTB 18 (95% CI NNTB 5 to infinity to NNTH 10)"
    assert trial.nnt_text(r, lang="zh").item() == "NNTB 18（95% 置信区间 NNTB 5 至 ∞ 至 NNTH 10）"
    assert "NNTB" in trial.NNT_GLOSSARY["zh"] and "NNTH" in trial.NNT_GLOSSARY["en"]


def test_nnt_for_an_undesirable_outcome_swaps_benefit_and_harm():
    k = R_NNT.set_index("case").loc["benefit"]
    r = trial.risk_compare(_counts_frame(k), outcome="y", arm="arm", reference="uc", desirable=False).iloc[0]
    assert (r["nnt"], r["nnt_kind"], r["nnt_ci_low_kind"], r["nnt_ci_high_kind"]) == (4, "NNTH", "NNTH", "NNTH")
    with pytest.raises(ValueError, match="The 'desirable' parameter of risk_compare must be True or False"):
        trial.risk_compare(_counts_frame(k), outcome="y", arm="arm", reference="uc", desirable="yes")


def test_no_difference_gives_no_nnt():
    d = pd.DataFrame({"arm": ["ic"] * 10 + ["uc"] * 10, "y": [1, 0] * 10})
    r = trial.risk_compare(d, outcome="y", arm="arm", reference="uc")
    assert np.isnan(r.loc[0, "nnt"]) and r.loc[0, "nnt_ci_through_infinity"]
    assert trial.nnt_text(r).item() == "no difference: NNT infinite"


# --- finding 4: the trajectory against R t.test ----------------------------------------------------------

@pytest.mark.parametrize(("prefix", "alpha"), [("phq9", 0.05), ("gad7", 0.05), ("phq9", 0.10)])
def test_trajectory_matches_r_t_test(prefix, alpha):
    data = pd.read_csv(REF / "trial" / "data_rct.csv")
    ours = trial.trajectory(data, arm="arm", prefix=prefix, alpha=alpha)
    r = R_TRAJ[(R_TRAJ["prefix"] == prefix) & np.isclose(R_TRAJ["alpha"], alpha)].reset_index(drop=True)
    assert list(ours.columns) == ["arm", "month", "n", "mean", "sd", "se", "ci_low", "ci_high", "n_missing"]
    assert ours["arm"].tolist() == r["arm"].tolist() and ours["month"].tolist() == r["month"].tolist()
    assert ours["n"].tolist() == r["n"].tolist() and ours["n_missing"].tolist() == r["n_missing"].tolist()
    for c in ("mean", "sd", "se", "ci_low", "ci_high"):
        np.testing.assert_allclose(ours[c].to_numpy(float), r[c].to_numpy(float), rtol=RTOL, err_msg=c)


def test_trajectory_names_bad_input():
    d = pd.DataFrame({"arm": ["a", "b"], "phq9_0": [3, "x"]})
    with pytest.raises(trial.TrialDataError, match="must be a number"):
        trial.trajectory(d, arm="arm")
    with pytest.raises(trial.TrialDataError, match="no such column"):
        trial.trajectory(d, arm="arm", prefix="k10")
