"""Quality measures of effectiveness, safety and experience (indicators E1-E6, S1-S4, X2-X4).

Each function is a measure of :mod:`workbench.quality` (registered with ``quality._measure``):
it reads what was stored and returns either unit rows (``community, period, outcome``) or
pre-aggregated counts (``community, period, numerator, denominator``, with the ``all`` rows),
or None when its source was not collected at all (status ``no_data``). Nothing is scored,
tiered or classified again: the clinical definitions are those of
:func:`workbench.outcomes.referral_outcomes` / :func:`workbench.outcomes.rates` (NHS Talking
Therapies), :func:`workbench.outcomes.cms159`, :func:`workbench.chronic.indicators` (the chronic
policy) and :func:`workbench.smd.indicators` (the SMD policy). A blank is never read as 0 or
"no"; a resident whose community is blank (suppressed in an export) counts in ``all`` only.

Definitions
-----------
E1 ``tt_reliable_improvement``, E3 ``tt_reliable_recovery``, S1 ``tt_reliable_deterioration``
    Referrals that *ended* in the month (``referrals.ended_on``; an open referral is not counted
    yet), with their NHS Talking Therapies outcome from :func:`~workbench.outcomes.referral_outcomes`
    (first vs last paired PHQ-9 + GAD-7 of the referral; finished treatment = >= 2 attended
    ``treatment`` contacts) and the counts of :func:`~workbench.outcomes.rates`, so the
    denominators are REFERENCE.md's: reliable improvement and reliable deterioration over every
    finished referral; reliable recovery over finished referrals minus those *known* not to be at
    caseness at the start. A finished referral without a pair of scores stays in the denominator
    and can never be in the numerator (as ``rates`` counts it); a referral that did not finish
    treatment is in no denominator. Pre-aggregated counts.
E4 ``cms159_remission``
    Index episodes of :func:`~workbench.outcomes.cms159` on every stored PHQ-9 total (table
    ``scores``, any purpose; an unscorable one is skipped), counted in the month their window
    (index + 12 months + 60 days) closes; remitted = last PHQ-9 of the window < 5, no PHQ-9 in
    the window = not remitted (CMS159). Judged on the data's last day (``_Derived.last_day``):
    an episode whose window closes after it is not counted yet (never as "not remitted").
E5 ``bp_control_in_care``, E6 ``glucose_control_in_care`` (rolling 12 months)
    For each month: the residents *in psychological care* at the month-end, i.e. whose latest
    *decided* tier (``decisions``, the latest decision on each screening) on a screening on or
    before the month-end is in ``tiers`` (declared: 2 and 3). A screening nobody has decided on
    yet is skipped: the previous decision stays in force until a person decides on the new one.
    There is no look-back limit on that decision. Among them, :func:`workbench.chronic.indicators`
    (run on their rows only) gives the managed hypertensive (E5) or diabetic (E6) patients of the
    chronic policy (age, not dead) and those whose latest reading in the policy's 12 months is
    controlled by the policy's declared targets (the default policy: < 140/90 mmHg, < 150/90 over
    80 without diabetes or CKD; fasting glucose < 7.0 mmol/L); a managed patient without a
    reading in the 12 months is not controlled (管理人群血压/血糖控制率 of 国家基本公共卫生服务规范
    第三版: the denominator is every managed patient). None (no data) when the ``measurements`` table has no rows.
S2 ``crisis_rate`` (rate)
    Events of ``event_kinds`` (declared: ``crisis``, ``psychiatric_emergency``) of residents in
    care on the event day (a referral of any kind open that day: ``referred_on <= day`` and
    ``ended_on`` blank or ``>= day``), per person-year in care. Person-time of a resident in a
    month = the days of the month on which at least one of their referrals is open (both ends
    included; overlapping referrals counted once, so an event is never counted twice), / 365.25;
    an open referral runs to the month-end. One unit per resident and month with person-time:
    ``outcome`` = the events, ``exposure`` = person-years (the scaling to 1,000 person-years is
    the indicator's ``per``).
S3 ``smd_regular_management``, S4 ``smd_regular_medication`` (rolling 12 months)
    The counts of :func:`workbench.smd.indicators` (default SMD policy): denominator the patients
    registered (在册) at the month-end; numerator ``regular`` (>= 4 follow-ups with a risk grade in
    the 12 months: 规范管理) or ``regular_medication`` (the latest follow-up in the 12 months
    recorded medication as regular: 规律服药; not recorded is not regular). None when the register
    has no rows. Pre-aggregated counts.
X2 ``survey_response``
    Surveys sent (rows of ``surveys``) in the month surveyed; answered = ``satisfied`` or
    ``rating`` recorded. None when no survey was sent.
X3 ``self_referral``
    Referrals in the month referred whose ``referral_source`` is recorded; self-referral =
    ``self``. A blank source is not known and excluded (never "not self"). None when no
    referral has a source recorded.
X4 ``literacy`` (rolling 12 months)
    For each month: residents asked the literacy questions in the 12 months to the month-end
    (``asked_on`` after ``month_end - 12 months`` and on or before the month-end); their latest
    answer set (on one day, the questionnaires asked are pooled: correct and asked added up, blank
    when any is blank); passed when ``n_correct >= pass_share * n_asked`` (equality passes:
    7 of 10 at 0.7). A latest answer set whose ``n_correct`` is blank is not known: the resident
    is excluded that month, never failed. None when the ``literacy`` table has no rows.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from workbench.quality import PARAMETERS, _Derived, _float, _measure, _units

__all__ = ["bp_control_in_care", "cms159_remission", "crisis_rate", "glucose_control_in_care", "literacy",
           "self_referral", "smd_regular_management", "smd_regular_medication", "survey_response",
           "tt_reliable_deterioration", "tt_reliable_improvement", "tt_reliable_recovery"]

_COUNTS = ["community", "period", "numerator", "denominator"]
_UNITS = ["community", "period", "outcome"]


def _checked(name: str, value: Any) -> Any:
    """``value`` of the declared parameter ``name``, or a ValueError naming the problem."""
    problem = PARAMETERS[name](value)
    if problem:
        raise ValueError(f"The {name!r} parameter {problem}.")
    return value


def _month_end(month: str) -> pd.Timestamp:
    return pd.Period(month, "M").end_time.normalize()


def _no_units() -> pd.DataFrame:
    return pd.DataFrame({"community": pd.Series(dtype=object), "period": pd.Series(dtype=object),
                         "outcome": pd.Series(dtype=float)})


def _no_counts() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object if c in ("community", "period") else float) for c in _COUNTS})


def _counts(community: Any, period: Any, numerator: Any, denominator: Any) -> pd.DataFrame:
    """A pre-aggregated count frame; a row whose denominator is 0 is left out (as a month without units)."""
    out = pd.DataFrame({"community": pd.Series(community, dtype=object).to_numpy(),
                        "period": pd.Series(period, dtype=object).to_numpy(),
                        "numerator": pd.Series(numerator).to_numpy(float),
                        "denominator": pd.Series(denominator).to_numpy(float)})
    return out[out["denominator"] > 0].reset_index(drop=True)


# --- E1, E3, S1: NHS Talking Therapies ---------------------------------------------------------

def _tt_ended(t: _Derived) -> pd.DataFrame:
    """Referrals that ended, with :func:`referral_outcomes`' flags, their community and month."""
    def make() -> pd.DataFrame:
        from workbench.outcomes import referral_outcomes

        c = t["contacts"]
        c = c[c["referral_id"].notna()].assign(attended=(c["status"] == "attended").fillna(False).astype(bool))
        out = referral_outcomes(t.referral_scores, c, attended="attended")
        r = t["referrals"]
        r = r[r["ended_on"].notna()]
        d = r[["referral_id", "resident_id", "ended_on"]].merge(out.drop(columns=["resident_id"]), on="referral_id",
                                                                how="inner")
        return d.assign(community=d["resident_id"].map(t.community).astype(object),
                        period=d["ended_on"].dt.strftime("%Y-%m").astype(object))
    return t.memo("quality_outcomes.tt_ended", make)


