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

Speed
-----
For a city (1,000,000 residents) the measures work on integer keys: a resident is the position of
their row in ``residents``, a month its number since 1970-01, and the few distinct months and
communities are written as text once. The modules reused are called once, not once per month or
group: ``referral_outcomes`` on integer referral and resident codes, ``rates`` on each distinct
combination of a referral's flags, ``cms159`` on the residents who have an index PHQ-9, and
``chronic.indicators`` on the residents ever in care, each labelled with a group (community and
the months in care). tests/test_quality_outcomes.py checks each against the plain computation.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from workbench.quality_core import (_NO_MONTH, _Derived, _float, _measure, _month_number, _month_of,
                                    _month_text, _persons, _positions, _referral_positions, _table_persons, _unit_frame,
                                    _where, check_parameters)

__all__ = ["bp_control_in_care", "cms159_remission", "crisis_rate", "glucose_control_in_care", "literacy",
           "self_referral", "smd_regular_management", "smd_regular_medication", "survey_response",
           "tt_reliable_deterioration", "tt_reliable_improvement", "tt_reliable_recovery"]

_COUNTS = ["community", "period", "numerator", "denominator"]
_UNITS = ["community", "period", "outcome"]


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


# --- keys shared by the measures: integer months and communities (city scale) -----------------
# Text keys and strftime on millions of rows are what made these measures slow; each date is
# read as a month number (months since 1970-01) and each resident as the position of their row
# in ``residents``; the few distinct months and communities are written out as text once.

def _day_numbers(dates: Any) -> np.ndarray:
    """Whole days since 1970-01-01 of each date (dates are days: floored), NaT as int64's minimum."""
    return np.asarray(pd.Series(dates).to_numpy("datetime64[ns]")).astype("datetime64[D]").view(np.int64)


