"""Body and mind together: chronic-disease control joined to mental-health care (issue 15).

The programme's headline claims are physical (blood-pressure control from 56 % to 77 %, 55 % with
physical care alone against 75 % with psychological care added, fewer emergency visits and
hospital days, 1 yuan of psychological care saving 3.5). These functions check them on the
analysis tables (:class:`workbench.tables.Tables`), reading ``measurements``, ``residents``,
``decisions``, ``enrolments``, ``events`` and ``contacts`` as stored. Nothing is scored, tiered or
classified again here: psychological status is the stored decision's ``psych_status``, and
whether a reading is controlled comes from the chronic-care policy
(:func:`workbench.chronic.classify`).

- :func:`control_frame`, :func:`joint_picture`, :func:`control_by_psych`: control of blood
  pressure (or glucose) by psychological status, with a logistic model (R ``glm``).
- :func:`trial_readings`, :func:`bp_control_by_arm`, :func:`hba1c_by_arm`,
  :func:`bp_over_trial`: the trial's physical outcomes (BP control with RD/RR/NNT from
  :func:`workbench.trial.risk_compare`, HbA1c by :func:`workbench.trial.ancova`, repeated SBP by
  a linear mixed model, R ``lme4::lmer``).
- :func:`acute_care`, :func:`acute_care_by_arm`: ER visits and hospital days over follow-up,
  Poisson and negative binomial models with a follow-up offset (R ``glm``, ``MASS::glm.nb``).
- :func:`physical_costs`, :func:`physical_return`: the programme's return on investment from
  those physical outcomes (:mod:`workbench.economics`), as a figure with a bootstrap interval.

The models are those of :mod:`workbench.regression`, checked against R at 4 significant figures
in ``tests/test_bodymind.py`` (``tests/reference/bodymind/``). Missing data are never zero: a
resident without a reading, a decision or a length of stay is left out of the analysis that
needs it and counted (``n_excluded``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from workbench._errors import RowProblemsError
from workbench.params import ALPHA, TABLES, Interval, Options, Predicate, Sequence, check, validate_params

__all__ = ["BodyMindDataError", "acute_care", "acute_care_by_arm", "bp_control_by_arm", "bp_over_trial",
           "control_by_psych", "control_frame", "hba1c_by_arm", "joint_picture", "physical_costs",
           "physical_return", "trial_readings"]

#: The conditions the chronic-care policy classifies, and the measure whose latest value counts.
CONDITIONS = ("hypertension", "diabetes")
#: The comparator of the psychological status (the stepped-care service matrix's first column).
PSYCH_REFERENCE = "normal"
#: The programme's claim: 1 yuan of psychological care saves 3.5 yuan of other care (issue 15,
#: the service model's figures; a claim to test, not evidence).
CLAIMED_RETURN = 3.5
#: Follow-up visits are face-to-face clinic visits (home and device readings are not follow-ups).
FOLLOW_UP_SETTING = "clinic"
DAYS_PER_YEAR = 365.25

BOOT = {"n_boot": Interval(int, 100, None), "seed": Interval(int, 0, None), "alpha": ALPHA}
STUDY = Predicate(lambda v: isinstance(v, str) and v != "", "a study id (str)")
MONTHS = Sequence(Interval(int, 0, 120), min_length=2)
YEAR = Predicate(lambda v: v is None or (isinstance(v, int) and not isinstance(v, bool) and 1900 < v < 2200),
                 "None or a year (int)")


class BodyMindDataError(RowProblemsError):
    """Analysis tables whose rows these analyses cannot use; names every bad row."""

    def __init__(self, function: str, problems: list[tuple]):
        super().__init__(problems, context=f"the tables of {function}")


# --- control by psychological status ---------------------------------------------------------------

def _classified(tables, policy, function: str) -> pd.DataFrame:
    """The chronic-care classification of every clinic follow-up (one row per reading and managed
    condition), with the reading's measures."""
    from workbench.chronic import classify

    m = tables.measurements
    c = classify(m, tables.residents, policy=policy)
    keep = m[["measurement_id", "setting", "sbp", "dbp", "fasting_glucose", "hba1c"]]
    out = c.merge(keep, on="measurement_id", how="left", validate="many_to_one")
    return out[(out["setting"] == FOLLOW_UP_SETTING).fillna(False).to_numpy(bool)]


def _latest_decisions(tables) -> pd.DataFrame:
    d = tables.decisions
    d = d.sort_values(["assessed_on", "decided_at", "decision_id"]).drop_duplicates(
        ["resident_id", "assessed_on"], keep="last")
    return d[["resident_id", "assessed_on", "psych_status"]]