def _tt_counts(t: _Derived, metric: str) -> pd.DataFrame:
    """Counts of one :func:`workbench.outcomes.rates` metric per community and month, and ``all``."""
    from workbench.outcomes import rates

    d = _tt_ended(t)
    if d.empty:
        return _no_counts()
    by_community = rates(d[d["community"].notna()], by=["community", "period"]) if d["community"].notna().any() \
        else pd.DataFrame(columns=["community", "period", "metric", "numerator", "denominator"])
    overall = rates(d, by=["period"]).assign(community="all")
    out = pd.concat([by_community, overall], ignore_index=True)
    out = out[out["metric"] == metric]
    return _counts(out["community"], out["period"], out["numerator"], out["denominator"])


@_measure("tt_reliable_improvement", "proportion")
def tt_reliable_improvement(t: _Derived, *, months: Sequence[str]) -> pd.DataFrame:
    """NHS Talking Therapies reliable improvement of referrals ended in the month / finished referrals."""
    return _tt_counts(t, "reliable_improvement")


@_measure("tt_reliable_recovery", "proportion")
def tt_reliable_recovery(t: _Derived, *, months: Sequence[str]) -> pd.DataFrame:
    """NHS Talking Therapies reliable recovery of referrals ended in the month / recovery's denominator."""
    return _tt_counts(t, "reliable_recovery")


