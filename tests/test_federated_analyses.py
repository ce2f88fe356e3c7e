"""Federated = pooled (issue 18): Kaplan-Meier, log-rank, Cox and the risk model's logistic
regression across the sample's sites (split by community: 6 sites; by community type: 3 sites)
equal the pooled analyses to 1e-8, and R's (tests/reference/federated/make_reference.R) to 1e-6;
the small-count rule; FedAvg's distance from the exact fit; run_plan's JSON and traffic."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench.federated import analyses as A
from workbench.federated import pooled as P
from workbench.federated.local import LocalFederation
from workbench.federated.site import Site
from workbench.federated.sites import by_community, by_community_type, split_tables
from workbench.sample import load_sample

REF = Path(__file__).resolve().parent / "reference" / "federated"
CENSOR = "2026-12-31"
DROPOUT = {"endpoint": "dropout", "censor": CENSOR}
COVARIATES = ["age", "sex=female", "lives_alone"]
PLANS = {"community": by_community, "type": by_community_type}


@pytest.fixture(scope="module")
def sample():
    return load_sample()


@pytest.fixture(scope="module", params=list(PLANS))
def split(request, sample):
    parts = split_tables(sample, PLANS[request.param](sample))
    return request.param, parts, LocalFederation([Site(n, t, min_count=1) for n, t in parts.items()])


def _close(a, b, tol=1e-8):
    a, b = np.asarray(a, float), np.asarray(b, float)
    assert a.shape == b.shape
    assert np.array_equal(np.isnan(a), np.isnan(b))
    assert np.nanmax(np.abs(a - b), initial=0.0) <= tol


@pytest.mark.parametrize("group", [None, "sex", "community_type"])
def test_km_equals_pooled(split, group):
    _, parts, ask = split
    r = A.km(ask, group=group, **DROPOUT)
    ref = P.pooled_km(parts, group=group, **DROPOUT)
    assert r.info["exact"] and r.info["sites"] == list(parts) and r.rounds == 1
    assert r.table["at_risk"].tolist() == ref["at_risk"].tolist()
    assert r.table["events"].tolist() == ref["events"].tolist()
    for column in ("time", "survival", "ci_low", "ci_high"):
        _close(r.table[column], ref[column])


@pytest.mark.parametrize("group", ["sex", "community_type"])
def test_logrank_equals_pooled(split, group):
    _, parts, ask = split
    r = A.logrank(ask, group=group, **DROPOUT).table.iloc[0]
    ref = P.pooled_logrank(parts, group=group, **DROPOUT).iloc[0]
    _close([r["statistic"], r["p_value"]], [ref["statistic"], ref["p_value"]])
    assert r["dof"] == ref["dof"]


@pytest.mark.parametrize("endpoint", ["dropout", "remission"])
def test_cox_equals_pooled_stratified_by_site(split, endpoint):
    _, parts, ask = split
    r = A.cox(ask, covariates=COVARIATES, endpoint=endpoint, censor=CENSOR)
    ref = P.pooled_cox(parts, covariates=COVARIATES, endpoint=endpoint, censor=CENSOR)
    _close(r.table["coef"], ref.summary["coef"])
    _close(r.table["se"], ref.summary["se"])
    _close(r.info["loglik"], ref.log_likelihood_)
    _close(r.info["loglik0"], ref.log_likelihood_null_)
    assert r.info["iterations"] == ref.iterations and r.info["converged"]
    assert (r.info["n"], r.info["events"]) == (ref.n, ref.events)
    assert r.rounds == r.info["iterations"] + 1  # one round per Newton step (no halving needed), plus beta = 0


def test_logistic_equals_pooled(split):
    _, parts, ask = split
    r = A.logistic(ask)
    ref, prep = P.pooled_logistic(parts)
    assert list(r.table.index) == prep["columns"] == list(ref.index)
    _close(r.table["coef"], ref["coef"])
    _close(r.table["se"], ref["se"])
    assert r.info["converged"] and r.info["sites"] == list(parts)
    for key in ("left_out", "constant", "aliased"):
        assert r.info["prep"][key] == prep[key]
    for a, b in zip(r.info["prep"]["numeric"], prep["numeric"]):
        _close([a["mean"], a["scale"]], [b["mean"], b["scale"]], 1e-12)


def test_agreed_preprocessing_is_the_pooled_data_s(sample):
    """Means and SDs from the sites' sums are the pooled columns' own (imputed with the mean, SD
    with ddof 0 as StandardScaler); the predictors left out are those of the risk model's rule."""
    from workbench.federated import _logistic
    from workbench.risk.dataset import model_frame
    from workbench.risk.models import observed_counts

    r = A.logistic(LocalFederation([Site(n, t, min_count=1) for n, t in
                                    split_tables(sample, by_community(sample)).items()]))
    frame = model_frame(sample, wearable_days=sample.wearable_days).complete()
    for e in r.info["prep"]["numeric"]:
        x = frame.X[e["name"]].astype(float)
        assert abs(e["mean"] - x.mean()) < 1e-10
        assert abs(e["scale"] - x.fillna(x.mean()).std(ddof=0)) < 1e-10
    counts = observed_counts(frame)
    assert set(r.info["prep"]["left_out"]) == set(counts.loc[counts["left_out"], "name"])
    assert r.info["prep"]["aliased"] == ["missingindicator_last_dbp"]  # blank exactly when last_sbp is
    assert "median" in r.info["imputation"]
    Z = _logistic.design_matrix(frame.X, r.info["prep"])
    assert Z.shape == (len(frame.X), len(r.table))