def _status_on(readings: pd.DataFrame, tables) -> pd.Series:
    """Each reading's psychological status: the latest stored decision on a screening on or
    before the reading's date (NA when there is none)."""
    d = _latest_decisions(tables).dropna(subset=["assessed_on"])
    left = readings[["resident_id", "measured_on"]].reset_index().astype(
        {"resident_id": object, "measured_on": "datetime64[ns]"}).sort_values("measured_on")
    right = d.astype({"resident_id": object, "assessed_on": "datetime64[ns]"}).sort_values("assessed_on")
    joined = pd.merge_asof(left, right, left_on="measured_on", right_on="assessed_on", by="resident_id",
                           direction="backward")
    return joined.set_index("index")["psych_status"].reindex(readings.index)


@validate_params({"tables": TABLES, "condition": Options(*CONDITIONS), "year": YEAR})
def control_frame(tables, *, condition: str = "hypertension", year: int | None = None,
                  policy: Any = "default") -> pd.DataFrame:
    """One row per resident managed for ``condition``: control at the latest follow-up of the year.

    Parameters
    ----------
    tables : workbench.tables.Tables
        The analysis tables (``measurements``, ``residents``, ``decisions``).
    condition : {"hypertension", "diabetes"}
        The managed condition (blood pressure or fasting glucose, as the chronic-care policy
        judges it).
    year : int or None
        Calendar year. None: the latest year with a classified follow-up of the condition.
    policy : str, path or mapping
        The chronic-care policy (:func:`workbench.chronic.load_chronic_policy`).

    Returns
    -------
    DataFrame
        Sorted by resident: ``resident_id, measured_on`` (the latest clinic follow-up in the year
        whose reading has the condition's value), ``controlled`` (1.0 / 0.0, from the policy's
        classification of that reading), ``psych_status`` (the latest stored decision on a
        screening on or before that day; NA when none), ``age`` (whole years on that day),
        ``sex``. ``attrs``: ``condition``, ``year``, ``policy_version``, ``no_reading``
        (residents with a follow-up of the condition in the year, none with the value).

    Notes
    -----
    The reading is the one the 控制率 looks at (REFERENCE.md, "Chronic disease follow-up": the
    **latest** BP, or fasting glucose, in the year), taken from clinic follow-ups only (home and
    device readings are not follow-ups). This frame is for modelling control, so it differs from
    the indicator (:func:`workbench.chronic.indicators`) on purpose: it holds the residents with
    an observed outcome (a reading with the value), where the indicator's denominator is every
    managed resident alive at the end of the period, one without a reading counting as not
    controlled; residents who died later in the year keep their reading here.
    """
    from workbench.cohort import age_at

    c = _classified(tables, policy, "control_frame")
    c = c[c["condition"] == condition]
    year = int(c["measured_on"].dt.year.max()) if year is None and len(c) else year
    check("control_frame", "year", year, Predicate(lambda y: y is not None, "a year with follow-ups of "
                                                   f"{condition} (there are none)"))
    c = c[c["measured_on"].dt.year == year]
    with_value = c[c["controlled"].notna()]
    latest = with_value.sort_values(["resident_id", "measured_on", "measurement_id"]).drop_duplicates(
        "resident_id", keep="last")
    out = latest[["resident_id", "measured_on"]].copy()
    out["controlled"] = latest["controlled"].astype("boolean").astype(float)
    out["psych_status"] = _status_on(out, tables).astype(object)
    people = tables.residents.set_index("resident_id")
    out["age"] = age_at(out["resident_id"].map(people["birth_date"]), out["measured_on"]).astype(float)
    out["sex"] = out["resident_id"].map(people["sex"]).astype(object)
    out = out.sort_values("resident_id", ignore_index=True)
    versions = sorted(c["policy_version"].dropna().unique())
    out.attrs.update(condition=condition, year=year, policy_version=versions[0] if len(versions) == 1 else versions,
                     no_reading=int(c["resident_id"].nunique() - len(out)))
    return out