@_measure("tt_reliable_deterioration", "proportion")
def tt_reliable_deterioration(t: _Derived, *, months: Sequence[str]) -> pd.DataFrame:
    """NHS Talking Therapies reliable deterioration of referrals ended in the month / finished referrals."""
    return _tt_counts(t, "reliable_deterioration")


# --- E4: CMS159 ----------------------------------------------------------------------------------

@_measure("cms159_remission", "proportion")
def cms159_remission(t: _Derived, *, months: Sequence[str]) -> pd.DataFrame:
    """CMS159 remission at 12 months of index episodes whose window closed in the month."""
    from workbench.outcomes import cms159

    s = t["scores"]
    s = s[s["instrument"] == "phq9"]
    last = t.last_day
    if s.empty or last is None:
        return _no_units()
    phq9 = pd.DataFrame({"resident_id": s["resident_id"].to_numpy(), "assessed_on": s["assessed_on"].to_numpy(),
                         "phq9_score": s["score"].to_numpy(float, na_value=np.nan)})
    episodes = cms159(phq9, on=last)
    episodes = episodes[episodes["remitted"].notna()]  # a window still open on the last day: not counted yet
    return _units(episodes, t, "window_end", episodes["remitted"])


# --- E5, E6: chronic control of residents in psychological care -----------------------------------

def _in_care(t: _Derived, month: str, tiers: Sequence[int]) -> pd.Index:
    """Residents whose latest decided tier on a screening up to the month-end is in ``tiers``."""
    s = t.memo("quality_outcomes.decided", lambda: t.screened.loc[t.screened["tier"].notna(),
                                                                  ["resident_id", "assessed_on", "tier"]]
               .sort_values(["resident_id", "assessed_on"], kind="stable"))
    s = s[s["assessed_on"] <= _month_end(month)]
    latest = s.drop_duplicates("resident_id", keep="last")
    return pd.Index(latest.loc[latest["tier"].isin(list(tiers)).to_numpy(bool), "resident_id"])


def _control_in_care(t: _Derived, months: Sequence[str], tiers: Sequence[int], condition: str) -> pd.DataFrame | None:
    from workbench import chronic
    from workbench.tables import TABLES, Tables

    _checked("tiers", list(tiers))
    measurements = t["measurements"]
    if measurements.empty:
        return None
    in_care = {month: _in_care(t, month, tiers) for month in months}
    ever = list(set().union(*in_care.values()))
    # the rows of anyone in care in some month, once; each month then picks its own residents from them
    residents, events = t["residents"], t["events"]
    residents = residents[residents["resident_id"].isin(ever)]
    measurements = measurements[measurements["resident_id"].isin(ever)]
    events = events[events["resident_id"].isin(ever)]
    parts = []
    for month in months:
        ids = in_care[month]
        if not len(ids):
            continue
        # chronic.indicators reads residents, measurements and events; the other tables are passed
        # as they are (never read there) so that no empty table is built 24 times
        sub = Tables(**{**{name: t[name] for name in TABLES},
                        "residents": residents[residents["resident_id"].isin(ids)],
                        "measurements": measurements[measurements["resident_id"].isin(ids)],
                        "events": events[events["resident_id"].isin(ids)]})
        found = chronic.indicators(sub, start=month, end=month)
        found = found[found["condition"] == condition]
        parts.append(_counts(found["community"], found["month"], found["controlled"], found["managed"]))
    return pd.concat(parts, ignore_index=True) if parts else _no_counts()