# --- R ---------------------------------------------------------------------------------------

def test_reference_inputs_are_what_the_code_builds(sample):
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_inputs", REF / "make_inputs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    cox = pd.read_csv(REF / "data_cox.csv")
    built = module.cox_input(sample)
    _close(cox.drop(columns=["site_community", "site_type"]), built.drop(columns=["site_community", "site_type"]), 0)
    assert cox["site_type"].tolist() == built["site_type"].tolist()
    _close(pd.read_csv(REF / "data_logistic.csv"), module.logistic_input(sample), 1e-15)


def test_federated_equals_r(sample):
    for plan, column in ((by_community, "site_community"), (by_community_type, "site_type")):
        ask = LocalFederation([Site(n, t, min_count=1) for n, t in split_tables(sample, plan(sample)).items()])
        r = A.cox(ask, covariates=COVARIATES, **DROPOUT)
        ref = pd.read_csv(REF / "r_cox.csv").query("site == @column")
        _close(r.table["coef"], ref["coef"], 1e-6)
        _close(r.table["se"], ref["se"], 1e-6)
        _close(r.info["loglik"], ref["loglik"].iloc[0], 1e-6)
    km = A.km(ask, **DROPOUT).table
    ref = pd.read_csv(REF / "r_km.csv")
    assert km["time"].tolist() == ref["time"].tolist() and km["at_risk"].tolist() == ref["n_risk"].tolist()
    for column in ("survival", "ci_low", "ci_high"):
        _close(km[column], ref[column], 1e-6)
    lr = pd.read_csv(REF / "r_logrank.csv").set_index("group")
    for group, name in (("sex", "female"), ("community_type", "site_type")):
        t = A.logrank(ask, group=group, **DROPOUT).table.iloc[0]
        _close([t["statistic"], t["p_value"]], [lr.at[name, "chisq"], lr.at[name, "p"]], 1e-6)
    glm = pd.read_csv(REF / "r_glm.csv")
    r = A.logistic(ask)
    assert list(r.table.index) == glm["covariate"].tolist()
    _close(r.table["coef"], glm["coef"], 1e-6)
    _close(r.table["se"], glm["se"], 1e-6)
    _close(-2 * r.info["loglik"], glm["deviance"].iloc[0], 1e-6)


# --- small counts --------------------------------------------------------------------------------

def test_a_threshold_coarsens_times_and_equals_the_pooled_analysis_of_coarse_times(sample):
    parts = split_tables(sample, by_community(sample))
    # one site with a threshold: it needs a coarser grid, the others are asked again at it
    sites = [Site(n, t, min_count=5 if n == "rural-02" else 1) for n, t in parts.items()]
    r = A.km(LocalFederation(sites), group="sex", **DROPOUT)
    assert r.rounds == 2 and r.info["level"] > 0 and not r.info["exact"] and not r.info["withheld_groups"]
    width = r.info["width"]
    ref = P.pooled_km(parts, group="sex", width=width, **DROPOUT)
    for column in ("time", "at_risk", "survival", "ci_low", "ci_high"):
        _close(r.table[column], ref[column])
    lr = A.logrank(LocalFederation(sites), group="sex", **DROPOUT).table.iloc[0]
    ref = P.pooled_logrank(parts, group="sex", width=width, **DROPOUT).iloc[0]
    _close([lr["statistic"], lr["p_value"]], [ref["statistic"], ref["p_value"]])


