"""Service-quality indicators as data, computed per community and month, with alerts.

Indicators are declared in ``quality_indicators.yaml`` beside this file (validated when loaded:
an unknown measure, a bad alert rule or a missing label is refused, naming the key). Each one
picks a *measure* from :data:`MEASURES`: a named Python function over the analysis tables
(:class:`workbench.tables.Tables`, from a registry, an export, the sample or ``synth``) that
returns one row per counted unit: ``community``, ``period`` (``YYYY-MM``) and ``outcome``.

Measures read what was recorded and never score or decide again: the PHQ-9 / GAD-7 scores and
the PHQ-9 self-harm flag as stored when the answers were saved (``scores``), the tier and
urgency a person *decided* on each screening (``decisions``: an overridden suggestion counts as
the tier decided), contacts whose ``status`` is ``attended``, and the satisfaction survey
(``surveys``). Response and remission come from :func:`workbench.outcomes.change`, recovery
from :func:`workbench.outcomes.referral_outcomes`: they are defined once, there.

- ``proportion`` measures: ``outcome`` is 0/1 (missing = not known, excluded and never 0);
  numerator = units with 1, denominator = units with a known outcome; Wilson interval from
  :func:`workbench.epi.prevalence`.
- ``mean`` measures (referral wait): ``outcome`` is a number; numerator = its sum, denominator
  = units, value = mean, t interval (``mean ± t(1-α/2, n-1) · sd / √n``; none for n < 2).

``status``: ``no_data`` when the measure's source was not collected (satisfaction when the
``surveys`` table has no rows: nothing is invented), ``insufficient`` when the denominator is
below the indicator's ``min_denominator``, ``alert`` when the value breaks the alert rule (strict
``<`` or ``>``), else ``ok``. Rows cover every community (plus ``all``) and every month asked for.

Some measures take declared *parameters*, written in the indicator beside its target: the
timeliness and safety measures take ``window_hours``, the response window of the service policy.
Dates have day resolution, so a window is a multiple of 24 h and counts the first attended
contact on or after the screening day, up to ``window_hours / 24`` days after it (24 h: the
screening day or the next; 0 h: the same day only). A person never contacted counts as not
contacted in time (that is known, not missing). A label says ``{window}`` where the window
belongs ("within 24 h" / "24小时内", "the same day" / "当日"), so the number is declared once.

Examples
--------
>>> spec = load_indicators()
>>> sorted({i.category for i in spec.indicators}) == sorted(CATEGORIES)
True
>>> spec.indicator("C1").alert
('above', 0.15)
>>> ind = spec.indicator("T2")
>>> ind.window_hours, ind.label["en"]
(72, 'Tier 3 seen within 72 h')
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from workbench._declarations import read_yaml, refuse
from workbench._declarations import texts as _texts
from workbench.instruments import get_instrument
from workbench.params import ALPHA, FRAME, Instance, Options, Predicate, check, validate_params
from workbench.tables import Tables

__all__ = ["CATEGORIES", "COLUMNS", "DIRECTIONS", "KINDS", "MEASURES", "PARAMETERS", "PERIODS", "STATUSES", "Indicator", "default_months",
           "IndicatorSet", "QualityError", "alerts", "compute", "control_chart", "load_indicators", "status_of", "units",
           "window_text"]

_FILE = Path(__file__).resolve().with_name("quality_indicators.yaml")
_IDENT = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
#: The six categories of the service model, in report order (labels in the YAML's ``categories``).
CATEGORIES = ("access", "timeliness", "effectiveness", "continuity", "safety", "experience")
#: Columns of :func:`compute`, in order.
COLUMNS = ["indicator", "category", "community", "period", "numerator", "denominator", "value",
           "ci_low", "ci_high", "target", "status", "variation", "rules"]
#: Statuses of a row of :func:`compute`.
STATUSES = ("ok", "alert", "insufficient", "no_data", "not_applicable")
#: Kinds of measure: what a unit's ``outcome`` is and how the units add up.
KINDS = ("proportion", "mean", "ratio", "rate")
#: How a measure places its units in time (declared by the measure; the YAML must say the same).
PERIODS = ("month", "rolling_12", "cumulative")
DIRECTIONS = ("higher_is_better", "lower_is_better")
_NUMBERS = ["numerator", "denominator", "value", "ci_low", "ci_high"]
_KEYS = {"id", "category", "measure", "period", "direction", "target", "alert", "setting", "label", "numerator",
         "denominator", "source", "min_denominator", "per"}
_REQUIRED = {"id", "category", "measure", "period", "direction", "alert", "label", "numerator", "denominator", "source"}
#: Months before a month that a ``rise_above`` alert compares it with.
RISE_MONTHS = 12
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


class QualityError(ValueError):
    """An indicator file breaks a rule; the message names every key that is wrong."""


# --- the tables a measure reads ------------------------------------------------------------

#: The analysis tables a measure reads.
TABLES = Instance(Tables, name="the analysis tables (workbench.tables.Tables: load_sample(), "
                               "workbench.tables.read(folder) or Registry.analysis_tables(...))")


def _check_tables(tables: Any, function: str) -> Tables:
    return check(function, "tables", tables, TABLES)


def _is_month(value: Any) -> bool:
    return isinstance(value, str) and re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", value) is not None


#: One ``YYYY-MM`` month.
MONTH = Predicate(_is_month, "a YYYY-MM text")
#: None (the months of the screenings), one month or several.
MONTHS = Predicate(lambda v: v is None or _is_month(v) or (not isinstance(v, (str, bytes)) and iter(v) is not v
                                                           and all(_is_month(m) for m in v)),
                   "None, a YYYY-MM text or a list of them")


class _Derived:
    """The analysis tables, checked (:meth:`Tables.validate`), with the frames measures share
    derived once from what was stored: nothing is scored or decided here."""

    def __init__(self, tables: Tables):
        self.tables = _check_tables(tables, "quality").validate()

    def __getitem__(self, name: str) -> pd.DataFrame:  # the table itself
        return self.tables[name]

    @cached_property
    def community(self) -> pd.Series:
        """Community of each resident, indexed by ``resident_id``."""
        return self["residents"].set_index("resident_id")["community"]

    @cached_property
    def screened(self) -> pd.DataFrame:
        """One row per screening: ``resident_id, assessed_on``, the stored ``phq9_score``,
        ``gad7_score`` and ``phq9_self_harm``, and the *decided* ``tier``, ``urgent`` and
        ``next_contact_due`` (blank when nobody has decided on the screening yet)."""
        s = self.tables.screenings(("phq9", "gad7"), columns=("score", "self_harm"))
        return s[["resident_id", "assessed_on", "phq9_score", "gad7_score", "phq9_self_harm", "tier", "urgent",
                  "next_contact_due"]]

    @cached_property
    def attended(self) -> pd.DataFrame:
        """Contacts that took place (``status == "attended"``); planned and missed ones do not count."""
        c = self["contacts"]
        return c[(c["status"] == "attended").fillna(False).to_numpy(bool)]

    def first_contact_after(self, frame: pd.DataFrame, date: str) -> pd.Series:
        """For each row of ``frame`` (``resident_id`` and the date column ``date``): the date of
        the resident's first attended contact (any kind) on or after that date; NaT when none."""
        return _first_contact_on_or_after(self, frame, date)

    @cached_property
    def referral_scores(self) -> pd.DataFrame:
        """Stored PHQ-9/GAD-7 scores of each referral: its screening (``baseline``), then its reviews."""
        return self.tables.referral_scores(("phq9", "gad7"))

    def memo(self, key: str, make: Callable[[], Any]) -> Any:
        """``make()`` computed once per tables and ``key`` (a frame several measures share)."""
        cache = self.__dict__.setdefault("_memo", {})
        if key not in cache:
            cache[key] = make()
        return cache[key]

    def age_on(self, dates: Any) -> pd.Series:
        """Whole years of age of every resident (the ``residents`` table, same index) on ``dates``
        (one date, or a date per resident); NaN when the birth date is blank (suppressed in an
        export): unknown, never 0."""
        birth = pd.to_datetime(self["residents"]["birth_date"])
        on = pd.to_datetime(pd.Series(dates, index=birth.index) if np.ndim(dates) else
                            pd.Series(pd.Timestamp(dates), index=birth.index))
        years = on.dt.year - birth.dt.year
        before_birthday = (on.dt.month < birth.dt.month) | ((on.dt.month == birth.dt.month) & (on.dt.day < birth.dt.day))
        return (years - before_birthday.astype(int)).astype(float).where(birth.notna())

    @cached_property
    def last_day(self) -> pd.Timestamp | None:
        """The last date of anything recorded (screenings, contacts that took place or were missed,
        referrals, events; a planned contact is not a record of the past): what a measure cannot
        judge after (a due date later than it is not yet due). None when empty."""
        c = self["contacts"]
        dates = [self["assessments"]["assessed_on"], c.loc[(c["status"] != "planned").fillna(True).to_numpy(bool), "contact_on"],
                 self["referrals"]["referred_on"], self["referrals"]["ended_on"], self["events"]["event_on"]]
        found = [d.max() for d in dates if len(d) and pd.notna(d.max())]
        return max(found) if found else None


