"""The measures behind the quality indicators: the analysis tables as measures read them
(:class:`_Derived`: checked once, with the frames several measures share), the helpers that keep
them fast at city scale (integer resident positions and day numbers instead of texts), the
registry of named measures (:data:`MEASURES`, :func:`_measure`) with their declared parameters
(:data:`PARAMETERS`), and the measures of the first indicators (timeliness, dropout,
satisfaction, response and remission). :mod:`workbench.quality_care` and
:mod:`workbench.quality_outcomes` register the others; :mod:`workbench.quality` declares the
indicators and adds the units up. Data flows one way: tables -> measures here -> quality.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from workbench.instruments import get_instrument
from workbench.params import Instance, Predicate, check
from workbench.tables import Tables

__all__ = ["KINDS", "MEASURES", "PARAMETERS", "PERIODS", "Measure", "month_text", "window_text"]

#: Kinds of measure: what a unit's ``outcome`` is and how the units add up.
KINDS = ("proportion", "mean", "ratio", "rate")
#: How a measure places its units in time (declared by the measure; the YAML must say the same).
PERIODS = ("month", "rolling_12", "cumulative")


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value)


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
        ``next_contact_due`` (blank when nobody has decided on the screening yet); ``_resident``:
        the resident's position in ``residents``."""
        s, rows = self.tables._screenings(("phq9", "gad7"), columns=("score", "self_harm"))
        s = s[["resident_id", "assessed_on", "phq9_score", "gad7_score", "phq9_self_harm", "tier", "urgent",
               "next_contact_due"]]
        # each row's resident (position in residents), from its assessment's, for the measures that read it
        return s.assign(_resident=_table_persons(self, "assessments")[rows])

    @cached_property
    def attended_rows(self) -> np.ndarray:
        """Positions in ``contacts`` of the contacts that took place."""
        return np.flatnonzero((self["contacts"]["status"] == "attended").fillna(False).to_numpy(bool))

    @cached_property
    def attended(self) -> pd.DataFrame:
        """Contacts that took place (``status == "attended"``); planned and missed ones do not count."""
        return self["contacts"].iloc[self.attended_rows]

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
    if isinstance(values, np.ndarray) and values.dtype.kind in "bif":
        return values.astype(float)
    return pd.Series(values).astype("Float64").to_numpy(float, na_value=np.nan)


# --- fast shared helpers: integer codes instead of texts, one sorted pass instead of merges ---------
# Text keys and strftime on millions of rows are what made measures slow at city scale: each
# resident is read as the position of their row in ``residents``, each date as a day or month
# number, and the few distinct communities and months are written out once, as the categories of
# the units' ``community`` and ``period`` (pandas categoricals: the units add up on their codes).

_DAY_SPAN = 4_000_000  # a (resident, day) key is code * _DAY_SPAN + day + _DAY_SPAN // 2 (days within +-5,000 years)
#: The month number of a blank date (int64's minimum, as NaT reads).
_NO_MONTH = np.iinfo(np.int64).min


def _where(t: _Derived) -> tuple[pd.Index, np.ndarray, pd.Index]:
    """The residents' ids (an index), each one's community code (-1: blank) and the communities
    (sorted; code ``k`` is the ``k``-th)."""
    def make():
        r = t["residents"]
        codes, names = pd.factorize(r["community"].to_numpy(object), sort=True, use_na_sentinel=True)
        return pd.Index(r["resident_id"]), np.asarray(codes, dtype=np.int64), pd.Index(names, dtype=object)
    return t.memo("core.where", make)


def _positions(t: _Derived, ids: Any) -> np.ndarray:
    """Row of each resident id in ``residents`` (-1: not there)."""
    values = ids.array if isinstance(ids, pd.Series) else pd.Series(ids, dtype=object).array
    return _where(t)[0].get_indexer(values).astype(np.int64) if len(values) else np.zeros(0, dtype=np.int64)


def _resident_codes(t: _Derived, ids: pd.Series) -> np.ndarray:
    """Position of each ``resident_id`` in the residents table (the tables are validated: every
    resident_id refers to a resident and residents are unique)."""
    codes = _positions(t, ids)
    if (codes < 0).any():
        bad = pd.Series(ids).iloc[int(np.flatnonzero(codes < 0)[0])]
        raise ValueError(f"resident_id {bad!r} refers to no row of residents (the tables must be validated)")
    return codes


def _table_persons(t: _Derived, name: str) -> np.ndarray:
    """Position in ``residents`` of the resident of each row of table ``name``: as validation
    looked them up (:meth:`Tables._positions_of <workbench.tables.Tables._positions_of>`), else
    looked up here, once."""
    def make() -> np.ndarray:
        found = t.tables._positions_of(name, "resident_id")
        return found if found is not None else _resident_codes(t, t[name]["resident_id"])
    return t.memo("core.persons:" + name, make)


def _referral_positions(t: _Derived, ids: pd.Series) -> np.ndarray:
    """Row of each referral id in ``referrals`` (-1: blank or not there)."""
    index = t.memo("core.referral_index", lambda: pd.Index(t["referrals"]["referral_id"].to_numpy(object)))
    return index.get_indexer(np.asarray(ids.array, dtype=object)).astype(np.int64) if len(ids) else np.zeros(0, np.int64)


def _persons(t: _Derived, frame: pd.DataFrame) -> np.ndarray:
    """Position of each row's resident in ``residents``: the frame's ``_resident`` column when it
    carries one (a shared frame that looked them up once, e.g. :attr:`_Derived.screened`), else
    looked up from ``resident_id``."""
    if "_resident" in frame.columns:
        return frame["_resident"].to_numpy(np.int64)
    return _resident_codes(t, frame["resident_id"])