@validate_params({"tables": TABLES, "year": YEAR})
def joint_picture(tables, *, year: int | None = None, policy: Any = "default") -> pd.DataFrame:
    """Control rate by condition and psychological status: the programme's joint picture.

    Returns
    -------
    DataFrame
        One row per condition and ``psych_status`` (``"unknown"`` for residents without a
        decision): ``condition, year, psych_status, residents, controlled, control_rate``.
        The year is :func:`control_frame`'s for each condition.

    Notes
    -----
    Descriptive only: differences in age and sex between the groups are not taken into account;
    :func:`control_by_psych` adjusts for them.
    """
    rows = []
    for condition in CONDITIONS:
        try:
            frame = control_frame(tables, condition=condition, year=year, policy=policy)
        except ValueError as err:          # no follow-ups of this condition (in this year)
            if "parameter of control_frame" in str(err):
                continue
            raise
        g = frame.assign(psych_status=frame["psych_status"].fillna("unknown")).groupby("psych_status")
        part = g["controlled"].agg(residents="size", controlled="sum").reset_index()
        part.insert(0, "year", frame.attrs["year"])
        part.insert(0, "condition", condition)
        rows.append(part)
    out = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(
        columns=["condition", "year", "psych_status", "residents", "controlled"])
    out["controlled"] = out["controlled"].astype("int64")
    out["control_rate"] = out["controlled"] / out["residents"]
    return out


@validate_params({"tables": TABLES, "condition": Options(*CONDITIONS), "year": YEAR,
                  "adjust": Sequence(Options("age", "sex")), "alpha": ALPHA})
def control_by_psych(tables, *, condition: str = "hypertension", year: int | None = None,
                     adjust: tuple[str, ...] | list[str] = ("age", "sex"), policy: Any = "default",
                     alpha: float = 0.05) -> pd.DataFrame:
    """Odds of control by psychological status: a binomial logistic model (as R ``glm``).

    Fits ``controlled ~ psych_status + adjust`` on :func:`control_frame` (one row per managed
    resident: the latest follow-up of the year) with :func:`workbench.regression.logistic_model`,
    ``psych_status`` against ``"normal"``.

    Parameters
    ----------
    tables, condition, year, policy
        As :func:`control_frame`.
    adjust : list of {"age", "sex"}
        Adjustment (age in years at the reading, sex); ``()`` for the crude odds ratios.
    alpha : float
        1 - confidence level.

    Returns
    -------
    DataFrame
        :func:`workbench.regression.logistic_model`'s columns (``term, estimate, se, ci_low,
        ci_high, p_value, odds_ratio, or_ci_low, or_ci_high, n, events, n_excluded``) preceded
        by ``condition`` and ``year``; an odds ratio below 1 for ``psych_status[clinical]``
        means lower odds of control with a clinical psychological status. ``n_excluded``: managed
        residents without a decision, an age or a sex. ``attrs``: the model's, and
        ``policy_version``, ``no_reading``. The crude rates are :func:`joint_picture`'s.

    Examples
    --------
    >>> from workbench.sample import load_sample
    >>> r = control_by_psych(load_sample())
    >>> r["term"].tolist()
    ['intercept', 'psych_status[clinical]', 'psych_status[subclinical]', 'age', 'sex[male]']
    >>> bool((r["n"] + r["n_excluded"] + r.attrs["no_reading"] > 0).all())
    True
    """
    from workbench.regression import logistic_model

    frame = control_frame(tables, condition=condition, year=year, policy=policy)
    if frame["psych_status"].notna().sum() == 0:
        raise ValueError(f"control_by_psych: none of the {len(frame)} residents managed for {condition} in "
                         f"{frame.attrs['year']} has a decided screening (decisions.psych_status) on or before "
                         "their follow-up; nothing was analysed.")
    out = logistic_model(frame, outcome="controlled", exposure="psych_status", reference=PSYCH_REFERENCE,
                         covariates=list(adjust), alpha=alpha)
    out.insert(0, "year", frame.attrs["year"])
    out.insert(0, "condition", condition)
    out.attrs.update(policy_version=frame.attrs["policy_version"], no_reading=frame.attrs["no_reading"])
    return out


# --- the trial's physical outcomes --------------------------------------------------------------------

def _enrolled(tables, study: str, function: str) -> pd.DataFrame:
    e = tables.enrolments
    enrolled = e[e["study"] == study]
    studies = sorted(e["study"].dropna().unique())
    check(function, "study", study, Predicate(lambda s: not enrolled.empty, f"a study with enrolments {studies}"))
    problems = [(i, "arm", None, f"is blank: every resident enrolled in {study} needs an arm")
                for i in enrolled.index[enrolled["arm"].isna()]]
    problems += [(i, "resident_id", r, f"is enrolled in {study} twice")
                 for i, r in zip(enrolled.index[enrolled["resident_id"].duplicated()],
                                 enrolled["resident_id"][enrolled["resident_id"].duplicated()])]
    if problems:
        raise BodyMindDataError(function, [("enrolments", *p) for p in problems])
    return enrolled[["resident_id", "arm", "enrolled_on"]].reset_index(drop=True)


