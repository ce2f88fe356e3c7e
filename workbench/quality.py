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
- ``mean`` measures (referral wait, days): ``outcome`` is a number >= 0; numerator = its sum,
  denominator = units, value = mean, and a log-scale interval
  ``mean · exp(± t(1-α/2, n-1) · sd / (mean · √n))`` (none for n < 2; ``[0, 0]`` when every
  value is 0). Waits are non-negative and right-skewed: the symmetric t interval reached below 0
  (-0.97 days for waits 17, 14, 3, 0, 25); the interval of ``log(mean)`` by the delta method
  (``SE(log x̄) ≈ sd / (x̄ √n)``; Casella & Berger 2002, *Statistical Inference* 2nd ed., §5.5.4),
  taken back, stays above 0 and is longer on the right, as the sampling distribution of a mean of
  skewed waits is. It is deterministic (a bootstrap BCa interval is not) and keeps the reported
  value the arithmetic mean (a log-normal / Cox interval would estimate another mean and cannot
  take a wait of 0). Checked against R: ``tests/reference/quality_alerts/make_reference.R``.

``status``: ``no_data`` when the measure's source was not collected (satisfaction when the
``surveys`` table has no rows: nothing is invented), ``insufficient`` ("too few to judge") when
the denominator is below the indicator's ``min_denominator`` or the value has no interval,
``alert`` when the value's interval (the ``ci_low``, ``ci_high`` reported: Wilson for a
proportion, exact Poisson for a rate, Katz for a ratio, the log-scale interval above for a mean)
lies wholly on the wrong side of the alert level, else ``ok`` (:func:`status_of`). Rows cover
every community (plus ``all``) and every month asked for.

A target meant for the end of the programme's first year (``target_applies: {pro_rata_months:
12}`` in the YAML: coverage counted over the 12 months to each month-end, with 60 % due in year
1) is held, in the programme's month ``k`` (month 1: the first screening's month), against the
straight-line path ``target · min(1, k / 12)``; the alert level likewise (:meth:`Indicator.target_at`).

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
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from workbench import quality_care, quality_outcomes  # noqa: F401  (they register their measures)
from workbench._declarations import read_yaml, refuse
from workbench._declarations import texts as _texts
from workbench.params import ALPHA, FRAME, Options, Predicate, validate_params
# the measures' names, kept here for those who read them from workbench.quality
from workbench.quality_core import (KINDS, MEASURES, MONTH, MONTHS, PARAMETERS, PERIODS, TABLES, Measure,  # noqa: F401
                                    _Derived, _float, _measure, _number, _plain_units, _units, _whole, month_text, window_text)
from workbench.tables import Tables

__all__ = ["CATEGORIES", "COLUMNS", "DIRECTIONS", "KINDS", "MEASURES", "PARAMETERS", "PERIODS", "STATUSES", "Indicator",
           "IndicatorSet", "QualityError", "alerts", "compute", "control_chart", "default_months", "load_indicators",
           "rule_for", "status_of", "units", "window_text"]

_FILE = Path(__file__).resolve().with_name("quality_indicators.yaml")
_IDENT = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
#: The six categories of the service model, in report order (labels in the YAML's ``categories``).
CATEGORIES = ("access", "timeliness", "effectiveness", "continuity", "safety", "experience")
#: Columns of :func:`compute`, in order.
COLUMNS = ["indicator", "category", "community", "period", "numerator", "denominator", "value",
           "ci_low", "ci_high", "target", "status", "variation", "rules"]
#: Statuses of a row of :func:`compute`.
STATUSES = ("ok", "alert", "insufficient", "no_data", "not_applicable")
DIRECTIONS = ("higher_is_better", "lower_is_better")
_NUMBERS = ["numerator", "denominator", "value", "ci_low", "ci_high"]
_KEYS = {"id", "category", "measure", "period", "direction", "target", "alert", "setting", "label", "numerator",
         "denominator", "source", "min_denominator", "per", "target_applies"}
_REQUIRED = {"id", "category", "measure", "period", "direction", "alert", "label", "numerator", "denominator", "source"}
#: Months before a month that a ``rise_above`` alert compares it with.
RISE_MONTHS = 12
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