def _community(t: _Derived, positions: np.ndarray) -> np.ndarray:
    """Community (text; NaN when blank or the resident unknown) of residents by row position."""
    _, codes, names = _where(t)
    labels = np.append(np.asarray(names, dtype=object), np.nan)
    return labels[np.where(positions >= 0, codes[np.maximum(positions, 0)] if len(codes) else -1, -1)]


def _days(dates: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Day numbers (days since 1970-01-01) of ``dates`` and where they are blank."""
    d = pd.Series(dates).to_numpy("datetime64[D]")
    blank = np.isnat(d)
    return np.where(blank, 0, d.astype(np.int64)), blank


def _month_of(dates: Any) -> np.ndarray:
    """Month number (months since 1970-01) of each date; :data:`_NO_MONTH` for a blank."""
    return np.asarray(pd.Series(dates).to_numpy("datetime64[ns]")).astype("datetime64[M]").view(np.int64)


def _month_number(month: str) -> int:
    """Month number (months since 1970-01) of a ``YYYY-MM`` text."""
    return int(np.datetime64(month, "M").astype(np.int64))


def _month_text(codes: np.ndarray) -> np.ndarray:
    """``YYYY-MM`` of each month number (NaN for a blank), each distinct month formatted once."""
    out = np.full(len(codes), np.nan, dtype=object)
    known = codes != _NO_MONTH
    if known.any():
        lo, hi = int(codes[known].min()), int(codes[known].max())
        text = np.array([str(np.datetime64(m, "M")) for m in range(lo, hi + 1)], dtype=object)
        out[known] = text[codes[known] - lo]
    return out


def month_text(dates: Any) -> np.ndarray:
    """``YYYY-MM`` of each date (None for a blank), formatting each distinct month once.

    >>> month_text(pd.Series(pd.to_datetime(["2025-06-30", None, "2025-06-01", "2024-12-31"]))).tolist()
    ['2025-06', None, '2025-06', '2024-12']
    """
    text = _month_text(_month_of(dates))
    return np.where(pd.isna(text), None, text).astype(object) if len(text) else np.array([], dtype=object)


def _unit_frame(t: _Derived, persons: np.ndarray, months: np.ndarray, outcome: Any, **extra: Any) -> pd.DataFrame:
    """Unit rows from integer keys: each resident's community (by position in ``residents``; -1
    or a blank community: NaN), the month (a month number; :data:`_NO_MONTH`: NaN) and the outcome
    (0/1 or a number, a blank as NaN, never 0), with ``extra`` columns. ``community`` and
    ``period`` are categoricals of the texts, so the units add up on their codes."""
    _, codes, names = _where(t)
    persons = np.asarray(persons, dtype=np.int64)
    community = np.where(persons >= 0, codes[np.maximum(persons, 0)] if len(codes) else -1, -1)
    months = np.asarray(months, dtype=np.int64)
    known = months != _NO_MONTH
    lo = int(months[known].min()) if known.any() else 0
    hi = int(months[known].max()) if known.any() else -1
    periods = pd.Index([str(np.datetime64(m, "M")) for m in range(lo, hi + 1)], dtype=object)
    return pd.DataFrame({"community": pd.Categorical.from_codes(community, categories=names),
                         "period": pd.Categorical.from_codes(np.where(known, months - lo, -1), categories=periods),
                         "outcome": _float(outcome), **extra})


def _plain_units(units: pd.DataFrame | None) -> pd.DataFrame | None:
    """Units with ``community``, ``period`` (and ``group``) as plain texts, as a reader expects
    them (blanks NaN), rather than the categoricals measures add up on."""
    if units is None:
        return None
    cats = {c: object for c in units.columns if isinstance(units[c].dtype, pd.CategoricalDtype)}
    out = units.astype(cats) if cats else units
    out.attrs = dict(units.attrs)
    return out


def _sorted_contacts(t: _Derived, kinds: Sequence[str] | None) -> tuple[np.ndarray, np.ndarray]:
    """Attended contacts (of ``kinds``; None: any kind) as sorted (resident, day) keys and their dates."""
    def every() -> tuple[np.ndarray, np.ndarray]:  # (resident, day) keys of every attended contact, in table order
        day, blank = _days(t.attended["contact_on"])
        person = _table_persons(t, "contacts")[t.attended_rows]
        return np.where(blank, -1, person * _DAY_SPAN + day + _DAY_SPAN // 2), blank

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
    code = _persons(t, frame)
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
    """Unit rows of ``frame``'s rows: the resident's community, the month of ``date`` and the
    outcome (:func:`_unit_frame`)."""
    return _unit_frame(tables, _persons(tables, frame), _month_of(frame[date]), outcome)


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


def check_parameters(function: str, **parameters: Any) -> None:
    """Each of a measure's ``parameters`` checked by its declared rule (:data:`PARAMETERS`);
    a :class:`~workbench.params.ParameterError` names the measure, the parameter and the problem.

    >>> check_parameters("treated_within", days=-1)
    Traceback (most recent call last):
    ...
    workbench.params.ParameterError: treated_within: the 'days' parameter must be a whole number from 0 to 3650, got -1.
    """
    from workbench.params import ParameterError

    for name, value in parameters.items():
        problem = PARAMETERS[name](value)
        if problem:
            raise ParameterError(f"{function}: the {name!r} parameter {problem}.")


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
    check_parameters("_contacted_within", window_hours=window_hours)
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
    """Days from referral to its first attended contact (referrals never seen are excluded; a
    contact dated before the referral is a date error: not known, never a negative wait)."""
    r = tables["referrals"]
    c = tables.attended
    first = c.groupby("referral_id")["contact_on"].min()
    wait = (r["referral_id"].map(first) - r["referred_on"]).dt.days
    wait = wait.where(wait >= 0)
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