def _nearest(readings: pd.DataFrame, enrolled: pd.DataFrame, months, window: int, value: str) -> pd.DataFrame:
    """For each resident and month, the reading with ``value`` nearest to enrolment + month (month 0:
    the latest in the ``window`` days up to enrolment); a reading is used for one month only."""
    r = readings[readings[value].notna()].merge(enrolled[["resident_id", "enrolled_on"]], on="resident_id")
    parts = []
    for m in months:
        target = r["enrolled_on"] + pd.DateOffset(months=int(m))
        gap = (r["measured_on"] - target).dt.days
        ok = (gap <= 0) & (gap >= -window) if m == 0 else gap.abs() <= window
        parts.append(r[ok.to_numpy(bool)].assign(month=int(m), _gap=gap[ok].abs(), _after=(gap[ok] > 0)))
    c = pd.concat(parts, ignore_index=True)
    c = c.sort_values(["resident_id", "month", "_gap", "_after", "measured_on"]).drop_duplicates(
        ["resident_id", "month"])
    c = c.sort_values(["measurement_id", "_gap", "month"]).drop_duplicates("measurement_id")  # nearer month keeps it
    return c


@validate_params({"tables": TABLES, "study": STUDY, "months": MONTHS, "window_days": Interval(int, 1, 45)})
def trial_readings(tables, *, study: str = "rct_12m", months=(0, 3, 6, 9, 12), window_days: int = 45,
                   policy: Any = "default") -> pd.DataFrame:
    """The trial's physical measures at each visit month, one row per randomised resident and month.

    Parameters
    ----------
    tables : workbench.tables.Tables
        The analysis tables (``enrolments``, ``measurements``, ``residents``).
    study : str
        The trial (``enrolments.study``).
    months : list of int
        Visit months after enrolment; 0 is the baseline.
    window_days : int
        A reading counts for month ``m`` when it lies within ``window_days`` of enrolment + ``m``
        months (the baseline: within ``window_days`` up to and including the enrolment day, so
        nothing after randomisation is a baseline). At most 45, so that quarterly windows do not
        overlap.
    policy
        The chronic-care policy that judges control.

    Returns
    -------
    DataFrame
        ``resident_id, arm, month, hypertension, diabetes`` (the resident's conditions),
        ``bp_measured_on, sbp, dbp, bp_controlled`` (the nearest clinic reading with a blood
        pressure, and whether the policy judges it controlled: 1.0 / 0.0; NA for a resident
        without hypertension, or not managed by the policy on that day, e.g. under 35),
        ``hba1c_measured_on, hba1c`` (the nearest with an HbA1c).
        Every randomised resident has a row for every month; a blank means no reading in the
        window (never zero). ``attrs``: ``study``, ``months``, ``window_days``.

    Notes
    -----
    The nearest reading wins (on a tie, the earlier one); a reading is used for one month only.
    """
    enrolled = _enrolled(tables, study, "trial_readings")
    m = tables.measurements
    clinic = m[(m["setting"] == FOLLOW_UP_SETTING).fillna(False).to_numpy(bool)]
    clinic = clinic[clinic["resident_id"].isin(enrolled["resident_id"])]
    grid = enrolled[["resident_id", "arm"]].merge(pd.DataFrame({"month": [int(x) for x in months]}), how="cross")
    people = tables.residents.set_index("resident_id")
    for c in ("hypertension", "diabetes"):
        grid[c] = grid["resident_id"].map(people[c]).astype("boolean")
    bp = _nearest(clinic, enrolled, months, window_days, "sbp")
    judged = _classified(tables.replace(measurements=clinic), policy, "trial_readings") if len(bp) else None
    bp = bp[["resident_id", "month", "measurement_id", "measured_on", "sbp", "dbp"]].rename(
        columns={"measured_on": "bp_measured_on"})
    if judged is not None:
        ht = judged.loc[judged["condition"] == "hypertension", ["measurement_id", "controlled"]]
        bp = bp.merge(ht, on="measurement_id", how="left")
    else:
        bp["controlled"] = pd.Series(dtype="boolean")
    bp["bp_controlled"] = bp.pop("controlled").astype("boolean").astype(float)
    a1c = _nearest(clinic, enrolled, months, window_days, "hba1c")[["resident_id", "month", "measured_on", "hba1c"]]
    out = grid.merge(bp.drop(columns="measurement_id"), on=["resident_id", "month"], how="left").merge(
        a1c.rename(columns={"measured_on": "hba1c_measured_on"}), on=["resident_id", "month"], how="left")
    out.loc[~out["hypertension"].fillna(False).to_numpy(bool), "bp_controlled"] = np.nan
    out["sbp"], out["dbp"], out["hba1c"] = (out[c].astype(float) for c in ("sbp", "dbp", "hba1c"))
    out = out.sort_values(["resident_id", "month"], ignore_index=True)
    out.attrs.update(study=study, months=[int(x) for x in months], window_days=window_days)
    return out