class QualityError(ValueError):
    """An indicator file breaks a rule; the message names every key that is wrong."""


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
    #: None: the target and alert level hold every month; a whole number m: they are due at the end
    #: of the programme's month m and held pro rata before (YAML ``target_applies: {pro_rata_months: m}``).
    pro_rata_months: int | None = None

    def target_at(self, month: int) -> tuple[float | None, tuple[str, float] | None]:
        """The target and alert rule that apply in the programme's ``month`` (1 = the month of the
        first screening): as declared, or ``× min(1, month / pro_rata_months)`` on the pro-rata path
        (none before month 1).

        >>> ind = load_indicators().indicator("A1")
        >>> ind.target_at(3), ind.target_at(12), ind.target_at(30)
        ((0.15, ('below', 0.15)), (0.6, ('below', 0.6)), (0.6, ('below', 0.6)))
        >>> ind.target_at(0)
        (None, None)
        """
        if self.pro_rata_months is None:
            return self.target, self.alert
        if month < 1:  # before the programme's first screening: no target yet
            return None, None
        share = min(1.0, max(0, month) / self.pro_rata_months)
        target = None if self.target is None else round(self.target * share, 12)
        return target, (self.alert[0], round(self.alert[1] * share, 12))

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


def _applies(item: Mapping, rule: tuple[str, float] | None, at: str, problems: list[str]) -> int | None:
    """``target_applies``: ``every_month`` (default) or ``{pro_rata_months: m}`` (due at month m)."""
    applies = item.get("target_applies", "every_month")
    if applies == "every_month":
        return None
    if not isinstance(applies, Mapping) or set(applies) != {"pro_rata_months"} or _whole(1)(applies["pro_rata_months"]):
        problems.append(f"{at}.target_applies: must be every_month or {{pro_rata_months: <whole number >= 1>}}, "
                        f"got {applies!r}")
    elif rule is None or rule[0] != "below":
        problems.append(f"{at}.target_applies: a pro-rata path builds up from 0, so it needs an alert "
                        f"{{below: <level>}}, got {item['alert']!r}")
    else:
        return int(applies["pro_rata_months"])
    return None


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
        pro_rata = _applies(item, rule, at, problems)
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
                                 per, pro_rata))
    refuse(path, "indicators", problems, QualityError)
    return IndicatorSet(version, source.strip(), tuple(out), path, categories)


# --- computing -----------------------------------------------------------------------------

def status_of(value: float, denominator: float, *, alert: tuple[str, float] | None, min_denominator: float,
              ci_low: float, ci_high: float, reference: float | None = None) -> str:
    """``insufficient`` ("too few to judge"), ``alert`` (the interval wholly beyond the rule) or ``ok``.

    ``insufficient`` when the denominator is below ``min_denominator`` or the value or its
    interval is missing. An alert needs the whole interval on the wrong side of the level
    (``below``: ``ci_high < level``; ``above``: ``ci_low > level``): for a proportion's Wilson
    interval that is the two-sided score test of ``p = level`` rejecting at α (Wilson 1927, JASA
    22:209; R ``prop.test(x, n, p = level, correct = FALSE)``), i.e. a one-sided test at α/2. One
    dropout in six (16.7 %, Wilson 3.0-56.4 %) is not "above 15 %"; 30 in 100 (21.9-39.6 %) is.
    A ``rise_above`` rule compares with ``reference`` (the pooled value of the months before,
    taken as known): an alert when ``ci_low > (1 + level) × reference``; with no reference the
    month cannot be judged. A rule of None (report only) is never an alert.

    >>> status_of(1 / 6, 6, alert=("above", 0.15), min_denominator=5, ci_low=0.0300, ci_high=0.5635)
    'ok'
    >>> status_of(0.3, 100, alert=("above", 0.15), min_denominator=5, ci_low=0.2189, ci_high=0.3958)
    'alert'
    >>> status_of(0.5, 4, alert=("above", 0.15), min_denominator=5, ci_low=0.15, ci_high=0.85)
    'insufficient'
    >>> status_of(160.0, 40, alert=("rise_above", 0.5), min_denominator=5, ci_low=151.0, ci_high=170.0, reference=100.0)
    'alert'
    >>> status_of(160.0, 40, alert=("rise_above", 0.5), min_denominator=5, ci_low=140.0, ci_high=180.0, reference=100.0)
    'ok'
    """
    if not denominator >= min_denominator or not np.isfinite(value):
        return "insufficient"
    if alert is None:
        return "ok"
    if not (np.isfinite(ci_low) and np.isfinite(ci_high)):
        return "insufficient"
    side, level = alert
    # round away float noise (3/20 is 0.15000000000000002): an interval touching the level is no alert
    low, high = round(float(ci_low), 12), round(float(ci_high), 12)
    if side == "rise_above":
        if reference is None or not np.isfinite(reference):
            return "insufficient"
        return "alert" if low > round((1 + level) * float(reference), 12) else "ok"
    return "alert" if (high < level if side == "below" else low > level) else "ok"


_AGG = ["community", "period", "numerator", "denominator", "value", "ci_low", "ci_high"]


