"""From registry-shaped tables to analysis-ready frames."""

from __future__ import annotations

from typing import Iterable

import numpy as np
import pandas as pd

from workbench.scoring import score_all

__all__ = ["CAUSES", "ENDPOINTS", "endpoints", "referral_scores", "trial_frame"]


def referral_scores(*, screenings: pd.DataFrame, followups: pd.DataFrame, referrals: pd.DataFrame,
                    instruments: Iterable[str] = ("phq9", "gad7")) -> pd.DataFrame:
    """Scored questionnaires per referral: the screening that led to it, then its reviews.

    The screening that led to a referral is the resident's screening on the referral date
    (``assessed_on == referred_on``); it is the referral's baseline. Follow-up reviews carry the
    ``referral_id`` already. Scores follow each questionnaire's declaration (missing answers
    are never zero).

    Returns
    -------
    DataFrame
        One row per administered form: ``resident_id``, ``referral_id``, ``assessed_on``,
        ``baseline`` (bool) and ``{instrument}_score`` for each instrument, sorted by referral
        and date; ready for :func:`workbench.outcomes.referral_outcomes`,
        :func:`workbench.outcomes.change` and :func:`workbench.outcomes.registry_flags`.

    Examples
    --------
    >>> from workbench.sample import load_sample
    >>> s = load_sample()
    >>> scores = referral_scores(screenings=s.screenings, followups=s.followups, referrals=s.referrals)
    >>> int(scores["baseline"].sum()) == len(s.referrals)
    True
    """
    instruments = list(instruments)
    keys = ["resident_id", "referral_id", "assessed_on"]
    links = referrals[["referral_id", "resident_id", "referred_on"]].rename(columns={"referred_on": "assessed_on"})
    baseline = screenings.assign(assessed_on=pd.to_datetime(screenings["assessed_on"])).merge(
        links.assign(assessed_on=pd.to_datetime(links["assessed_on"])), on=["resident_id", "assessed_on"],
        how="inner", validate="one_to_one")
    reviews = followups.assign(assessed_on=pd.to_datetime(followups["assessed_on"]))
    forms = pd.concat([baseline.assign(baseline=True), reviews.assign(baseline=False)], ignore_index=True)
    scores = score_all(forms, instruments=instruments)
    out = forms[keys + ["baseline"]].join(scores[[f"{i}_score" for i in instruments]])
    return out.sort_values(["referral_id", "assessed_on", "baseline"], ascending=[True, True, False],
                           ignore_index=True)


#: Endpoints :func:`endpoints` can build.
ENDPOINTS = ("remission", "dropout", "crisis_or_er", "cardiovascular", "death")
#: Cause codes of ``event`` in the competing-risk endpoints.
CAUSES = {"event": 1, "death": 2}