def _wide(long: pd.DataFrame, value: str, months) -> pd.DataFrame:
    wide = long.pivot(index=["resident_id", "arm"], columns="month", values=value)
    wide.columns = [f"{value}_{m}" for m in wide.columns]
    return wide.reset_index()


@validate_params({"tables": TABLES, "study": STUDY, "month": Interval(int, 1, 120),
                  "window_days": Interval(int, 1, 45), "alpha": ALPHA})
def bp_control_by_arm(tables, *, study: str = "rct_12m", month: int = 12, window_days: int = 45,
                      reference: Any = "usual_care", policy: Any = "default", alpha: float = 0.05) -> pd.DataFrame:
    """Blood-pressure control at ``month`` by arm: RD, RR and NNT (:func:`workbench.trial.risk_compare`).

    Randomised residents with hypertension; the outcome is whether the chronic-care policy judges
    the clinic reading nearest to enrolment + ``month`` controlled (:func:`trial_readings`).
    Residents without a reading in the window are excluded and counted (``n_excluded``), never
    counted as uncontrolled.

    Returns
    -------
    DataFrame
        :func:`workbench.trial.risk_compare`'s columns preceded by ``outcome``
        (``bp_controlled_<month>``); also ``baseline_risk`` and ``baseline_risk_reference``
        (control at month 0 in each arm, for the "56 % before, 77 % after" comparison).
    """
    from workbench.trial import risk_compare

    long = trial_readings(tables, study=study, months=(0, month), window_days=window_days, policy=policy)
    long = long[long["hypertension"].fillna(False).to_numpy(bool)]
    wide = _wide(long, "bp_controlled", (0, month))
    out = risk_compare(wide, outcome=f"bp_controlled_{month}", arm="arm", reference=reference, alpha=alpha)
    base = wide.groupby("arm")[f"bp_controlled_0"].mean()
    out.insert(0, "outcome", f"bp_controlled_{month}")
    out["baseline_risk"] = out["arm"].map(base)
    out["baseline_risk_reference"] = base.get(reference, np.nan)
    out.attrs.update(study=study, month=month, window_days=window_days)
    return out


@validate_params({"tables": TABLES, "study": STUDY, "month": Interval(int, 1, 120),
                  "window_days": Interval(int, 1, 45), "alpha": ALPHA})
def hba1c_by_arm(tables, *, study: str = "rct_12m", month: int = 12, window_days: int = 45,
                 reference: Any = "usual_care", alpha: float = 0.05) -> pd.DataFrame:
    """HbA1c (%) at ``month`` by arm, adjusted for baseline: ANCOVA (:func:`workbench.trial.ancova`).

    Randomised residents with diabetes; HbA1c at month 0 and ``month`` from
    :func:`trial_readings`. Residents missing either are excluded and counted.

    Returns
    -------
    DataFrame
        :func:`workbench.trial.ancova`'s columns (``effect`` = adjusted difference in HbA1c
        percentage points, arm minus reference) preceded by ``outcome`` (``hba1c_<month>``).
    """
    from workbench.trial import ancova

    long = trial_readings(tables, study=study, months=(0, month), window_days=window_days)
    long = long[long["diabetes"].fillna(False).to_numpy(bool)]
    wide = _wide(long, "hba1c", (0, month))
    out = ancova(wide, outcome=f"hba1c_{month}", baseline="hba1c_0", arm="arm", reference=reference, alpha=alpha)
    out.insert(0, "outcome", f"hba1c_{month}")
    out.attrs.update(study=study, month=month, window_days=window_days)
    return out


@validate_params({"tables": TABLES, "study": STUDY, "months": MONTHS, "window_days": Interval(int, 1, 45),
                  "time_as": Options("factor", "linear"), "alpha": ALPHA})