def _with_all(units: pd.DataFrame) -> pd.DataFrame:
    units = units.dropna(subset=["period"])  # a blank community (suppressed in an export) counts in "all" only
    return pd.concat([units.dropna(subset=["community"]), units.assign(community="all")], ignore_index=True)


def _codes(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes (-1: blank) of a key column and its distinct values in sorted order: a
    categorical's own codes (the measures' units), else factorized."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        cats = values.cat.categories
        codes = values.cat.codes.to_numpy(np.int64)
        if cats.is_monotonic_increasing:
            return codes, np.asarray(cats, dtype=object)
        order = np.argsort(np.asarray(cats, dtype=object), kind="stable")
        rank = np.empty(len(cats), dtype=np.int64)
        rank[order] = np.arange(len(cats))
        return np.where(codes >= 0, rank[np.maximum(codes, 0)] if len(cats) else -1, -1), np.asarray(cats, dtype=object)[order]
    codes, uniques = pd.factorize(values, sort=True)
    return np.asarray(codes, dtype=np.int64), np.asarray(uniques, dtype=object)


def _sums(units: pd.DataFrame, weights: Mapping[str, np.ndarray], counted: np.ndarray | None = None) -> pd.DataFrame:
    """Sums of ``weights`` per community and month, and for ``all`` (every unit with a month: a
    blank community counts there only); a community-month appears when it has a unit
    (``counted``: only those units; default all). Integer keys and ``np.bincount``: a city's units
    add up in a second."""
    community, communities = _codes(units["community"])
    period, periods = _codes(units["period"])
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
    units = _with_all(_plain_units(units))
    rows = []
    for (community, period), g in units.dropna(subset=["outcome"]).groupby(["community", "period"]):
        x = g["outcome"].to_numpy(float)
        n, mean = len(x), x.mean()
        low = high = np.nan
        if n >= 2:
            low, high = _mean_interval(x, alpha)
        rows.append({"community": community, "period": period, "numerator": x.sum(), "denominator": n,
                     "value": mean, "ci_low": low, "ci_high": high})
    return pd.DataFrame(rows, columns=_AGG)


def _mean_interval(x: np.ndarray, alpha: float) -> tuple[float, float]:
    """The log-scale interval of the mean of values >= 0 (see the module's notes), n >= 2.

    >>> [round(v, 4) for v in _mean_interval(np.array([17.0, 14, 3, 0, 25]), 0.05)]
    [3.9999, 34.8109]
    """
    mean = x.mean()
    if mean == 0:  # every value 0
        return 0.0, 0.0
    factor = np.exp(stats.t.ppf(1 - alpha / 2, len(x) - 1) * x.std(ddof=1) / (mean * np.sqrt(len(x))))
    return float(mean / factor), float(mean * factor)


def _ratios(units: pd.DataFrame, alpha: float) -> pd.DataFrame:
    """A ratio of two proportions (group ``numerator`` over group ``denominator``) per month, with
    the Katz log interval ``exp(log(r) ± z √(1/x1 − 1/n1 + 1/x2 − 1/n2))`` (Katz 1978, Biometrics
    34:469; none when a group has no one counted). ``denominator`` holds the smaller group's size
    (what "too few to judge" is judged on); ``numerator`` is NaN (a ratio is not a count)."""
    outcome = units["outcome"].to_numpy(float)
    group, groups = _codes(units["group"])
    period, periods = _codes(units["period"])
    keep = ~np.isnan(outcome) & (group >= 0) & (period >= 0)
    side = {name: int(k) for k, name in enumerate(groups)}
    key = (period * len(groups) + group)[keep]
    size = len(periods) * len(groups)
    sums = np.bincount(key, weights=outcome[keep], minlength=size).reshape(len(periods), len(groups))
    counts = np.bincount(key, minlength=size).reshape(len(periods), len(groups))
    rows = []
    z = stats.norm.ppf(1 - alpha / 2)
    for i in np.flatnonzero(counts.sum(axis=1) > 0):  # the months with a unit counted
        def pair(name: str) -> tuple[float, float]:
            return (float(sums[i, side[name]]), float(counts[i, side[name]])) if name in side else (0.0, 0.0)
        (x1, n1), (x2, n2) = pair("numerator"), pair("denominator")
        value = low = high = np.nan
        if n1 > 0 and n2 > 0 and x2 > 0:
            value = (x1 / n1) / (x2 / n2)
            if x1 > 0:
                half = z * np.sqrt(1 / x1 - 1 / n1 + 1 / x2 - 1 / n2)
                low, high = value * np.exp(-half), value * np.exp(half)
        rows.append({"community": "all", "period": periods[i], "numerator": np.nan, "denominator": min(n1, n2),
                     "value": value, "ci_low": low, "ci_high": high})
    return pd.DataFrame(rows, columns=_AGG)


