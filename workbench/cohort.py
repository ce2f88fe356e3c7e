"""From the analysis tables to analysis-ready frames: survival endpoints and the trial's wide frame.

Both functions read :class:`workbench.tables.Tables` (from the registry, an export, the sample or
:mod:`workbench.synth`) and use the scores stored when the answers were saved: nothing is scored
again here. Response, remission and recovery come from :mod:`workbench.outcomes` (their one
coding), with the thresholds declared there.
"""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np
import pandas as pd

from workbench.params import TABLES, Date, Interval, Options, Predicate, check, validate_params
from workbench.problems import ProblemsError

__all__ = ["CAUSES", "ENDPOINTS", "RCT", "CohortDataError", "age_at", "endpoints", "trial_frame"]

#: Endpoints :func:`endpoints` can build.
ENDPOINTS = ("remission", "dropout", "crisis_or_er", "cardiovascular", "death")
#: Cause codes of ``event`` in the competing-risk endpoints: 1 the endpoint's own event (dropout
#: for dropout), 2 death first, 3 care completed (dropout) or care ended first (remission).
CAUSES = {"event": 1, "dropout": 1, "death": 2, "completed": 3, "care_ended": 3}
#: The randomised trial's study id in ``enrolments`` and ``assessments``.
RCT = "rct_12m"


class CohortDataError(ProblemsError):
    """Analysis tables that cannot give the frame asked for; every bad cell is named."""


def _tables(tables: Any, function: str, names: Iterable[str]):
    """``tables`` (checked to be :class:`~workbench.tables.Tables` by the parameter rules) holding the
    declared columns of ``names``."""
    from workbench.tables import TABLES

    problems = [(name, None, column, None, "is missing: the table must have this column")
                for name in names for column in TABLES[name].names if column not in tables[name].columns]
    if problems:
        raise CohortDataError(problems, context=function, outcome="nothing was computed")
    return tables


def age_at(birth_date: Any, on: Any) -> pd.Series:
    """Age in whole years (completed birthdays) on a date; NA where either date is missing.

    Examples
    --------
    >>> import pandas as pd
    >>> birth = pd.Series(pd.to_datetime(["1950-06-15", "1950-06-15", "2000-02-29", None]))
    >>> age_at(birth, pd.to_datetime(["2025-06-14", "2025-06-15", "2025-02-28", "2025-01-01"])).tolist()
    [74, 75, 24, <NA>]
    """
    birth = pd.Series(pd.to_datetime(birth_date))
    day = pd.Series(pd.to_datetime(on), index=birth.index) if np.ndim(on) else pd.Series(pd.Timestamp(on), index=birth.index)
    years = day.dt.year - birth.dt.year
    before = (day.dt.month < birth.dt.month) | ((day.dt.month == birth.dt.month) & (day.dt.day < birth.dt.day))
    return (years - before.astype(int)).astype("Int16").where(birth.notna() & day.notna())


#: A list of endpoints among :data:`ENDPOINTS`.
WHICH = Predicate(lambda v: not isinstance(v, (str, bytes)) and iter(v) is not v and len(list(v)) > 0
                  and all(w in ENDPOINTS for w in v),
                  f"a list of endpoints among {list(ENDPOINTS)}")


@validate_params({"tables": TABLES, "censor_date": Date(), "which": WHICH, "dropout_days": Interval(int, 1, None),
                  "time_scale": Options("follow_up", "age")})