def test_a_site_or_group_too_small_at_every_grid_is_withheld_and_named(sample):
    parts = split_tables(sample, by_community(sample))
    sites = [Site(n, t, min_count=5 if n == "urban-01" else 1) for n, t in parts.items()]
    r = A.km(LocalFederation(sites), group="sex", widths=[7], **DROPOUT)  # one fine grid only
    assert "min_count" in r.info["withheld"]["urban-01"] and r.info["sites"] == list(parts)[1:]
    ref = P.pooled_km({n: t for n, t in parts.items() if n != "urban-01"}, group="sex", **DROPOUT)
    _close(r.table["survival"], ref["survival"])
    # a group: site b's group "y" has 2 subjects, below b's min_count at every grid
    rng = np.random.default_rng(1)
    a = pd.DataFrame({"duration": rng.integers(1, 60, 40), "event": rng.integers(0, 2, 40), "g": ["x", "y"] * 20})
    b = pd.DataFrame({"duration": [10, 10, 10, 12, 12] + [13] * 5 + [20, 30], "event": [1] * 5 + [0] * 5 + [1, 0],
                      "g": ["x"] * 10 + ["y"] * 2})
    r = A.km(LocalFederation([Site("a", cohort=a, min_count=1), Site("b", cohort=b, min_count=5)]), group="g",
             widths=[7, 28])
    assert r.info["withheld_groups"] == {"b": ["y"]} and r.info["level"] == 1 and r.rounds == 2
    ref = P.pooled_km({"a": a, "b": b[b["g"] == "x"]}, group="g", width=7)
    _close(r.table["survival"], ref["survival"])


def test_a_site_with_too_few_events_withholds_and_the_result_says_who_took_part(sample):
    parts = split_tables(sample, by_community(sample))
    sites = [Site(n, t, min_count=1000 if n == "ageing-01" else 5) for n, t in parts.items()]
    ask = LocalFederation(sites)
    r = A.cox(ask, covariates=COVARIATES, **DROPOUT)
    assert "ageing-01" not in r.info["sites"] and "min_count" in r.info["withheld"]["ageing-01"]
    others = {n: t for n, t in parts.items() if n != "ageing-01"}
    ref = P.pooled_cox(others, covariates=COVARIATES, **DROPOUT)
    _close(r.table["coef"], ref.summary["coef"])
    lg = A.logistic(ask)
    assert lg.info["sites"] == list(others) and "ageing-01" in lg.info["withheld"]
    _close(lg.table["coef"], P.pooled_logistic(others)[0]["coef"])


# --- FedAvg and plans --------------------------------------------------------------------------

def test_fedavg_gap_is_measured_and_small(sample):
    parts = split_tables(sample, by_community(sample))
    r = A.fedavg_logistic(LocalFederation([Site(n, t, min_count=1) for n, t in parts.items()]))
    gap = P.fedavg_gap(parts, r)
    assert abs(gap["max_abs_risk_diff"] - r.info["gap"]["max_abs_risk_diff"]) < 1e-12
    assert gap["max_abs_risk_diff"] < 0.2 and abs(gap["auc_diff"]) < 0.02  # approximate, not exact
    exact = A.logistic(LocalFederation([Site(n, t, min_count=1) for n, t in parts.items()]), penalty=1.0)
    _close(r.table["exact_coef"], exact.table["coef"])
    assert r.rounds == 1 + 1 + exact.info["iterations"] + 1 + 50 + 1  # summary, aliasing, Newton, FedAvg, eval


def test_run_plan_returns_json_with_traffic_per_round(sample):
    parts = split_tables(sample, by_community_type(sample))
    ask = LocalFederation([Site(n, t, min_count=1) for n, t in parts.items()])
    out = A.run_plan([{"analysis": "km", **DROPOUT, "group": "sex"},
                      {"analysis": "cox", "covariates": COVARIATES, **DROPOUT},
                      {"analysis": "cox", "covariates": ["no_such_column"], **DROPOUT}], ask)
    json.dumps(out)
    km, cox, bad = out["results"]
    assert km["rounds"] == 1 and km["info"]["sites"] == list(parts)
    assert cox["rounds"] == len(cox["traffic"]) >= 3
    for step in cox["traffic"]:
        assert step["request_bytes"] > 0 and set(step["sites"]) == set(parts)
        assert step["answer_bytes"] == sum(step["sites"].values())
    assert cox["bytes_received"] == sum(s["answer_bytes"] for s in cox["traffic"])
    assert "no column 'no_such_column'" in bad["error"]
    assert len(ask.log) == km["rounds"] + cox["rounds"] + 1  # the refused request was one round
    assert [e["request_bytes"] for e in ask.log[:1]] == [km["traffic"][0]["request_bytes"]]