def _first_screening(tables: Tables) -> pd.Timestamp:
    """The date of the first screening recorded (NaT when none): the programme's month 1."""
    a = tables["assessments"]
    return a.loc[(a["purpose"] == "screening").fillna(False).to_numpy(bool), "assessed_on"].min()


def _programme_month(period: str, first: pd.Timestamp) -> int:
    """The programme's month of ``period`` (1: the first screening's month; a large number when
    nothing was screened, so a pro-rata target applies in full)."""
    return 10 ** 6 if pd.isna(first) else (pd.Period(period, "M") - pd.Timestamp(first).to_period("M")).n + 1


def default_months(tables: Tables) -> list[str]:
    """Every month from the first screening's to the month of the last date recorded (screenings,
    contacts, referrals, events), without gaps: a control chart needs the months in between.

    >>> default_months(Tables())
    []
    """
    first = _first_screening(tables)
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
    return _plain_units(MEASURES[measure].function(derived, months=_months(months, derived.tables), **parameters))


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
        over urban), ``alert`` when the value's interval lies wholly beyond the alert rule
        (:func:`status_of`), else ``ok`` (a report-only indicator is never an alert). ``target``
        is the target that applies that month (pro rata before its due month when the indicator
        declares ``target_applies``). ``variation`` is the NHS "Making Data Count" reading of that
        month on the chart (``common_cause``, ``special_cause_improvement``,
        ``special_cause_concern``; blank when the chart has too few months or the month no
        value), ``rules`` the special-cause rules the month meets (comma-separated). ``attrs``:
        ``alpha``, ``version`` (of the indicators), ``indicators`` (the path of their declarations),
        ``policy_versions`` (the stepped-care policies the tier decisions were made under,
        :attr:`Tables.policy_versions <workbench.tables.Tables.policy_versions>`), ``source``,
        ``pseudonymised`` and ``read_at`` (of the tables), ``residents_without_community``
        (blank in an export that suppressed them: they count in ``all`` only) and
        ``programme_start`` (the first screening's month, ``YYYY-MM``, or None: :func:`rule_for`).

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
    first = _first_screening(tables)
    grid = pd.MultiIndex.from_product([communities, months], names=["community", "period"]).to_frame(index=False)
    parts = []
    for ind in spec.indicators:
        applies = {p: ind.target_at(_programme_month(p, first)) for p in months}  # (target, alert) per month
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
                status_of(v, n, alert=applies[p][1], min_denominator=ind.min_denominator, ci_low=lo, ci_high=hi,
                          reference=reference.get((c, p)) if rise else None)
                for c, p, v, n, lo, hi in zip(frame["community"], frame["period"], frame["value"], frame["denominator"],
                                              frame["ci_low"], frame["ci_high"])]
        frame.insert(0, "indicator", ind.id)
        frame.insert(1, "category", ind.category)
        frame["target"] = [np.nan if applies[p][0] is None else applies[p][0] for p in frame["period"]]
        frame["variation"] = ""
        frame["rules"] = ""
        parts.append(frame[COLUMNS])
    out = pd.concat(parts, ignore_index=True)
    out.attrs.update(alpha=alpha, version=spec.version, indicators=str(spec.path), policy_versions=tables.policy_versions,
                     source=tables.attrs.get("source"), pseudonymised=bool(tables.attrs.get("pseudonymised")),
                     read_at=tables.attrs.get("read_at"),
                     residents_without_community=int(tables["residents"]["community"].isna().sum()),
                     programme_start=None if pd.isna(first) else str(pd.Timestamp(first).to_period("M")))
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


def rule_for(result: pd.DataFrame, indicator: Indicator, period: str) -> tuple[float | None, tuple[str, float] | None]:
    """The target and alert rule :func:`compute` applied to ``indicator`` in ``period`` (pro rata
    early in the programme when declared so; ``result.attrs["programme_start"]``).

    >>> r = compute(Tables(), months="2025-06")
    >>> rule_for(r, load_indicators().indicator("A1"), "2025-06")  # nothing screened: in full
    (0.6, ('below', 0.6))
    """
    start = result.attrs.get("programme_start")
    return indicator.target_at(_programme_month(period, pd.NaT if start is None else pd.Timestamp(start)))


def alerts(result: pd.DataFrame) -> pd.DataFrame:
    """The rows of :func:`compute` whose status is ``alert``."""
    return result[result["status"] == "alert"].reset_index(drop=True)
