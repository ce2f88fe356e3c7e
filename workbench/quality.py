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
>>> spec.indicator("retention_dropout").alert
('above', 0.15)
>>> ind = spec.indicator("timeliness_tier3_72h")
>>> ind.window_hours, ind.label["en"]
(72, 'Tier 3 contacted within 72 h')
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
from workbench.epi import prevalence
from workbench.instruments import get_instrument
from workbench.params import ALPHA, Instance, Options, Predicate, check, validate_params
from workbench.tables import Tables

__all__ = ["CATEGORIES", "COLUMNS", "MEASURES", "PARAMETERS", "Indicator", "IndicatorSet", "QualityError",
           "alerts", "compute", "load_indicators", "status_of", "units", "window_text"]

_FILE = Path(__file__).resolve().with_name("quality_indicators.yaml")
_IDENT = re.compile(r"^[a-z][a-z0-9_]*$")
#: The six categories of the service model, in report order.
CATEGORIES = ("access", "timeliness", "effectiveness", "retention", "experience", "safety")
#: Columns of :func:`compute`, in order.
COLUMNS = ["indicator", "category", "community", "period", "numerator", "denominator", "value",
           "ci_low", "ci_high", "target", "status"]
_NUMBERS = ["numerator", "denominator", "value", "ci_low", "ci_high"]
_KEYS = {"id", "category", "measure", "target", "alert", "label", "source", "min_denominator"}
_REQUIRED = _KEYS - {"min_denominator"}
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
        ``gad7_score`` and ``phq9_self_harm``, and the *decided* ``tier`` and ``urgent`` (blank
        when nobody has decided on the screening yet)."""
        s = self.tables.screenings(("phq9", "gad7"), columns=("score", "self_harm"))
        return s[["resident_id", "assessed_on", "phq9_score", "gad7_score", "phq9_self_harm", "tier", "urgent"]]

    @cached_property
    def attended(self) -> pd.DataFrame:
        """Contacts that took place (``status == "attended"``); planned and missed ones do not count."""
        c = self["contacts"]
        return c[(c["status"] == "attended").fillna(False).to_numpy(bool)]

    def first_contact_after(self, frame: pd.DataFrame, date: str) -> pd.Series:
        """For each row of ``frame`` (``resident_id`` and the date column ``date``): the date of
        the resident's first attended contact (any kind) on or after that date; NaT when none."""
        c = self.attended[["resident_id", "contact_on"]]
        rows = pd.DataFrame({"resident_id": frame["resident_id"].to_numpy(), "on": frame[date].to_numpy(),
                             "row": np.arange(len(frame))})
        pairs = rows.merge(c, on="resident_id", how="inner")
        pairs = pairs[pairs["contact_on"] >= pairs["on"]]
        first = pairs.groupby("row")["contact_on"].min()
        return pd.Series(first.reindex(np.arange(len(frame))).to_numpy(), index=frame.index, dtype="datetime64[ns]")

    @cached_property
    def referral_scores(self) -> pd.DataFrame:
        """Stored PHQ-9/GAD-7 scores of each referral: its screening (``baseline``), then its reviews."""
        return self.tables.referral_scores(("phq9", "gad7"))


def _float(values: Any) -> np.ndarray:
    """0/1 or numbers as floats, a blank (NA) as NaN (never 0)."""
    return pd.Series(values).astype("Float64").to_numpy(float, na_value=np.nan)


def _units(frame: pd.DataFrame, tables: _Derived, date: str, outcome) -> pd.DataFrame:
    """Unit rows: the resident's community, the month of ``date``, and the outcome."""
    return pd.DataFrame({"community": frame["resident_id"].map(tables.community).to_numpy(object),
                         "period": pd.to_datetime(frame[date]).dt.strftime("%Y-%m").to_numpy(object),
                         "outcome": _float(outcome)})


# --- measures ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Measure:
    """A named unit-level measure: ``function(tables, months=...)`` -> units or None (no data)."""

    id: str
    kind: str  # "proportion" or "mean"
    function: Callable[..., pd.DataFrame | None]
    description: str
    #: Names of the declared parameters the function takes as keywords (see :data:`PARAMETERS`).
    parameters: tuple[str, ...] = ()