def _float(values: Any) -> np.ndarray:
    """0/1 or numbers as floats, a blank (NA) as NaN (never 0)."""
    return pd.Series(values).astype("Float64").to_numpy(float, na_value=np.nan)


def month_text(dates: Any) -> np.ndarray:
    """``YYYY-MM`` of each date (None for a blank), formatting each distinct month once.

    >>> month_text(pd.Series(pd.to_datetime(["2025-06-30", None, "2025-06-01", "2024-12-31"]))).tolist()
    ['2025-06', None, '2025-06', '2024-12']
    """
    months = np.asarray(pd.to_datetime(pd.Series(dates)).to_numpy("datetime64[ns]"), dtype="datetime64[M]")
    distinct, where = np.unique(months, return_inverse=True)
    text = np.array([None if np.isnat(m) else str(m) for m in distinct], dtype=object)
    return text[where.reshape(-1)] if len(months) else np.array([], dtype=object)


# --- fast shared helpers: integer codes instead of texts, one sorted pass instead of merges ---------

_DAY_SPAN = 4_000_000  # a (resident, day) key is code * _DAY_SPAN + day + _DAY_SPAN // 2 (days within +-5,000 years)


def _resident_codes(t: _Derived, ids: pd.Series) -> np.ndarray:
    """Position of each ``resident_id`` in the residents table (the tables are validated: every
    resident_id refers to a resident and residents are unique)."""
    index = t.memo("core.resident_index", lambda: pd.Index(t["residents"]["resident_id"]))
    codes = index.get_indexer(pd.Series(ids).to_numpy(object) if len(ids) else [])
    if (codes < 0).any():
        bad = pd.Series(ids).iloc[int(np.flatnonzero(codes < 0)[0])]
        raise ValueError(f"resident_id {bad!r} refers to no row of residents (the tables must be validated)")
    return codes.astype(np.int64)


def _days(dates: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Day numbers (days since 1970-01-01) of ``dates`` and where they are blank."""
    d = pd.Series(dates).to_numpy("datetime64[D]")
    blank = np.isnat(d)
    return np.where(blank, 0, d.astype(np.int64)), blank


def _sorted_contacts(t: _Derived, kinds: Sequence[str] | None) -> tuple[np.ndarray, np.ndarray]:
    """Attended contacts (of ``kinds``; None: any kind) as sorted (resident, day) keys and their dates."""
    def every() -> tuple[np.ndarray, np.ndarray]:  # (resident, day) keys of every attended contact, in table order
        c = t.attended
        day, blank = _days(c["contact_on"])
        return np.where(blank, -1, _resident_codes(t, c["resident_id"]) * _DAY_SPAN + day + _DAY_SPAN // 2), blank

    def make() -> tuple[np.ndarray, np.ndarray]:
        c = t.attended
        key, blank = t.memo("core.contact_keys", every)
        chosen = ~blank
        if kinds is not None:
            chosen &= c["kind"].isin(list(kinds)).to_numpy(bool)
        key, on = key[chosen], c["contact_on"].to_numpy("datetime64[ns]")[chosen]
        order = np.argsort(key, kind="stable")
        return key[order], on[order]
    return t.memo("core.sorted_contacts:" + repr(None if kinds is None else sorted(kinds)), make)


def _first_contact_on_or_after(t: _Derived, frame: pd.DataFrame, date: str,
                               kinds: Sequence[str] | None = None) -> pd.Series:
    """For each row of ``frame``: the resident's first attended contact (of ``kinds``; None: any
    kind) on or after the row's ``date``; NaT when none. One binary search per row in the
    contacts sorted by (resident, day): the same dates as a merge of every pair, without it."""
    keys, on = _sorted_contacts(t, kinds)
    code = _resident_codes(t, frame["resident_id"])
    day, blank = _days(frame[date])
    query = code * _DAY_SPAN + day + _DAY_SPAN // 2
    at = np.searchsorted(keys, query, side="left")
    inside = at < len(keys)
    found = np.zeros(len(frame), bool)
    found[inside] = keys[at[inside]] // _DAY_SPAN == code[inside]
    found &= ~blank
    first = np.full(len(frame), np.datetime64("NaT"), dtype="datetime64[ns]")
    first[found] = on[at[found]]
    return pd.Series(first, index=frame.index, dtype="datetime64[ns]")


def _units(frame: pd.DataFrame, tables: _Derived, date: str, outcome) -> pd.DataFrame:
    """Unit rows: the resident's community (by position in the residents table), the month of
    ``date`` (each month formatted once), and the outcome."""
    community = tables.memo("core.community_values", lambda: tables["residents"]["community"].to_numpy(object))
    return pd.DataFrame({"community": community[_resident_codes(tables, frame["resident_id"])],
                         "period": month_text(frame[date]), "outcome": _float(outcome)})


# --- measures ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Measure:
    """A named unit-level measure: ``function(tables, months=...)`` -> units or None (no data)."""

    id: str
    kind: str  # one of KINDS
    function: Callable[..., pd.DataFrame | None]
    description: str
    #: Names of the declared parameters the function takes as keywords (see :data:`PARAMETERS`).
    parameters: tuple[str, ...] = ()
    #: How it places units in time (one of :data:`PERIODS`).
    period: str = "month"


#: Measures by id; the YAML picks one per indicator.
MEASURES: dict[str, Measure] = {}


def _measure(id: str, kind: str, parameters: tuple[str, ...] = (), *, period: str = "month"):
    """Register ``fn`` as the measure ``id`` (its kind, its declared parameters, its period)."""
    if kind not in KINDS or period not in PERIODS or id in MEASURES:
        raise ValueError(f"measure {id!r}: kind {kind!r} must be one of {KINDS}, period {period!r} one of "
                         f"{PERIODS}, and the id new")
    unknown = sorted(set(parameters) - set(PARAMETERS))
    if unknown:
        raise ValueError(f"measure {id!r}: unknown parameters {unknown} (known: {sorted(PARAMETERS)})")

    def register(fn):
        MEASURES[id] = Measure(id, kind, fn, (fn.__doc__ or "").strip().splitlines()[0], parameters, period)
        return fn
    return register


def _check_window_hours(value: Any) -> str | None:
    """None when ``value`` is a valid response window, else what is wrong with it."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 0 or value % 24:
        return ("must be a whole number of hours >= 0 and a multiple of 24 (dates have day "
                f"resolution: 0 = the same day, 24 = the same or the next day), got {value!r}")
    return None