@_measure("bp_control_in_care", "proportion", ("tiers",), period="rolling_12")
def bp_control_in_care(t: _Derived, *, months: Sequence[str], tiers: Sequence[int]) -> pd.DataFrame | None:
    """Hypertensive residents in care (latest decided tier in ``tiers``) with the latest BP of 12 months controlled."""
    return _control_in_care(t, months, tiers, "hypertension")


@_measure("glucose_control_in_care", "proportion", ("tiers",), period="rolling_12")
def glucose_control_in_care(t: _Derived, *, months: Sequence[str], tiers: Sequence[int]) -> pd.DataFrame | None:
    """Diabetic residents in care (latest decided tier in ``tiers``) with the latest glucose of 12 months controlled."""
    return _control_in_care(t, months, tiers, "diabetes")


# --- S2: crisis rate -------------------------------------------------------------------------------

@_measure("crisis_rate", "rate", ("event_kinds",))
def crisis_rate(t: _Derived, *, months: Sequence[str], event_kinds: Sequence[str]) -> pd.DataFrame:
    """Crises and psychiatric emergencies of residents in care, per person-year in care (month of the event)."""
    _checked("event_kinds", list(event_kinds))
    r = t["referrals"][["resident_id", "referred_on", "ended_on"]]
    spans = []
    for month in months:
        start, end = pd.Timestamp(month + "-01"), _month_end(month)
        lo = r["referred_on"].where(r["referred_on"] > start, start)
        hi = r["ended_on"].fillna(end).where(r["ended_on"].fillna(end) < end, end)
        open_ = (hi >= lo).to_numpy(bool)
        spans.append(pd.DataFrame({"resident_id": r["resident_id"].to_numpy()[open_], "period": month,
                                   "lo": lo.to_numpy()[open_], "hi": hi.to_numpy()[open_]}))
    columns = ["community", "period", "outcome", "exposure"]
    if not spans or not sum(len(s) for s in spans):
        return pd.DataFrame({c: pd.Series(dtype=object if c in ("community", "period") else float) for c in columns})
    s = pd.concat(spans, ignore_index=True).sort_values(["resident_id", "period", "lo"], kind="stable")
    # the union of each resident's open days in the month: a new block starts after the days covered so far
    key = s["resident_id"].astype(str) + "|" + s["period"]
    reach = s.groupby(key, sort=False)["hi"].cummax()
    before = reach.groupby(key, sort=False).shift()
    block = (before.isna() | (s["lo"] > before)).cumsum()
    blocks = s.assign(block=block).groupby(["resident_id", "period", "block"], sort=False).agg(lo=("lo", "min"),
                                                                                              hi=("hi", "max"))
    days = ((blocks["hi"] - blocks["lo"]).dt.days + 1).groupby(level=["resident_id", "period"]).sum()
    e = t["events"]
    e = e[e["kind"].isin(list(event_kinds)).fillna(False).to_numpy(bool)][["event_id", "resident_id", "event_on"]]
    pairs = e.merge(r, on="resident_id", how="inner")
    pairs = pairs[(pairs["referred_on"] <= pairs["event_on"])
                  & (pairs["ended_on"].isna() | (pairs["ended_on"] >= pairs["event_on"])).to_numpy(bool)]
    in_care = pairs.drop_duplicates("event_id")
    counts = in_care.groupby([in_care["resident_id"], in_care["event_on"].dt.strftime("%Y-%m").rename("period")]).size()
    units = days.rename("days").to_frame().join(counts.rename("events"), how="left").reset_index()
    return pd.DataFrame({"community": units["resident_id"].map(t.community).astype(object).to_numpy(),
                         "period": units["period"].astype(object).to_numpy(),
                         "outcome": units["events"].fillna(0).to_numpy(float),  # in care, no event: 0 events
                         "exposure": units["days"].to_numpy(float) / 365.25})