def endpoints(tables, *, censor_date, which: Iterable[str] = ENDPOINTS, dropout_days: int = 90,
              time_scale: str = "follow_up", remission_baseline: float | None = None,
              remission_below: float | None = None) -> pd.DataFrame:
    """One row per resident per endpoint, ready for :mod:`workbench.survival`.

    Parameters
    ----------
    tables : workbench.tables.Tables
        The analysis tables. Time zero is each resident's baseline: their first screening
        (``assessments`` with ``purpose == "screening"``); residents never screened are left out.
    censor_date : date
        End of follow-up for everyone still under observation (required: never "today").
        Records after it are ignored.
    which : endpoints to build, from :data:`ENDPOINTS`.
    dropout_days : int
        Dropout (residents with a referral, from their first referral): no attended contact
        (``contacts.status == "attended"``) for this many days; the event is dated at the last
        attended contact + ``dropout_days``. Care can end in more than one way, and each is an
        outcome, not censoring: ``event`` 1 = dropout, 2 = died in care, 3 = care completed
        (``referrals.end_reason == "completed"`` on ``ended_on``), 0 = still in care at the
        censor date, or care ended for another recorded reason (moved away, transferred:
        censored at ``ended_on``). Analyse it with :func:`workbench.survival.competing_summary`
        or :func:`workbench.survival.cumulative_incidence` (Aalen-Johansen); one minus
        Kaplan-Meier with completion censored overstates dropout.
    time_scale : {"follow_up", "age"}
        ``follow_up``: days since baseline, ``entry`` 0. ``age``: days of age, ``entry`` the
        age at baseline (delayed entry: a resident is at risk only from the age they joined).
    remission_baseline, remission_below : float, optional
        Remission: the first stored PHQ-9 score of a later review or study visit below
        ``remission_below``, after a baseline screening PHQ-9 of at least ``remission_baseline``.
        Defaults are declared once elsewhere: the PHQ-9 screen-positive total (10, Kroenke 2001,
        ``phq9.yaml``) and the remission threshold of ``workbench/outcomes/thresholds.yaml``
        (PHQ-9 < 5, REFERENCE.md). Only residents at or above the baseline threshold enter this
        endpoint. ``event`` 1 = remission, 2 = death first, 3 = care ended first (the first
        referral completed or dropped out, as in dropout, before a remission was recorded:
        nobody reviews PHQ-9 after care ends), 0 = censored at the last PHQ-9 (still in care,
        or never referred). A PHQ-9 below the threshold on the day care ends counts as remission.

    Returns
    -------
    DataFrame
        ``resident_id, endpoint, duration`` (days), ``event`` (:data:`CAUSES`: death 1/0; for
        crisis_or_er and cardiovascular 1 = the event, 2 = death first, 0 = censored; for
        dropout and remission as above), ``entry`` (days),
        ``baseline_on``, ``exit_on``, then baseline covariates: the ``residents`` columns but
        ``birth_date`` (``sex``, ``community``, ``lives_alone``, the chronic conditions),
        ``community_type`` (from ``communities``), ``arm`` (the resident's arm in the trial
        :data:`RCT`, blank when not enrolled) and ``age`` (whole years at baseline).
        ``attrs``: ``excluded`` (residents left out per endpoint and why), ``censor_date``,
        ``source`` and ``pseudonymised`` of the tables.

    Examples
    --------
    >>> from workbench.sample import load_sample
    >>> e = endpoints(load_sample(), censor_date="2026-12-31", which=["death", "dropout"])
    >>> sorted(e["endpoint"].unique()), e.attrs["censor_date"]
    (['death', 'dropout'], '2026-12-31')
    """
    which = list(which)
    end = pd.Timestamp(censor_date).normalize()
    t = _tables(tables, "endpoints", ("residents", "communities", "assessments", "scores", "events", "contacts",
                                       "referrals", "enrolments"))
    if remission_baseline is None:
        from workbench.instruments import get_instrument

        remission_baseline = get_instrument("phq9").screen_positive
    if remission_below is None:
        from workbench.outcomes import thresholds

        remission_below = thresholds().remission_below["phq9"]

    a = t.assessments
    base = (a.loc[a["purpose"] == "screening"].groupby("resident_id", observed=True)["assessed_on"].min()
            .rename("baseline_on").reset_index())
    people = t.residents.merge(base, on="resident_id", how="inner", validate="one_to_one")
    people["community_type"] = people["community"].map(t.communities.set_index("community")["community_type"])
    e = t.enrolments
    arms = e.loc[e["study"] == RCT].drop_duplicates("resident_id").set_index("resident_id")["arm"]
    people["arm"] = people["resident_id"].map(arms)
    excluded: dict[str, dict[str, int]] = {}
    after = people["baseline_on"] > end
    people = people[~after].reset_index(drop=True)
    ev = t.events[t.events["event_on"] <= end]
    death = ev[ev["kind"] == "death"].groupby("resident_id", observed=True)["event_on"].min()
    people = people.assign(death_on=people["resident_id"].map(death))
    exit_default = people["death_on"].where(people["death_on"].notna(), end)

    def first_event(kinds):
        hit = ev[ev["kind"].isin(kinds)].merge(people[["resident_id", "baseline_on"]], on="resident_id")
        hit = hit[hit["event_on"] >= hit["baseline_on"]]
        return people["resident_id"].map(hit.groupby("resident_id", observed=True)["event_on"].min())

    refs = t.referrals[t.referrals["referred_on"] <= end].sort_values(["referred_on", "referral_id"])
    referral_of = refs.drop_duplicates("resident_id").set_index("resident_id")
    attended = t.contacts
    attended = attended[(attended["status"] == "attended").fillna(False).to_numpy(bool)
                        & (attended["contact_on"] <= end).to_numpy(bool)]
    last_attended = attended.groupby("resident_id", observed=True)["contact_on"].max()

    def care_ends(rows: pd.DataFrame) -> pd.DataFrame:
        """How and when each resident's first referral ended: dropout (no attended contact for
        ``dropout_days``), death in care, completed, or still in care (0) at the censor date."""
        start = rows["resident_id"].map(referral_of["referred_on"])
        last = rows["resident_id"].map(last_attended)
        last = last.where(last.notna() & (last >= start), start)
        ended = rows["resident_id"].map(referral_of["ended_on"])
        reason = rows["resident_id"].map(referral_of["end_reason"])
        completed = ((reason == "completed").fillna(False).astype(bool) & ended.notna() & (ended <= end)
                     & ~(rows["death_on"] < ended).fillna(False))
        other_end = (reason.notna() & ~reason.isin(["completed", "dropped_out"]) & ended.notna()
                     & (ended <= end) & ~(rows["death_on"] < ended)).fillna(False).astype(bool)
        gap_end = last + pd.to_timedelta(dropout_days, unit="D")
        limit = rows["death_on"].where(rows["death_on"].notna(), end)
        stop = ended.where(completed | other_end, limit)  # care cannot drop out after it ended
        dropped = start.notna() & ~completed & (gap_end <= stop)
        died = start.notna() & ~completed & ~other_end & ~dropped & rows["death_on"].notna()
        exit_on = gap_end.where(dropped, stop)
        event = np.select([dropped, completed, died], [CAUSES["dropout"], CAUSES["completed"], CAUSES["death"]], 0)
        return pd.DataFrame({"exit_on": pd.to_datetime(exit_on), "event": event}, index=rows.index)

    frames = []
    for name in which:
        if name == "death":
            exit_on, event = exit_default, people["death_on"].notna().astype(int)
            rows = people
        elif name in ("crisis_or_er", "cardiovascular"):
            kinds = ["crisis", "er_visit"] if name == "crisis_or_er" else ["cardiovascular_event"]
            first = first_event(kinds)
            happened = first.notna() & (first <= exit_default)
            exit_on = first.where(happened, exit_default)
            event = np.where(happened, CAUSES["event"], np.where(people["death_on"].notna(), CAUSES["death"], 0))
            rows = people
        elif name == "remission":
            phq = t.scores_of("phq9")
            phq = phq[phq["score"].notna() & (phq["assessed_on"] <= end)].merge(
                people[["resident_id", "baseline_on"]], on="resident_id")
            at_baseline = phq[(phq["purpose"] == "screening") & (phq["assessed_on"] == phq["baseline_on"])]
            first_score = at_baseline.groupby("resident_id", observed=True)["score"].first()
            eligible = people["resident_id"].map(first_score) >= remission_baseline
            later = phq[phq["purpose"].isin(["review", "study"]) & (phq["assessed_on"] > phq["baseline_on"])]
            remitted = later[later["score"] < remission_below].groupby("resident_id", observed=True)["assessed_on"].min()
            last_seen = later.groupby("resident_id", observed=True)["assessed_on"].max()
            rows = people[eligible.fillna(False).to_numpy(bool)]
            first = rows["resident_id"].map(remitted)
            seen = rows["resident_id"].map(last_seen).fillna(rows["baseline_on"])
            care = care_ends(rows)
            care_end = care["exit_on"].where(care["event"].isin([CAUSES["dropout"], CAUSES["completed"]])
                                            & (care["exit_on"] > rows["baseline_on"]))
            death = rows["death_on"]
            candidates = pd.DataFrame({CAUSES["event"]: first, CAUSES["care_ended"]: care_end,
                                       CAUSES["death"]: death}, index=rows.index)
            # the earliest of remission, care ending and death; remission wins a tie (a last
            # session's PHQ-9 below the threshold is a remission in care)
            exit_on = candidates.min(axis=1)
            event = pd.Series(0, index=rows.index)
            for code in (CAUSES["death"], CAUSES["care_ended"], CAUSES["event"]):
                event = event.mask(candidates[code].notna() & (candidates[code] == exit_on), code)
            exit_on = exit_on.where(event > 0, seen)
            excluded[name] = {"baseline PHQ-9 below threshold or missing": int((~eligible.fillna(False)).sum())}
        else:  # dropout
            rows = people[people["resident_id"].isin(referral_of.index)]
            rows = rows.assign(baseline_on=rows["resident_id"].map(referral_of["referred_on"]))
            care = care_ends(rows)
            exit_on, event = care["exit_on"], care["event"]
        frame = rows[["resident_id", "baseline_on"]].assign(endpoint=name, exit_on=pd.to_datetime(exit_on).to_numpy(),
                                                           event=np.asarray(event, dtype=int))
        frame["duration"] = (frame["exit_on"] - frame["baseline_on"]).dt.days
        frames.append(frame.merge(rows.drop(columns=["baseline_on"]), on="resident_id"))
    out = pd.concat(frames, ignore_index=True)
    out["entry"] = 0
    if time_scale == "age":  # no age scale without a birth date (an export leaves small groups' blank)
        no_birth = out["birth_date"].isna()
        unborn = int(out.loc[no_birth, "resident_id"].nunique())
        out = out[~no_birth]
        age_days = (out["baseline_on"] - out["birth_date"]).dt.days
        out["entry"], out["duration"] = age_days, age_days + out["duration"]
    age = age_at(out["birth_date"], out["baseline_on"])
    out["age"] = age.astype("int64") if age.notna().all() else age
    zero = out["duration"] <= out["entry"]
    out = out[~zero]  # a resident leaving on the day they entered adds no time at risk
    excluded["all"] = {"baseline after censor_date": int(after.sum()), "no time at risk": int(zero.sum())}
    if time_scale == "age":
        excluded["all"]["residents without a birth date (age time scale)"] = unborn
    keep = ["resident_id", "endpoint", "duration", "event", "entry", "baseline_on", "exit_on"]
    out = out[keep + [c for c in out.columns if c not in keep and c not in ("death_on", "birth_date")]]
    out = out.astype({"duration": "int64", "entry": "int64", "event": "int64"})
    out.attrs.update(excluded=excluded, censor_date=str(end.date()), source=t.attrs.get("source"),
                     pseudonymised=t.attrs.get("pseudonymised"))
    return out.reset_index(drop=True)