#: Measures by id; the YAML picks one per indicator.
MEASURES: dict[str, Measure] = {}


def _measure(id: str, kind: str, parameters: tuple[str, ...] = ()):
    def register(fn):
        MEASURES[id] = Measure(id, kind, fn, (fn.__doc__ or "").strip().splitlines()[0], parameters)
        return fn
    return register


def _check_window_hours(value: Any) -> str | None:
    """None when ``value`` is a valid response window, else what is wrong with it."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 0 or value % 24:
        return ("must be a whole number of hours >= 0 and a multiple of 24 (dates have day "
                f"resolution: 0 = the same day, 24 = the same or the next day), got {value!r}")
    return None


#: Parameters an indicator may declare for its measure: name -> check (None when valid, else
#: the problem).
PARAMETERS: dict[str, Callable[[Any], str | None]] = {"window_hours": _check_window_hours}


def window_text(hours: int, lang: str) -> str:
    """The words for a response window in a label (what ``{window}`` becomes).

    >>> window_text(24, "en"), window_text(72, "zh"), window_text(0, "en"), window_text(0, "zh")
    ('within 24 h', '72小时内', 'the same day', '当日')
    """
    if lang == "zh":
        return "当日" if hours == 0 else f"{hours}小时内"
    return "the same day" if hours == 0 else f"within {hours} h"


@_measure("screened_share", "proportion")
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
    """NHS Talking Therapies recovery of ended referrals where it applies (month of ending)."""
    from workbench.outcomes import referral_outcomes

    c = tables["contacts"]
    c = c[c["referral_id"].notna()].assign(attended=(c["status"] == "attended").astype(bool))
    out = referral_outcomes(tables.referral_scores, c, attended="attended")
    d = _ended(tables).merge(out[["referral_id", "recovered"]], on="referral_id", how="inner")
    d = d[d["recovered"].notna()]
    return _units(d, tables, "ended_on", d["recovered"])


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
    """One declared indicator (``label`` with ``{window}`` already filled in)."""

    id: str
    category: str
    measure: str
    target: float
    alert: tuple[str, float]
    label: Mapping[str, str]
    source: str
    min_denominator: int
    #: The measure's declared parameters (e.g. ``{"window_hours": 24}``), passed as keywords.
    parameters: Mapping[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return MEASURES[self.measure].kind

    @property
    def window_hours(self) -> int | None:
        """The declared response window in hours, or None when the measure takes none."""
        return self.parameters.get("window_hours")


@dataclass(frozen=True)
class IndicatorSet:
    version: str
    source: str
    indicators: tuple[Indicator, ...]
    path: Path

    def indicator(self, id: str) -> Indicator:
        for ind in self.indicators:
            if ind.id == id:
                return ind
        raise KeyError(f"no indicator {id!r}; declared: {[i.id for i in self.indicators]}")


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
    for key in sorted(set(raw) - {"version", "source", "min_denominator", "indicators"}):
        problems.append(f"{key}: unknown key (allowed: ['indicators', 'min_denominator', 'source', 'version'])")
    version, source = raw.get("version"), raw.get("source")
    if not isinstance(version, str) or not version.strip():
        problems.append("version: must be a non-empty text, e.g. \"1.0\" (quote it)")
    if not isinstance(source, str) or not source.strip():
        problems.append("source: must say where the indicators come from")
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
            problems.append(f"{at}.id: {item['id']!r} must be a lower-case identifier")
        elif item["id"] in seen:
            problems.append(f"{at}.id: {item['id']!r} is declared twice")
        seen.add(item["id"])
        if item["category"] not in CATEGORIES:
            problems.append(f"{at}.category: {item['category']!r} is not one of {list(CATEGORIES)}")
        if item["measure"] not in MEASURES:
            problems.append(f"{at}.measure: {item['measure']!r} is not a known measure (known: {sorted(MEASURES)})")
        if not _number(item["target"]):
            problems.append(f"{at}.target: must be a number, got {item['target']!r}")
        rule = item["alert"]
        if (not isinstance(rule, Mapping) or len(rule) != 1 or next(iter(rule)) not in ("below", "above")
                or not _number(next(iter(rule.values())))):
            problems.append(f"{at}.alert: must be {{below: <number>}} or {{above: <number>}}, got {rule!r}")
            rule = None
        elif item["measure"] in MEASURES and MEASURES[item["measure"]].kind == "proportion" \
                and not 0 <= next(iter(rule.values())) <= 1:
            problems.append(f"{at}.alert: a proportion's threshold must be in [0, 1], got {rule!r}")
        params = _parameters(item, at, problems)
        label = _label(_texts(item["label"], f"{at}.label", problems), params, at, problems)
        if not isinstance(item["source"], str) or not item["source"].strip():
            problems.append(f"{at}.source: must say where the target comes from")
        mind = item.get("min_denominator", default_min)
        if not isinstance(mind, int) or isinstance(mind, bool) or mind < 1:
            problems.append(f"{at}.min_denominator: must be a whole number >= 1, got {mind!r}")
        if not problems:
            (side, level), = rule.items()
            out.append(Indicator(item["id"], item["category"], item["measure"], float(item["target"]),
                                 (side, float(level)), label, item["source"].strip(), mind, params))
    refuse(path, "indicators", problems, QualityError)
    return IndicatorSet(version, source.strip(), tuple(out), path)


# --- computing -----------------------------------------------------------------------------

def status_of(value: float, denominator: float, *, alert: tuple[str, float], min_denominator: int) -> str:
    """``insufficient`` (denominator < min), ``alert`` (strictly beyond the rule) or ``ok``.

    >>> status_of(0.15, 20, alert=("above", 0.15), min_denominator=5)
    'ok'
    >>> status_of(0.16, 20, alert=("above", 0.15), min_denominator=5)
    'alert'
    >>> status_of(0.5, 4, alert=("above", 0.15), min_denominator=5)
    'insufficient'
    """
    if not denominator >= min_denominator or not np.isfinite(value):
        return "insufficient"
    side, level = alert
    # round away float noise (3/20 is 0.15000000000000002): a value equal to the level is no alert
    v = round(float(value), 12)
    return "alert" if (v < level if side == "below" else v > level) else "ok"


def _aggregate(units: pd.DataFrame, kind: str, alpha: float) -> pd.DataFrame:
    units = units.dropna(subset=["period"])  # a blank community (suppressed in an export) counts in "all" only
    units = pd.concat([units.dropna(subset=["community"]), units.assign(community="all")], ignore_index=True)
    if kind == "proportion":
        p = prevalence(units, outcome="outcome", by=["community", "period"], alpha=alpha)
        return p.rename(columns={"cases": "numerator", "n": "denominator", "prevalence": "value"})[
            ["community", "period", "numerator", "denominator", "value", "ci_low", "ci_high"]]
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
    return pd.DataFrame(rows, columns=["community", "period", "numerator", "denominator", "value", "ci_low", "ci_high"])


def _months(months: str | Sequence[str] | None, tables: Tables | None) -> list[str]:
    if months is None:
        a = tables["assessments"]
        dates = a.loc[a["purpose"] == "screening", "assessed_on"]
        return sorted(dates.dt.strftime("%Y-%m").unique())
    return [months] if isinstance(months, str) else list(months)  # checked: MONTHS


@validate_params({"tables": TABLES, "measure": Options(of=lambda: sorted(MEASURES)),
                  "months": MONTHS})
def units(tables: Tables, measure: str, *, months: str | Sequence[str] | None = None,
          **parameters: Any) -> pd.DataFrame | None:
    """The units one measure counts (``community, period, outcome``: 0/1 or a number, NaN when
    not known) before :func:`compute` adds them up; None when its source was not collected.
    ``parameters``: the measure's own (e.g. ``window_hours=24``), not read from the indicators.

    >>> units(Tables(), "dropout").columns.tolist()
    ['community', 'period', 'outcome']
    >>> units(Tables(), "satisfaction") is None  # no survey rows: no data, nothing invented
    True
    """
    derived = _Derived(tables)
    return MEASURES[measure].function(derived, months=_months(months, derived.tables), **parameters)


@validate_params({"tables": TABLES, "months": MONTHS, "alpha": ALPHA})
def compute(tables: Tables, *, months: str | Sequence[str] | None = None,
            indicators: str | Path | IndicatorSet | None = None, alpha: float = 0.05) -> pd.DataFrame:
    """Every declared indicator per community (and ``all``) and month.

    Parameters
    ----------
    tables : workbench.tables.Tables
        The analysis tables: :func:`workbench.sample.load_sample`, :func:`workbench.tables.read`
        (an export folder) or :meth:`Registry.analysis_tables
        <workbench.registry.store.Registry.analysis_tables>`. They are checked first
        (:meth:`~workbench.tables.Tables.validate`: every bad cell is named, nothing computed).
    months : str or list of str, optional
        ``YYYY-MM`` periods; by default the months of the screenings.
    indicators : path or IndicatorSet, optional
        The declarations (default: the shipped ``quality_indicators.yaml``).
    alpha : float
        1 - confidence level, in (0, 1).

    Returns
    -------
    DataFrame
        Columns :data:`COLUMNS`: ``indicator, category, community, period, numerator,
        denominator, value, ci_low, ci_high, target, status``; one row per indicator, community
        and month (a month with no units has denominator 0 and status ``insufficient``; a
        measure whose source was not collected gives NaN counts and status ``no_data``).
        ``attrs``: ``alpha``, ``version`` (of the indicators), ``policy_versions`` (the
        stepped-care policies the tier decisions were made under, :attr:`Tables.policy_versions
        <workbench.tables.Tables.policy_versions>`), ``source``, ``pseudonymised`` and
        ``read_at`` (of the tables: where they come from, and when a registry was read), and
        ``residents_without_community`` (blank in an export that suppressed them: they count in
        ``all`` only).

    Notes
    -----
    Tiers and urgency are the ones decided and recorded (``decisions.tier``, not the policy's
    suggestion); scores and the self-harm flag are the stored ones. Nothing is scored or tiered
    again here.

    Examples
    --------
    >>> from workbench.tables import Tables
    >>> r = compute(Tables(), months="2025-06")
    >>> r.loc[r["indicator"] == "experience_satisfaction", ["community", "status"]]
      community   status
    8       all  no_data
    >>> compute({"residents": None}, months="2025-06")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    workbench.params.ParameterError: The 'tables' parameter of compute must be the analysis tables (...). Got {'residents': None} instead.
    """
    months = _months(months, tables)
    spec = load_indicators(indicators)
    derived = _Derived(tables)
    communities = sorted(tables["residents"]["community"].dropna().unique()) + ["all"]
    grid = pd.MultiIndex.from_product([communities, months], names=["community", "period"]).to_frame(index=False)
    parts = []
    for ind in spec.indicators:
        found = MEASURES[ind.measure].function(derived, months=months, **ind.parameters)
        if found is None:
            frame = grid.assign(numerator=np.nan, denominator=np.nan, value=np.nan, ci_low=np.nan,
                                ci_high=np.nan, status="no_data")
        else:
            found = found[found["period"].isin(months)]
            agg = _aggregate(found, ind.kind, alpha).astype({c: float for c in _NUMBERS})
            frame = grid.merge(agg, on=["community", "period"], how="left")
            frame["denominator"] = frame["denominator"].fillna(0).astype(int)
            frame["numerator"] = frame["numerator"].fillna(0)
            frame["status"] = [status_of(v, n, alert=ind.alert, min_denominator=ind.min_denominator)
                               for v, n in zip(frame["value"], frame["denominator"])]
        frame.insert(0, "indicator", ind.id)
        frame.insert(1, "category", ind.category)
        frame["target"] = ind.target
        parts.append(frame[COLUMNS])
    out = pd.concat(parts, ignore_index=True)
    out.attrs.update(alpha=alpha, version=spec.version, policy_versions=tables.policy_versions,
                     source=tables.attrs.get("source"), pseudonymised=bool(tables.attrs.get("pseudonymised")),
                     read_at=tables.attrs.get("read_at"),
                     residents_without_community=int(tables["residents"]["community"].isna().sum()))
    return out


def alerts(result: pd.DataFrame) -> pd.DataFrame:
    """The rows of :func:`compute` whose status is ``alert``."""
    return result[result["status"] == "alert"].reset_index(drop=True)
