"""Access, timeliness and continuity measures of the 28 quality indicators (A1-A5, T3, T4, C2-C5).

Each measure is registered in :data:`workbench.quality.MEASURES` (the YAML picks it by id) and
returns *units*: one row per counted person, screening, referral or discharge, with its
``community``, ``period`` (``YYYY-MM``) and ``outcome`` (1 counted in the numerator, 0 not,
NaN = not known: excluded from the denominator, never read as 0). Measures read what was
recorded (stored scores, the *decided* tier, contacts whose ``status`` is ``attended``) and never
score or decide again; the Talking Therapies "finished treatment" rule comes from
:func:`workbench.outcomes.referral_outcomes`, "not improving" from
:func:`workbench.outcomes.registry_flags`.

Shared rules
------------
- *Window not yet closed.* A unit whose window (30 days after a screening, a due date, 7 days
  after a discharge ...) ends after :attr:`_Derived.last_day <workbench.quality._Derived>` (the
  last date of anything recorded) cannot be judged yet: its outcome is NaN, *whether or not* the
  contact already happened, so the latest months are not biased towards the quick successes.
- *Communities.* A unit belongs to its resident's own community (``residents.community``); a
  blank community (suppressed in an export) is counted in ``all`` only.
- *Contacts.* Dates have day resolution; "within ``days``" means on the day (day 0) up to
  ``days`` days after it, both ends inclusive, unless a measure says otherwise.

Coverage (A1 ``screening_coverage``, A2 ``chronic_screening_coverage``, A3
``lonely_older_screening_coverage``; ``period: rolling_12``)
- For each month asked, the population is every resident alive at the month's last day (no
  ``death`` event on or before it) aged ``min_age`` or more on that day (whole years,
  :meth:`_Derived.age_on`); A2 keeps those with any of ``conditions`` (the residents table's
  condition columns); A3 those whose ``lives_alone`` equals the parameter.
- Outcome 1 when, for **each** named screen of ``screens``, the resident has a *complete*
  screening (``assessments.purpose == "screening"``) dated in the 12 months to the month's end
  (``month_end - 12 months`` exclusive, the month's end inclusive: for 2025-06, 2024-07-01 to
  2025-06-30). A screen is complete when its full questionnaire has a stored score, or its
  screener has a stored score below the screener's declared screen-positive threshold (a
  negative PHQ-2 / GAD-2 is a complete depression / anxiety screen under the default policy 1.1;
  a positive screener without its full questionnaire is not). The screens may come from
  different sittings in the 12 months. Reviews during a referral and study visits are not
  screening and do not count.
- Age unknown (blank ``birth_date``, suppressed in an export): the resident's eligibility is
  unknown, so they are a unit with outcome NaN (excluded from numerator and denominator, never a
  0) and counted apart in ``units.attrs["age_unknown"]`` (``{month: residents}``).

A4 ``coverage_equity`` (``ratio``, ``rolling_12``)
- The A1 units, each with ``group`` = ``numerator`` when its community's ``community_type`` is
  in ``groups["numerator"]`` (rural), ``denominator`` when in ``groups["denominator"]`` (urban);
  units of communities of neither type (e.g. ``ageing``), of a blank type or of a blank
  community are dropped (their group is not known).

A5 ``treated_within`` and T4 ``first_session_within`` (``month`` of the screening)
- Screenings whose decided tier (``decisions.tier``; an undecided screening has none) is in
  ``tiers``; outcome 1 when the resident's first attended contact of a kind in
  ``contact_kinds`` on or after the screening day is at most ``days`` days after it (never
  treated: 0). Window not yet closed: NaN. A5 declares tiers [2, 3] and 30 days, T4 tier [2]
  and 14 days, both with ``contact_kinds: [treatment]``.

T3 ``hospital_seen_within`` (``month`` of the referral)
- Referrals made at tier 3 (``referrals.tier``). Outcome 1 when ``hospital_seen_on -
  referred_on <= days``; 0 when seen later, or when the hospital reported an appointment
  (``appointment_on``) but no visit and the window has closed. NaN (not known) when the
  hospital reported nothing (both dates blank: not seen or not reported cannot be told apart),
  when the window has not closed, or when the seen date is before the referral (a date error, which
  :meth:`Tables.validate <workbench.tables.Tables.validate>` refuses when the tables are read).
  None (``no_data``) when no tier-3 referral has either hospital date: the hospital dates were
  not collected.

C2 ``paired_measures`` (``month`` the referral ended)
- Ended referrals that finished treatment (``finished_treatment`` of
  :func:`~workbench.outcomes.referral_outcomes`: at least 2 attended treatment contacts, NHS
  Talking Therapies). Outcome 1 when the referral holds at least two stored, scorable PHQ-9
  scores (its baseline screening and its reviews, :meth:`Tables.referral_scores`); a PHQ-9
  that could not be scored does not count.

C3 ``followed_up_by_due`` (``month`` of the due date)
- Screenings whose latest decision set ``next_contact_due``. Outcome 1 when the resident had an
  attended contact (any kind) on or after the screening day and on or before the due date, else
  0. Excluded (NaN): a due date after the last recorded day (not yet due) or before the
  screening day (a date error).

C4 ``psychiatric_review_when_not_improving`` (``month`` first judged not improving)
- Referrals judged *not improving* in weeks 8-12 by
  :func:`~workbench.outcomes.registry_flags` (MHIP, Sowa 2018: at week >= 8 neither the latest
  PHQ-9 < 10 nor a fall >= 50 % from the referral's baseline; thresholds in
  ``outcomes/thresholds.yaml``), as the registry showed it to staff: judged on the day week 8
  starts (``referred_on + 56``) and on every day a PHQ-9 of the referral is stored in weeks 8-12
  (``referred_on + 56`` to ``referred_on + 90``, weeks counted as whole weeks since the
  referral). Not improving on any of those days puts the referral in the denominator, in the
  month of the first such day.
- Outcome 1 when an attended ``psychiatric_review`` contact of that referral is dated in weeks
  8-12 (``referred_on + 56`` to ``referred_on + 90`` inclusive), the window in which MHIP says
  the case review is due. Window not yet closed (``referred_on + 90`` after the last day):
  NaN. A referral with no PHQ-9 at all cannot be judged and is not counted.

C5 ``followed_after_discharge`` (``month`` of the discharge)
- ``psychiatric_discharge`` events. Outcome 1 when the resident had an attended community
  contact (any kind but ``psychiatric_review``, a consultant's review of the case, not a
  contact with the resident) from the day after discharge to ``days`` days after it; with
  ``include_discharge_day`` the discharge day counts too. The HEDIS FUH specification excludes
  the discharge day: NCQA's measure text is licensed and was not reached from here; health plans'
  summaries of it say so in the same words, e.g. Horizon BCBSNJ, "HEDIS Measurement Year (MY)
  2023 Provider Tips", FUH (https://www.horizonblue.com/providers/resources/hedis-resources/
  hedis-measurement-year-my-2023-provider-tips-optimizing-hedis-results/follow-after-
  hospitalization-mental-illness-fuh): "Do not include visits that occur on the date of
  discharge"; BCBS North Dakota's FUH tip sheet (https://www.bcbsnd.com/providers/programs/
  bluealliance-and-bluealliance-care-plus/hedis-tip-sheets/hedis-tip-sheet-search/fuh): "Follow up
  visits that occur on the same day as discharge do not count toward measure compliance". So the
  shipped indicator declares ``include_discharge_day: false``.
- Excluded (NaN), as HEDIS FUH excludes members who died and readmissions: a death on or before
  the window's last day, a readmission to a psychiatric ward within the window (another
  discharge of the resident whose admission, ``event_on - days``, is after the discharge day and
  on or before the window's last day; a blank stay length cannot show it), and a window not yet
  closed.
- None (``no_data``) when no ``psychiatric_discharge`` was recorded at all.

T1 ``self_harm_followed_within``, T2 ``tier3_contacted_within`` and C1 ``dropout`` are defined in
:mod:`workbench.quality`.

Computation (a city of 1,000,000 residents): residents, days and months are integer codes (the
resident's position in the residents table, days since 1970, ``year * 12 + month - 1``) and each
month text is formatted once; coverage is one pass over the complete screenings per month and
screen; a first contact on or after a day is a binary search in the attended contacts sorted by
(resident, day); frames several measures read are derived once (:meth:`_Derived.memo`). The units
are the same, row for row, as the plain computations of these definitions in
``tests/test_quality_care.py``.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from workbench.instruments import get_instrument
from workbench.quality_core import (_Derived, _first_contact_on_or_after, _float, _measure, _month_number,
                                    _referral_positions, _table_persons, _unit_frame, _units, check_parameters)

__all__ = ["chronic_screening_coverage", "coverage_equity", "first_session_within", "followed_after_discharge",
           "followed_up_by_due", "hospital_seen_within", "lonely_older_screening_coverage", "paired_measures",
           "psychiatric_review_when_not_improving", "screening_coverage", "treated_within"]

_UNITS = ["community", "period", "outcome"]


def _judged(outcome: pd.Series, window_end: pd.Series, t: _Derived) -> np.ndarray:
    """``outcome`` as floats, NaN where the window ends after the last recorded day."""
    values = _float(outcome)
    last = t.last_day
    open_ = np.ones(len(values), bool) if last is None else (pd.to_datetime(window_end) > last).to_numpy(bool)
    values[open_] = np.nan
    return values


def _month_index(dates: pd.Series) -> np.ndarray:
    """``year * 12 + month - 1`` of each date, as integers (a blank date is not allowed here)."""
    return pd.Series(dates).to_numpy("datetime64[M]").astype(np.int64) + 1970 * 12


# --- coverage (A1-A4) -------------------------------------------------------------------------

def _screening_scores(t: _Derived, instrument: str) -> dict[str, np.ndarray]:
    """Stored scores of ``instrument`` taken at a screening (the assessment's ``purpose``), as
    :meth:`Tables.scores_of(instrument, purpose="screening") <workbench.tables.Tables.scores_of>`
    gives them, narrowed to what coverage reads: the resident's position in the residents table,
    the month index and the score (blank scores left out). Read once per instrument, by position."""
    def make() -> dict[str, np.ndarray]:
        s, a = t["scores"], t["assessments"]
        codes, names = t.memo("care.score_instruments", lambda: pd.factorize(s["instrument"]))
        k = pd.Index(names).get_indexer([instrument])[0]
        rows = np.flatnonzero(codes == k) if k >= 0 else np.zeros(0, dtype=np.int64)
        if t.tables._scores_aligned():  # scores saved row for row with their assessments (registry, sample)
            at = rows
        else:
            index = t.memo("care.assessment_index", lambda: pd.Index(a["assessment_id"]))
            at = index.get_indexer(s["assessment_id"].iloc[rows])
        screening = t.memo("care.screening_sittings",
                           lambda: (a["purpose"] == "screening").fillna(False).to_numpy(bool))
        score = s["score"].to_numpy(dtype=float, na_value=np.nan)[rows]
        keep = (at >= 0) & screening[np.maximum(at, 0)] & ~np.isnan(score)
        rows = rows[keep]
        return {"resident": _table_persons(t, "scores")[rows],
                "month": _month_index(s["assessed_on"].iloc[rows]), "score": score[keep]}
    return t.memo("care.screening_scores:" + instrument, make)


def _complete_screens(t: _Derived, screens: Mapping[str, Mapping[str, str]]
                      ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """For each screen name: ``(resident, month)`` of each complete screening, as the resident's
    position in the residents table and the month index (``year * 12 + month - 1``)."""
    def make() -> dict[str, tuple[np.ndarray, np.ndarray]]:
        out = {}
        for name, screen in screens.items():
            full = _screening_scores(t, screen["full"])
            resident, month = [full["resident"]], [full["month"]]
            if "screener" in screen:  # a negative screener completes the screen
                short = _screening_scores(t, screen["screener"])
                negative = short["score"] < get_instrument(screen["screener"]).screen_positive
                resident.append(short["resident"][negative])
                month.append(short["month"][negative])
            out[name] = (np.concatenate(resident), np.concatenate(month))
        return out
    key = "care.complete_screens:" + repr(sorted((k, sorted(v.items())) for k, v in screens.items()))
    return t.memo(key, make)


def _deaths(t: _Derived) -> pd.Series:
    """Day of death of each resident who died (earliest ``death`` event), by ``resident_id``."""
    def make() -> pd.Series:
        e = t["events"]
        return e[e["kind"] == "death"].groupby("resident_id")["event_on"].min()
    return t.memo("care.deaths", make)


def _resident_dates(t: _Derived) -> dict[str, np.ndarray]:
    """Per resident (residents-table order): birth year, month and day (as integers), whether the
    birth date is known, and the day of death (NaT: alive)."""
    def make() -> dict[str, np.ndarray]:
        res = t["residents"]
        birth = pd.to_datetime(res["birth_date"])
        known = birth.notna().to_numpy(bool)
        return {"year": birth.dt.year.fillna(0).to_numpy(np.int64),
                "month": birth.dt.month.fillna(0).to_numpy(np.int64),
                "day": birth.dt.day.fillna(0).to_numpy(np.int64), "known": known,
                "died": res["resident_id"].map(_deaths(t)).to_numpy("datetime64[ns]")}
    return t.memo("care.resident_dates", make)


def _age_at(dates: Mapping[str, np.ndarray], on: pd.Timestamp) -> np.ndarray:
    """Whole years of age of every resident on the day ``on`` (as :meth:`_Derived.age_on`: a year
    less before the birthday in ``on``'s year); meaningless where the birth date is not known."""
    before = (dates["month"] > on.month) | ((dates["month"] == on.month) & (dates["day"] > on.day))
    return on.year - dates["year"] - before.astype(np.int64)


def _coverage_rows(t: _Derived, months: Sequence[str], screens: Mapping, min_age: int,
                   conditions: Sequence[str] | None, lives_alone: bool | None) -> dict[str, Any]:
    """The coverage units as arrays: each unit's resident (position in the residents table), its
    month's position in ``months``, its outcome (NaN: age unknown), and the residents of unknown
    age per month. One pass over the complete screenings per month and screen, on integers."""
    def make() -> dict[str, Any]:
        res = t["residents"]
        keep = np.ones(len(res), bool)
        if conditions is not None:
            keep &= res[list(conditions)].astype(bool).any(axis=1).to_numpy()
        if lives_alone is not None:
            keep &= (res["lives_alone"].astype(bool) == lives_alone).to_numpy()
        found = _complete_screens(t, screens)
        dates = _resident_dates(t)
        known = dates["known"]
        rows, which, outcomes, unknown = [], [], [], {}
        for k, month in enumerate(months):
            m = pd.Period(month, "M")
            end = m.end_time.normalize()
            index = m.year * 12 + m.month - 1
            alive = ~(dates["died"] <= end.to_datetime64())
            eligible = keep & alive & (~known | (_age_at(dates, end) >= min_age))
            covered = np.ones(len(res), bool)
            for resident, month_index in found.values():
                recent = np.zeros(len(res), bool)
                recent[resident[(month_index > index - 12) & (month_index <= index)]] = True
                covered &= recent
            at = np.flatnonzero(eligible)
            outcome = covered[at].astype(float)
            outcome[~known[at]] = np.nan
            unknown[month] = int((~known[at]).sum())
            rows.append(at)
            which.append(np.full(len(at), k))
            outcomes.append(outcome)
        cat = (lambda parts, dtype: np.concatenate(parts) if parts else np.zeros(0, dtype))
        return {"rows": cat(rows, np.int64), "month": cat(which, np.int64), "outcome": cat(outcomes, float),
                "unknown": unknown}
    key = "care.coverage:" + repr((list(months), sorted((k, sorted(v.items())) for k, v in screens.items()), min_age,
                                   None if conditions is None else list(conditions), lives_alone))
    return t.memo(key, make)


def _coverage(t: _Derived, months: Sequence[str], screens: Mapping, min_age: int, *,
              conditions: Sequence[str] | None = None, lives_alone: bool | None = None) -> pd.DataFrame:
    found = _coverage_rows(t, months, screens, min_age, conditions, lives_alone)
    if not len(months):
        out = pd.DataFrame(columns=_UNITS)
    else:
        numbers = np.array([_month_number(m) for m in months], dtype=np.int64)
        out = _unit_frame(t, found["rows"], numbers[found["month"]], found["outcome"])
    out.attrs["age_unknown"] = dict(found["unknown"])
    return out


@_measure("screening_coverage", "proportion", ("screens", "min_age"), period="rolling_12")
def screening_coverage(t: _Derived, *, months: Sequence[str], screens: Mapping, min_age: int) -> pd.DataFrame:
    """Residents aged ``min_age``+ with a complete screen for each of ``screens`` in the 12 months to the month's end."""
    check_parameters("screening_coverage", screens=screens, min_age=min_age)
    return _coverage(t, months, screens, min_age)


@_measure("chronic_screening_coverage", "proportion", ("screens", "min_age", "conditions"), period="rolling_12")
def chronic_screening_coverage(t: _Derived, *, months: Sequence[str], screens: Mapping, min_age: int,
                               conditions: Sequence[str]) -> pd.DataFrame:
    """Screening coverage of the residents with any of ``conditions`` (chronic patients)."""
    check_parameters("chronic_screening_coverage", screens=screens, min_age=min_age, conditions=conditions)
    return _coverage(t, months, screens, min_age, conditions=conditions)


@_measure("lonely_older_screening_coverage", "proportion", ("screens", "min_age", "lives_alone"),
          period="rolling_12")
def lonely_older_screening_coverage(t: _Derived, *, months: Sequence[str], screens: Mapping, min_age: int,
                                    lives_alone: bool) -> pd.DataFrame:
    """Screening coverage of the residents aged ``min_age``+ whose ``lives_alone`` is as declared."""
    check_parameters("lonely_older_screening_coverage", screens=screens, min_age=min_age, lives_alone=lives_alone)
    return _coverage(t, months, screens, min_age, lives_alone=lives_alone)


@_measure("coverage_equity", "ratio", ("screens", "min_age", "groups"), period="rolling_12")
def coverage_equity(t: _Derived, *, months: Sequence[str], screens: Mapping, min_age: int,
                    groups: Mapping[str, Sequence[str]]) -> pd.DataFrame:
    """Screening coverage of the ``numerator`` community types over that of the ``denominator`` ones."""
    check_parameters("coverage_equity", screens=screens, min_age=min_age, groups=groups)
    if not len(months):
        units = _coverage(t, months, screens, min_age)
        out = units.assign(group=pd.Series(dtype=object))
        out.attrs = dict(units.attrs)
        return out
    # each resident's group once (by the type of their community), then the A1 units' by position
    found = _coverage_rows(t, months, screens, min_age, None, None)
    kind = t["residents"]["community"].map(t["communities"].set_index("community")["community_type"])
    group = np.full(len(kind), None, dtype=object)
    group[kind.isin(list(groups["numerator"])).to_numpy(bool)] = "numerator"
    group[kind.isin(list(groups["denominator"])).to_numpy(bool)] = "denominator"
    keep = pd.notna(group)[found["rows"]]
    rows = found["rows"][keep]
    numbers = np.array([_month_number(m) for m in months], dtype=np.int64)
    side = np.where(group[rows] == "numerator", 0, 1)
    out = _unit_frame(t, rows, numbers[found["month"][keep]], found["outcome"][keep],
                      group=pd.Categorical.from_codes(side, categories=["numerator", "denominator"]))
    out.attrs["age_unknown"] = dict(found["unknown"])
    return out


# --- timeliness (A5, T3, T4) ------------------------------------------------------------------

def _within(t: _Derived, function: str, tiers: list, contact_kinds: list, days: int) -> pd.DataFrame:
    check_parameters(function, tiers=tiers, contact_kinds=contact_kinds, days=days)
    s = t.screened
    s = s[s["tier"].isin(list(tiers)).fillna(False).to_numpy(bool)]
    wait = (_first_contact_on_or_after(t, s, "assessed_on", contact_kinds) - s["assessed_on"]).dt.days
    out = _units(s, t, "assessed_on", (wait <= days).fillna(False))
    out["outcome"] = _judged(out["outcome"], s["assessed_on"] + pd.Timedelta(days=days), t)
    return out


@_measure("treated_within", "proportion", ("tiers", "contact_kinds", "days"))
def treated_within(t: _Derived, *, months: Sequence[str], tiers: list, contact_kinds: list,
                   days: int) -> pd.DataFrame:
    """Screenings decided at one of ``tiers`` with an attended ``contact_kinds`` contact within ``days`` days."""
    return _within(t, "treated_within", tiers, contact_kinds, days)


@_measure("first_session_within", "proportion", ("tiers", "contact_kinds", "days"))
def first_session_within(t: _Derived, *, months: Sequence[str], tiers: list, contact_kinds: list,
                         days: int) -> pd.DataFrame:
    """Screenings decided at one of ``tiers`` whose first attended ``contact_kinds`` session is within ``days`` days."""
    return _within(t, "first_session_within", tiers, contact_kinds, days)


@_measure("hospital_seen_within", "proportion", ("days",))
def hospital_seen_within(t: _Derived, *, months: Sequence[str], days: int) -> pd.DataFrame | None:
    """Tier-3 referrals seen by the hospital within ``days`` days of the referral (None: hospital dates not collected)."""
    check_parameters("hospital_seen_within", days=days)
    r = t["referrals"]
    r = r[(r["tier"] == 3).fillna(False).to_numpy(bool)]
    if not (r["appointment_on"].notna() | r["hospital_seen_on"].notna()).any():
        return None
    wait = (r["hospital_seen_on"] - r["referred_on"]).dt.days
    outcome = np.full(len(r), np.nan)
    seen = (wait >= 0).fillna(False).to_numpy(bool)  # a seen date before the referral: a date error, not known
    outcome[seen] = (wait[seen] <= days).astype(float).to_numpy()
    outcome[(r["hospital_seen_on"].isna() & r["appointment_on"].notna()).to_numpy(bool)] = 0.0
    out = _units(r, t, "referred_on", outcome)
    out["outcome"] = _judged(out["outcome"], r["referred_on"] + pd.Timedelta(days=days), t)
    return out


# --- continuity (C2-C5) -----------------------------------------------------------------------

@_measure("paired_measures", "proportion")
def paired_measures(t: _Derived, *, months: Sequence[str]) -> pd.DataFrame:
    """Ended referrals that finished treatment (>= 2 attended treatment contacts) with >= 2 stored PHQ-9 scores."""
    from workbench.quality_outcomes import _tt_ended

    # the ended referrals with their referral_outcomes flags, shared with E1-E3 (quality_outcomes)
    ended = _tt_ended(t)
    r = ended[ended["finished_treatment"].astype(bool).to_numpy(bool)]
    scores = t.referral_scores
    n_phq9 = scores[scores["phq9_score"].notna()].groupby("referral_id").size()
    return _units(r, t, "ended_on", r["referral_id"].map(n_phq9).fillna(0) >= 2)


@_measure("followed_up_by_due", "proportion")
def followed_up_by_due(t: _Derived, *, months: Sequence[str]) -> pd.DataFrame:
    """Screenings whose decision set a next contact: an attended contact on or after the screening day and by the due date."""
    # one row per screening with its latest decision (the core's frame when it keeps the due date;
    # else the screenings without scores, which are not needed here)
    s = t.screened
    if "next_contact_due" not in s.columns:
        s = t.memo("care.screenings", lambda: t.tables.screenings(()))
    s = s[s["next_contact_due"].notna().to_numpy(bool)]
    first = _first_contact_on_or_after(t, s, "assessed_on")
    out = _units(s, t, "next_contact_due", (first <= s["next_contact_due"]).fillna(False))
    outcome = _judged(out["outcome"], s["next_contact_due"], t)
    outcome[(s["next_contact_due"] < s["assessed_on"]).to_numpy(bool)] = np.nan
    out["outcome"] = outcome
    return out


def _not_improving_in_window(t: _Derived) -> pd.DataFrame:
    """``referral_id, first_on``: referrals judged not improving in weeks 8-12, and the first day so judged."""
    from workbench.outcomes import registry_flags, thresholds

    th = thresholds()
    start_day, end_day = 7 * th.review_from_week, 7 * th.review_to_week + 6
    # referrals as their positions in the referrals table (integers, not texts) until the end
    everyone = t["referrals"]
    scores = t.referral_scores[["referral_id", "assessed_on", "phq9_score"]]
    scores = scores[scores["phq9_score"].notna().to_numpy(bool)]
    code = _referral_positions(t, scores["referral_id"])
    scores = pd.DataFrame({"referral_id": code, "assessed_on": scores["assessed_on"].to_numpy("datetime64[ns]"),
                           "phq9_score": scores["phq9_score"].to_numpy(float)})[code >= 0]
    referred = everyone["referred_on"].to_numpy("datetime64[ns]")
    closed = everyone["ended_on"].to_numpy("datetime64[ns]")
    scored = np.unique(scores["referral_id"].to_numpy(np.int64))
    refs = pd.DataFrame({"referral_id": scored, "resident_id": _table_persons(t, "referrals")[scored],
                         "referred_on": referred[scored], "ended_on": closed[scored]})
    # registry_flags' not_improving reads the PHQ-9 scores, the week and whether the referral is open,
    # never the contacts (its docstring's definition): the contacts are left out, not copied per day
    contacts = pd.DataFrame({"referral_id": pd.Series(dtype=np.int64), "contact_on": pd.Series(dtype="datetime64[ns]"),
                             "attended": pd.Series(dtype=bool)})
    offset = (scores["assessed_on"].to_numpy() - referred[scores["referral_id"].to_numpy(np.int64)]) // np.timedelta64(1, "D")
    days = scores[(offset >= start_day) & (offset <= end_day)]
    candidates = pd.concat([pd.DataFrame({"referral_id": scored, "on": referred[scored] + np.timedelta64(start_day, "D")}),
                            pd.DataFrame({"referral_id": days["referral_id"].to_numpy(np.int64),
                                          "on": days["assessed_on"].to_numpy()})]).drop_duplicates()
    last = t.last_day
    if last is not None:
        candidates = candidates[(candidates["on"] <= last).to_numpy(bool)]
    # a referral ended on or before the day is not open then: registry_flags does not judge it
    ended = closed[candidates["referral_id"].to_numpy(np.int64)]
    candidates = candidates[~(ended <= candidates["on"].to_numpy())]
    if candidates.empty:
        return pd.DataFrame({"referral_id": pd.Series(dtype=object), "first_on": pd.Series(dtype="datetime64[ns]")})
    # registry_flags judges every referral on one day. Each candidate (referral, day) becomes a copy
    # of the referral with all its dates moved by the same shift, so that its day falls on one
    # common day: one call judges them all, exactly as on their own days (only differences of
    # dates and comparisons with the day matter).
    candidates = candidates.reset_index(drop=True)
    common = candidates["on"].max()
    candidates["copy"] = np.arange(len(candidates))  # the copy's referral id (registry_flags takes any id)
    candidates["shift"] = common - candidates["on"]

    def copies(frame: pd.DataFrame, dates: Sequence[str]) -> pd.DataFrame:
        out = candidates[["referral_id", "copy", "shift"]].merge(frame, on="referral_id")
        for column in dates:
            out[column] = out[column] + out["shift"]
        return out.drop(columns=["referral_id", "shift"]).rename(columns={"copy": "referral_id"})

    shifted = copies(scores, ["assessed_on"])
    shifted = shifted[(shifted["assessed_on"] <= common).to_numpy(bool)]  # after the day: ignored by registry_flags
    flags = registry_flags(shifted, contacts, copies(refs, ["referred_on", "ended_on"]), on=common)
    hit = flags.loc[flags["not_improving"].fillna(False).to_numpy(bool), "referral_id"]
    hits = candidates[candidates["copy"].isin(hit).to_numpy(bool)]
    first = hits.groupby("referral_id")["on"].min()
    return pd.DataFrame({"referral_id": everyone["referral_id"].to_numpy(object)[first.index.to_numpy(np.int64)],
                         "first_on": first.to_numpy()})


@_measure("psychiatric_review_when_not_improving", "proportion")
def psychiatric_review_when_not_improving(t: _Derived, *, months: Sequence[str]) -> pd.DataFrame:
    """Referrals not improving in weeks 8-12 with an attended psychiatric case review in weeks 8-12."""
    from workbench.outcomes import thresholds

    th = thresholds()
    start_day, end_day = 7 * th.review_from_week, 7 * th.review_to_week + 6
    flagged = t.memo("care.not_improving", lambda: _not_improving_in_window(t))
    r = t["referrals"].merge(flagged, on="referral_id", how="inner")
    c = t.attended
    c = c[(c["kind"] == "psychiatric_review").to_numpy(bool) & c["referral_id"].notna().to_numpy(bool)]
    pairs = r[["referral_id", "referred_on"]].merge(c[["referral_id", "contact_on"]], on="referral_id")
    offset = (pairs["contact_on"] - pairs["referred_on"]).dt.days
    reviewed = pairs.loc[((offset >= start_day) & (offset <= end_day)).to_numpy(bool), "referral_id"]
    out = _units(r, t, "first_on", r["referral_id"].isin(reviewed))
    out["outcome"] = _judged(out["outcome"], r["referred_on"] + pd.Timedelta(days=end_day), t)
    return out


@_measure("followed_after_discharge", "proportion", ("days", "include_discharge_day"))
def followed_after_discharge(t: _Derived, *, months: Sequence[str], days: int,
                             include_discharge_day: bool) -> pd.DataFrame | None:
    """Psychiatric discharges with an attended community contact within ``days`` days (None: no discharge recorded)."""
    check_parameters("followed_after_discharge", days=days, include_discharge_day=include_discharge_day)
    e = t["events"]
    d = e[(e["kind"] == "psychiatric_discharge").to_numpy(bool)].reset_index(drop=True)
    if d.empty:
        return None
    first_day = d["event_on"] + pd.Timedelta(days=0 if include_discharge_day else 1)
    last_day = d["event_on"] + pd.Timedelta(days=days)
    c = t.attended
    c = c[(c["kind"] != "psychiatric_review").to_numpy(bool)][["resident_id", "contact_on"]]
    rows = pd.DataFrame({"resident_id": d["resident_id"].to_numpy(object), "on": d["event_on"].to_numpy(),
                         "lo": first_day.to_numpy(), "hi": last_day.to_numpy(), "row": np.arange(len(d))})
    pairs = rows.merge(c, on="resident_id")
    met = pairs.loc[((pairs["contact_on"] >= pairs["lo"]) & (pairs["contact_on"] <= pairs["hi"])).to_numpy(bool), "row"]
    out = _units(d, t, "event_on", np.isin(np.arange(len(d)), met.to_numpy()))
    outcome = _judged(out["outcome"], last_day, t)
    died = d["resident_id"].map(_deaths(t))
    outcome[(died <= last_day).to_numpy(bool)] = np.nan
    # a readmission: another discharge of the resident whose admission (discharge - stay) is in the window
    admitted = d["event_on"] - pd.to_timedelta(d["days"].astype("Float64").to_numpy(float, na_value=np.nan), unit="D")
    stays = pd.DataFrame({"resident_id": d["resident_id"].to_numpy(object), "admitted": admitted.to_numpy(),
                          "other": np.arange(len(d))})
    again = rows.merge(stays, on="resident_id")
    again = again[(again["other"] != again["row"]) & (again["admitted"] > again["on"])
                  & (again["admitted"] <= again["hi"])]
    outcome[np.isin(np.arange(len(d)), again["row"].to_numpy())] = np.nan
    out["outcome"] = outcome
    return out