def _factorize(*columns: Any) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes (-1: blank) of the values of text columns taken together, and the distinct
    values (factorizing the objects themselves: faster than through pandas' string dtype)."""
    values = np.concatenate([np.asarray(pd.Series(c).array, dtype=object) for c in columns])
    return pd.factorize(values, use_na_sentinel=True)


def _cell_counts(community: np.ndarray, month: np.ndarray, numerator: np.ndarray, denominator: np.ndarray,
                 names: Any) -> pd.DataFrame:
    """Counts per community (code; -1 counts in ``all`` only) and month number, with the ``all``
    rows; a cell whose denominator is 0 is left out. ``names``: the communities, code ``k`` the ``k``-th."""
    if not len(month):
        return _no_counts()
    m0 = int(month.min())
    width = int(month.max()) - m0 + 1
    n = len(names)
    cell = (community + 1) * width + (month - m0)
    num = np.bincount(cell, weights=numerator, minlength=(n + 1) * width).reshape(n + 1, width)
    den = np.bincount(cell, weights=denominator, minlength=(n + 1) * width).reshape(n + 1, width)
    num = np.vstack([num[1:], num.sum(axis=0, keepdims=True)])
    den = np.vstack([den[1:], den.sum(axis=0, keepdims=True)])
    row, col = np.nonzero(den > 0)
    names = np.append(np.asarray(names, dtype=object), "all").astype(object)
    return pd.DataFrame({"community": names[row], "period": _month_text(col.astype(np.int64) + m0),
                         "numerator": num[row, col].astype(float), "denominator": den[row, col].astype(float)})


# --- E1, E3, S1: NHS Talking Therapies ---------------------------------------------------------

def _tt_ended(t: _Derived) -> pd.DataFrame:
    """Referrals that ended, with :func:`referral_outcomes`' flags, their community code and month
    number (columns ``referral_id, resident_id, ended_on``, the flags, ``where``, ``month``)."""
    def make() -> pd.DataFrame:
        from workbench.outcomes import referral_outcomes

        a, c, r = t.referral_scores, t["contacts"], t["referrals"]
        # referral_outcomes on integer codes of the referral and resident ids (the same rows, the same
        # pairs of referral and person): positions in referrals and residents, as validation found
        # them for the contacts; its rules unchanged, without hashing text on every step. Rows
        # without a referral (-1: a plain screening, a contact outside a referral) are left out.
        ref_a = _referral_positions(t, a["referral_id"])
        ref_c = t.tables._positions_of("contacts", "referral_id")
        if ref_c is None:
            ref_c = _referral_positions(t, c["referral_id"])
        ka, kc = ref_a >= 0, ref_c >= 0
        scores = pd.DataFrame({"referral_id": ref_a[ka], "resident_id": _positions(t, a["resident_id"].array[ka]),
                               "assessed_on": a["assessed_on"].array[ka], "phq9_score": a["phq9_score"].array[ka],
                               "gad7_score": a["gad7_score"].array[ka]})
        contacts = pd.DataFrame({"referral_id": ref_c[kc], "resident_id": _table_persons(t, "contacts")[kc],
                                 "contact_on": c["contact_on"].array[kc], "kind": c["kind"].array[kc],
                                 "attended": (c["status"] == "attended").fillna(False).to_numpy(bool)[kc]})
        out = referral_outcomes(scores, contacts, attended="attended")
        row_of = np.full(len(r), -1, dtype=np.int64)  # the row of out of each referral
        row_of[out["referral_id"].to_numpy(np.int64)] = np.arange(len(out))
        ended = np.flatnonzero(r["ended_on"].notna().to_numpy(bool))
        at = row_of[ended]
        ended, at = ended[at >= 0], at[at >= 0]
        r = r.iloc[ended]
        flags = out.drop(columns=["referral_id", "resident_id"]).iloc[at].reset_index(drop=True)
        person = _table_persons(t, "referrals")[ended]
        keys = pd.DataFrame({"referral_id": r["referral_id"].to_numpy(), "resident_id": r["resident_id"].to_numpy(),
                             "ended_on": r["ended_on"].to_numpy(),
                             "where": np.where(person >= 0, _where(t)[1][np.maximum(person, 0)], -1),
                             "month": _month_of(r["ended_on"])})
        return pd.concat([keys, flags], axis=1)
    return t.memo("quality_outcomes.tt_ended", make)


def _tt_all_counts(t: _Derived) -> dict[str, pd.DataFrame]:
    """Counts of every :func:`workbench.outcomes.rates` metric per community and month, and ``all``.

    ``rates`` gives each referral's part in a numerator and a denominator from its flags alone: it
    is run once on each distinct combination of the flags (a few dozen), and each referral then
    adds its combination's 0/1 parts to its community and month (the sums ``rates`` makes).
    """
    def make() -> dict[str, pd.DataFrame]:
        from workbench.outcomes import rates
        from workbench.outcomes.talking_therapies import _FLAGS, METRICS

        d = _tt_ended(t)
        if d.empty:
            return {m: _no_counts() for m in METRICS}
        pattern = np.zeros(len(d), dtype=np.int64)
        for col in _FLAGS:
            flag = d[col].astype("boolean")
            pattern = pattern * 3 + np.where(flag.isna().to_numpy(), 0,
                                             np.where(flag.fillna(False).to_numpy(bool), 2, 1))
        _, first, inverse = np.unique(pattern, return_index=True, return_inverse=True)
        distinct = d.iloc[first][_FLAGS].reset_index(drop=True).assign(pattern=np.arange(len(first)))
        parts = rates(distinct, by=["pattern"]).set_index(["pattern", "metric"])
        labels = _where(t)[2]  # the communities
        out = {}
        for metric in METRICS:
            per = parts.xs(metric, level="metric").reindex(np.arange(len(first)))
            num = per["numerator"].to_numpy(float)[inverse]
            den = per["denominator"].to_numpy(float)[inverse]
            out[metric] = _cell_counts(d["where"].to_numpy(np.int64), d["month"].to_numpy(np.int64), num, den, labels)
        return out
    return t.memo("quality_outcomes.tt_counts", make)


def _tt_counts(t: _Derived, metric: str) -> pd.DataFrame:
    """Counts of one :func:`workbench.outcomes.rates` metric per community and month, and ``all``."""
    return _tt_all_counts(t)[metric]


@_measure("tt_recovery", "proportion")
def tt_recovery(tables: _Derived, *, months: Sequence[str]) -> pd.DataFrame:
    """NHS Talking Therapies recovery of finished referrals at caseness at the start, month ended:
    counts from :func:`workbench.outcomes.rates` with the same denominators as reliable recovery
    (a finished referral without a pair of scores stays in the denominator, as REFERENCE.md says)."""
    return _tt_counts(tables, "recovery")


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
    from workbench.outcomes._config import thresholds

    rows = np.flatnonzero((t["scores"]["instrument"] == "phq9").fillna(False).to_numpy(bool))
    s = t["scores"].iloc[rows]
    last = t.last_day
    if s.empty or last is None:
        return _no_units()
    score = s["score"].to_numpy(float, na_value=np.nan)
    # cms159 follows each resident on their own: it is given integer codes for them (their positions
    # in residents, as validation found them: no text keys), and only the rows of residents with an
    # index PHQ-9 (above the declared threshold) by the last day, the only ones who can have an episode
    who = _table_persons(t, "scores")[rows]
    people = np.arange(len(t["residents"]))
    on = s["assessed_on"].to_numpy("datetime64[ns]")
    with np.errstate(invalid="ignore"):
        index = (score > thresholds().cms159_index_above) & (on <= np.datetime64(last, "ns"))
    has = np.zeros(len(people) + 1, dtype=bool)
    has[who[index]] = True
    keep = has[who] | (who < 0)  # a blank resident is passed on for cms159 to name
    codes = who[keep]
    phq9 = pd.DataFrame({"resident_id": pd.arrays.IntegerArray(codes, codes < 0),  # a blank stays blank
                         "assessed_on": on[keep], "phq9_score": score[keep]})
    episodes = cms159(phq9, on=last)
    # a window still open on the last day: not counted yet
    episodes = episodes[episodes["remitted"].notna().to_numpy(bool)]
    person = episodes["resident_id"].to_numpy(np.int64)
    return _unit_frame(t, person, _month_of(episodes["window_end"]), episodes["remitted"])


# --- E5, E6: chronic control of residents in psychological care -----------------------------------

def _in_care(t: _Derived, months: Sequence[str], tiers: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Residents (row positions) in care in some month and whether they are in each of ``months``
    (a boolean matrix, one column per month): their latest decided tier on a screening up to the
    month-end is in ``tiers``.

    One sorted pass: each decided screening (by resident, then date; same-day screenings in table
    order) rules from the first month whose end it is not after until the next one's.
    """
    s = t.memo("quality_outcomes.decided", lambda: _decided(t))
    ends = np.array([_month_end(m) for m in months], dtype="datetime64[ns]")
    k = len(months)
    who, on, tier = s
    first = np.searchsorted(ends, on, side="left")
    nxt = np.empty_like(first)
    if len(first):
        nxt[:-1] = first[1:]
        nxt[-1] = k
        nxt[:-1][who[1:] != who[:-1]] = k
    rules = np.isin(tier, np.asarray(list(tiers), dtype=float)) & (first < nxt)
    new = np.empty(len(who), dtype=bool)  # ``who`` is sorted: each resident's rows lie together
    new[:1] = True
    np.not_equal(who[1:], who[:-1], out=new[1:])
    people, at = who[new], np.cumsum(new) - 1
    steps = np.zeros((len(people), k + 1), dtype=np.int64)
    np.add.at(steps, (at[rules], first[rules]), 1)
    np.add.at(steps, (at[rules], nxt[rules]), -1)
    care = np.cumsum(steps, axis=1)[:, :k] > 0
    ever = care.any(axis=1)
    return people[ever], care[ever]


def _decided(t: _Derived) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decided screenings of known residents as (row position, date, tier), by resident then date."""
    s = t.screened
    s = s[s["tier"].notna().to_numpy(bool)]
    who = _persons(t, s)
    on = s["assessed_on"].to_numpy("datetime64[ns]")
    tier = s["tier"].to_numpy(float, na_value=np.nan)
    known = who >= 0
    who, on, tier = who[known], on[known], tier[known]
    order = np.lexsort((on.view(np.int64), who))  # stable: same-day screenings keep the table's order
    return who[order], on[order], tier[order]


def _control_counts(t: _Derived, months: Sequence[str], tiers: Sequence[int]) -> dict[str, pd.DataFrame]:
    """Per chronic condition: managed and controlled residents in care per community and month.

    :func:`workbench.chronic.indicators` runs once on the residents ever in care (with a condition
    the chronic policy manages), each labelled by
    a group (their community and the set of months they are in care) in place of their community;
    each month then adds up the groups in care that month. Its counts per resident do not depend
    on the other residents or on the months asked, so this equals running it month by month on
    that month's residents.
    """
    def make() -> dict[str, pd.DataFrame]:
        from workbench import chronic
        from workbench.tables import TABLES, Tables

        asked = sorted(set(months))
        people, care = _in_care(t, asked, tiers)
        # a resident without any condition the policy manages is in no count: left out (a blank
        # condition is passed on, for chronic.indicators to name)
        r = t["residents"]
        managed = np.zeros(len(r), dtype=bool)
        for name in chronic.load_chronic_policy("default").conditions:
            managed |= r[name].isna().to_numpy() | r[name].fillna(False).to_numpy(bool)
        people, care = people[managed[people]], care[managed[people]]
        if not len(people):
            return {}
        patterns, pattern = np.unique(care, axis=0, return_inverse=True)
        pattern = np.asarray(pattern).reshape(-1)
        _, codes, labels = _where(t)  # codes of each resident's community, the communities
        community = codes[people]
        group = (community + 1) * len(patterns) + pattern
        residents = t["residents"].iloc[people]
        residents = residents.assign(community=pd.array(group.astype(str), dtype="string"))
        ids = residents["resident_id"].array  # a small set: isin hashes it, not the whole residents' index
        measurements, events = t["measurements"], t["events"]
        measurements = measurements[measurements["resident_id"].isin(ids).to_numpy(bool)]
        events = events[events["resident_id"].isin(ids).to_numpy(bool)]
        # chronic.indicators reads residents, measurements and events; the other tables as they are
        sub = Tables(**{**{name: t[name] for name in TABLES}, "residents": residents,
                        "measurements": measurements, "events": events})
        found = chronic.indicators(sub, start=asked[0], end=asked[-1])
        found = found[found["community"] != "all"]
        groups = np.unique(group)
        g = groups[pd.Index(groups.astype(str)).get_indexer(found["community"].array)]  # the labels back to numbers
        k = pd.Index(asked).get_indexer(found["month"])
        cond = found["condition"].to_numpy(object)
        inside = (k >= 0) & _care_of(patterns, g % len(patterns), k)
        out = {}
        for name in pd.unique(cond):
            sel = inside & (cond == name)
            month = np.array([_month_number(m) for m in asked], dtype=np.int64)[k[sel]]
            out[name] = _cell_counts(g[sel] // len(patterns) - 1, month, found["controlled"].to_numpy(float)[sel],
                                     found["managed"].to_numpy(float)[sel], labels)
        return out
    key = f"quality_outcomes.control:{sorted(set(months))}:{sorted(tiers)}"
    return t.memo(key, make)


def _care_of(patterns: np.ndarray, pattern: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Whether group pattern ``pattern`` is in care in month column ``k`` (False for k < 0)."""
    return patterns[pattern, np.maximum(k, 0)] & (k >= 0)


def _control_in_care(t: _Derived, months: Sequence[str], tiers: Sequence[int], condition: str) -> pd.DataFrame | None:
    check_parameters({"hypertension": "bp_control_in_care"}.get(condition, "glucose_control_in_care"), tiers=list(tiers))
    if t["measurements"].empty:
        return None
    if not len(months):
        return _no_counts()
    return _control_counts(t, months, tiers).get(condition, _no_counts())


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
    check_parameters("crisis_rate", event_kinds=list(event_kinds))
    columns = ["community", "period", "outcome", "exposure"]
    empty = pd.DataFrame({c: pd.Series(dtype=object if c in ("community", "period") else float) for c in columns})
    r = t["referrals"]
    asked = sorted(set(months))
    if not asked or r.empty:
        return empty
    k = len(asked)
    who, people = _factorize(r["resident_id"])
    start = np.array([_day_numbers([pd.Timestamp(m + "-01")])[0] for m in asked], dtype=np.int64)
    end = np.array([_day_numbers([_month_end(m)])[0] for m in asked], dtype=np.int64)
    referred, ended = _day_numbers(r["referred_on"]), _day_numbers(r["ended_on"])
    referred = np.where(referred == _NO_MONTH, start.min(), referred)  # a blank start reads as each month's start
    ended_or_end = np.where(ended == _NO_MONTH, np.iinfo(np.int64).max, ended)
    # each referral clipped to each month asked (both ends included; an open one runs to the month-end)
    lo = np.maximum(referred[:, None], start[None, :])
    hi = np.minimum(ended_or_end[:, None], end[None, :])
    row, col = np.nonzero(hi >= lo)
    lo, hi = lo[row, col], hi[row, col]
    cell = who[row].astype(np.int64) * k + col
    if not len(cell):
        return empty
    # the union of a resident's open days in a month: each span adds the days after those covered so far
    order = np.lexsort((lo, cell))
    cell, lo, hi = cell[order], lo[order], hi[order]
    starts = np.empty(len(cell), dtype=bool)
    starts[0] = True
    np.not_equal(cell[1:], cell[:-1], out=starts[1:])
    gid = np.cumsum(starts) - 1
    base = int(lo.min()) - 1
    width = int(hi.max()) - base + 1
    reach = np.maximum.accumulate((hi - base) + gid * width) - gid * width + base
    before = np.empty_like(reach)
    before[0] = base
    before[1:] = reach[:-1]
    before[starts] = base
    added = np.maximum(hi - np.maximum(lo, before + 1) + 1, 0)
    cells = cell[starts]
    days = np.bincount(gid, weights=added)
    # events of the kinds declared on a day one of the resident's referrals is open
    e = t["events"]
    e = e[e["kind"].isin(list(event_kinds)).fillna(False).to_numpy(bool)]
    events = np.zeros(len(cells))
    if len(e):
        ew = pd.Index(people).get_indexer(e["resident_id"].array)
        eday = _day_numbers(e["event_on"])
        ek = pd.Index(np.array([_month_number(m) for m in asked])).get_indexer(_month_of(e["event_on"]))
        ev = pd.DataFrame({"event": np.arange(len(e)), "who": ew, "day": eday, "cell": ew.astype(np.int64) * k + ek})
        ev = ev[(ew >= 0) & (ek >= 0) & (eday != _NO_MONTH)]
        spans = pd.DataFrame({"who": who.astype(np.int64), "referred": _day_numbers(r["referred_on"]), "ended": ended})
        pairs = ev.merge(spans, on="who", how="inner")
        pairs = pairs[(pairs["referred"] != _NO_MONTH) & (pairs["referred"] <= pairs["day"])
                      & ((pairs["ended"] == _NO_MONTH) | (pairs["ended"] >= pairs["day"]))]
        in_care = pairs.drop_duplicates("event")["cell"].to_numpy(np.int64)
        at = np.searchsorted(cells, in_care)  # cells are sorted; an event in care lies in a month with person-time
        hit = (at < len(cells)) & (cells[np.minimum(at, len(cells) - 1)] == in_care)
        events += np.bincount(at[hit], minlength=len(cells))
    person = cells // k
    numbers = np.array([_month_number(m) for m in asked], dtype=np.int64)
    return _unit_frame(t, _positions(t, people[person]), numbers[cells % k],
                       events,  # in care, no event: 0 events
                       exposure=days / 365.25)


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
    return _unit_frame(t, _positions(t, d["resident_id"]), _month_of(d["surveyed_on"]),
                       (d["satisfied"].notna() | d["rating"].notna()).to_numpy(bool))


@_measure("self_referral", "proportion")
def self_referral(t: _Derived, *, months: Sequence[str]) -> pd.DataFrame | None:
    """Referrals whose recorded source is ``self`` / referrals with a recorded source, month referred."""
    r = t["referrals"]
    r = r[r["referral_source"].notna().to_numpy(bool)]
    if r.empty:
        return None
    return _unit_frame(t, _positions(t, r["resident_id"]), _month_of(r["referred_on"]),
                       (r["referral_source"] == "self").to_numpy(bool))


@_measure("literacy", "proportion", ("pass_share",), period="rolling_12")
def literacy(t: _Derived, *, months: Sequence[str], pass_share: float) -> pd.DataFrame | None:
    """Residents asked in the 12 months whose latest literacy answers reach ``pass_share`` correct."""
    check_parameters("literacy", pass_share=pass_share)
    d = t["literacy"]
    if d.empty:
        return None
    asked = sorted(set(months))
    if not asked:
        return _no_units()
    day = _day_numbers(d["asked_on"])
    known = day != _NO_MONTH
    d, day = d[known], day[known]
    who, people = _factorize(d["resident_id"])
    n_asked, n_correct = _float(d["n_asked"]), _float(d["n_correct"])
    # one answer set per resident and day: the questionnaires of that day pooled, blank when any is blank
    order = np.lexsort((day, who))
    who, day, n_asked, n_correct = who[order], day[order], n_asked[order], n_correct[order]
    new = np.empty(len(who), dtype=bool)
    new[:1] = True
    new[1:] = (who[1:] != who[:-1]) | (day[1:] != day[:-1])
    at = np.flatnonzero(new)
    set_who, set_day = who[at].astype(np.int64), day[at]
    set_asked = np.add.reduceat(n_asked, at) if len(at) else n_asked
    set_correct = np.add.reduceat(np.nan_to_num(n_correct), at) if len(at) else n_correct
    blank = np.logical_or.reduceat(np.isnan(n_correct), at) if len(at) else n_correct
    set_correct = np.where(blank, np.nan, set_correct)
    # each month: the latest set on or before the month-end, if inside the 12 months to it
    d0 = int(set_day.min())
    span = int(max(set_day.max(), max(_day_numbers([_month_end(m)])[0] for m in asked))) - d0 + 2
    key = set_who * span + (set_day - d0)
    residents = np.arange(len(people), dtype=np.int64)
    person = _positions(t, people)
    persons, numbers, outcomes = [], [], []
    for month in asked:
        end = _month_end(month)
        hi, lo = _day_numbers([end])[0], _day_numbers([end - pd.DateOffset(months=12)])[0]
        j = np.searchsorted(key, residents * span + (min(hi, d0 + span - 1) - d0), side="right") - 1
        ok = (j >= 0) & (set_who[np.maximum(j, 0)] == residents)
        j = j[ok]
        ok_days = set_day[j] > lo
        j = j[ok_days]
        correct, total = set_correct[j], set_asked[j]
        with np.errstate(invalid="ignore"):
            passed = np.where(np.isnan(correct), np.nan, (correct - pass_share * total >= -1e-9).astype(float))
        persons.append(person[set_who[j]])
        numbers.append(np.full(len(j), _month_number(month), dtype=np.int64))
        outcomes.append(passed)
    return _unit_frame(t, np.concatenate(persons), np.concatenate(numbers), np.concatenate(outcomes))