def bp_over_trial(tables, *, study: str = "rct_12m", months=(0, 3, 6, 9, 12), window_days: int = 45,
                  time_as: str = "factor", reference: Any = "usual_care", alpha: float = 0.05) -> pd.DataFrame:
    """Systolic blood pressure over the trial: a linear mixed model (as R ``lme4::lmer``).

    Randomised residents with hypertension; SBP at each visit month from :func:`trial_readings`
    (a visit without a reading is left out, the resident's other visits kept), fitted by
    :func:`workbench.regression.mixed_model`: ``sbp ~ arm * month + (1 | resident)``, REML.

    Returns
    -------
    DataFrame
        :func:`workbench.regression.mixed_model`'s fixed effects (``term, estimate, se, ci_low,
        ci_high, p_value, n, n_subjects, n_excluded``: ``n`` visits with a reading,
        ``n_excluded`` visits without one); with ``time_as="factor"`` the term
        ``arm[intervention]:month[12]`` is the difference between the arms' change from
        baseline to month 12 (mmHg). ``attrs``: ``variance_components``, ``study``,
        ``months``. The observed means by arm and month are :func:`trial_readings`'.
    """
    from workbench.regression import mixed_model

    long = trial_readings(tables, study=study, months=months, window_days=window_days)
    long = long[long["hypertension"].fillna(False).to_numpy(bool)]
    out = mixed_model(long, outcome="sbp", time="month", subject="resident_id", arm="arm", reference=reference,
                      time_as=time_as, alpha=alpha)
    out.attrs.update(study=study, months=[int(m) for m in months])
    return out


# --- acute care: ER visits and hospital days -----------------------------------------------------------

@validate_params({"tables": TABLES, "study": STUDY, "days": Interval(int, 1, None)})
def acute_care(tables, *, study: str = "rct_12m", days: int = 365) -> pd.DataFrame:
    """ER visits, hospital stays and hospital days of each enrolled resident over follow-up.

    Parameters
    ----------
    tables : workbench.tables.Tables
        The analysis tables (``enrolments``, ``events``, ``contacts``).
    study : str
        The study whose enrolled residents are counted.
    days : int
        The follow-up period from ``enrolled_on`` (the costing period of
        :func:`workbench.economics.resource_use`, which counts the events).

    Returns
    -------
    DataFrame
        :func:`workbench.economics.resource_use`'s rows (``resident_id, arm, enrolled_on``,
        ``er_visit`` and ``hospitalisation`` counts, ``treatment_contacts`` attended) plus
        ``hospital_days`` (the ``events.days`` of the stays admitted within the period, summed,
        each cut at the end of the period; blank when such a stay has no length recorded: a
        missing length is never 0) and ``followup_days`` (``days``, or fewer for a resident who died within the
        period: the days up to the death). ``attrs``: ``study``, ``days``,
        ``stays_without_days``.
    """
    from workbench.economics import resource_use

    _enrolled(tables, study, "acute_care")
    use = resource_use(tables, study=study, days=days, events=("er_visit", "hospitalisation", "death"),
                       contacts=("treatment",))
    ev = tables.events.merge(use[["resident_id", "enrolled_on"]], on="resident_id")
    period_end = ev["enrolled_on"] + pd.Timedelta(days=days)
    ev = ev[((ev["event_on"] >= ev["enrolled_on"]) & (ev["event_on"] < period_end)).to_numpy(bool)]
    stays = ev[ev["kind"] == "hospitalisation"]
    length = np.minimum(stays["days"].astype("Float64"),
                        (stays["enrolled_on"] + pd.Timedelta(days=days) - stays["event_on"]).dt.days)
    by = stays.assign(_d=length).groupby("resident_id")["_d"]
    total = by.sum(min_count=1)
    unknown = by.apply(lambda s: s.isna().any())
    use["hospital_days"] = use["resident_id"].map(total.where(~unknown)).astype(float)
    use.loc[use["hospitalisation"] == 0, "hospital_days"] = 0.0
    deaths = ev[ev["kind"] == "death"].groupby("resident_id")["event_on"].min()
    died = use["resident_id"].map(deaths)
    use["followup_days"] = ((died - use["enrolled_on"]).dt.days.where(died.notna(), days)).clip(lower=1).astype(float)
    use = use.drop(columns="death")
    use.attrs.update(study=study, days=days, stays_without_days=int(stays["days"].isna().sum()))
    return use


@validate_params({"tables": TABLES, "study": STUDY, "days": Interval(int, 1, None),
                  "families": Sequence(Options("poisson", "negative_binomial"), min_length=1), "alpha": ALPHA})
