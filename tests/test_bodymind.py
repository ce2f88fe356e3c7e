"""``workbench.regression`` and ``workbench.bodymind`` (issue 15) against R 4.2, by hand, and on bad input.

Reference values come from R, never from our own output: ``Rscript
tests/reference/bodymind/make_reference.R`` (from the repository root) reads the seeded data that
``make_data.py`` beside it writes (its own simple simulation) and writes R's numbers
(``R_SESSION.txt`` is its ``sessionInfo()``):

- ``r_logistic.csv``: ``glm(controlled ~ psych_status [+ age + sex], family = binomial)``,
  Wald intervals (``confint.default``).
- ``r_mixed.csv``, ``r_mixed_variance.csv``: ``lme4::lmer(sbp ~ arm * month + (1 | resident_id),
  REML = TRUE)`` with month as a factor and as a line (and with age), cross-checked by
  ``nlme::lme(..., method = "REML")``: fixed effects, standard errors, variance components,
  REML log-likelihood.
- ``r_counts.csv``: ``glm(y ~ arm [+ age] + offset(log(followup_days)), family = poisson)`` and
  ``MASS::glm.nb`` (theta, its SE, log-likelihood, AIC, Pearson dispersion) for ER visits and
  hospital days.

Agreement: 4 significant figures (``rtol=5e-5``); counts exactly.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench.regression import ModelDataError, count_model, logistic_model, mixed_model

REF = Path(__file__).resolve().parent / "reference" / "bodymind"
RTOL = 5e-5  # 4 significant figures
DATA = {name: pd.read_csv(REF / name) for name in ("control.csv", "trial_bp.csv", "counts.csv")}
R_LOGISTIC = pd.read_csv(REF / "r_logistic.csv")
R_MIXED = pd.read_csv(REF / "r_mixed.csv")
R_VARIANCE = pd.read_csv(REF / "r_mixed_variance.csv")
R_COUNTS = pd.read_csv(REF / "r_counts.csv")


def _close(ours, theirs, what):
    # p-values far in the tail (1e-73) magnify the 7th figure of a z statistic: below 1e-12 they
    # are compared absolutely (the estimates and standard errors they come from are compared anyway)
    atol = 1e-12 if what == "p_value" else 0
    np.testing.assert_allclose(np.asarray(ours, float), np.asarray(theirs, float), rtol=RTOL, atol=atol,
                               equal_nan=True, err_msg=what)


def _by_term(ours: pd.DataFrame, r: pd.DataFrame, numbers: list[str]) -> None:
    assert sorted(ours["term"]) == sorted(r["term"])
    merged = ours.merge(r, on="term", suffixes=("", "_r"), validate="1:1")
    for c in numbers:
        _close(merged[c], merged[f"{c}_r"], c)


# --- agreement with R ---------------------------------------------------------------------------

@pytest.mark.parametrize(("case", "covariates"), [("unadjusted", []), ("adjusted", ["age", "sex"])])
def test_logistic_model_matches_r_glm(case, covariates):
    # R: glm(controlled ~ relevel(factor(psych_status), "normal") + age + sex, family = binomial)
    r = R_LOGISTIC[R_LOGISTIC["case"] == case]
    ours = logistic_model(DATA["control.csv"], outcome="controlled", exposure="psych_status", reference="normal",
                          covariates=covariates)
    _by_term(ours, r.drop(columns=["p_value_r"]), ["estimate", "se", "ci_low", "ci_high", "p_value"])
    _close(ours["odds_ratio"], np.exp(ours["estimate"]), "odds_ratio")
    assert (ours["n"].iloc[0], ours["n_excluded"].iloc[0]) == (r["n"].iloc[0], r["n_excluded"].iloc[0])
    _close(ours.attrs["loglik"], r["loglik"].iloc[0], "loglik")
    assert list(ours.columns) == ["term", "estimate", "se", "ci_low", "ci_high", "p_value", "odds_ratio",
                                  "or_ci_low", "or_ci_high", "n", "events", "n_excluded"]


@pytest.mark.parametrize(("case", "time_as", "covariates"),
                         [("factor", "factor", []), ("linear", "linear", []), ("linear_age", "linear", ["age"])])
def test_mixed_model_matches_r_lmer_and_nlme(case, time_as, covariates):
    # R: lmer(sbp ~ arm * factor(month) + (1 | resident_id), REML = TRUE); nlme::lme gives the same
    r = R_MIXED[R_MIXED["case"] == case]
    ours = mixed_model(DATA["trial_bp.csv"], outcome="sbp", time="month", subject="resident_id", arm="arm",
                       reference="usual_care", time_as=time_as, covariates=covariates)
    _by_term(ours, r, ["estimate", "se", "ci_low", "ci_high", "p_value"])
    merged = ours.merge(r, on="term")
    _close(merged["estimate_x"] if "estimate_x" in merged else merged["estimate"], merged["estimate_nlme"], "nlme")
    v = ours.attrs["variance_components"].merge(R_VARIANCE[R_VARIANCE["case"] == case], on="component",
                                                suffixes=("", "_r"))
    assert list(v["component"]) == ["subject", "residual"]
    _close(v["variance"], v["variance_r"], "variance components (lmer)")
    _close(v["variance"], v["variance_nlme"], "variance components (nlme)")
    _close(ours.attrs["reml_loglik"], r["reml_loglik"].iloc[0], "REML log-likelihood")
    row = ours.iloc[0]
    assert (row["n"], row["n_subjects"], row["n_excluded"]) == (r["n"].iloc[0], r["n_subjects"].iloc[0],
                                                                r["n_excluded"].iloc[0])


@pytest.mark.parametrize(("case", "family"), sorted({(c, f) for c, f in zip(R_COUNTS["case"], R_COUNTS["family"])}))
def test_count_model_matches_r_glm_and_glm_nb(case, family):
    # R: glm(y ~ arm + offset(log(followup_days)), family = poisson) and MASS::glm.nb(same)
    r = R_COUNTS[(R_COUNTS["case"] == case) & (R_COUNTS["family"] == family)]
    ours = count_model(DATA["counts.csv"], outcome=r["outcome"].iloc[0], arm="arm", reference="usual_care",
                       exposure="followup_days", family=family,
                       covariates=["age"] if case.endswith("_adjusted") else [])
    _by_term(ours, r.drop(columns=["p_value_r"]), ["estimate", "se", "ci_low", "ci_high", "p_value"])
    first = r.iloc[0]
    for name in ("theta", "theta_se", "loglik", "aic", "dispersion"):
        _close(ours.attrs[name], first[name], name)
    assert (ours["n"].iloc[0], ours["n_excluded"].iloc[0]) == (first["n"], first["n_excluded"])


def test_statsmodels_default_negative_binomial_is_not_glm_nb():
    # why count_model estimates theta: statsmodels' GLM NegativeBinomial family fixes alpha = 1
    # (theta = 1), so its coefficients are not MASS::glm.nb's (theta 0.078 for hospital days)
    import statsmodels.api as sm

    d = DATA["counts.csv"].dropna(subset=["hospital_days"])
    x = sm.add_constant((d["arm"] == "intervention").astype(float).to_numpy())
    with pytest.warns(Warning, match="alpha not set. Using default value alpha=1.0"):
        naive = sm.GLM(d["hospital_days"].to_numpy(), x, family=sm.families.NegativeBinomial(),
                       offset=np.log(d["followup_days"].to_numpy())).fit()
    r = R_COUNTS[(R_COUNTS["case"] == "hospital_days") & (R_COUNTS["family"] == "negative_binomial")]
    assert not np.allclose(naive.bse, r["se"].to_numpy(), rtol=0.01)
    assert abs(1 / r["theta"].iloc[0] - 1) > 5


def test_reference_inputs_are_what_the_seed_gives():
    spec = importlib.util.spec_from_file_location("bodymind_make_data", REF / "make_data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name, frame in module.make_all().items():
        pd.testing.assert_frame_equal(frame.reset_index(drop=True), DATA[name], check_dtype=False, obj=name)


# --- by hand ---------------------------------------------------------------------------------------

def test_logistic_model_by_hand_two_by_two():
    # normal: 6 controlled of 8 (odds 3); clinical: 2 of 6 (odds 0.5): OR = 1/6, SE = sqrt(1/6+1/2+1/2+1/4)
    d = pd.DataFrame({"c": [1] * 6 + [0] * 2 + [1] * 2 + [0] * 4, "psych": ["normal"] * 8 + ["clinical"] * 6})
    r = logistic_model(d, outcome="c", exposure="psych", reference="normal").set_index("term")
    assert r.loc["psych[clinical]", "odds_ratio"] == pytest.approx(1 / 6, rel=1e-9)
    assert r.loc["psych[clinical]", "se"] == pytest.approx(np.sqrt(1 / 6 + 1 / 2 + 1 / 2 + 1 / 4), rel=1e-8)
    assert r.loc["intercept", "odds_ratio"] == pytest.approx(3, rel=1e-9)


def test_poisson_rate_ratio_by_hand():
    # intervention 6 events in 600 days, usual care 12 in 400 days: RR = (6/600)/(12/400) = 1/3,
    # SE of log RR = sqrt(1/6 + 1/12)
    d = pd.DataFrame({"arm": ["ic", "ic", "uc", "uc"], "y": [2, 4, 5, 7], "t": [300, 300, 200, 200]})
    r = count_model(d, outcome="y", arm="arm", reference="uc", exposure="t").set_index("term")
    assert r.loc["arm[ic]", "rate_ratio"] == pytest.approx(1 / 3, rel=1e-9)
    assert r.loc["arm[ic]", "se"] == pytest.approx(np.sqrt(1 / 6 + 1 / 12), rel=1e-7)


# --- bad input -------------------------------------------------------------------------------------

def test_logistic_model_names_bad_rows():
    d = pd.DataFrame({"c": [1, 0, 2, 1, "yes"], "psych": ["normal", "clinical", "normal", "clinical", "normal"],
                      "age": [60, 61, 62, "old", 64]}, index=["a", "b", "c", "d", "e"])
    with pytest.raises(ModelDataError) as e:
        logistic_model(d, outcome="c", exposure="psych", reference="normal", covariates=["age"])
    got = sorted(map(tuple, e.value.problems[["row", "column", "value", "rule"]].astype(str).to_numpy()))
    assert got == [("c", "c", "2", "must be 0 or 1 (or missing)"), ("d", "age", "old", "must be a number (or missing)"),
                   ("e", "c", "yes", "must be a number (or missing)")]
    assert "nothing was analysed" in str(e.value)


def test_count_model_names_bad_rows():
    d = pd.DataFrame({"arm": ["a", "b", "a", "b"], "y": [1, -1, 1.5, 2], "t": [365, 365, 0, 365]})
    with pytest.raises(ModelDataError) as e:
        count_model(d, outcome="y", arm="arm", reference="a", exposure="t")
    got = sorted(map(tuple, e.value.problems[["row", "column", "rule"]].to_numpy()))
    assert got == [(1, "y", "must be a whole number >= 0 (a count)"), (2, "t", "must be > 0 (time at risk)"),
                   (2, "y", "must be a whole number >= 0 (a count)")]


def test_mixed_model_names_bad_rows():
    d = pd.DataFrame({"id": [1, 1, 1, 2, 2, 3], "arm": ["a", "a", "b", "b", "b", None], "m": [0, 3, 3, 0, 3, 0],
                      "y": [140, 150, 145, 150, 151, 149]})
    with pytest.raises(ModelDataError) as e:
        mixed_model(d, outcome="y", time="m", subject="id", arm="arm", reference="a")
    got = sorted(map(tuple, e.value.problems[["row", "column", "rule"]].to_numpy()))
    assert (5, "arm", "is missing: every row needs it") in got
    assert (2, "m", "is a second row of this subject at this visit") in got
    assert {(i, "arm", "differs between rows of one subject") for i in (0, 1, 2)} <= set(got)


@pytest.mark.parametrize(("call", "match"), [
    (lambda d: logistic_model(d, outcome="controlled", exposure="psych_status", reference="calm"),
     r"The 'reference' parameter of logistic_model must be one of the levels of 'psych_status'"),
    (lambda d: logistic_model(d, outcome="controlled", exposure="psych_status", reference="normal", alpha=2),
     r"The 'alpha' parameter of logistic_model must be a float in \(0, 1\). Got 2 instead."),
    (lambda d: logistic_model(d, outcome="controlled", exposure="psych_status", reference="normal", covariates="age"),
     r"The 'covariates' parameter of logistic_model must be a list of a column name"),
    (lambda d: count_model(d, outcome="controlled", arm="sex", reference="male", family="zip"),
     r"The 'family' parameter of count_model must be one of 'poisson', 'negative_binomial'. Got 'zip'"),
    (lambda d: mixed_model(d, outcome="age", time="age", subject="resident_id", arm="sex", reference="male",
                           time_as="spline"),
     r"The 'time_as' parameter of mixed_model must be one of 'factor', 'linear'. Got 'spline'"),
    (lambda d: logistic_model(d, outcome="controlled", exposure="mood", reference="normal"),
     r"column 'mood'.*is absent from the data"),
])
def test_parameter_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call(DATA["control.csv"])


def test_separation_is_reported_not_hidden():
    d = pd.DataFrame({"c": [1, 1, 1, 0, 0, 0], "psych": ["normal"] * 3 + ["clinical"] * 3})
    with pytest.warns(RuntimeWarning, match="did not converge"):
        r = logistic_model(d, outcome="c", exposure="psych", reference="normal")
    assert r.attrs["converged"] is False