def _whole(low: int, high: int | None = None) -> Callable[[Any], str | None]:
    def check_(value: Any) -> str | None:
        if not isinstance(value, int) or isinstance(value, bool) or value < low or (high is not None and value > high):
            return f"must be a whole number from {low}" + (f" to {high}" if high is not None else "") + f", got {value!r}"
        return None
    return check_


def _flag(value: Any) -> str | None:
    return None if isinstance(value, bool) else f"must be true or false, got {value!r}"


def _list_of(allowed: Callable[[], Sequence] | None, what: str) -> Callable[[Any], str | None]:
    def check_(value: Any) -> str | None:
        if not isinstance(value, list) or not value or len(set(map(repr, value))) != len(value):
            return f"must be a non-empty list of {what} without repeats, got {value!r}"
        known = list(allowed()) if allowed else None
        bad = [v for v in value if (known is not None and v not in known)
                                    or (known is None and (not isinstance(v, str) or not v.strip()))]
        if bad:
            return f"{bad} not {what}" + (f" (known: {known})" if known is not None else "")
        return None
    return check_


def _share(value: Any) -> str | None:
    if not _number(value) or not 0 < value <= 1:
        return f"must be a number in (0, 1], got {value!r}"
    return None


def _screens(value: Any) -> str | None:
    from workbench.instruments import instrument_ids

    known = instrument_ids()
    if not isinstance(value, Mapping) or not value:
        return ("must map each screen's name to {full: <questionnaire>} or {full: <questionnaire>, screener: "
                f"<its two-item screener>}}, got {value!r}")
    for name, screen in value.items():
        if not isinstance(screen, Mapping) or "full" not in screen or set(screen) - {"full", "screener"}:
            return f"{name}: must be {{full: <questionnaire>}} with an optional screener, got {screen!r}"
        for role, instrument in screen.items():
            if instrument not in known:
                return f"{name}.{role}: {instrument!r} is not a declared questionnaire (known: {known})"
        if "screener" in screen and get_instrument(screen["screener"]).screen_positive is None:
            return f"{name}.screener: {screen['screener']!r} declares no screen-positive threshold"
    return None


def _groups(value: Any) -> str | None:
    if (not isinstance(value, Mapping) or set(value) != {"numerator", "denominator"}
            or any(_list_of(None, "community types")(v) for v in value.values())):
        return ("must be {numerator: [community types], denominator: [community types]}, each a non-empty "
                f"list, got {value!r}")
    if set(value["numerator"]) & set(value["denominator"]):
        return f"a community type cannot be in both groups, got {value!r}"
    return None


def _tables_names(name: str) -> Callable[[], Sequence]:
    def names() -> Sequence:
        import workbench.tables as wt
        return getattr(wt, name)
    return names


#: Parameters an indicator may declare for its measure: name -> check (None when valid, else
#: the problem). Each is a top-level key of the indicator in the YAML.
PARAMETERS: dict[str, Callable[[Any], str | None]] = {
    "window_hours": _check_window_hours,
    "days": _whole(0, 3650),
    "contact_kinds": _list_of(None, "contact kinds (texts)"),
    "tiers": _list_of(lambda: (1, 2, 3), "tiers"),
    "min_age": _whole(0, 120),
    "lives_alone": _flag,
    "conditions": _list_of(_tables_names("CONDITIONS"), "chronic conditions of the residents table"),
    "screens": _screens,
    "event_kinds": _list_of(_tables_names("EVENT_KINDS"), "event kinds"),
    "include_discharge_day": _flag,
    "pass_share": _share,
    "groups": _groups,
}


def window_text(hours: int, lang: str) -> str:
    """The words for a response window in a label (what ``{window}`` becomes).

    >>> window_text(24, "en"), window_text(72, "zh"), window_text(0, "en"), window_text(0, "zh")
    ('within 24 h', '72小时内', 'the same day', '当日')
    """
    if lang == "zh":
        return "当日" if hours == 0 else f"{hours}小时内"
    return "the same day" if hours == 0 else f"within {hours} h"


@_measure("screened_share", "proportion", period="cumulative")
def screened_share(tables: _Derived, *, months: Sequence[str]) -> pd.DataFrame:
    """Residents (the target population) screened on or before the end of each month."""
    s = tables.screened
    first = s.groupby("resident_id")["assessed_on"].min()
    res = tables["residents"]
    screened_on = res["resident_id"].map(first)
    parts = []
    for month in months:
        end = pd.Period(month, "M").end_time
        parts.append(pd.DataFrame({"community": res["community"].to_numpy(object), "period": month,
                                   "outcome": (screened_on <= end).to_numpy(float)}))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["community", "period", "outcome"])