def acute_care_by_arm(tables, *, study: str = "rct_12m", days: int = 365, reference: Any = "usual_care",
                      families=("poisson", "negative_binomial"), alpha: float = 0.05) -> pd.DataFrame:
    """ER visits and hospital days by arm: rate ratios from count models with a follow-up offset.

    For each outcome (``er_visit``, ``hospital_days`` of :func:`acute_care`) and family, fits
    :func:`workbench.regression.count_model` (``outcome ~ arm + offset(log(followup_days))``;
    Poisson as R ``glm``, negative binomial as ``MASS::glm.nb``).

    Returns
    -------
    DataFrame
        One row per outcome, family and non-reference arm: ``outcome, family, arm, events,
        person_years, rate, events_reference, person_years_reference, rate_reference`` (per
        person-year, complete cases), ``rate_ratio, rr_ci_low, rr_ci_high, p_value``,
        ``theta`` (NaN for Poisson), ``dispersion`` (Pearson chi-square / df), ``aic``, ``n``,
        ``n_excluded`` (residents with a stay of unknown length, for hospital days).

    Notes
    -----
    Health-care use is overdispersed (a few residents account for most of it); a Poisson model
    then gives intervals that are too narrow (its ``dispersion`` well above 1). Prefer the
    negative binomial rows; the Poisson rows show the difference.
    """
    from workbench.regression import count_model

    use = acute_care(tables, study=study, days=days)
    rows = []
    for outcome in ("er_visit", "hospital_days"):
        complete = use[use[outcome].notna()]
        py = complete.groupby("arm")["followup_days"].sum() / DAYS_PER_YEAR
        ev = complete.groupby("arm")[outcome].sum()
        for family in families:
            fit = count_model(use, outcome=outcome, arm="arm", reference=reference, exposure="followup_days",
                              family=family, alpha=alpha)
            for _, r in fit[fit["term"].str.startswith("arm[")].iterrows():
                a = r["term"][4:-1]
                a = next(x for x in use["arm"].unique() if str(x) == a)
                rows.append({"outcome": outcome, "family": family, "arm": a, "events": float(ev.get(a, 0)),
                             "person_years": float(py.get(a, np.nan)), "rate": ev.get(a, 0) / py.get(a, np.nan),
                             "events_reference": float(ev.get(reference, 0)),
                             "person_years_reference": float(py.get(reference, np.nan)),
                             "rate_reference": ev.get(reference, 0) / py.get(reference, np.nan),
                             "rate_ratio": r["rate_ratio"], "rr_ci_low": r["rr_ci_low"], "rr_ci_high": r["rr_ci_high"],
                             "p_value": r["p_value"], "theta": fit.attrs["theta"],
                             "dispersion": fit.attrs["dispersion"], "aic": fit.attrs["aic"], "n": int(r["n"]),
                             "n_excluded": int(r["n_excluded"])})
    out = pd.DataFrame(rows)
    out.attrs.update(study=study, days=days, alpha=alpha)
    return out


# --- the return on investment -------------------------------------------------------------------------

PHYSICAL = ("er_visit", "hospitalisation", "hospital_days")


def _prices_ok(value: Any) -> bool:
    return (isinstance(value, Mapping) and bool(value) and set(value) <= set(PHYSICAL)
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v) and v >= 0
                    for v in value.values()))


POSITIVE_COST = Predicate(lambda v: v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)
                                                  and np.isfinite(v) and v > 0), "None or a number > 0 (yuan)")


COSTS = {"tables": TABLES, "unit_costs": Predicate(_prices_ok, f"a non-empty mapping of some of {list(PHYSICAL)} "
                                                             "to non-negative numbers (yuan)"),
         "session_cost": POSITIVE_COST, "participant_cost": POSITIVE_COST, "study": STUDY,
         "days": Interval(int, 1, None)}


