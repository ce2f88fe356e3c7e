"""``workbench.regression`` and ``workbench.bodymind`` (issue 15) against R 4.2, by hand, and on bad input.

Reference values come from R, never from our own output: ``Rscript
tests/reference/bodymind/make_reference.R`` (from the repository root) reads the seeded data that
``make_bodymind_data.py`` beside it writes (its own simple simulation) and writes R's numbers
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

The table-reading functions of ``workbench.bodymind`` are checked on small tables worked by hand:
which reading is the latest follow-up or the visit's reading, the psychological status known on
that day, control as the default chronic policy judges it (REFERENCE.md "Chronic disease
follow-up": < 140/90, < 150/90 from 80 without diabetes or kidney disease), hospital days in the
period, follow-up to death, costs, and that a blank is never counted as 0.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench._errors import RowProblemsError
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
    v = R_VARIANCE[R_VARIANCE["case"] == case].copy()
    assert list(v["component"]) == list(ours.attrs["variance_components"]) == ["subject", "residual"]
    v["variance_r"] = v.pop("variance")
    v["variance"] = v["component"].map(ours.attrs["variance_components"])
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


def test_negative_binomial_without_overdispersion_is_the_poisson_fit():
    # counts no more variable than Poisson: theta runs to infinity (glm.nb warns "iteration limit
    # reached"); the limit is the Poisson model, reported with theta = inf, never a crash or NaN
    d = pd.DataFrame({"arm": ["a"] * 6 + ["b"] * 6, "y": [1, 1, 1, 2, 1, 1, 2, 2, 3, 2, 2, 2]})
    with pytest.warns(RuntimeWarning, match="show no overdispersion"):
        nb = count_model(d, outcome="y", arm="arm", reference="a", family="negative_binomial")
    poisson = count_model(d, outcome="y", arm="arm", reference="a")
    pd.testing.assert_frame_equal(nb[["term", "estimate", "se"]], poisson[["term", "estimate", "se"]])
    assert nb.attrs["theta"] == np.inf and np.isnan(nb.attrs["theta_se"])
    assert nb.loc[1, "rate_ratio"] == pytest.approx(13 / 7, rel=1e-9)


def test_reference_inputs_are_what_the_seed_gives():
    spec = importlib.util.spec_from_file_location("bodymind_make_data", REF / "make_bodymind_data.py")
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


# --- the analysis tables (workbench.bodymind), worked by hand --------------------------------------

def _tables(*, residents, measurements=(), decisions=(), enrolments=(), events=(), contacts=()):
    """Analysis tables from rows given by hand (declared columns and types; not validated as a
    whole: these functions read only the tables named)."""
    from test_cohort import frame

    from workbench.tables import TABLES, Tables

    given = {"residents": residents, "measurements": measurements, "decisions": decisions,
             "enrolments": enrolments, "events": events, "contacts": contacts}
    return Tables(**{name: frame(name, rows) if len(rows) else TABLES[name].empty() for name, rows in given.items()})


def _reading(resident, day, sbp=None, dbp=None, setting="clinic", **more):
    return {"resident_id": resident, "measured_on": day, "setting": setting, "sbp": sbp, "dbp": dbp, **more}


def _decision(resident, day, status, decided_at=None):
    return {"resident_id": resident, "assessed_on": day, "tier": 1, "rule": "r", "urgent": False,
            "needs_review": False, "psych_status": status, "policy_version": "default@1.0", "decided_by": "x",
            "decided_at": decided_at or f"{day} 12:00", "overridden": False}


def control_tables():
    # REFERENCE.md "Chronic disease follow-up": controlled = SBP < 140 and DBP < 90; over-80s
    # without diabetes or kidney disease < 150/90 (the default chronic policy applies it)
    residents = [{"resident_id": r, "hypertension": True, "ckd": False, "birth_date": b, "sex": s}
                 for r, b, s in (("R1", "1960-06-01", "female"), ("R2", "1955-01-01", "male"),
                                 ("R3", "1950-01-01", "female"), ("R4", "1960-01-01", "male"),
                                 ("R5", "1940-01-01", "female"))]
    measurements = [
        _reading("R1", "2025-03-01", 150, 95), _reading("R1", "2025-11-01", 130, 80),       # latest: controlled
        _reading("R2", "2025-05-01", 128, 78), _reading("R2", "2025-10-01", 145, 85),       # latest clinic: not
        _reading("R2", "2025-12-01", 120, 70, setting="home"),                              # home: not a follow-up
        _reading("R3", "2025-04-01", 135, 85), _reading("R3", "2025-09-01", weight_kg=60.0),  # no BP on the last
        _reading("R4", "2026-01-10", 150, 95),                                              # another year
        _reading("R5", "2025-08-01", 145, 85),                                              # 85 years old: < 150/90
    ]
    for k, m in enumerate(measurements):
        m["measurement_id"] = f"M{k:02d}"
    decisions = [_decision("R1", "2025-01-05", "clinical"), _decision("R1", "2025-12-01", "normal"),
                 _decision("R3", "2025-02-01", "subclinical"), _decision("R3", "2025-02-01", "clinical",
                                                                         decided_at="2025-02-02 09:00"),
                 _decision("R5", "2025-01-01", "normal")]
    return _tables(residents=residents, measurements=measurements, decisions=decisions)


def test_control_frame_takes_the_latest_clinic_follow_up_with_a_value_and_the_status_known_then():
    from workbench.bodymind import control_frame

    f = control_frame(control_tables(), year=2025).set_index("resident_id")
    assert list(f.index) == ["R1", "R2", "R3", "R5"]
    assert f["measured_on"].dt.strftime("%Y-%m-%d").tolist() == ["2025-11-01", "2025-10-01", "2025-04-01",
                                                                 "2025-08-01"]
    assert f["controlled"].tolist() == [1.0, 0.0, 1.0, 1.0]        # R5: 145/85 is controlled at 85 years
    # R1: the December decision came after the reading; R2 has none (blank, not "normal");
    # R3: the later of two decisions on one screening (a person's override)
    assert f["psych_status"].tolist()[:1] == ["clinical"] and pd.isna(f.loc["R2", "psych_status"])
    assert f.loc["R3", "psych_status"] == "clinical"
    assert f["age"].tolist() == [65.0, 70.0, 75.0, 85.0] and f.loc["R2", "sex"] == "male"
    latest = control_frame(control_tables())                         # year None: the latest year, 2026
    assert latest.attrs["year"] == 2026 and latest["resident_id"].tolist() == ["R4"]


def test_joint_picture_counts_by_status_and_says_unknown():
    from workbench.bodymind import joint_picture

    j = joint_picture(control_tables(), year=2025)
    assert j[["condition", "psych_status", "residents", "controlled"]].values.tolist() == [
        ["hypertension", "clinical", 2, 2], ["hypertension", "normal", 1, 1], ["hypertension", "unknown", 1, 0]]
    assert j["control_rate"].tolist() == [1.0, 1.0, 0.0]


def test_control_by_psych_excludes_and_counts_residents_without_a_decision():
    from workbench.bodymind import control_by_psych

    t = control_tables()
    with pytest.raises(ValueError, match="The 'adjust' parameter of control_by_psych must be a list of one of "
                                         "'age', 'sex'. Got"):
        control_by_psych(t, year=2025, adjust=("income",))
    with pytest.raises(ValueError, match="The 'condition' parameter of control_by_psych must be one of"):
        control_by_psych(t, condition="asthma")
    from workbench.tables import TABLES
    with pytest.raises(ValueError, match="none of the 4 residents managed for hypertension in 2025 has a decided "
                                         "screening"):
        control_by_psych(t.replace(decisions=TABLES["decisions"].empty()), year=2025)


def trial_tables():
    residents = [{"resident_id": r, "hypertension": ht, "diabetes": dm, "ckd": False, "birth_date": "1960-01-01"}
                 for r, ht, dm in (("A", True, True), ("B", True, False), ("C", False, True))]
    enrolments = [{"resident_id": "A", "study": "rct_12m", "arm": "intervention", "enrolled_on": "2025-01-10"},
                  {"resident_id": "B", "study": "rct_12m", "arm": "usual_care", "enrolled_on": "2025-01-20"},
                  {"resident_id": "C", "study": "rct_12m", "arm": "usual_care", "enrolled_on": "2025-01-20"}]
    measurements = [
        _reading("A", "2025-01-05", 150, 92),                   # baseline: 5 days before enrolment
        _reading("A", "2025-01-15", 140, 85),                   # after enrolment: never a baseline
        _reading("A", "2026-01-12", 132, 80),                   # month 12 (target 2026-01-10): 2 days after
        _reading("A", "2026-02-20", 120, 70),                   # 41 days after: farther, not taken
        _reading("A", "2025-01-08", hba1c=8.1), _reading("A", "2026-01-03", hba1c=7.2, setting="home"),
        _reading("A", "2025-12-20", hba1c=7.4),                 # the clinic HbA1c nearest to month 12
        _reading("B", "2024-11-01", 160, 100),                  # 80 days before enrolment: no baseline
        _reading("B", "2026-01-01", 138, 88),                   # month 12: 19 days before ...
        _reading("B", "2026-02-08", 150, 95),                   # ... and 19 days after: the earlier wins
        _reading("C", "2025-01-20", hba1c=9.0), _reading("C", "2026-01-25", hba1c=8.0),
    ]
    for k, m in enumerate(measurements):
        m["measurement_id"] = f"M{k:02d}"
    return _tables(residents=residents, measurements=measurements, enrolments=enrolments)


def test_trial_readings_by_visit_window():
    from workbench.bodymind import trial_readings

    r = trial_readings(trial_tables(), months=(0, 12)).set_index(["resident_id", "month"])
    day = lambda v: None if pd.isna(v) else v.strftime("%Y-%m-%d")  # noqa: E731
    assert [day(v) for v in r["bp_measured_on"]] == ["2025-01-05", "2026-01-12", None, "2026-01-01", None, None]
    assert r.loc[("A", 0), ["sbp", "dbp", "bp_controlled"]].tolist() == [150, 92, 0.0]
    assert r.loc[("A", 12), "bp_controlled"] == 1.0 and r.loc[("B", 12), "bp_controlled"] == 1.0
    assert pd.isna(r.loc[("B", 0), "sbp"])                       # no reading in the window: blank, never 0
    assert r["hba1c"].tolist()[:2] == [8.1, 7.4] and r.loc[("C", 12), "hba1c"] == 8.0
    assert pd.isna(r.loc[("C", 0), "bp_controlled"])             # C has no hypertension
    with pytest.raises(ValueError, match="The 'window_days' parameter of trial_readings must be an int in"):
        trial_readings(trial_tables(), window_days=60)


def test_bp_control_and_hba1c_by_arm_use_the_trial_functions():
    from workbench.bodymind import bp_control_by_arm, hba1c_by_arm

    bp = bp_control_by_arm(trial_tables())
    row = bp.iloc[0]
    assert (row["outcome"], row["arm"], row["risk"], row["risk_reference"], row["n"], row["n_reference"]) == \
        ("bp_controlled_12", "intervention", 1.0, 1.0, 1, 1)
    assert row["baseline_risk"] == 0.0 and pd.isna(row["baseline_risk_reference"])
    t = trial_tables()
    more = [_reading(r, d, hba1c=v) for r, d, v in (("D", "2025-01-10", 8.6), ("D", "2026-01-10", 7.0),
                                                   ("E", "2025-01-01", 7.9), ("E", "2026-02-01", 7.8))]
    for k, m in enumerate(more):
        m["measurement_id"] = f"N{k}"
    from test_cohort import frame
    t = t.replace(
        residents=pd.concat([t.residents, frame("residents", [{"resident_id": r, "diabetes": True, "ckd": False}
                                                              for r in "DE"])], ignore_index=True),
        enrolments=pd.concat([t.enrolments, frame("enrolments", [
            {"resident_id": "D", "study": "rct_12m", "arm": "intervention", "enrolled_on": "2025-01-10"},
            {"resident_id": "E", "study": "rct_12m", "arm": "usual_care", "enrolled_on": "2025-01-20"}])],
            ignore_index=True),
        measurements=pd.concat([t.measurements, frame("measurements", more)], ignore_index=True))
    h = hba1c_by_arm(t)
    # the four diabetic residents' (baseline, month 12): A (8.1, 7.4), D (8.6, 7.0) intervention;
    # C (9.0, 8.0), E (7.9, 7.8) usual care: lm(y ~ baseline + arm) by least squares
    x = np.array([[1, 8.1, 1], [1, 8.6, 1], [1, 9.0, 0], [1, 7.9, 0]])
    beta = np.linalg.lstsq(x, np.array([7.4, 7.0, 8.0, 7.8]), rcond=None)[0]
    assert (h.loc[0, "outcome"], h.loc[0, "n"], h.loc[0, "n_excluded"]) == ("hba1c_12", 4, 0)   # B: no diabetes
    assert h.loc[0, "effect"] == pytest.approx(beta[2], rel=1e-12)


def acute_tables():
    enrolments = [{"resident_id": r, "study": "rct_12m", "arm": a, "enrolled_on": "2025-01-01"}
                  for r, a in (("P", "intervention"), ("Q", "intervention"), ("U", "usual_care"), ("V", "usual_care"))]
    events = [
        {"resident_id": "P", "event_on": "2025-02-01", "kind": "er_visit"},
        {"resident_id": "P", "event_on": "2026-01-01", "kind": "er_visit"},               # day 365: outside
        {"resident_id": "P", "event_on": "2025-12-27", "kind": "hospitalisation", "days": 10},  # cut to 5 days
        {"resident_id": "Q", "event_on": "2025-04-11", "kind": "death"},                  # follow-up 100 days
        {"resident_id": "U", "event_on": "2025-03-01", "kind": "hospitalisation", "days": 4},
        {"resident_id": "U", "event_on": "2025-03-20", "kind": "er_visit"},
        {"resident_id": "V", "event_on": "2025-06-01", "kind": "hospitalisation"},       # length unknown
    ]
    contacts = [{"resident_id": "P", "contact_on": d, "kind": "treatment", "status": "attended"}
                for d in ("2025-01-08", "2025-01-15", "2025-01-22")] + [
        {"resident_id": "Q", "contact_on": "2025-01-08", "kind": "treatment", "status": "attended"},
        {"resident_id": "Q", "contact_on": "2025-01-15", "kind": "treatment", "status": "missed"}]
    residents = [{"resident_id": r} for r in "PQUV"]
    return _tables(residents=residents, enrolments=enrolments, events=events, contacts=contacts)


def test_acute_care_counts_days_in_the_period_and_follow_up_to_death():
    from workbench.bodymind import acute_care

    a = acute_care(acute_tables()).set_index("resident_id")
    assert a["er_visit"].tolist() == [1, 0, 1, 0]
    assert a["hospitalisation"].tolist() == [1, 0, 1, 1]
    assert a.loc["P", "hospital_days"] == 5 and a.loc["Q", "hospital_days"] == 0 and a.loc["U", "hospital_days"] == 4
    assert pd.isna(a.loc["V", "hospital_days"])                  # a stay of unknown length is not 0 days
    assert a["followup_days"].tolist() == [365, 100, 365, 365]
    assert a["treatment_contacts"].tolist() == [3, 1, 0, 0] and a.attrs["stays_without_days"] == 1


def test_physical_costs_and_return_by_hand():
    from workbench.bodymind import physical_costs, physical_return

    prices = {"er_visit": 800, "hospital_days": 600}
    c = physical_costs(acute_tables(), unit_costs=prices, session_cost=150).set_index("resident_id")
    # P: 800 + 5 x 600 = 3800; Q: 0; U: 800 + 4 x 600 = 3200; V: unknown (a stay of unknown length)
    assert c["medical_cost"].tolist()[:3] == [3800, 0, 3200] and pd.isna(c.loc["V", "medical_cost"])
    assert c["intervention_cost"].tolist() == [450, 150, 0, 0]
    r = physical_return(acute_tables(), unit_costs={"er_visit": 800}, participant_cost=100, n_boot=200)
    # ER only: intervention mean (800 + 0) / 2 = 400, usual care (800 + 0) / 2 = 400: saved 0, return 0
    assert (r.loc[0, "mean_medical_cost"], r.loc[0, "mean_medical_cost_reference"], r.loc[0, "roi"]) == (400, 400, 0)
    assert r.loc[0, "claimed"] == 3.5 and r.loc[0, "claim_in_interval"] == bool(
        r.loc[0, "roi_ci_low"] <= 3.5 <= r.loc[0, "roi_ci_high"])
    with pytest.raises(ValueError, match="exactly one of 'session_cost' and 'participant_cost'. Got neither"):
        physical_costs(acute_tables(), unit_costs=prices)
    with pytest.raises(ValueError, match="exactly one of .* Got \\['session_cost', 'participant_cost'\\]"):
        physical_costs(acute_tables(), unit_costs=prices, session_cost=1, participant_cost=1)
    with pytest.raises(ValueError, match="The 'unit_costs' parameter of physical_costs must be a non-empty mapping"):
        physical_costs(acute_tables(), unit_costs={"ambulance": 300}, session_cost=150)


def test_acute_care_by_arm_rates_per_person_year():
    from workbench.bodymind import acute_care_by_arm

    r = acute_care_by_arm(acute_tables(), families=("poisson",)).set_index("outcome")
    er = r.loc["er_visit"]
    # 1 ER visit in (365 + 100) days against 1 in 730 days: RR = 730 / 465
    assert er["rate_ratio"] == pytest.approx(730 / 465, rel=1e-8)
    assert er["person_years"] == pytest.approx(465 / 365.25) and er["n"] == 4
    hd = r.loc["hospital_days"]
    assert (hd["n"], hd["n_excluded"], hd["events"], hd["events_reference"]) == (3, 1, 5, 4)


def test_enrolment_without_an_arm_is_named():
    from workbench.bodymind import acute_care

    t = acute_tables()
    e = t.enrolments.copy()
    e.loc[2, "arm"] = None
    with pytest.raises(RowProblemsError) as err:
        acute_care(t.replace(enrolments=e))
    assert err.value.problems[["table", "row", "column"]].values.tolist() == [["enrolments", 2, "arm"]]
    assert "every resident enrolled in rct_12m needs an arm" in str(err.value)