def endpoints(*, residents: pd.DataFrame, screenings: pd.DataFrame, censor_date, events: pd.DataFrame | None = None,
              assessments: pd.DataFrame | None = None, contacts: pd.DataFrame | None = None,
              referrals: pd.DataFrame | None = None, enrolments: pd.DataFrame | None = None,
              which: Iterable[str] = ENDPOINTS, dropout_days: int = 90, time_scale: str = "follow_up",
              remission_baseline: float | None = None, remission_below: float | None = None) -> pd.DataFrame:
    """One row per resident per endpoint, ready for :mod:`workbench.survival`.

    Parameters
    ----------
    residents, screenings : DataFrame
        Registry-shaped tables (as :func:`workbench.sample.load_sample` gives them). Time zero is
        each resident's baseline screening (``assessed_on``).
    censor_date : date
        End of follow-up for everyone still under observation (required: never "today").
        Records after it are ignored.
    events : DataFrame, optional
        ``resident_id, event_on, kind`` (kinds as the registry's: crisis, er_visit,
        cardiovascular_event, hospitalisation, death).
    assessments : DataFrame, optional
        ``resident_id, assessed_on, phq9_score`` of later reviews (e.g. from
        :func:`referral_scores`), for remission.
    contacts, referrals : DataFrame, optional
        For dropout: ``resident_id, contact_on, attended`` and ``resident_id, referred_on,
        ended_on, end_reason``.
    enrolments : DataFrame, optional
        ``resident_id, arm`` added as a covariate.
    which : endpoints to build, from :data:`ENDPOINTS`.
    dropout_days : int
        Dropout: no attended contact for this many days (the event is dated at the last
        attended contact + ``dropout_days``); a referral that ended as completed is censored.
    time_scale : {"follow_up", "age"}
        ``follow_up``: days since baseline, ``entry`` 0. ``age``: days of age, ``entry`` the
        age at baseline (delayed entry: a resident is at risk only from the age they joined).
    remission_baseline, remission_below : float, optional
        Remission: the first PHQ-9 below ``remission_below`` after a baseline PHQ-9 of at least
        ``remission_baseline``. Defaults are declared once elsewhere: the PHQ-9 screen-positive
        total (10, Kroenke 2001, ``phq9.yaml``) and the remission threshold of
        ``workbench/outcomes/thresholds.yaml`` (PHQ-9 < 5, REFERENCE.md). Only residents at or above
        the baseline threshold enter this endpoint.

    Returns
    -------
    DataFrame
        ``resident_id, endpoint, duration`` (days), ``event`` (1/0; for crisis_or_er and
        cardiovascular: 1 = the event, 2 = death first, 0 = censored), ``entry`` (days),
        ``baseline_on``, ``exit_on`` and baseline covariates (``sex``, ``age``, ``lives_alone``,
        the chronic conditions, ``arm`` when enrolments are given). ``attrs['excluded']`` counts
        residents left out per endpoint and why.
    """
    which = list(which)
    unknown = [w for w in which if w not in ENDPOINTS]
    if unknown:
        raise ValueError(f"The 'which' parameter of endpoints must list endpoints among {list(ENDPOINTS)}. "
                         f"Got {unknown} instead.")
    if time_scale not in ("follow_up", "age"):
        raise ValueError(f"The 'time_scale' parameter of endpoints must be 'follow_up' or 'age'. Got {time_scale!r}.")
    if remission_baseline is None:
        from workbench.instruments import get_instrument

        remission_baseline = get_instrument("phq9").screen_positive
    if remission_below is None:
        from workbench.outcomes import thresholds

        remission_below = thresholds().remission_below["phq9"]
    end = pd.Timestamp(censor_date)
    if pd.isna(end):
        raise ValueError(f"The 'censor_date' parameter of endpoints must be a date. Got {censor_date!r} instead.")
    base = screenings[["resident_id", "assessed_on"]].rename(columns={"assessed_on": "baseline_on"})
    base["baseline_on"] = pd.to_datetime(base["baseline_on"])
    base = base.sort_values("baseline_on").drop_duplicates("resident_id")
    people = residents.merge(base, on="resident_id", how="inner", validate="one_to_one")
    excluded: dict[str, dict[str, int]] = {}
    after = people["baseline_on"] > end
    people = people[~after]
    ev = pd.DataFrame(columns=["resident_id", "event_on", "kind"]) if events is None else events.copy()
    ev["event_on"] = pd.to_datetime(ev["event_on"])
    ev = ev[ev["event_on"] <= end]
    death = ev[ev["kind"] == "death"].groupby("resident_id")["event_on"].min()
    people = people.assign(death_on=people["resident_id"].map(death))
    exit_default = people["death_on"].where(people["death_on"].notna(), end)

    def first_event(kinds):
        hit = ev[ev["kind"].isin(kinds)].merge(people[["resident_id", "baseline_on"]], on="resident_id")
        hit = hit[hit["event_on"] >= hit["baseline_on"]]
        return people["resident_id"].map(hit.groupby("resident_id")["event_on"].min())

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
            if assessments is None:
                raise ValueError("The remission endpoint needs 'assessments' (later PHQ-9 scores).")
            a = assessments[["resident_id", "assessed_on", "phq9_score"]].copy()
            a["assessed_on"] = pd.to_datetime(a["assessed_on"])
            a = a[(a["assessed_on"] <= end) & a["phq9_score"].notna()].merge(
                people[["resident_id", "baseline_on"]], on="resident_id")
            first_score = a[a["assessed_on"] == a["baseline_on"]].groupby("resident_id")["phq9_score"].first()
            eligible = people["resident_id"].map(first_score) >= remission_baseline
            later = a[a["assessed_on"] > a["baseline_on"]]
            remitted = later[later["phq9_score"] < remission_below].groupby("resident_id")["assessed_on"].min()
            last_seen = later.groupby("resident_id")["assessed_on"].max()
            rows = people[eligible.to_numpy()]
            first = rows["resident_id"].map(remitted)
            seen = rows["resident_id"].map(last_seen).fillna(rows["baseline_on"])
            exit_on = first.where(first.notna(), seen)
            event = first.notna().astype(int)
            excluded[name] = {"baseline PHQ-9 below threshold or missing": int((~eligible).sum())}
        else:  # dropout
            if contacts is None or referrals is None:
                raise ValueError("The dropout endpoint needs 'contacts' and 'referrals'.")
            refs = referrals.copy()
            refs["referred_on"] = pd.to_datetime(refs["referred_on"])
            refs = refs[refs["referred_on"] <= end].sort_values("referred_on").drop_duplicates("resident_id")
            c = contacts[contacts["attended"].astype(bool)].copy()
            c["contact_on"] = pd.to_datetime(c["contact_on"])
            c = c[c["contact_on"] <= end]
            rows = people[people["resident_id"].isin(refs["resident_id"])]
            rows = rows.assign(baseline_on=rows["resident_id"].map(refs.set_index("resident_id")["referred_on"]))
            last = rows["resident_id"].map(c.groupby("resident_id")["contact_on"].max())
            last = last.where(last.notna(), rows["baseline_on"])
            ended = pd.to_datetime(rows["resident_id"].map(refs.set_index("resident_id")["ended_on"]))
            completed = rows["resident_id"].map(refs.set_index("resident_id")["end_reason"]) == "completed"
            limit = rows["death_on"].where(rows["death_on"].notna(), end)
            gap_end = last + pd.to_timedelta(dropout_days, unit="D")
            dropped = ~completed & (gap_end <= limit)
            censor = ended.where(completed & ended.notna(), limit)
            exit_on = gap_end.where(dropped, censor)
            event = dropped.astype(int)
        frame = rows[["resident_id", "baseline_on"]].assign(endpoint=name, exit_on=exit_on.to_numpy(),
                                                           event=np.asarray(event))
        frame["duration"] = (frame["exit_on"] - frame["baseline_on"]).dt.days
        frames.append(frame.merge(rows.drop(columns=["baseline_on"]), on="resident_id"))
    out = pd.concat(frames, ignore_index=True)
    out["entry"] = 0
    if time_scale == "age":
        age_days = (out["baseline_on"] - pd.to_datetime(out["birth_date"])).dt.days
        out["entry"], out["duration"] = age_days, age_days + out["duration"]
    if "birth_date" in out:
        out["age"] = ((out["baseline_on"] - pd.to_datetime(out["birth_date"])).dt.days // 365.25).astype(int)
    if enrolments is not None:
        out = out.merge(enrolments[["resident_id", "arm"]].drop_duplicates("resident_id"), on="resident_id", how="left")
    zero = out["duration"] <= out["entry"]
    out = out[~zero]  # a resident leaving on the day they entered adds no time at risk
    excluded["all"] = {"baseline after censor_date": int(after.sum()), "no time at risk": int(zero.sum())}
    keep = ["resident_id", "endpoint", "duration", "event", "entry", "baseline_on", "exit_on"]
    out = out[keep + [c for c in out.columns if c not in keep and c not in ("death_on", "birth_date")]]
    out.attrs["excluded"] = excluded
    out.attrs["censor_date"] = str(end.date())
    return out.reset_index(drop=True)


def trial_frame(*, screenings: pd.DataFrame, enrolments: pd.DataFrame, trial_assessments: pd.DataFrame,
                study: str = "rct_12m") -> pd.DataFrame:
    """One row per randomised resident: arm, PHQ-9 and GAD-7 at baseline and each follow-up month.

    The baseline is the screening on the enrolment day; follow-ups are the trial assessments
    (``month``). Scores follow the declarations (blank answers are never zero; a form that
    cannot be scored is NaN); a resident not assessed at a month has NaN there.

    Returns
    -------
    DataFrame
        ``resident_id, arm, phq9_0, gad7_0, phq9_<m>, gad7_<m>`` for each month ``m``, and
        ``response_<last>`` / ``remission_<last>`` / ``recovery_<last>`` (1/0, NaN when a score
        is missing or the measure does not apply) with the thresholds of
        :mod:`workbench.outcomes` (response: PHQ-9 fall >= 50% from a baseline of at least 1;
        remission: PHQ-9 below 5; recovery: NHS Talking Therapies caseness, PHQ-9 >= 10 or
        GAD-7 >= 8, at the start and on neither at the end).
    """
    from workbench.outcomes import thresholds

    e = enrolments.loc[enrolments["study"] == study, ["resident_id", "arm", "enrolled_on"]]
    base = screenings.merge(e, left_on=["resident_id", "assessed_on"], right_on=["resident_id", "enrolled_on"])
    scored = [pd.concat([base[["resident_id"]], score_all(base, instruments=["phq9", "gad7"])[["phq9_score", "gad7_score"]]],
                        axis=1).assign(month=0)]
    follow = trial_assessments[trial_assessments["study"] == study]
    scored.append(pd.concat([follow[["resident_id", "month"]],
                             score_all(follow, instruments=["phq9", "gad7"])[["phq9_score", "gad7_score"]]], axis=1))
    long = pd.concat(scored, ignore_index=True)
    wide = long.pivot(index="resident_id", columns="month", values=["phq9_score", "gad7_score"])
    months = sorted(long["month"].unique())
    wide.columns = [f"{c.split('_')[0]}_{m}" for c, m in wide.columns]
    out = e[["resident_id", "arm"]].merge(wide, left_on="resident_id", right_index=True, how="left")
    last = months[-1]
    t = thresholds()
    base_score, end_score = out.get("phq9_0"), out.get(f"phq9_{last}")
    both = base_score.notna() & end_score.notna() & (base_score > 0)
    out[f"response_{last}"] = np.where(both, base_score - end_score >= t.response_min_fall * base_score, np.nan)
    out[f"remission_{last}"] = np.where(end_score.notna(), end_score < t.remission_below["phq9"], np.nan)
    # NHS Talking Therapies recovery: at caseness at the start, below caseness on both at the end;
    # it applies only to those at caseness at the start with both scores known at the end
    case = t.tt_caseness
    start_case = (out["phq9_0"] >= case["phq9"]) | (out["gad7_0"] >= case["gad7"])
    end_known = out[f"phq9_{last}"].notna() & out[f"gad7_{last}"].notna()
    end_case = (out[f"phq9_{last}"] >= case["phq9"]) | (out[f"gad7_{last}"] >= case["gad7"])
    out[f"recovery_{last}"] = np.where(start_case & end_known, ~end_case, np.nan)
    order = ["resident_id", "arm"] + [f"{i}_{m}" for m in months for i in ("phq9", "gad7")]
    return out[order + [f"response_{last}", f"remission_{last}", f"recovery_{last}"]].sort_values(
        "resident_id", ignore_index=True)