@validate_params(COSTS)
def physical_costs(tables, *, unit_costs: Mapping[str, float], session_cost: float | None = None,
                   participant_cost: float | None = None, study: str = "rct_12m", days: int = 365,
                   reference: Any = "usual_care") -> pd.DataFrame:
    """Per resident of a trial: acute-care (medical) cost and psychological-care (intervention) cost.

    Medical cost = ER visits, hospital stays and hospital days over the period
    (:func:`acute_care`) times the caller's ``unit_costs``
    (:func:`workbench.economics.costs_from_use`); intervention cost = attended treatment
    contacts times ``session_cost``, or a flat ``participant_cost``, in the arms other than
    ``reference`` (0 there).

    Parameters
    ----------
    tables : workbench.tables.Tables
        The analysis tables.
    unit_costs : mapping
        Prices (yuan) of some of ``er_visit`` (per visit), ``hospitalisation`` (per admission)
        and ``hospital_days`` (per day). There are no defaults: state them, with their year and
        source, in the analysis.
    session_cost, participant_cost : float
        Exactly one: the price of an attended treatment contact, or the intervention's cost per
        participant.
    study, days
        As :func:`acute_care`.
    reference : scalar
        The arm without the intervention.

    Returns
    -------
    DataFrame
        One row per enrolled resident: ``resident_id, arm, treatment_contacts, er_visit,
        hospitalisation, hospital_days, medical_cost, intervention_cost``. A resident with a stay
        of unknown length has a blank medical cost when ``hospital_days`` is priced (never a
        partial sum). ``attrs``: ``unit_costs``, ``study``, ``days``.
    """
    from workbench.economics import costs_from_use

    given = [n for n, v in (("session_cost", session_cost), ("participant_cost", participant_cost)) if v is not None]
    if len(given) != 1:
        raise ValueError("physical_costs needs exactly one of 'session_cost' and 'participant_cost'. "
                         f"Got {given or 'neither'} instead.")
    use = acute_care(tables, study=study, days=days)
    arms = sorted(use["arm"].dropna().unique(), key=str)
    check("physical_costs", "reference", reference, Predicate(lambda r: r in arms, f"one of the arms {arms}"))
    data = use[["resident_id", "arm", "treatment_contacts", *PHYSICAL]].copy()
    data["medical_cost"] = costs_from_use(use, unit_costs=dict(unit_costs)).to_numpy()
    treated = (data["arm"] != reference).to_numpy()
    per = data["treatment_contacts"] * session_cost if session_cost is not None else participant_cost
    data["intervention_cost"] = np.where(treated, per, 0.0).astype(float)
    data.attrs.update(unit_costs=dict(unit_costs), study=study, days=days)
    return data


@validate_params({**COSTS, "claimed": Interval("real", 0, None, closed="neither"), **BOOT})
def physical_return(tables, *, unit_costs: Mapping[str, float], session_cost: float | None = None,
                    participant_cost: float | None = None, study: str = "rct_12m", days: int = 365,
                    reference: Any = "usual_care", claimed: float = CLAIMED_RETURN, n_boot: int = 2000,
                    seed: int = 0, alpha: float = 0.05) -> pd.DataFrame:
    """Yuan of acute care saved per yuan of psychological care, with a bootstrap interval.

    The costs of :func:`physical_costs` fed to :func:`workbench.economics.return_on_investment`:
    ``roi = (mean medical cost in the reference arm - mean medical cost in the arm) / mean
    intervention cost in the arm``, persons resampled within arms, percentile interval. The
    programme's "1 : 3.5" becomes a figure with an interval, tested against ``claimed``.

    Parameters
    ----------
    tables, unit_costs, session_cost, participant_cost, study, days, reference
        As :func:`physical_costs`.
    claimed : float
        The return to test (default :data:`CLAIMED_RETURN`, the programme's 3.5).
    n_boot, seed, alpha
        As :func:`workbench.economics.return_on_investment`.

    Returns
    -------
    DataFrame
        :func:`workbench.economics.return_on_investment`'s columns (``arm, n, n_reference,
        n_excluded, mean_intervention_cost, mean_medical_cost, mean_medical_cost_reference,
        medical_cost_saved, roi, roi_ci_low, roi_ci_high``), then ``claimed`` and
        ``claim_in_interval`` (whether ``claimed`` lies within the interval: False means these
        data are not consistent with the claim at this level). ``attrs``: the ROI's and
        ``unit_costs``.

    Notes
    -----
    Only the acute care counted here is "other care" saved; savings elsewhere (drugs,
    outpatient visits, work) are not in the tables and not claimed. Costs are not discounted.

    Examples
    --------
    >>> from workbench.sample import load_sample
    >>> r = physical_return(load_sample(), unit_costs={"er_visit": 800, "hospital_days": 600}, session_cost=150,
    ...                     n_boot=200)
    >>> r[["arm", "claimed"]]
                arm  claimed
    0  intervention      3.5
    >>> bool(r.loc[0, "roi_ci_low"] <= r.loc[0, "roi"] <= r.loc[0, "roi_ci_high"])
    True
    """
    from workbench.economics import return_on_investment

    data = physical_costs(tables, unit_costs=unit_costs, session_cost=session_cost,
                          participant_cost=participant_cost, study=study, days=days, reference=reference)
    out = return_on_investment(data, arm="arm", intervention_cost="intervention_cost", medical_cost="medical_cost",
                               reference=reference, n_boot=n_boot, seed=seed, alpha=alpha)
    out["claimed"] = float(claimed)
    out["claim_in_interval"] = (out["roi_ci_low"] <= claimed) & (claimed <= out["roi_ci_high"])
    out.attrs.update(unit_costs=dict(unit_costs), study=study, days=days)
    return out