def _contacted_within(tables: _Derived, select: Callable[[pd.DataFrame], pd.Series],
                      window_hours: int) -> pd.DataFrame:
    """Screenings picked by ``select``: 1 when the first attended contact on or after the
    screening day is within the window (never contacted: 0)."""
    problem = _check_window_hours(window_hours)
    if problem:
        raise ValueError(f"The 'window_hours' parameter {problem}.")
    screened = tables.screened
    s = screened[pd.Series(select(screened), index=screened.index).astype("boolean").fillna(False).to_numpy(bool)]
    wait = (tables.first_contact_after(s, "assessed_on") - s["assessed_on"]).dt.days
    return _units(s, tables, "assessed_on", (wait <= window_hours // 24).fillna(False))


@_measure("urgent_contacted_within", "proportion", ("window_hours",))
def urgent_contacted_within(tables: _Derived, *, months: Sequence[str], window_hours: int) -> pd.DataFrame:
    """Screenings decided urgent (``decisions.urgent``) with an attended contact within ``window_hours``."""
    return _contacted_within(tables, lambda s: s["urgent"], window_hours)


@_measure("tier3_contacted_within", "proportion", ("window_hours",))
def tier3_contacted_within(tables: _Derived, *, months: Sequence[str], window_hours: int) -> pd.DataFrame:
    """Screenings decided tier 3 (the decided tier, not the suggestion) contacted within ``window_hours``."""
    return _contacted_within(tables, lambda s: s["tier"] == 3, window_hours)


@_measure("referral_wait_days", "mean")
def referral_wait_days(tables: _Derived, *, months: Sequence[str]) -> pd.DataFrame:
    """Days from referral to its first attended contact (referrals never seen are excluded)."""
    r = tables["referrals"]
    c = tables.attended
    first = c.groupby("referral_id")["contact_on"].min()
    wait = (r["referral_id"].map(first) - r["referred_on"]).dt.days
    return _units(r, tables, "referred_on", wait)


def _ended(tables: _Derived) -> pd.DataFrame:
    r = tables["referrals"]
    return r[r["ended_on"].notna()]


def _phq9_change(tables: _Derived) -> pd.DataFrame:
    """Ended referrals whose baseline (the screening that led to them) has PHQ-9 >= the declared
    screen-positive threshold, with :func:`workbench.outcomes.change` (response, remission)."""
    from workbench.outcomes import change

    scores = tables.referral_scores
    ch = change(scores[["referral_id", "assessed_on", "phq9_score", "baseline"]], subject="referral_id",
                baseline="baseline")
    ended = _ended(tables).merge(ch, on="referral_id", how="left")
    return ended[ended["baseline_score"] >= get_instrument("phq9").screen_positive]  # declared: 10


@_measure("phq9_response", "proportion")
def phq9_response(tables: _Derived, *, months: Sequence[str]) -> pd.DataFrame:
    """Ended referrals with baseline PHQ-9 >= 10: ``response`` from :func:`~workbench.outcomes.change`."""
    d = _phq9_change(tables)
    return _units(d, tables, "ended_on", d["response"])


@_measure("phq9_remission", "proportion")
def phq9_remission(tables: _Derived, *, months: Sequence[str]) -> pd.DataFrame:
    """Ended referrals with baseline PHQ-9 >= 10: ``remission`` from :func:`~workbench.outcomes.change`."""
    d = _phq9_change(tables)
    return _units(d, tables, "ended_on", d["remission"])


@_measure("tt_recovery", "proportion")
def tt_recovery(tables: _Derived, *, months: Sequence[str]) -> pd.DataFrame:
    """NHS Talking Therapies recovery of finished referrals at caseness at the start, month ended:
    counts from :func:`workbench.outcomes.rates` with the same denominators as reliable recovery
    (a finished referral without a pair of scores stays in the denominator, as REFERENCE.md says)."""
    from workbench.quality_outcomes import _tt_counts

    return _tt_counts(tables, "recovery")


@_measure("dropout", "proportion")
def dropout(tables: _Derived, *, months: Sequence[str]) -> pd.DataFrame:
    """Referrals ended in the month whose ``end_reason`` is ``dropped_out`` (a blank reason is not known: excluded)."""
    d = _ended(tables)
    return _units(d, tables, "ended_on", d["end_reason"] == "dropped_out")


@_measure("satisfaction", "proportion")
def satisfaction(tables: _Derived, *, months: Sequence[str]) -> pd.DataFrame | None:
    """Survey answers ``satisfied`` True among answered (table ``surveys``, month surveyed); None
    (no data) when no survey was recorded at all."""
    d = tables["surveys"]
    if d.empty:
        return None
    return _units(d, tables, "surveyed_on", d["satisfied"])


@_measure("self_harm_followed_within", "proportion", ("window_hours",))
def self_harm_followed_within(tables: _Derived, *, months: Sequence[str], window_hours: int) -> pd.DataFrame:
    """Screenings whose stored PHQ-9 self-harm flag is raised, with an attended contact within ``window_hours``."""
    return _contacted_within(tables, lambda s: s["phq9_self_harm"], window_hours)


# --- declarations --------------------------------------------------------------------------

@dataclass(frozen=True)
class Indicator:
    """One declared indicator (``label`` with ``{window}`` already filled in).

    ``alert`` is ``(side, level)`` with side ``below``, ``above`` or ``rise_above`` (the value is
    more than ``1 + level`` times the pooled value of the :data:`RISE_MONTHS` months before), or
    None: report only, never an alert. ``target`` is None when there is none. ``setting`` says the
    target and alert are programme defaults a site changes in its YAML, not facts."""

    id: str
    category: str
    measure: str
    target: float | None
    alert: tuple[str, float] | None
    label: Mapping[str, str]
    source: str
    min_denominator: int
    #: The measure's declared parameters (e.g. ``{"window_hours": 24}``), passed as keywords.
    parameters: Mapping[str, Any] = field(default_factory=dict)
    period: str = "month"
    direction: str = "higher_is_better"
    setting: bool = False
    numerator: Mapping[str, str] = field(default_factory=dict)
    denominator: Mapping[str, str] = field(default_factory=dict)
    #: A rate's multiplier (events per ``per`` person-years); 1 for other kinds.
    per: int = 1

    @property
    def kind(self) -> str:
        return MEASURES[self.measure].kind

    @property
    def window_hours(self) -> int | None:
        """The declared response window in hours, or None when the measure takes none."""
        return self.parameters.get("window_hours")

    @property
    def report_only(self) -> bool:
        """True when the indicator has no alert rule (it is shown, never flagged)."""
        return self.alert is None


@dataclass(frozen=True)
class IndicatorSet:
    version: str
    source: str
    indicators: tuple[Indicator, ...]
    path: Path
    #: Labels of the categories (``{category: {"en": ..., "zh": ...}}``), in :data:`CATEGORIES` order.
    categories: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def indicator(self, id: str) -> Indicator:
        for ind in self.indicators:
            if ind.id == id:
                return ind
        raise KeyError(f"no indicator {id!r}; declared: {[i.id for i in self.indicators]}")

    def by_category(self) -> list[tuple[str, list[Indicator]]]:
        """``[(category, [indicators in declared order]), ...]`` in :data:`CATEGORIES` order,
        categories without indicators left out."""
        return [(c, [i for i in self.indicators if i.category == c]) for c in CATEGORIES
                if any(i.category == c for i in self.indicators)]


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value)


def _parameters(item: Mapping, at: str, problems: list[str]) -> dict[str, Any]:
    """The measure's declared parameters: each one it takes present and valid, no others."""
    measure = MEASURES.get(item["measure"])
    takes = measure.parameters if measure else ()
    out = {}
    for name in PARAMETERS:
        if name in takes and name not in item:
            problems.append(f"{at}.{name}: required by the measure {item['measure']!r} and missing")
        elif name in item and measure and name not in takes:
            problems.append(f"{at}.{name}: the measure {item['measure']!r} takes no {name} "
                            f"(it takes {list(takes) or 'no parameters'})")
        elif name in item:
            problem = PARAMETERS[name](item[name])
            if problem:
                problems.append(f"{at}.{name}: {problem}")
            else:
                out[name] = item[name]
    return out


def _label(label: dict[str, str], params: Mapping[str, Any], at: str, problems: list[str]) -> dict[str, str]:
    """Fill ``{window}`` from the declared window; a windowed label must say ``{window}``."""
    out = {}
    for lang, text in label.items():
        names = _PLACEHOLDER.findall(text)
        for name in sorted(set(names) - {"window"}):
            problems.append(f"{at}.label.{lang}: unknown placeholder {{{name}}} in {text!r} (allowed: {{window}})")
        if "window" in names and "window_hours" not in params:
            problems.append(f"{at}.label.{lang}: says {{window}} but the indicator declares no valid window_hours")
        elif "window_hours" in params and text and "window" not in names:
            problems.append(f"{at}.label.{lang}: must say {{window}} where the declared window_hours "
                            f"({params['window_hours']}) belongs, not repeat the number, got {text!r}")
        elif "window_hours" in params:
            text = text.replace("{window}", window_text(params["window_hours"], lang))
        out[lang] = text
    return out


def _alert(item: Mapping, kind: str | None, at: str, problems: list[str]) -> tuple[str, float] | None:
    rule = item["alert"]
    if rule is None:
        return None
    if (not isinstance(rule, Mapping) or len(rule) != 1 or next(iter(rule)) not in ("below", "above", "rise_above")
            or not _number(next(iter(rule.values())))):
        problems.append(f"{at}.alert: must be {{below: <number>}}, {{above: <number>}}, {{rise_above: <share>}} "
                        f"or null (report only), got {rule!r}")
        return None
    (side, level), = rule.items()
    if side == "rise_above" and (kind not in ("proportion", "rate") or not level > 0):
        problems.append(f"{at}.alert: rise_above compares pooled counts, so it needs a proportion or a rate and a "
                        f"share > 0 (0.5 = a rise of more than 50 %), got {rule!r} for a {kind}")
    elif side != "rise_above" and kind == "proportion" and not 0 <= level <= 1:
        problems.append(f"{at}.alert: a proportion's threshold must be in [0, 1], got {rule!r}")
    return side, float(level)


def _categories(raw: Any, problems: list[str]) -> dict[str, dict[str, str]]:
    if not isinstance(raw, Mapping) or set(raw) != set(CATEGORIES):
        problems.append(f"categories: must give en and zh labels for exactly {list(CATEGORIES)}, got "
                        f"{sorted(raw) if isinstance(raw, Mapping) else raw!r}")
        return {}
    return {c: _texts(raw[c], f"categories.{c}", problems) for c in CATEGORIES}


def load_indicators(path: str | Path | IndicatorSet | None = None) -> IndicatorSet:
    """The indicator declarations (the shipped file by default), validated.

    Raises
    ------
    QualityError
        Naming every key that is wrong, e.g. ``indicators[3].alert: ...``.
    """
    if isinstance(path, IndicatorSet):
        return path
    path = Path(path) if path is not None else _FILE
    raw = read_yaml(path, QualityError)
    problems: list[str] = []
    if not isinstance(raw, Mapping):
        refuse(path, "indicators", ["the file must hold a mapping of keys"], QualityError)
    top = ["categories", "indicators", "min_denominator", "source", "version"]
    for key in sorted(set(raw) - set(top)):
        problems.append(f"{key}: unknown key (allowed: {top})")
    version, source = raw.get("version"), raw.get("source")
    if not isinstance(version, str) or not version.strip():
        problems.append("version: must be a non-empty text, e.g. \"1.0\" (quote it)")
    if not isinstance(source, str) or not source.strip():
        problems.append("source: must say where the indicators come from")
    categories = _categories(raw.get("categories"), problems)
    default_min = raw.get("min_denominator", 5)
    if not isinstance(default_min, int) or isinstance(default_min, bool) or default_min < 1:
        problems.append(f"min_denominator: must be a whole number >= 1, got {default_min!r}")
        default_min = 5
    items = raw.get("indicators")
    if not isinstance(items, list) or not items:
        problems.append("indicators: must be a non-empty list")
        items = []
    out, seen = [], set()
    for k, item in enumerate(items):
        at = f"indicators[{k}]"
        if not isinstance(item, Mapping):
            problems.append(f"{at}: must be a mapping")
            continue
        at = f"indicators[{k}] ({item.get('id', '?')})"
        for key in sorted(set(item) - _KEYS - set(PARAMETERS)):
            problems.append(f"{at}.{key}: unknown key (allowed: {sorted(_KEYS | set(PARAMETERS))})")
        missing = sorted(_REQUIRED - set(item))
        for key in missing:
            problems.append(f"{at}.{key}: required key is missing")
        if missing:
            continue
        if not isinstance(item["id"], str) or not _IDENT.match(item["id"]):
            problems.append(f"{at}.id: {item['id']!r} must be an identifier (letters, digits, _), e.g. A1")
        elif item["id"] in seen:
            problems.append(f"{at}.id: {item['id']!r} is declared twice")
        seen.add(item["id"])
        if item["category"] not in CATEGORIES:
            problems.append(f"{at}.category: {item['category']!r} is not one of {list(CATEGORIES)}")
        measure = MEASURES.get(item["measure"])
        if measure is None:
            problems.append(f"{at}.measure: {item['measure']!r} is not a known measure (known: {sorted(MEASURES)})")
        elif item["period"] != measure.period:
            problems.append(f"{at}.period: the measure {measure.id!r} counts {measure.period!r}, the declaration "
                            f"says {item['period']!r}")
        if item["period"] not in PERIODS:
            problems.append(f"{at}.period: {item['period']!r} is not one of {list(PERIODS)}")
        if item["direction"] not in DIRECTIONS:
            problems.append(f"{at}.direction: {item['direction']!r} is not one of {list(DIRECTIONS)}")
        target = item.get("target")
        if target is not None and not _number(target):
            problems.append(f"{at}.target: must be a number or null, got {target!r}")
        setting = item.get("setting", False)
        if not isinstance(setting, bool):
            problems.append(f"{at}.setting: must be true or false, got {setting!r}")
        kind = measure.kind if measure else None
        rule = _alert(item, kind, at, problems)
        per = item.get("per", 1)
        if kind == "rate" and "per" not in item:
            problems.append(f"{at}.per: a rate must say per how many person-years it counts (e.g. per: 1000)")
        elif "per" in item and kind != "rate":
            problems.append(f"{at}.per: only a rate takes per, not a {kind}")
        elif _whole(1)(per):
            problems.append(f"{at}.per: {_whole(1)(per)}")
        params = _parameters(item, at, problems)
        label = _label(_texts(item["label"], f"{at}.label", problems), params, at, problems)
        numerator = _texts(item["numerator"], f"{at}.numerator", problems)
        denominator = _texts(item["denominator"], f"{at}.denominator", problems)
        if not isinstance(item["source"], str) or not item["source"].strip():
            problems.append(f"{at}.source: must say where the definition and the target come from")
        mind = item.get("min_denominator", default_min)
        if not _number(mind) or mind <= 0:
            problems.append(f"{at}.min_denominator: must be a number > 0 (persons, or person-years for a rate), "
                            f"got {mind!r}")
        if not problems:
            out.append(Indicator(item["id"], item["category"], item["measure"],
                                 None if target is None else float(target), rule, label, item["source"].strip(),
                                 mind, params, item["period"], item["direction"], setting, numerator, denominator,
                                 per))
    refuse(path, "indicators", problems, QualityError)
    return IndicatorSet(version, source.strip(), tuple(out), path, categories)


# --- computing -----------------------------------------------------------------------------

def status_of(value: float, denominator: float, *, alert: tuple[str, float] | None, min_denominator: float,
              reference: float | None = None) -> str:
    """``insufficient`` (denominator < min), ``alert`` (strictly beyond the rule) or ``ok``.

    A ``rise_above`` rule compares ``value`` with ``reference`` (the pooled value of the months
    before): an alert when ``value > (1 + level) × reference``; with no reference the month cannot
    be judged (``insufficient``). A rule of None (report only) is never an alert.

    >>> status_of(0.15, 20, alert=("above", 0.15), min_denominator=5)
    'ok'
    >>> status_of(0.16, 20, alert=("above", 0.15), min_denominator=5)
    'alert'
    >>> status_of(0.5, 4, alert=("above", 0.15), min_denominator=5)
    'insufficient'
    >>> status_of(160.0, 40, alert=("rise_above", 0.5), min_denominator=5, reference=100.0)
    'alert'
    >>> status_of(150.0, 40, alert=("rise_above", 0.5), min_denominator=5, reference=100.0)
    'ok'
    """
    if not denominator >= min_denominator or not np.isfinite(value):
        return "insufficient"
    if alert is None:
        return "ok"
    side, level = alert
    # round away float noise (3/20 is 0.15000000000000002): a value equal to the level is no alert
    v = round(float(value), 12)
    if side == "rise_above":
        if reference is None or not np.isfinite(reference):
            return "insufficient"
        return "alert" if v > round((1 + level) * float(reference), 12) else "ok"
    return "alert" if (v < level if side == "below" else v > level) else "ok"


_AGG = ["community", "period", "numerator", "denominator", "value", "ci_low", "ci_high"]


def _with_all(units: pd.DataFrame) -> pd.DataFrame:
    units = units.dropna(subset=["period"])  # a blank community (suppressed in an export) counts in "all" only
    return pd.concat([units.dropna(subset=["community"]), units.assign(community="all")], ignore_index=True)


def _sums(units: pd.DataFrame, weights: Mapping[str, np.ndarray], counted: np.ndarray | None = None) -> pd.DataFrame:
    """Sums of ``weights`` per community and month, and for ``all`` (every unit with a month: a
    blank community counts there only); a community-month appears when it has a unit
    (``counted``: only those units; default all). Integer keys and ``np.bincount``: a city's units
    add up in a second."""
    community, communities = pd.factorize(units["community"], sort=True)
    period, periods = pd.factorize(units["period"], sort=True)
    keep = period >= 0
    if counted is not None:
        keep &= counted
    n_c, n_p = len(communities) + 1, len(periods)  # row 0: a blank community
    key = ((community + 1) * n_p + period)[keep]
    size = n_c * n_p
    present = np.bincount(key, minlength=size).reshape(n_c, n_p)
    totals = {name: np.bincount(key, weights=np.asarray(w, dtype=float)[keep], minlength=size).reshape(n_c, n_p)
              for name, w in weights.items()}
    rows_c, rows_p = np.nonzero(present[1:] > 0)
    all_p = np.flatnonzero(present.sum(axis=0) > 0)
    frame = pd.DataFrame({"community": np.concatenate([np.asarray(communities, dtype=object)[rows_c],
                                                       np.full(len(all_p), "all", dtype=object)]),
                          "period": np.concatenate([np.asarray(periods, dtype=object)[rows_p],
                                                    np.asarray(periods, dtype=object)[all_p]])})
    for name, total in totals.items():
        frame[name] = np.concatenate([total[1:][rows_c, rows_p], total.sum(axis=0)[all_p]])
    return frame


def _proportions(counts: pd.DataFrame, alpha: float) -> pd.DataFrame:
    """``community, period, numerator, denominator`` -> with value and Wilson interval."""
    from workbench.epi import _wilson

    x = counts["numerator"].to_numpy(float)
    n = counts["denominator"].to_numpy(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        value = np.where(n > 0, x / np.where(n > 0, n, 1), np.nan)
        low, high = _wilson(x, n, alpha)
    out = counts[["community", "period"]].reset_index(drop=True).assign(
        numerator=x, denominator=n, value=value, ci_low=np.where(n > 0, low, np.nan), ci_high=np.where(n > 0, high, np.nan))
    return out[_AGG]


def _aggregate(units: pd.DataFrame, kind: str, alpha: float, per: int = 1) -> pd.DataFrame:
    """Units (or pre-aggregated counts with their ``all`` rows) -> one row per community and month."""
    if {"numerator", "denominator"} <= set(units.columns):  # counts from a module that aggregates itself
        return _proportions(units.dropna(subset=["period", "community"]), alpha)
    if kind == "proportion":  # Wilson intervals as epi.prevalence gives them, from the counts
        outcome = units["outcome"].to_numpy(float)
        known = ~np.isnan(outcome)
        g = _sums(units, {"numerator": np.where(known, outcome, 0.0), "denominator": known.astype(float)}, known)
        return _proportions(g, alpha)
    if kind == "rate":
        from workbench.epi import _poisson_exact

        g = _sums(units, {"outcome": np.nan_to_num(units["outcome"].to_numpy(float)),
                          "exposure": np.nan_to_num(units["exposure"].to_numpy(float))})
        x, t = g["outcome"].to_numpy(float), g["exposure"].to_numpy(float)
        low, high = _poisson_exact(x, alpha)
        with np.errstate(invalid="ignore", divide="ignore"):
            scale = np.where(t > 0, per / np.where(t > 0, t, 1), np.nan)
        return g[["community", "period"]].assign(numerator=x, denominator=t, value=x * scale, ci_low=low * scale,
                                                 ci_high=high * scale)[_AGG]
    if kind == "ratio":
        return _ratios(units.dropna(subset=["period"]).assign(community="all"), alpha)
    units = _with_all(units)
    rows = []
    for (community, period), g in units.dropna(subset=["outcome"]).groupby(["community", "period"]):
        x = g["outcome"].to_numpy(float)
        n, mean = len(x), x.mean()
        low = high = np.nan
        if n >= 2:
            half = stats.t.ppf(1 - alpha / 2, n - 1) * x.std(ddof=1) / np.sqrt(n)
            low, high = mean - half, mean + half
        rows.append({"community": community, "period": period, "numerator": x.sum(), "denominator": n,
                     "value": mean, "ci_low": low, "ci_high": high})
    return pd.DataFrame(rows, columns=_AGG)


def _ratios(units: pd.DataFrame, alpha: float) -> pd.DataFrame:
    """A ratio of two proportions (group ``numerator`` over group ``denominator``) per month, with
    the Katz log interval ``exp(log(r) ± z √(1/x1 − 1/n1 + 1/x2 − 1/n2))`` (Katz 1978, Biometrics
    34:469; none when a group has no one counted). ``denominator`` holds the smaller group's size
    (what "too few to judge" is judged on); ``numerator`` is NaN (a ratio is not a count)."""
    known = units.dropna(subset=["outcome", "group"])
    g = known.groupby(["period", "group"])["outcome"].agg(["sum", "count"]).unstack("group")
    rows = []
    z = stats.norm.ppf(1 - alpha / 2)
    for period, r in g.iterrows():
        x1, n1 = r.get(("sum", "numerator"), 0.0), r.get(("count", "numerator"), 0.0)
        x2, n2 = r.get(("sum", "denominator"), 0.0), r.get(("count", "denominator"), 0.0)
        x1, n1, x2, n2 = (0.0 if pd.isna(v) else float(v) for v in (x1, n1, x2, n2))
        value = low = high = np.nan
        if n1 > 0 and n2 > 0 and x2 > 0:
            value = (x1 / n1) / (x2 / n2)
            if x1 > 0:
                half = z * np.sqrt(1 / x1 - 1 / n1 + 1 / x2 - 1 / n2)
                low, high = value * np.exp(-half), value * np.exp(half)
        rows.append({"community": "all", "period": period, "numerator": np.nan, "denominator": min(n1, n2),
                     "value": value, "ci_low": low, "ci_high": high})
    return pd.DataFrame(rows, columns=_AGG)


def default_months(tables: Tables) -> list[str]:
    """Every month from the first screening's to the month of the last date recorded (screenings,
    contacts, referrals, events), without gaps: a control chart needs the months in between.

    >>> default_months(Tables())
    []
    """
    a = tables["assessments"]
    first = a.loc[(a["purpose"] == "screening").fillna(False).to_numpy(bool), "assessed_on"].min()
    dates = [tables["assessments"]["assessed_on"], tables["contacts"]["contact_on"], tables["referrals"]["referred_on"],
             tables["referrals"]["ended_on"], tables["events"]["event_on"]]
    last = max((d.max() for d in dates if len(d) and pd.notna(d.max())), default=pd.NaT)
    if pd.isna(first) or pd.isna(last):
        return []
    return [str(p) for p in pd.period_range(pd.Timestamp(first).to_period("M"), pd.Timestamp(last).to_period("M"), freq="M")]


def _months(months: str | Sequence[str] | None, tables: Tables | None) -> list[str]:
    if months is None:
        return default_months(tables)
    return [months] if isinstance(months, str) else list(months)  # checked: MONTHS


def _before(months: list[str], n: int) -> list[str]:
    """The ``n`` months before the first of ``months`` and ``months`` themselves, sorted."""
    if not months:
        return []
    first = pd.Period(min(months), "M")
    return sorted({str(first - k) for k in range(1, n + 1)} | set(months))


@validate_params({"tables": TABLES, "measure": Options(of=lambda: sorted(MEASURES)),
                  "months": MONTHS})
def units(tables: Tables, measure: str, *, months: str | Sequence[str] | None = None,
          **parameters: Any) -> pd.DataFrame | None:
    """The units one measure counts (``community, period, outcome``: 0/1 or a number, NaN when
    not known; a rate adds ``exposure``, a ratio ``group``; a measure that aggregates itself gives
    ``numerator, denominator`` with the ``all`` rows) before :func:`compute` adds them up; None when
    its source was not collected. ``parameters``: the measure's own (e.g. ``window_hours=24``),
    not read from the indicators.

    >>> units(Tables(), "dropout").columns.tolist()
    ['community', 'period', 'outcome']
    >>> units(Tables(), "satisfaction") is None  # no survey rows: no data, nothing invented
    True
    """
    derived = _Derived(tables)
    return MEASURES[measure].function(derived, months=_months(months, derived.tables), **parameters)


def _reference(agg: pd.DataFrame, months: list[str], kind: str, per: int) -> pd.Series:
    """Per (community, month): the pooled value of the :data:`RISE_MONTHS` months before it
    (proportion: Σ numerators / Σ denominators; rate: per × Σ events / Σ person-years); NaN when
    those months hold no denominator."""
    if agg.empty or not months:
        return pd.Series(dtype=float)
    first = pd.Period(min(months), "M") - RISE_MONTHS
    span = [str(first + k) for k in range((pd.Period(max(months), "M") - first).n + 1)]
    table = agg.pivot_table(index="community", columns="period", values=["numerator", "denominator"], aggfunc="sum")
    num = table["numerator"].reindex(columns=span).fillna(0).to_numpy(float)
    den = table["denominator"].reindex(columns=span).fillna(0).to_numpy(float)
    cum_num = np.concatenate([np.zeros((len(num), 1)), num.cumsum(axis=1)], axis=1)
    cum_den = np.concatenate([np.zeros((len(den), 1)), den.cumsum(axis=1)], axis=1)
    out = {}
    for month in months:
        at = span.index(month)  # the 12 months before: positions at-12 .. at-1
        n, d = cum_num[:, at] - cum_num[:, at - RISE_MONTHS], cum_den[:, at] - cum_den[:, at - RISE_MONTHS]
        with np.errstate(invalid="ignore", divide="ignore"):
            value = np.where(d > 0, n / np.where(d > 0, d, 1) * (per if kind == "rate" else 1), np.nan)
        out.update({(c, month): v for c, v in zip(table.index, value)})
    return pd.Series(out, dtype=float)


@validate_params({"tables": TABLES, "months": MONTHS, "alpha": ALPHA, "spc": Options(True, False)})
def compute(tables: Tables, *, months: str | Sequence[str] | None = None,
            indicators: str | Path | IndicatorSet | None = None, alpha: float = 0.05, spc: bool = True) -> pd.DataFrame:
    """Every declared indicator per community (and ``all``) and month.

    Parameters
    ----------
    tables : workbench.tables.Tables
        The analysis tables: :func:`workbench.sample.load_sample`, :func:`workbench.tables.read`
        (an export folder) or :meth:`Registry.analysis_tables
        <workbench.registry.store.Registry.analysis_tables>`. They are checked first
        (:meth:`~workbench.tables.Tables.validate`: every bad cell is named, nothing computed).
    months : str or list of str, optional
        ``YYYY-MM`` periods; by default :func:`default_months` (the first screening's month to
        the last month with data). A control chart reads the months asked: ask for 12 or more.
    indicators : path or IndicatorSet, optional
        The declarations (default: the shipped ``quality_indicators.yaml``).
    alpha : float
        1 - confidence level, in (0, 1).
    spc : bool
        Add each month's statistical-process-control reading (``variation``, ``rules``): the
        indicator's control chart per community over the months computed
        (:func:`control_chart`). False leaves them blank (faster when only the numbers are needed).

    Returns
    -------
    DataFrame
        Columns :data:`COLUMNS`: ``indicator, category, community, period, numerator,
        denominator, value, ci_low, ci_high, target, status, variation, rules``; one row per
        indicator, community and month. ``status`` (:data:`STATUSES`): ``insufficient`` when the
        denominator is below the indicator's ``min_denominator`` ("too few to judge"; a month with
        no units has denominator 0), ``no_data`` when the measure's source was not collected (NaN
        counts), ``not_applicable`` for a community row of a programme-level ratio (A4: rural
        over urban), ``alert`` when the value breaks the alert rule, else ``ok`` (a report-only
        indicator is never an alert). ``variation`` is the NHS "Making Data Count" reading of that
        month on the chart (``common_cause``, ``special_cause_improvement``,
        ``special_cause_concern``; blank when the chart has too few months or the month no
        value), ``rules`` the special-cause rules the month meets (comma-separated). ``attrs``:
        ``alpha``, ``version`` (of the indicators), ``indicators`` (the path of their declarations),
        ``policy_versions`` (the stepped-care policies the tier decisions were made under,
        :attr:`Tables.policy_versions <workbench.tables.Tables.policy_versions>`), ``source``,
        ``pseudonymised`` and ``read_at`` (of the tables), and ``residents_without_community``
        (blank in an export that suppressed them: they count in ``all`` only).

    Notes
    -----
    Tiers and urgency are the ones decided and recorded (``decisions.tier``, not the policy's
    suggestion); scores and the self-harm flag are the stored ones. Nothing is scored or tiered
    again here.

    Examples
    --------
    >>> from workbench.tables import Tables
    >>> r = compute(Tables(), months="2025-06")
    >>> r.loc[r["indicator"] == "X1", ["community", "status"]].to_string(index=False)
    'community  status\\n      all no_data'
    >>> compute({"residents": None}, months="2025-06")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    workbench.params.ParameterError: The 'tables' parameter of compute must be the analysis tables (...). Got {'residents': None} instead.
    """
    months = sorted(set(_months(months, tables)))
    spec = load_indicators(indicators)
    derived = _Derived(tables)
    communities = sorted(tables["residents"]["community"].dropna().unique()) + ["all"]
    grid = pd.MultiIndex.from_product([communities, months], names=["community", "period"]).to_frame(index=False)
    parts = []
    for ind in spec.indicators:
        rise = ind.alert is not None and ind.alert[0] == "rise_above"
        asked = _before(months, RISE_MONTHS) if rise else months
        found = MEASURES[ind.measure].function(derived, months=asked, **ind.parameters)
        if found is None:
            frame = grid.assign(numerator=np.nan, denominator=np.nan, value=np.nan, ci_low=np.nan,
                                ci_high=np.nan, status="no_data")
        else:
            found = found[found["period"].isin(asked)]
            agg = _aggregate(found, ind.kind, alpha, ind.per).astype({c: float for c in _NUMBERS})
            reference = _reference(agg, months, ind.kind, ind.per) if rise else pd.Series(dtype=float)
            frame = grid.merge(agg, on=["community", "period"], how="left")
            if ind.kind != "rate":
                frame["denominator"] = frame["denominator"].fillna(0)
            else:
                frame["denominator"] = frame["denominator"].fillna(0.0)
            if ind.kind == "ratio":
                frame["denominator"] = frame["denominator"].where(frame["community"] == "all", np.nan)
            else:
                frame["numerator"] = frame["numerator"].fillna(0)
            frame["status"] = [
                "not_applicable" if ind.kind == "ratio" and c != "all" else
                status_of(v, n, alert=ind.alert, min_denominator=ind.min_denominator,
                          reference=reference.get((c, p)) if rise else None)
                for c, p, v, n in zip(frame["community"], frame["period"], frame["value"], frame["denominator"])]
        frame.insert(0, "indicator", ind.id)
        frame.insert(1, "category", ind.category)
        frame["target"] = np.nan if ind.target is None else ind.target
        frame["variation"] = ""
        frame["rules"] = ""
        parts.append(frame[COLUMNS])
    out = pd.concat(parts, ignore_index=True)
    out.attrs.update(alpha=alpha, version=spec.version, indicators=str(spec.path), policy_versions=tables.policy_versions,
                     source=tables.attrs.get("source"), pseudonymised=bool(tables.attrs.get("pseudonymised")),
                     read_at=tables.attrs.get("read_at"),
                     residents_without_community=int(tables["residents"]["community"].isna().sum()))
    if spc:
        _add_spc(out, spec)
    return out


def _chart(rows: pd.DataFrame, ind: Indicator):
    """The control chart of one indicator and community (rows in month order) with its signals."""
    from workbench import spc as _spc

    labels = rows["period"].tolist()
    if ind.kind == "proportion":
        n = rows["denominator"].astype(float).fillna(0).round().to_numpy()
        x = rows["numerator"].astype(float).fillna(0).round().to_numpy()
        chart = _spc.p_chart(np.where(n > 0, x, 0), n, labels=labels)
    else:
        chart = _spc.xmr_chart(rows["value"].astype(float).to_numpy(), labels=labels)
    return _spc.special_causes(chart, direction=ind.direction, target=ind.target)


def _add_spc(result: pd.DataFrame, spec: IndicatorSet) -> None:
    """Fill ``variation`` and ``rules`` in place: each indicator's chart per community
    (:func:`workbench.spc.readings`, the same rules and icons as :func:`control_chart`), months
    that are too few to judge left out as gaps."""
    from workbench.spc import readings

    variation = np.full(len(result), "", dtype=object)
    rules = np.full(len(result), "", dtype=object)
    order = result.sort_values(["indicator", "community", "period"], kind="stable")
    usable = order["status"].isin(("ok", "alert")).to_numpy()
    value = np.where(usable, order["value"].to_numpy(float), np.nan)
    numerator = np.where(usable, order["numerator"].to_numpy(float), 0.0)
    denominator = np.where(usable, order["denominator"].to_numpy(float), 0.0)
    position = result.index.get_indexer(order.index)
    keys = (order["indicator"] + "\0" + order["community"]).to_numpy(object)
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    stops = np.r_[starts[1:], len(keys)]
    kinds = {i.id: (i.kind, i.direction) for i in spec.indicators}
    for a, b in zip(starts, stops):
        if usable[a:b].sum() < 2:
            continue
        kind, direction = kinds[order["indicator"].iat[a]]
        got = (readings("p", numerator[a:b], denominator[a:b], direction=direction) if kind == "proportion"
               else readings("xmr", value[a:b], direction=direction))
        rules[position[a:b]], variation[position[a:b]] = got
    result["variation"] = variation
    result["rules"] = rules


@validate_params({"result": FRAME, "indicator": Predicate(lambda v: isinstance(v, str), "an indicator id"),
                  "community": Predicate(lambda v: isinstance(v, str), "a community (or 'all')")})
def control_chart(result: pd.DataFrame, indicator: str, community: str = "all",
                  indicators: str | Path | IndicatorSet | None = None):
    """The control chart of one indicator for one community over the months of ``result``.

    A p chart (:func:`workbench.spc.p_chart`) for a proportion, from its numerators and
    denominators; an XmR chart (:func:`workbench.spc.xmr_chart`) of the values otherwise (a mean,
    a ratio, a rate). Months whose status is ``insufficient`` ("too few to judge") are gaps: they
    are drawn as gaps and never judged. Returns the :class:`workbench.spc.Signals` (with the
    indicator's direction and target), ready for :func:`workbench.plots.spc_chart`.

    For anything that leaves the team, chart the suppressed result
    (:func:`workbench.report.suppress_quality`): its hidden months become gaps, so neither the
    points nor the limits carry a count under 5. The team's own view may chart :func:`compute`'s.

    Raises
    ------
    KeyError
        When the result has no such indicator or community.
    """
    spec = load_indicators(indicators if indicators is not None else result.attrs.get("indicators"))
    ind = spec.indicator(indicator)
    rows = result[(result["indicator"] == indicator) & (result["community"] == community)].sort_values("period")
    if rows.empty:
        raise KeyError(f"the result has no rows for indicator {indicator!r} and community {community!r} "
                       f"(communities: {sorted(result.loc[result['indicator'] == indicator, 'community'].unique())})")
    usable = rows["status"].isin(("ok", "alert")).to_numpy()
    shown = rows.assign(value=rows["value"].where(usable), denominator=rows["denominator"].where(usable, 0))
    return _chart(shown, ind)


def alerts(result: pd.DataFrame) -> pd.DataFrame:
    """The rows of :func:`compute` whose status is ``alert``."""
    return result[result["status"] == "alert"].reset_index(drop=True)


# The measures of the other indicators, registered on import (they use the helpers above).
from workbench import quality_care, quality_outcomes  # noqa: E402,F401  (registration)
