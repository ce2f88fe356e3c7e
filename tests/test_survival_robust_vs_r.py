"""Robust Cox variances, the proportional-hazards test and Fine-Gray regression against R.

Reference values come from R itself (survival 3.5-3 and cmprsk 2.2-11 on R 4.2.2):
``Rscript tests/reference/survival_robust/make_reference.R`` (from the repository root) writes the
datasets ``data_*.csv`` it fits (lung, veteran, rats, heart, mgus2, a hand-made competing-risk set
with ties between causes and censorings, a clustered synthetic cohort of 2,000) and R's results
``r_*.csv`` beside them; ``r_cases.csv`` holds every case's arguments and the exact R call. The
script's header explains every file and case.

Agreement: 4 significant figures (``rtol=5e-5``), as ``tests/test_survival_vs_r.py``.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench import survival

REF = Path(__file__).resolve().parent / "reference" / "survival_robust"
RTOL = 5e-5


def _csv(name: str) -> pd.DataFrame:
    return pd.read_csv(REF / name, keep_default_na=True)


CASES = _csv("r_cases.csv")
R_COX, R_ZPH, R_FG, R_CRR, R_CIF = (_csv(f"r_{n}.csv") for n in ("cox", "zph", "finegray", "crr", "fg_cif"))


def _cases(output: str) -> list[dict]:
    return CASES[CASES["output"] == output].to_dict("records")


def _text(value) -> str | None:
    return None if pd.isna(value) or value == "" else str(value)


def _close(got, want, what: str) -> None:
    np.testing.assert_allclose(np.asarray(got, float), np.asarray(want, float), rtol=RTOL, atol=1e-12,
                               equal_nan=True, err_msg=what)


def _cox(case: dict) -> survival.CoxModel:
    strata = _text(case["strata"])
    return survival.cox(pd.read_csv(REF / case["data"]), duration=case["duration"], event=case["event"],
                        covariates=case["covariates"].split(), entry=_text(case["entry"]),
                        strata=strata.split() if strata else None, cluster=_text(case["cluster"]),
                        weights=_text(case["weights"]), robust=bool(case["robust"]), ties=case["ties"])


def _id(case: dict) -> str:
    return "-".join(str(case[k]) for k in ("case", "ties", "transform", "cause") if _text(case.get(k)))


def test_reference_was_written_by_r_with_survival_3_5_and_cmprsk():
    session = (REF / "R_SESSION.txt").read_text()
    assert "survival_3.5" in session and "cmprsk" in session
    assert set(CASES["output"]) == {"cox", "zph", "finegray", "crr", "fg_cif"}


@pytest.mark.parametrize("case", _cases("cox"), ids=_id)
def test_cox_matches_r_coxph_with_robust_and_cluster_variances(case):
    # r_call, e.g. coxph(Surv(start, stop, event) ~ age + year + surgery + transplant, data = d,
    #               cluster = id)  or  coxph(Surv(time, status) ~ rx + strata(sex), cluster = litter)
    got = _cox(case)
    want = R_COX[R_COX["case"] == case["case"]].set_index("covariate")
    s = got.summary.loc[want.index]
    for ours, theirs in [("coef", "coef"), ("se", "se"), ("z", "z"), ("p_value", "p"), ("hr", "hr"),
                         ("hr_ci_low", "hr_lower"), ("hr_ci_high", "hr_upper")]:
        _close(s[ours], want[theirs], f"{case['case']}: {ours}")
    if case["robust"]:
        _close(s["robust_se"], want["robust_se"], f"{case['case']}: robust_se")
        assert got.summary.attrs["variance"] == "robust"
    else:
        assert "robust_se" not in got.summary
    _close(got.log_likelihood_, want["loglik"].iloc[0], "loglik")
    _close(got.log_likelihood_null_, want["loglik_null"].iloc[0], "loglik at zero")
    assert got.n == want["n"].iloc[0] and got.events == want["nevent"].iloc[0]


@pytest.mark.parametrize("case", _cases("zph"), ids=_id)
def test_ph_test_matches_r_cox_zph_for_each_transform(case):
    # r_call: fit <- coxph(...); cox.zph(fit, transform = "km" | "rank" | "identity")
    got = _cox(case).ph_test(case["transform"])
    want = R_ZPH[(R_ZPH["case"] == case["case"]) & (R_ZPH["transform"] == case["transform"])].set_index("term")
    assert list(got.index) == list(want.index)
    _close(got["statistic"], want["chisq"], "chisq")
    _close(got["p_value"], want["p"], "p")
    assert got["dof"].tolist() == want["df"].astype(int).tolist()
    assert got.attrs["transform"] == case["transform"]


def _fine_gray(case: dict, **kw) -> survival.FineGrayModel:
    cluster = _text(case["cluster"])
    return survival.fine_gray(pd.read_csv(REF / case["data"]), duration=case["duration"], event=case["event"],
                              cause=int(case["cause"]), covariates=case["covariates"].split(),
                              cluster=None if cluster == "id" else cluster, **kw)


@pytest.mark.parametrize("case", _cases("finegray"), ids=_id)
def test_fine_gray_matches_r_finegray_and_weighted_coxph(case):
    # r_call: fg <- finegray(Surv(time, factor(status, 0:2)) ~ ., data = d, etype = "1");
    #         coxph(Surv(fgstart, fgstop, fgstatus) ~ ..., data = fg, weights = fgwt, cluster = id)
    got = _fine_gray(case, ties=case["ties"])
    want = R_FG[(R_FG["case"] == case["case"]) & (R_FG["ties"] == case["ties"])].set_index("covariate")
    s = got.summary.loc[want.index]
    for ours, theirs in [("coef", "coef"), ("se", "se"), ("robust_se", "robust_se"), ("z", "z"), ("p_value", "p"),
                         ("shr_ci_low", "hr_lower"), ("shr_ci_high", "hr_upper")]:
        _close(s[ours], want[theirs], f"{_id(case)}: {ours}")
    _close(got.log_likelihood_, want["loglik"].iloc[0], "loglik")


@pytest.mark.parametrize("case", _cases("crr"), ids=_id)
def test_fine_gray_crr_method_matches_cmprsk_crr_with_its_variance(case):
    # r_call: crr(d$time, d$status, cov1 = model.matrix(~ x1 + x2, d)[, -1], failcode = 1, cencode = 0)
    got = _fine_gray(case, method="crr")
    want = R_CRR[R_CRR["case"] == case["case"]].set_index("covariate")
    s = got.summary.loc[want.index]
    for ours, theirs in [("coef", "coef"), ("robust_se", "se"), ("z", "z"), ("p_value", "p")]:
        _close(s[ours], want[theirs], f"{_id(case)}: {ours}")


def _cif_cases():
    rows = []
    for (case, method, ties), part in R_CIF.groupby(["case", "method", R_CIF["ties"].fillna("")]):
        info = CASES[(CASES["case"] == case) & (CASES["output"] == "fg_cif")].iloc[0].to_dict()
        rows.append(pytest.param(info, method, ties, part, id=f"{case}-{method}-{ties or 'breslow'}"))
    return rows


@pytest.mark.parametrize("case, method, ties, want", _cif_cases())
def test_predicted_cumulative_incidence_matches_r(case, method, ties, want):
    # finegray_coxph: 1 - summary(survfit(fgfit, newdata = profiles), times = times)$surv
    # crr: predict(crr_fit, cov1 = profiles), the step function read at the same times
    covariates = case["covariates"].split()
    model = _fine_gray(case, method="finegray" if method == "finegray_coxph" else "crr",
                       ties=ties or "breslow")
    for profile, rows in want.groupby("profile"):
        values = rows[covariates].iloc[[0]].reset_index(drop=True)
        got = model.predict_cumulative_incidence(values, times=rows["time"].to_numpy(float))
        _close(got.iloc[:, 0], rows["cif"], f"{case['case']} {method} profile {profile}")


def test_finegray_and_crr_differ_only_through_censorings_tied_with_events():
    # the two R implementations disagree on mgus2 (times in months, many ties); break the ties
    # between censorings and events and they agree (as the R references' helper found)
    d = pd.read_csv(REF / "data_mgus2.csv")
    kw = dict(duration="etime", event="status", cause=1, covariates=["age", "sex"], ties="breslow")
    tied_fg, tied_crr = (survival.fine_gray(d, method=m, **kw).summary["coef"] for m in ("finegray", "crr"))
    assert abs(tied_fg["age"] / tied_crr["age"] - 1) > 1e-3
    untied = d.assign(etime=d["etime"] + np.where(d["status"] == 0, 0.5, 0.0))   # censorings after events
    fg, crr = (survival.fine_gray(untied, method=m, **kw).summary["coef"] for m in ("finegray", "crr"))
    _close(fg, crr, "untied: finegray = crr")


# --- what R would also refuse, said in our words -------------------------------------------------

def test_fine_gray_refuses_delayed_entry_by_name():
    d = pd.read_csv(REF / "data_fg_small.csv").assign(start=0.5)
    with pytest.raises(survival.SurvivalDataError, match="delayed entry is not supported"):
        survival.fine_gray(d, duration="time", event="status", cause=1, covariates=["x1"], entry="start")


def test_fine_gray_names_an_unknown_cause_and_a_bad_status_row():
    d = pd.read_csv(REF / "data_fg_small.csv")
    with pytest.raises(ValueError, match="cause"):
        survival.fine_gray(d, duration="time", event="status", cause=3, covariates=["x1"])
    bad = d.astype({"status": float})
    bad.loc[4, "status"] = 7.5
    with pytest.raises(survival.SurvivalDataError, match=r"status.*7\.5"):
        survival.fine_gray(bad, duration="time", event="status", cause=1, covariates=["x1"])


def test_crr_method_refuses_efron_ties_and_clusters():
    d = pd.read_csv(REF / "data_clustered2000.csv")
    kw = dict(duration="time", event="status", cause=1, covariates=["x1"], method="crr")
    with pytest.raises(ValueError, match="ties"):
        survival.fine_gray(d, ties="efron", **kw)
    with pytest.raises(survival.SurvivalDataError, match="no clusters"):
        survival.fine_gray(d, cluster="cluster", **kw)


def test_cox_names_rows_with_a_missing_cluster_or_a_bad_weight():
    d = pd.read_csv(REF / "data_lung.csv").assign(inst=1.0)
    d.loc[[3, 9], "inst"] = np.nan
    with pytest.raises(survival.SurvivalDataError) as err:
        survival.cox(d, duration="time", event="status", covariates=["age"], cluster="inst")
    assert "'inst'" in str(err.value) and "every row needs a cluster" in str(err.value)
    assert err.value.problems["row"].tolist() == [3, 9]
    d = d.assign(inst=1, w=1.0)
    d.loc[5, "w"] = -2
    with pytest.raises(survival.SurvivalDataError, match=r"w.*-2.*positive number"):
        survival.cox(d, duration="time", event="status", covariates=["age"], weights="w")


def test_cox_says_plainly_when_a_covariate_is_constant_or_there_are_no_events():
    d = pd.read_csv(REF / "data_lung.csv").assign(one=1)
    with pytest.raises(survival.CoxFitError, match="'one' takes one value in every row"):
        survival.cox(d, duration="time", event="status", covariates=["age", "one"])
    with pytest.raises(survival.CoxFitError, match="no events"):
        survival.cox(d.assign(status=0), duration="time", event="status", covariates=["age"])
    with pytest.raises(survival.CoxFitError, match="cannot all be estimated together"):
        survival.cox(d.assign(age2=2 * d["age"]), duration="time", event="status", covariates=["age", "age2"])


def test_cox_warns_when_a_covariate_separates_the_events():
    # every event has x = 1 and everyone with x = 0 is censored: the coefficient runs to infinity
    d = pd.DataFrame({"t": np.arange(1, 21), "e": [1, 0] * 10, "x": [1, 0] * 10})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        survival.cox(d, duration="t", event="e", covariates=["x"])
    assert any(issubclass(w.category, survival.CoxConvergenceWarning) and "'x'" in str(w.message) for w in caught)
    with warnings.catch_warnings():
        warnings.simplefilter("error")               # and no warning at all on an ordinary fit
        survival.cox(d.assign(x=[1, 0, 0, 1, 1] * 4), duration="t", event="e", covariates=["x"])


def test_robust_variance_by_cluster_is_the_sum_of_subject_dfbetas_within_clusters():
    # duplicating every row inside its own cluster doubles the information and the per-cluster
    # scores alike: the estimates stay, the naive variance halves, the clustered one stays
    d = pd.read_csv(REF / "data_clustered2000.csv")
    kw = dict(duration="time", event="event1", covariates=["x1", "x2", "x3"], cluster="cluster", ties="breslow")
    once = survival.cox(d, **kw).summary
    twice = survival.cox(pd.concat([d, d]), **kw).summary
    _close(twice["coef"], once["coef"], "coef")
    _close(twice["se"] ** 2 * 2, once["se"] ** 2, "naive variance halves")
    _close(twice["robust_se"], once["robust_se"], "clustered variance stays")
