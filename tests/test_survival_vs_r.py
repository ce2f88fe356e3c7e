"""Agreement of ``workbench.survival`` with R's ``survival`` package (3.5-3 on R 4.2.2).

Reference values come from R itself, never from lifelines' own output:
``Rscript tests/reference/survival/make_reference.R`` (run from the repository root) reads the
hand-designed datasets ``tests/reference/survival/data_*.csv``, generates the seeded 300-person
cohort ``data_cohort300.csv``, and writes R's results to ``r_*.csv`` beside them
(``R_SESSION.txt`` is its ``sessionInfo()``). ``r_cases.csv`` names, for every case, the data, the
arguments and the exact R call (column ``r_call``); each test below also names the call in a
comment.

Agreement: 4 significant figures (``rtol=5e-5``, ``atol=1e-10`` for zeros); counts and times
exactly; NA in R must be NaN here (``equal_nan``).

The datasets, and what each checks:
- ``data_ties``: two groups, events and censorings tied at the same times (censorings count as at
  risk at their own time, as in R).
- ``data_three_groups``: three groups; one never reaches 0.5 (median NA), one ends with an event
  (survival 0, R's interval NA).
- ``data_flat_median``: ``interior`` is exactly 0.5 on [4, 7), so R's median is the midpoint 5.5;
  ``to_end`` is exactly 0.5 from 5 to its last (censored) time 9, where R's two functions differ:
  ``summary(fit)$table`` (``survmean``, what ``print(fit)`` shows) gives 5, ``quantile(fit, 0.5)``
  gives 7, the midpoint of [5, 9]. ``km_summary`` is held to ``summary(fit)$table``.
- ``data_delayed_entry``: ``Surv(entry, time, event)``; subjects entering at an event time and at a
  censoring time: R counts a subject entering at t as not yet at risk at t.
- ``data_cox_ties``: Cox, binary ``x1``, continuous ``x2``, count ``x3``, tied times, stratum ``s``.
- ``data_competing``: status 0 censored, 1 and 2 the competing causes, ties between causes and
  with censorings, two groups.
- ``data_cohort300``: a realistic cohort (3 tiers, female, age, phq9, site, delayed entry, weeks).
"""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REF = Path(__file__).resolve().parent / "reference" / "survival"
RTOL = 5e-5  # 4 significant figures
ATOL = 1e-10  # for values that are exactly 0 in R


def _csv(name: str) -> pd.DataFrame:
    return pd.read_csv(REF / name)


CASES = _csv("r_cases.csv")
R_KM = _csv("r_km.csv")
R_KM_SUMMARY = _csv("r_km_summary.csv")
R_LOGRANK = _csv("r_logrank.csv")
R_PAIRWISE = _csv("r_logrank_pairwise.csv")
R_COX = _csv("r_cox.csv")
R_ZPH = _csv("r_cox_zph.csv")
R_CIF = _csv("r_cif.csv")


def _cases(output: str) -> list[dict]:
    return CASES[CASES["output"] == output].to_dict("records")


def _case_id(case: dict) -> str:
    if pd.isna(case["conf_type"]) or case["output"] == "cif":
        return case["case"]
    return f"{case['case']}-{case['conf_type']}-{case['conf_level']:g}"


KM_CASES = _cases("km")
LOGRANK_CASES = _cases("logrank")
PAIRWISE_CASES = _cases("logrank_pairwise")
COX_CASES = _cases("cox")
CIF_CASES = [dict(c, cause=cause) for c in _cases("cif") for cause in (1, 2)]


@pytest.fixture(scope="module")
def survival():
    # Imported here, not at the top: until workbench/survival.py exists these tests fail one by
    # one instead of stopping the whole test session at collection.
    return importlib.import_module("workbench.survival")


def _data(case: dict) -> pd.DataFrame:
    return pd.read_csv(REF / case["dataset"])


def _grouped(case: dict) -> bool:
    return not pd.isna(case["group_var"])