# --- S3, S4: severe mental disorders ----------------------------------------------------------

def _smd_counts(t: _Derived, months: Sequence[str], numerator: str) -> pd.DataFrame | None:
    from workbench import smd

    register = t["smd_register"]
    if register.empty:
        return None
    if not len(months):
        return _no_counts()
    found = t.memo(f"quality_outcomes.smd:{min(months)}:{max(months)}",
                   lambda: smd.indicators(register, t["smd_followups"], t["residents"], start=min(months),
                                          end=max(months)))
    return _counts(found["community"], found["month"], found[numerator], found["registered"])


@_measure("smd_regular_management", "proportion", period="rolling_12")
def smd_regular_management(t: _Derived, *, months: Sequence[str]) -> pd.DataFrame | None:
    """Registered SMD patients with >= 4 risk-assessed follow-ups in the 12 months (smd.indicators' regular)."""
    return _smd_counts(t, months, "regular")


@_measure("smd_regular_medication", "proportion", period="rolling_12")
def smd_regular_medication(t: _Derived, *, months: Sequence[str]) -> pd.DataFrame | None:
    """Registered SMD patients whose latest follow-up in 12 months recorded regular medication."""
    return _smd_counts(t, months, "regular_medication")


# --- X2, X3, X4: experience ----------------------------------------------------------------------

@_measure("survey_response", "proportion")
def survey_response(t: _Derived, *, months: Sequence[str]) -> pd.DataFrame | None:
    """Surveys answered (satisfied or rating recorded) / surveys sent, month surveyed."""
    d = t["surveys"]
    if d.empty:
        return None
    return _units(d, t, "surveyed_on", d["satisfied"].notna() | d["rating"].notna())


@_measure("self_referral", "proportion")
def self_referral(t: _Derived, *, months: Sequence[str]) -> pd.DataFrame | None:
    """Referrals whose recorded source is ``self`` / referrals with a recorded source, month referred."""
    r = t["referrals"]
    r = r[r["referral_source"].notna()]
    if r.empty:
        return None
    return _units(r, t, "referred_on", r["referral_source"] == "self")


@_measure("literacy", "proportion", ("pass_share",), period="rolling_12")
def literacy(t: _Derived, *, months: Sequence[str], pass_share: float) -> pd.DataFrame | None:
    """Residents asked in the 12 months whose latest literacy answers reach ``pass_share`` correct."""
    _checked("pass_share", pass_share)
    d = t["literacy"]
    if d.empty:
        return None
    # one answer set per resident and day: the questionnaires of that day pooled, blank when any is blank
    d = d.assign(n_asked=_float(d["n_asked"]), n_correct=_float(d["n_correct"]),
                 blank=d["n_correct"].isna().to_numpy(bool))
    day = d.groupby(["resident_id", "asked_on"], sort=True).agg(
        n_asked=("n_asked", "sum"), n_correct=("n_correct", "sum"), blank=("blank", "any")).reset_index()
    day["n_correct"] = day["n_correct"].where(~day["blank"])
    parts = []
    for month in months:
        end = _month_end(month)
        inside = day[(day["asked_on"] > end - pd.DateOffset(months=12)) & (day["asked_on"] <= end)]
        latest = inside.drop_duplicates("resident_id", keep="last")  # sorted by resident, day
        correct = _float(latest["n_correct"])
        asked = latest["n_asked"].to_numpy(float)
        passed = np.where(np.isnan(correct), np.nan, (correct - pass_share * asked >= -1e-9).astype(float))
        parts.append(pd.DataFrame({"community": latest["resident_id"].map(t.community).astype(object).to_numpy(),
                                   "period": month, "outcome": passed}))
    return pd.concat(parts, ignore_index=True) if parts else _no_units()