@validate_params({"tables": TABLES, "study": Predicate(lambda v: isinstance(v, str) and v != "", "a study id (str)")})
def trial_frame(tables, *, study: str = RCT) -> pd.DataFrame:
    """One row per randomised resident: arm, stored PHQ-9 and GAD-7 at baseline and each visit.

    The baseline is the resident's screening on the enrolment date (``enrolments.enrolled_on``);
    follow-ups are the study visits (``assessments`` with ``purpose == "study"``, this ``study``,
    ``visit`` = month). Scores are the stored ones (a form that could not be scored is NaN,
    never 0); a resident not assessed at a visit has NaN there.

    Parameters
    ----------
    tables : workbench.tables.Tables
        The analysis tables.
    study : str
        The trial's study id in ``enrolments`` and ``assessments`` (default :data:`RCT`).

    Returns
    -------
    DataFrame
        Sorted by resident: ``resident_id, arm, phq9_0, gad7_0, phq9_<m>, gad7_<m>`` for each
        visit month ``m``, and ``response_<last>``, ``remission_<last>`` and ``recovery_<last>``
        (1/0, NaN when a score is missing or the measure does not apply) from
        :func:`workbench.outcomes.classify_pairs` (response: PHQ-9 fall >= 50%;
        remission: PHQ-9 below 5; both only for a baseline PHQ-9 at the declared caseness, >= 10
        in ``thresholds.yaml``, NaN otherwise; recovery: NHS Talking Therapies caseness, PHQ-9 >= 10
        or GAD-7 >= 8, at the start and on neither at the end). ``attrs``: ``study``,
        ``months``, ``thresholds_version``, ``source``.

    Raises
    ------
    CohortDataError
        A trial enrolment without an arm, a study visit without a visit number, a visit of a
        resident not enrolled in the study, or two visits of one resident at one month.

    Examples
    --------
    >>> from workbench.sample import load_sample
    >>> rct = trial_frame(load_sample())
    >>> list(rct.columns)
    ['resident_id', 'arm', 'phq9_0', 'gad7_0', 'phq9_6', 'gad7_6', 'phq9_12', 'gad7_12', 'response_12', 'remission_12', 'recovery_12']
    """
    from workbench.outcomes import classify_pairs, thresholds

    t = _tables(tables, "trial_frame", ("assessments", "scores", "enrolments"))
    e = t.enrolments[t.enrolments["study"] == study]
    studies = sorted(t.enrolments["study"].dropna().unique())
    check("trial_frame", "study", study, Predicate(lambda s: not e.empty, f"a study with enrolments {studies}"))
    problems = [("enrolments", i, "arm", None, f"is blank: every resident enrolled in {study} needs an arm")
                for i in e.index[e["arm"].isna()]]
    a = t.assessments
    visits = a[(a["purpose"] == "study") & (a["study"] == study).fillna(False)]
    problems += [("assessments", i, "visit", None, "is blank: a study visit needs its visit number (month)")
                 for i in visits.index[visits["visit"].isna()]]
    stray = ~visits["resident_id"].isin(e["resident_id"])
    problems += [("assessments", i, "resident_id", r, f"has a {study} visit but is not enrolled in {study}")
                 for i, r in zip(visits.index[stray], visits["resident_id"][stray])]
    twice = visits.drop_duplicates(["resident_id", "assessed_on"]).duplicated(["resident_id", "visit"], keep=False)
    problems += [("assessments", i, "visit", v, "is a second sitting of this resident at this visit")
                 for i, v in zip(twice.index[twice], visits.loc[twice.index[twice], "visit"])]
    if problems:
        raise CohortDataError(problems, context="trial_frame", outcome="nothing was computed")

    wide = t.scores_wide(["phq9", "gad7"])
    enrolled = e[["resident_id", "arm", "enrolled_on"]]
    base = wide[wide["purpose"] == "screening"].merge(
        enrolled, left_on=["resident_id", "assessed_on"], right_on=["resident_id", "enrolled_on"])
    follow = wide[(wide["purpose"] == "study") & (wide["study"] == study).fillna(False)]
    long = pd.concat([base[["resident_id", "phq9_score", "gad7_score"]].assign(month=0),
                      follow[["resident_id", "phq9_score", "gad7_score"]].assign(month=follow["visit"].astype(int))],
                     ignore_index=True)
    months = sorted({0, *long["month"].unique().tolist()})
    scores = long.pivot(index="resident_id", columns="month", values=["phq9_score", "gad7_score"])
    scores.columns = [f"{c.split('_')[0]}_{m}" for c, m in scores.columns]
    out = enrolled[["resident_id", "arm"]].merge(scores, left_on="resident_id", right_index=True, how="left")
    order = [f"{i}_{m}" for m in months for i in ("phq9", "gad7")]
    for column in order:
        if column not in out.columns:
            out[column] = np.nan
        out[column] = out[column].astype(float)
    last = months[-1]
    flags = classify_pairs(out, start={"phq9": "phq9_0", "gad7": "gad7_0"},
                           end={"phq9": f"phq9_{last}", "gad7": f"gad7_{last}"})
    outcomes = {"response": "response", "remission": "remission", "recovery": "recovered"}
    for name, column in outcomes.items():
        out[f"{name}_{last}"] = flags[column].astype("Float64").to_numpy(float, na_value=np.nan)
    out = out[["resident_id", "arm"] + order + [f"{n}_{last}" for n in outcomes]].sort_values(
        "resident_id", ignore_index=True)
    out.attrs.update(study=study, months=months, thresholds_version=thresholds().version, source=t.attrs.get("source"))
    return out