def _columns(case: dict, *, entry: bool = False) -> dict:
    """Keyword arguments naming the columns, as the R call used them."""
    kw = {"duration": case["duration_var"], "event": case["event_var"]}
    if _grouped(case):
        kw["group"] = case["group_var"]
    if entry and not pd.isna(case["entry_var"]):
        kw["entry"] = case["entry_var"]
    return kw


def _ci_options(case: dict) -> dict:
    """R's conf.type / conf.int as our ci / alpha (conf.type "log" is R's default)."""
    return {"ci": case["conf_type"], "alpha": round(1.0 - case["conf_level"], 10)}


def _close(got, want, what: str) -> None:
    np.testing.assert_allclose(np.asarray(got, dtype=float), np.asarray(want, dtype=float),
                               rtol=RTOL, atol=ATOL, equal_nan=True, err_msg=what)


def _exact(got, want, what: str) -> None:
    np.testing.assert_array_equal(np.asarray(got, dtype=float), np.asarray(want, dtype=float),
                                  err_msg=what)


def _sorted(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    frame = frame.copy()
    if "group" in keys:
        frame["group"] = frame["group"].astype(str)
    return frame.sort_values(keys, kind="mergesort").reset_index(drop=True)


def _r_rows(table: pd.DataFrame, case: dict, *, by_conf: bool = True) -> pd.DataFrame:
    rows = table[table["case"] == case["case"]]
    if by_conf:
        rows = rows[(rows["conf_type"] == case["conf_type"])
                    & np.isclose(rows["conf_level"], case["conf_level"])]
    assert len(rows) > 0, f"no R reference rows for {_case_id(case)}"
    return rows


# --- reference files --------------------------------------------------------------------------

def test_reference_was_written_by_r_survival_3_5():
    # The R session that wrote r_*.csv (sessionInfo() from make_reference.R).
    session = (REF / "R_SESSION.txt").read_text()
    assert "R version 4.2" in session and "survival_3.5" in session
    assert (REF / "make_reference.R").is_file()
    for case in CASES.to_dict("records"):
        assert (REF / case["dataset"]).is_file(), case["dataset"]
        assert case["r_call"].startswith(("fit <- ", "for each pair")), case["r_call"]


# --- Kaplan-Meier -------------------------------------------------------------------------------

@pytest.mark.parametrize("case", KM_CASES, ids=_case_id)
def test_km_matches_r_survfit(survival, case):
    # R: fit <- survfit(Surv(time, event) ~ group, data, conf.type = "log-log" | "log",
    #                   conf.int = 1 - alpha); summary(fit, censored = TRUE)
    #    with Surv(entry, time, event) for delayed entry; exact call in r_cases.csv r_call.
    got = survival.km(_data(case), **_columns(case, entry=True), **_ci_options(case))
    want = _r_rows(R_KM, case)

    columns = ["time", "at_risk", "events", "censored", "survival", "ci_low", "ci_high"]
    keys = ["time"]
    if _grouped(case):
        columns, keys = ["group", *columns], ["group", "time"]
    assert list(got.columns) == columns

    got, want = _sorted(got, keys), _sorted(want, keys)
    assert len(got) == len(want), "one row per distinct event or censoring time per group"
    if _grouped(case):
        assert got["group"].tolist() == want["group"].tolist()
    _exact(got["time"], want["time"], "time")
    _exact(got["at_risk"], want["n_risk"], "at_risk (n.risk)")
    _exact(got["events"], want["n_event"], "events (n.event)")
    _exact(got["censored"], want["n_censor"], "censored (n.censor)")
    _close(got["survival"], want["surv"], "survival (surv)")
    _close(got["ci_low"], want["lower"], f"ci_low ({case['conf_type']} lower)")
    _close(got["ci_high"], want["upper"], f"ci_high ({case['conf_type']} upper)")


def test_km_delayed_entry_counts_no_one_at_risk_at_their_entry_time(survival):
    # R: survfit(Surv(entry, time, event) ~ group, data = read.csv("data_delayed_entry.csv"))
    # Group A at t = 3: the 5 entered at 0 and still in, id 12 (entry 1) and id 10 (entry 2, a
    # censoring time) are at risk; ids 6 and 7, entering at the event time 3, are not: n.risk 7.
    # At t = 4 they are: n.risk 8. Group B at t = 4: ids 17, 18 entering at the event time 4 are
    # not at risk (n.risk 7); at t = 6 they are, while id 22 entering at 6 is not (n.risk 7).
    data = pd.read_csv(REF / "data_delayed_entry.csv")
    got = survival.km(data, duration="time", event="event", group="group", entry="entry")
    at_risk = {(str(g), t): n
               for g, t, n in got[["group", "time", "at_risk"]].itertuples(index=False)}
    assert at_risk[("A", 3)] == 7 and at_risk[("A", 4)] == 8
    assert at_risk[("B", 4)] == 7 and at_risk[("B", 6)] == 7
    want = R_KM[(R_KM["case"] == "delayed_entry") & (R_KM["conf_type"] == "log-log")
                & (R_KM["conf_level"] == 0.95)]
    r_at_risk = {(g, t): n for g, t, n in want[["group", "time", "n_risk"]].itertuples(index=False)}
    assert (r_at_risk[("A", 3)], r_at_risk[("A", 4)], r_at_risk[("B", 4)], r_at_risk[("B", 6)]) \
        == (7, 8, 7, 7)


@pytest.mark.parametrize("case", KM_CASES, ids=_case_id)
def test_km_summary_matches_r_summary_table(survival, case):
    # R: fit <- survfit(Surv(time, event) ~ group, data, conf.type = ..., conf.int = ...);
    #    summary(fit)$table[, c("records", "events", "median", "0.95LCL", "0.95UCL")]
    # n is R's "records" (rows, i.e. people; with delayed entry R's n.max / n.start differ).
    got = survival.km_summary(_data(case), **_columns(case, entry=True), **_ci_options(case))
    want = _r_rows(R_KM_SUMMARY, case)

    columns = ["n", "events", "median", "ci_low", "ci_high"]
    if _grouped(case):
        columns = ["group", *columns]
        got, want = _sorted(got, ["group"]), _sorted(want, ["group"])
        assert got["group"].tolist() == want["group"].tolist()
    assert list(got.columns) == columns
    assert len(got) == len(want)
    _exact(got["n"], want["records"], "n (records)")
    _exact(got["events"], want["events"], "events")
    _close(got["median"], want["median"], "median")
    _close(got["ci_low"], want["median_lcl"], "ci_low (LCL)")
    _close(got["ci_high"], want["median_ucl"], "ci_high (UCL)")


def test_median_where_the_curve_is_exactly_half_over_an_interval(survival):
    # R: fit <- survfit(Surv(time, event) ~ group, data = read.csv("data_flat_median.csv"),
    #                   conf.type = "log-log"); summary(fit)$table[, "median"]; quantile(fit, 0.5)
    # interior: S = 0.8, 0.7, 0.6 at 1, 2, 3; at 4 one death of 6 at risk -> 0.6 * 5/6 = 0.5
    # (up to rounding), next death at 7, so R's median is (4 + 7) / 2 = 5.5 (table and quantile).
    # to_end: S = 7/8, 5/8, 1/2 at 2, 3, 5, then only censorings to 9: the table (survmean)
    # gives 5 (no later drop, so no midpoint), quantile() gives (5 + 9) / 2 = 7.
    want = R_KM_SUMMARY[(R_KM_SUMMARY["case"] == "flat_median")
                        & (R_KM_SUMMARY["conf_type"] == "log-log")].set_index("group")
    assert want.loc["interior", "median"] == 5.5 and want.loc["interior", "quantile_50"] == 5.5
    assert want.loc["to_end", "median"] == 5 and want.loc["to_end", "quantile_50"] == 7

    data = pd.read_csv(REF / "data_flat_median.csv")
    got = survival.km_summary(data, duration="time", event="event", group="group", ci="log-log")
    median = dict(zip(got["group"].astype(str), got["median"]))
    assert median["interior"] == pytest.approx(5.5, rel=RTOL)
    assert median["to_end"] == pytest.approx(5.0, rel=RTOL)


# --- log-rank ---------------------------------------------------------------------------------

@pytest.mark.parametrize("case", LOGRANK_CASES, ids=_case_id)
def test_logrank_matches_r_survdiff(survival, case):
    # R: fit <- survdiff(Surv(time, event) ~ group, data);
    #    pchisq(fit$chisq, df = number of groups - 1, lower.tail = FALSE)
    got = survival.logrank(_data(case), **_columns(case))
    want = _r_rows(R_LOGRANK, case, by_conf=False).iloc[0]
    assert list(got.columns) == ["statistic", "dof", "p_value"] and len(got) == 1
    row = got.iloc[0]
    assert row["dof"] == want["df"]
    assert row["statistic"] == pytest.approx(want["chisq"], rel=RTOL, abs=ATOL)
    assert row["p_value"] == pytest.approx(want["p_value"], rel=RTOL, abs=ATOL)


@pytest.mark.parametrize("correction", ["holm", "bonferroni"])
@pytest.mark.parametrize("case", PAIRWISE_CASES, ids=_case_id)
def test_logrank_pairwise_matches_r_survdiff_on_each_pair(survival, case, correction):
    # R: for each pair: survdiff(Surv(time, event) ~ group, data = subset(data, group %in% pair));
    #    p.adjust(p, "holm") / p.adjust(p, "bonferroni")   (survminer's pairwise_survdiff does this)
    got = survival.logrank_pairwise(_data(case), **_columns(case), correction=correction)
    want = _r_rows(R_PAIRWISE, case, by_conf=False)
    assert list(got.columns) == ["group_a", "group_b", "statistic", "p_value", "p_adjusted"]
    assert len(got) == len(want)

    def pair(a, b):
        return frozenset((str(a), str(b)))

    got = got.assign(pair=[pair(a, b) for a, b in zip(got["group_a"], got["group_b"])])
    want = want.assign(pair=[pair(a, b) for a, b in zip(want["group_a"], want["group_b"])])
    got = got.set_index("pair").loc[want["pair"]]
    _close(got["statistic"], want["chisq"], "statistic (chisq)")
    _close(got["p_value"], want["p_value"], "p_value")
    _close(got["p_adjusted"], want[f"p_{correction}"], f"p_adjusted ({correction})")


# --- Cox --------------------------------------------------------------------------------------

def _cox(survival, case: dict):
    strata = None if pd.isna(case["strata_var"]) else case["strata_var"]
    return survival.cox(_data(case), duration=case["duration_var"], event=case["event_var"],
                        covariates=case["covariates"].split("+"), strata=strata)


@pytest.mark.parametrize("case", COX_CASES, ids=_case_id)
def test_cox_matches_r_coxph_efron(survival, case):
    # R: fit <- coxph(Surv(time, event) ~ x1 + x2 + x3 [+ strata(s)], data, ties = "efron");
    #    summary(fit)$coefficients, summary(fit)$conf.int[, c("lower .95", "upper .95")]
    got = _cox(survival, case).summary
    want = _r_rows(R_COX, case, by_conf=False).set_index("term")
    assert {"coef", "se", "hr", "hr_ci_low", "hr_ci_high", "z", "p_value"} <= set(got.columns)
    assert sorted(map(str, got.index)) == sorted(want.index)
    got = got.loc[want.index]
    _close(got["coef"], want["coef"], "coef")
    _close(got["se"], want["se"], "se(coef)")
    _close(got["hr"], want["hr"], "exp(coef)")
    _close(got["hr_ci_low"], want["hr_lower"], "lower .95")
    _close(got["hr_ci_high"], want["hr_upper"], "upper .95")
    _close(got["z"], want["z"], "z")
    _close(got["p_value"], want["p_value"], "Pr(>|z|)")


def _ph(survival, case: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    got = _cox(survival, case).ph_test()
    want = _r_rows(R_ZPH, case, by_conf=False).set_index("term")
    assert set(want["transform"]) == {"km"}
    assert list(got.columns) == ["statistic", "dof", "p_value"]
    assert sorted(map(str, got.index)) == sorted(want.index)
    return got, want


@pytest.mark.parametrize("case", COX_CASES, ids=_case_id)
def test_ph_test_per_covariate_matches_r_cox_zph(survival, case):
    # R: cox.zph(coxph(Surv(time, event) ~ x1 + x2 + x3 [+ strata(s)], ties = "efron"))$table
    #    rows per covariate; transform = "km" (default). Since survival 3.0 cox.zph is a score
    #    test using the full information matrix, not the older per-variable approximation.
    got, want = _ph(survival, case)
    terms = [t for t in want.index if t != "GLOBAL"]
    got, want = got.loc[terms], want.loc[terms]
    _close(got["statistic"], want["chisq"], "chisq")
    _exact(got["dof"], want["df"], "df")
    _close(got["p_value"], want["p_value"], "p")


@pytest.mark.parametrize("case", COX_CASES, ids=_case_id)
def test_ph_test_global_matches_r_cox_zph(survival, case):
    # R: cox.zph(coxph(...))$table["GLOBAL", ]  (transform = "km"; survival >= 3.0 definition:
    #    one joint score test, which is not the sum of the per-covariate statistics).
    got, want = _ph(survival, case)
    got, want = got.loc["GLOBAL"], want.loc["GLOBAL"]
    assert got["dof"] == want["df"]
    assert got["statistic"] == pytest.approx(want["chisq"], rel=RTOL, abs=ATOL)
    assert got["p_value"] == pytest.approx(want["p_value"], rel=RTOL, abs=ATOL)


# --- competing risks: Aalen-Johansen ------------------------------------------------------------

def _cif(survival, case: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    got = survival.cumulative_incidence(_data(case), **_columns(case), cause=case["cause"])
    want = R_CIF[(R_CIF["case"] == case["case"]) & (R_CIF["cause"] == case["cause"])]
    assert len(want) > 0
    columns, keys = ["time", "cif", "ci_low", "ci_high"], ["time"]
    if _grouped(case):
        columns, keys = ["group", *columns], ["group", "time"]
    assert list(got.columns) == columns
    got, want = _sorted(got, keys), _sorted(want, keys)
    assert len(got) == len(want), "one row per distinct time (any cause or censoring) per group"
    if _grouped(case):
        assert got["group"].tolist() == want["group"].tolist()
    _exact(got["time"], want["time"], "time")
    return got, want


def _cif_id(case: dict) -> str:
    return f"{case['case']}-cause{case['cause']}"


@pytest.mark.parametrize("case", CIF_CASES, ids=_cif_id)
def test_cumulative_incidence_matches_r_aalen_johansen(survival, case):
    # R: fit <- survfit(Surv(time, factor(status, 0:2)) ~ group, data); fit$pstate[, "1" | "2"]
    got, want = _cif(survival, case)
    _close(got["cif"], want["cif"], f"cif (pstate, cause {case['cause']})")


@pytest.mark.parametrize("case", CIF_CASES, ids=_cif_id)
def test_cumulative_incidence_interval_matches_r(survival, case):
    # R: fit <- survfit(Surv(time, factor(status, 0:2)) ~ group, data); fit$lower, fit$upper
    #    R's default for multi-state curves is conf.type = "log" (fit$conf.type, recorded in
    #    r_cif.csv): p * exp(-/+ z * se / p), upper capped at 1, NA where p = 0; se is R's
    #    infinitesimal-jackknife standard error of p.
    want_type = set(R_CIF.loc[R_CIF["case"] == case["case"], "conf_type"])
    assert want_type == {"log"}
    got, want = _cif(survival, case)
    _close(got["ci_low"], want["lower"], "ci_low (lower)")
    _close(got["ci_high"], want["upper"], "ci_high (upper)")
