"""Statistical process control (SPC) charts: is this month noise or a signal?

Managers judge a month against the months before it. A control chart draws the centre line and
the process limits that common-cause (routine) variation stays within, and special-cause rules
flag the patterns routine variation rarely makes, as NHS England's "Making Data Count" (MDC)
practice does:

- :func:`p_chart` for a proportion (numerator / denominator per month): centre
  ``p̄ = Σ numerators / Σ denominators`` over the baseline months, limits
  ``p̄ ± 3 √(p̄ (1 − p̄) / n_i)`` for each month's denominator ``n_i``, clipped to [0, 1]
  (Montgomery, *Introduction to Statistical Quality Control*, the p chart with a variable sample
  size);
- :func:`xmr_chart` for one value per month (a mean, a rate): centre the baseline mean, limits
  ``mean ± 2.66 × mean moving range`` and the moving-range chart's upper limit
  ``3.267 × mean moving range`` (Montgomery's individuals chart; Wheeler, *Understanding
  Variation*; MDC);
- :func:`special_causes` marks each point with the rules it meets: a point outside the limits, a
  run on one side of the centre line (shift), a run rising or falling (trend), two of three points
  beyond 2 sigma on one side; and gives the MDC variation icon (common cause, special cause of
  improvement or of concern, or high / low when no direction is better) and, against a target, the
  assurance icon (consistently passing, hit and miss, consistently failing).

Every constant, run length and word is declared once, with its source, in
``workbench/data/spc_rules.yaml`` (:func:`load_rules`).

Missing data: a month with denominator 0 (no units) or with no value is a *gap*: it is drawn as a
gap, has no limits, is never counted as 0 and is skipped by the rules (a run counts consecutive
months *with data*). A baseline with fewer months with data than the declared minimum gives no
limits and no signals: the chart says "too few to judge". Bad input (a negative count, a
numerator above its denominator, a fraction of a person) is refused with every problem named by
argument, position, value and rule (:class:`SPCDataError`), and nothing is computed.

Examples
--------
Twelve months alternating 10 and 12 set the limits (mean 11, every moving range 2, limits
11 ± 2.66 × 2); the thirteenth month, 20, is above the upper limit 16.32:

>>> chart = xmr_chart([10, 12] * 6 + [20], baseline=12)
>>> chart.status, chart.centre, chart.mean_moving_range, round(float(chart.points["upper"].iloc[0]), 2)
('ok', 11.0, 2.0, 16.32)
>>> signals = special_causes(chart, direction="lower_is_better")
>>> signals.points["rules"].iloc[-1], signals.variation
('outside_limits', 'special_cause_concern')
>>> p_chart([3, 4], [10, 10]).status
'too_few'
"""

from __future__ import annotations

import math
import numbers
import string
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from workbench._declarations import read_yaml, refuse, texts
from workbench._errors import RowProblemsError
from workbench.params import Either, Instance, Interval, Optional, Options, Predicate, check, validate_params

__all__ = ["ASSURANCES", "DIRECTIONS", "POINT_COLUMNS", "RULES", "SIGNAL_COLUMNS", "VARIATIONS", "SPCChart", "readings",
           "SPCDataError", "SPCRules", "SPCRulesError", "Signals", "load_rules", "p_chart", "special_causes",
           "xmr_chart"]

_FILE = Path(__file__).resolve().with_name("data") / "spc_rules.yaml"
#: The special-cause rules, in the order they are reported.
RULES = ("outside_limits", "shift", "trend", "two_of_three")
#: The variation icons of MDC (``too_few``: no limits yet).
VARIATIONS = ("common_cause", "special_cause_improvement", "special_cause_concern", "special_cause_neutral_high",
              "special_cause_neutral_low", "too_few")
#: The assurance icons of MDC.
ASSURANCES = ("consistently_passing", "hit_and_miss", "consistently_failing")
#: Which way is better (None: neither).
DIRECTIONS = (None, "higher_is_better", "lower_is_better")
#: Columns of :attr:`SPCChart.points`, in order.
POINT_COLUMNS = ["point", "label", "numerator", "denominator", "value", "gap", "baseline", "centre", "sigma",
                 "lower", "upper", "lower_warning", "upper_warning", "moving_range"]
#: Columns of :attr:`Signals.points`, in order.
SIGNAL_COLUMNS = ["point", "label", "value", "gap", *RULES, "rules", "side", "variation"]


class SPCRulesError(ValueError):
    """The SPC rules file breaks a rule; the message names every key that is wrong."""


class SPCDataError(RowProblemsError):
    """Counts or values that cannot be charted; every problem is named (argument, position, value,
    rule) and nothing was computed."""

    def __init__(self, problems: list[tuple]):
        super().__init__(problems, context="the chart's data")


# --- the declared rules ------------------------------------------------------------------------

@dataclass(frozen=True)
class SPCRules:
    """The declarations of ``spc_rules.yaml``: constants, minimum points, rules and words."""

    sigma_multiplier: float
    xmr_limit_factor: float
    mr_upper_factor: float
    min_points: int
    shift_run: int
    trend_run: int
    two_of_three_of: int
    two_of_three_count: int
    two_of_three_sigma: float
    precedence: tuple[str, ...]
    words: Mapping[str, Mapping[str, Mapping[str, str]]] = field(repr=False)
    sources: Mapping[str, str] = field(repr=False)

    def rule_label(self, rule: str, lang: str = "en") -> str:
        """The words of a rule, its numbers filled in from the declaration.

        >>> load_rules().rule_label("shift", "en")
        '7 or more points in a row above or below the centre line (shift)'
        """
        return self.words["rules"][rule][lang].format(
            n=self.shift_run if rule == "shift" else self.trend_run, of=self.two_of_three_of,
            count=self.two_of_three_count, sigma=_number(self.two_of_three_sigma))

    def variation_label(self, variation: str, lang: str = "en") -> str:
        """The words of a variation icon (``too_few`` says the minimum).

        >>> load_rules().variation_label("too_few", "zh")
        '数据点太少，无法判断（有数据的月份少于12个）'
        """
        return self.words["variation"][variation][lang].format(n=self.min_points)

    def assurance_label(self, assurance: str, lang: str = "en") -> str:
        """The words of an assurance icon."""
        return self.words["assurance"][assurance][lang]

    def chart_label(self, key: str, lang: str = "en") -> str:
        """The words of the chart's lines and axes."""
        return self.words["chart"][key][lang]


def _number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def _positive(value: Any, where: str, problems: list[str], *, whole: bool = False, low: float = 0) -> Any:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value) and value > low
    if ok and whole and not isinstance(value, numbers.Integral):
        ok = False
    if not ok:
        problems.append(f"{where}: must be {'a whole number' if whole else 'a number'} > {_number(low)}, got {value!r}")
        return math.nan if not whole else 0
    return value


def _labels(entry: Any, where: str, problems: list[str], placeholders: set[str]) -> dict[str, str]:
    out = texts(entry, where, problems)
    for lang, text in out.items():
        try:
            used = {name for _, name, _, _ in string.Formatter().parse(text) if name}
        except ValueError as exc:
            problems.append(f"{where}.{lang}: {exc}")
            continue
        unknown = used - placeholders
        if unknown:
            problems.append(f"{where}.{lang}: unknown placeholder(s) {sorted(unknown)}; use {sorted(placeholders)}")
    return out


def _parse(raw: Any, path: Path) -> SPCRules:
    problems: list[str] = []
    if not isinstance(raw, Mapping):
        refuse(path, "SPC rules", ["the file must be a mapping"], SPCRulesError)
    sources = raw.get("sources")
    if not isinstance(sources, Mapping) or not sources:
        problems.append("sources: must name the sources the rules come from")
        sources = {}
    constants = raw.get("constants") if isinstance(raw.get("constants"), Mapping) else {}
    value = {}
    for key in ("sigma_multiplier", "xmr_limit_factor", "mr_upper_factor"):
        entry = constants.get(key)
        if not isinstance(entry, Mapping) or not str(entry.get("source", "")).strip():
            problems.append(f"constants.{key}: must be {{value: a number > 0, source: ...}}")
            value[key] = math.nan
            continue
        value[key] = _positive(entry.get("value"), f"constants.{key}.value", problems)
    minimum = raw.get("min_points") if isinstance(raw.get("min_points"), Mapping) else {}
    min_points = _positive(minimum.get("value"), "min_points.value", problems, whole=True, low=1)
    rules = raw.get("rules") if isinstance(raw.get("rules"), Mapping) else {}
    words: dict[str, dict[str, dict[str, str]]] = {"rules": {}, "variation": {}, "assurance": {}, "chart": {}}
    for rule in RULES:
        entry = rules.get(rule)
        if not isinstance(entry, Mapping):
            problems.append(f"rules.{rule}: missing")
            entry = {}
        if not str(entry.get("source", "")).strip():
            problems.append(f"rules.{rule}.source: say where the rule comes from")
        words["rules"][rule] = _labels(entry.get("label"), f"rules.{rule}.label", problems,
                                       {"n", "of", "count", "sigma"})
    shift_run = _positive(rules.get("shift", {}).get("run_length"), "rules.shift.run_length", problems, whole=True, low=1)
    trend_run = _positive(rules.get("trend", {}).get("run_length"), "rules.trend.run_length", problems, whole=True, low=1)
    two = rules.get("two_of_three", {}) if isinstance(rules.get("two_of_three"), Mapping) else {}
    of = _positive(two.get("of"), "rules.two_of_three.of", problems, whole=True, low=1)
    count = _positive(two.get("count"), "rules.two_of_three.count", problems, whole=True)
    sigma = _positive(two.get("beyond_sigma"), "rules.two_of_three.beyond_sigma", problems)
    if of and count and count > of:
        problems.append(f"rules.two_of_three: count ({count}) must not exceed of ({of})")
    if sigma == sigma and value["sigma_multiplier"] == value["sigma_multiplier"] and sigma >= value["sigma_multiplier"]:
        problems.append(f"rules.two_of_three.beyond_sigma: must be below the limits' sigma_multiplier "
                        f"({_number(value['sigma_multiplier'])}), got {sigma!r}")
    precedence = raw.get("precedence")
    if not isinstance(precedence, list) or sorted(map(str, precedence)) != sorted(RULES):
        problems.append(f"precedence: must list each of {list(RULES)} once, got {precedence!r}")
        precedence = list(RULES)
    for group, keys, placeholders in (("variation", VARIATIONS, {"n"}), ("assurance", ASSURANCES, set()),
                                      ("chart", ("centre", "limits", "target", "value", "proportion", "gap"), set())):
        declared = raw.get(group) if isinstance(raw.get(group), Mapping) else {}
        for key in keys:
            words[group][key] = _labels(declared.get(key), f"{group}.{key}", problems, placeholders)
    refuse(path, "SPC rules", problems, SPCRulesError)
    return SPCRules(sigma_multiplier=float(value["sigma_multiplier"]), xmr_limit_factor=float(value["xmr_limit_factor"]),
                    mr_upper_factor=float(value["mr_upper_factor"]), min_points=int(min_points),
                    shift_run=int(shift_run), trend_run=int(trend_run), two_of_three_of=int(of),
                    two_of_three_count=int(count), two_of_three_sigma=float(sigma),
                    precedence=tuple(precedence), words=words,
                    sources={str(k): " ".join(str(v).split()) for k, v in sources.items()})


@lru_cache(maxsize=8)
def _load(path: str) -> SPCRules:
    p = Path(path)
    return _parse(read_yaml(p, SPCRulesError), p)


def load_rules(path: str | Path | None = None) -> SPCRules:
    """The SPC rules declared in ``workbench/data/spc_rules.yaml`` (or another file of that shape),
    checked when read: every problem is named in one :class:`SPCRulesError`.

    >>> r = load_rules()
    >>> r.xmr_limit_factor, r.mr_upper_factor, r.min_points, r.shift_run, r.trend_run
    (2.66, 3.267, 12, 7, 7)
    """
    return _load(str(Path(path).resolve()) if path is not None else str(_FILE))


# --- checking the input ------------------------------------------------------------------------

def _is_series_like(value: Any) -> bool:
    if isinstance(value, (str, bytes, Mapping)) or value is None:
        return False
    if isinstance(value, (pd.Series, list, tuple)):
        return True
    return isinstance(value, np.ndarray) and value.ndim == 1


#: One value per month, in time order.
_SEQUENCE = Predicate(_is_series_like, "a list, tuple, 1-D numpy array or pandas Series of numbers, one per month "
                                       "in time order")
#: Which months set the centre line and limits.
_BASELINE = Either(Options(None), Interval(int, 1, None), Instance(slice, name="a slice of positions"),
                   words="None (every month), an int n >= 1 (the first n months) or a slice of positions")
_LABELS = Optional(_SEQUENCE)


def _cells(values: Any) -> list:
    return list(values.to_numpy(object)) if isinstance(values, pd.Series) else list(values)


def _missing(x: Any) -> bool:
    return x is None or x is pd.NA or x is pd.NaT or (isinstance(x, float) and math.isnan(x)) or \
        (isinstance(x, np.floating) and np.isnan(x))


def _as_numbers(values: Any, argument: str, problems: list, *, whole: bool) -> tuple[np.ndarray, np.ndarray]:
    """Floats (NaN for a missing cell) and which cells were refused; a problem for anything that
    is not a finite number (or, for counts, a whole number >= 0)."""
    out = np.full(len(values), np.nan)
    bad = np.zeros(len(values), dtype=bool)
    rule = ("must be a whole number >= 0 (a count of people), or missing for a month without data" if whole
            else "must be a finite number, or missing for a month without data")
    for i, x in enumerate(_cells(values)):
        if _missing(x):
            continue
        if (isinstance(x, (bool, np.bool_)) or not isinstance(x, numbers.Real) or not math.isfinite(x)
                or (whole and (x < 0 or float(x) != int(x)))):
            problems.append((argument, i, None, _plain(x), rule))
            bad[i] = True
            continue
        out[i] = float(x)
    return out, bad


def _plain(x: Any) -> Any:
    return x.item() if isinstance(x, np.generic) else x


def _labels_for(function: str, n: int, labels: Any, first: Any) -> list:
    if labels is None:
        return list(first.index) if isinstance(first, pd.Series) else list(range(n))
    check(function, "labels", labels, Predicate(lambda v: len(v) == n, f"None or one label per month ({n})"))
    return _cells(labels)


def _baseline_mask(function: str, n: int, baseline: Any) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    if baseline is None:
        mask[:] = True
    elif isinstance(baseline, slice):
        check(function, "baseline", baseline, Predicate(lambda s: s.step in (None, 1) and len(range(n)[s]) > 0,
                                                        f"a slice of consecutive positions within the {n} months"))
        mask[baseline] = True
    else:
        check(function, "baseline", baseline, Interval(int, 1, n))
        mask[:baseline] = True
    return mask


# --- the charts --------------------------------------------------------------------------------

@dataclass(frozen=True)
class SPCChart:
    """A control chart: one row per month in :attr:`points` (:data:`POINT_COLUMNS`) and the
    baseline's numbers. ``status`` is ``"ok"`` or ``"too_few"`` (fewer baseline months with data
    than ``min_points``: no centre line, no limits, no signals)."""

    kind: str  # "p" or "xmr"
    points: pd.DataFrame
    status: str
    centre: float
    mean_moving_range: float
    mr_upper: float
    n_baseline: int
    rules: SPCRules = field(repr=False)

    @property
    def summary(self) -> pd.DataFrame:
        """One row: ``kind, status, n_points, n_gaps, n_baseline, min_points, centre,
        mean_moving_range, mr_upper``."""
        return pd.DataFrame([{"kind": self.kind, "status": self.status, "n_points": len(self.points),
                              "n_gaps": int(self.points["gap"].sum()), "n_baseline": self.n_baseline,
                              "min_points": self.rules.min_points, "centre": self.centre,
                              "mean_moving_range": self.mean_moving_range, "mr_upper": self.mr_upper}])

    def _repr_html_(self) -> str:
        return self.summary.to_html(index=False) + self.points.to_html(index=False)


def _frame(labels: list, numerators, denominators, values, gaps, base, centre, sigma, lower, upper, k_warn,
           moving_range) -> pd.DataFrame:
    n = len(values)
    return pd.DataFrame({
        "point": np.arange(n), "label": pd.Series(labels, dtype=object), "numerator": numerators,
        "denominator": denominators, "value": values, "gap": gaps, "baseline": base,
        "centre": centre, "sigma": sigma, "lower": lower, "upper": upper,
        "lower_warning": centre - k_warn * sigma, "upper_warning": centre + k_warn * sigma,
        "moving_range": moving_range})[POINT_COLUMNS]


@validate_params({"numerators": _SEQUENCE, "denominators": _SEQUENCE, "baseline": _BASELINE, "labels": _LABELS})
def p_chart(numerators, denominators, *, baseline=None, labels=None) -> SPCChart:
    """A p chart of a proportion per month, with limits for each month's denominator.

    Parameters
    ----------
    numerators, denominators : sequence of whole numbers
        Per month, in time order: units meeting the indicator and units counted. A month with
        denominator 0 (or both missing) is a gap, never a proportion of 0.
    baseline : None, int or slice
        The months that set the centre line and limits: every month (None), the first ``n``, or a
        slice of positions. Limits are drawn for every month from the baseline's p̄.
    labels : sequence, optional
        A label per month (e.g. ``"2025-06"``); default the Series index, else 0, 1, 2 ...

    Returns
    -------
    SPCChart
        ``points`` has :data:`POINT_COLUMNS`: ``value`` = numerator / denominator, ``centre`` = p̄,
        ``sigma`` = √(p̄(1−p̄)/n_i), ``lower``/``upper`` = p̄ ∓ 3σ clipped to [0, 1],
        ``lower_warning``/``upper_warning`` = p̄ ∓ 2σ (unclipped; the two-of-three rule's lines),
        ``moving_range`` blank. Gaps have no sigma or limits.

    Notes
    -----
    Montgomery, *Introduction to Statistical Quality Control* (6th ed.), the p chart with a
    variable sample size: p̄ is the total of the numerators over the total of the denominators
    (not the mean of the monthly proportions). The multiplier 3 and the minimum of baseline months
    are declared in ``workbench/data/spc_rules.yaml``.

    Examples
    --------
    p̄ = 180 / 900 = 0.2; a month of 100 has σ = √(0.2 × 0.8 / 100) = 0.04 and limits 0.2 ∓ 0.12:

    >>> c = p_chart([10, 20] * 6, [50, 100] * 6)
    >>> c.centre, [round(float(u), 4) for u in c.points["upper"][:2]], round(float(c.points["lower"][1]), 4)
    (0.2, [0.3697, 0.32], 0.08)
    """
    n = len(numerators)
    check("p_chart", "denominators", denominators,
          Predicate(lambda d: len(d) == n, f"one denominator per numerator ({n} months)"))
    names = _labels_for("p_chart", n, labels, numerators)
    base = _baseline_mask("p_chart", n, baseline)
    problems: list = []
    num, bad_num = _as_numbers(numerators, "numerators", problems, whole=True)
    den, bad_den = _as_numbers(denominators, "denominators", problems, whole=True)
    for i in np.flatnonzero(~bad_num & ~bad_den):
        no_num, no_den = np.isnan(num[i]), np.isnan(den[i])
        if no_den and not no_num:
            problems.append(("denominators", i, None, None, f"is missing while the month's numerator is given "
                                                            f"({int(num[i])}): give both counts, or neither"))
        elif no_num and not no_den and den[i] > 0:
            problems.append(("numerators", i, None, None, f"is missing while the month's denominator is "
                                                          f"{int(den[i])}: a count is never assumed to be 0"))
        elif not no_num and not no_den and num[i] > den[i]:
            problems.append(("numerators", i, None, int(num[i]),
                             f"must not exceed the month's denominator ({int(den[i])})"))
    if problems:
        raise SPCDataError(problems)
    rules = load_rules()
    c = _p_arrays(num, den, base, rules)
    nan = np.full(n, np.nan)
    frame = _frame(names, num, den, c.values, c.gaps, base, c.centre, c.sigma, c.lower, c.upper,
                   rules.two_of_three_sigma, nan)
    return SPCChart("p", frame, c.status, float(c.centre[0]) if c.status == "ok" else math.nan, math.nan, math.nan,
                    c.n_base, rules)


@dataclass(frozen=True)
class _Arrays:
    """A chart as arrays, one cell per month: what p_chart and xmr_chart put in their frames."""

    status: str
    values: np.ndarray
    gaps: np.ndarray
    centre: np.ndarray
    sigma: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    n_base: int
    moving: np.ndarray | None = None
    mr_bar: float = math.nan


def _p_arrays(num: np.ndarray, den: np.ndarray, base: np.ndarray, rules: SPCRules) -> _Arrays:
    """The p chart of checked counts (NaN for a missing month)."""
    n = len(num)
    gaps = ~(den > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        values = np.where(gaps, np.nan, num / den)
    use = base & ~gaps
    n_base = int(use.sum())
    nan = np.full(n, np.nan)
    if n_base < rules.min_points:
        return _Arrays("too_few", values, gaps, nan, nan, nan, nan, n_base)
    pbar = float(num[use].sum() / den[use].sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        sigma = np.where(gaps, np.nan, np.sqrt(pbar * (1 - pbar) / np.where(gaps, 1, den)))
    k = rules.sigma_multiplier
    return _Arrays("ok", values, gaps, np.full(n, pbar), sigma, np.clip(pbar - k * sigma, 0, 1),
                   np.clip(pbar + k * sigma, 0, 1), n_base)


def _xmr_arrays(x: np.ndarray, base: np.ndarray, rules: SPCRules) -> _Arrays:
    """The XmR chart of checked values (NaN for a missing month)."""
    n = len(x)
    gaps = np.isnan(x)
    observed = np.flatnonzero(~gaps)
    moving = np.full(n, np.nan)
    moving[observed[1:]] = np.abs(np.diff(x[observed]))
    use = base & ~gaps
    n_base = int(use.sum())
    nan = np.full(n, np.nan)
    if n_base < rules.min_points:
        return _Arrays("too_few", x, gaps, nan, nan, nan, nan, n_base, moving)
    centre = float(x[use].mean())
    mr_bar = float(np.abs(np.diff(x[use])).mean())  # moving ranges within the baseline's months
    sigma = rules.xmr_limit_factor / rules.sigma_multiplier * mr_bar
    width = rules.xmr_limit_factor * mr_bar
    return _Arrays("ok", x, gaps, np.full(n, centre), np.full(n, sigma), np.full(n, centre - width),
                   np.full(n, centre + width), n_base, moving, mr_bar)


@validate_params({"values": _SEQUENCE, "baseline": _BASELINE, "labels": _LABELS})
def xmr_chart(values, *, baseline=None, labels=None) -> SPCChart:
    """An XmR (individuals and moving range) chart of one value per month.

    Parameters
    ----------
    values : sequence of numbers
        One per month, in time order; a missing value is a gap (never 0).
    baseline : None, int or slice
        The months that set the mean and the mean moving range: every month (None), the first
        ``n``, or a slice of positions.
    labels : sequence, optional
        A label per month; default the Series index, else 0, 1, 2 ...

    Returns
    -------
    SPCChart
        ``points`` has :data:`POINT_COLUMNS`: ``centre`` = the baseline mean, ``lower``/``upper``
        = mean ∓ 2.66 × mean moving range, ``sigma`` = 2.66 / 3 × mean moving range (MR̄ / d2),
        ``lower_warning``/``upper_warning`` = mean ∓ 2σ, ``moving_range`` = |x_i − x_previous|
        between consecutive months with data (blank for the first). ``mean_moving_range`` is the
        mean of the baseline's moving ranges and ``mr_upper`` = 3.267 × it, the moving-range
        chart's upper limit. Limits are not clipped.

    Notes
    -----
    Montgomery's individuals chart (σ̂ = MR̄ / d2, d2 = 1.128) and Wheeler's natural process limits
    (X̄ ± 2.660 mR̄), as MDC uses them; moving ranges are not screened for outliers (the MDC Excel
    tools do not screen them). Constants are declared in ``workbench/data/spc_rules.yaml``.

    Examples
    --------
    Mean 11, moving ranges all 2, limits 11 ∓ 5.32, moving-range limit 3.267 × 2:

    >>> c = xmr_chart([10, 12] * 6)
    >>> c.centre, c.mean_moving_range, round(c.mr_upper, 3), round(float(c.points["lower"][0]), 2)
    (11.0, 2.0, 6.534, 5.68)
    """
    n = len(values)
    names = _labels_for("xmr_chart", n, labels, values)
    base = _baseline_mask("xmr_chart", n, baseline)
    problems: list = []
    x, _ = _as_numbers(values, "values", problems, whole=False)
    if problems:
        raise SPCDataError(problems)
    rules = load_rules()
    c = _xmr_arrays(x, base, rules)
    nan = np.full(n, np.nan)
    frame = _frame(names, nan, nan, x, c.gaps, base, c.centre, c.sigma, c.lower, c.upper, rules.two_of_three_sigma,
                   c.moving)
    if c.status != "ok":
        return SPCChart("xmr", frame, "too_few", math.nan, math.nan, math.nan, c.n_base, rules)
    return SPCChart("xmr", frame, "ok", float(c.centre[0]), c.mr_bar, rules.mr_upper_factor * c.mr_bar, c.n_base, rules)


# --- special causes ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Signals:
    """The special-cause rules each month meets (:attr:`points`, :data:`SIGNAL_COLUMNS`), the MDC
    variation icon of the latest month with data (:attr:`variation`) and, against a target, the
    assurance icon (:attr:`assurance`; None without a target, without a better direction or with
    too few months)."""

    chart: SPCChart
    direction: str | None
    target: float | None
    points: pd.DataFrame
    variation: str
    assurance: str | None

    @property
    def summary(self) -> pd.DataFrame:
        """One row: ``status, variation, assurance, n_signals`` and the latest month's label and value."""
        observed = self.points[~self.points["gap"]]
        last = observed.iloc[-1] if len(observed) else None
        return pd.DataFrame([{"status": self.chart.status, "variation": self.variation, "assurance": self.assurance,
                              "n_signals": int((self.points["rules"] != "").sum()),
                              "latest": None if last is None else last["label"],
                              "latest_value": math.nan if last is None else last["value"]}])

    def _repr_html_(self) -> str:
        return self.summary.to_html(index=False) + self.points.to_html(index=False)


def _runs(keys: np.ndarray, length: int) -> list[tuple[int, int, int]]:
    """``(start, stop, key)`` of each run of at least ``length`` equal non-zero ``keys``."""
    out, start = [], 0
    for i in range(1, len(keys) + 1):
        if i == len(keys) or keys[i] != keys[start]:
            if keys[start] != 0 and i - start >= length:
                out.append((start, i, int(keys[start])))
            start = i
    return out


def _flags(v: np.ndarray, centre: np.ndarray, sigma: np.ndarray, lower: np.ndarray, upper: np.ndarray,
           rules: SPCRules) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """For the months with data, in order: each rule's flag and the side (+1 high, -1 low) it
    gives a flagged month."""
    m = len(v)
    flag = {r: np.zeros(m, dtype=bool) for r in RULES}
    side = {r: np.zeros(m, dtype=int) for r in RULES}
    high, low = v > upper, v < lower
    flag["outside_limits"] = high | low
    side["outside_limits"] = np.where(high, 1, np.where(low, -1, 0))
    relative = np.sign(v - centre).astype(int)  # a month on the centre line breaks a run
    for start, stop, key in _runs(relative, rules.shift_run):
        flag["shift"][start:stop], side["shift"][start:stop] = True, key
    if m > 1:
        steps = np.sign(np.diff(v)).astype(int)  # a tie breaks a trend
        for start, stop, key in _runs(steps, rules.trend_run - 1):  # n points make n - 1 steps
            # a month that ends one trend and starts the next takes the later trend's side
            flag["trend"][start:stop + 1], side["trend"][start:stop + 1] = True, key
    k = rules.two_of_three_sigma
    for sign, beyond in ((1, v > centre + k * sigma), (-1, v < centre - k * sigma)):
        for j in range(max(m - rules.two_of_three_of + 1, 0)):
            window = slice(j, j + rules.two_of_three_of)
            if beyond[window].sum() >= rules.two_of_three_count:
                hit = np.zeros(m, dtype=bool)
                hit[window] = beyond[window]
                flag["two_of_three"] |= hit
                side["two_of_three"][hit] = sign
    return flag, side


def _met(col: Mapping[str, np.ndarray], rules: SPCRules) -> tuple[dict, np.ndarray, np.ndarray]:
    """For the months with data (``col``: value, centre, sigma, lower, upper): each rule's flags,
    the rules met as a (months x rules) table, and the side each month takes (the precedence)."""
    flag, side = _flags(col["value"], col["centre"], col["sigma"], col["lower"], col["upper"], rules)
    met = np.zeros((len(col["value"]), len(RULES)), dtype=bool)
    for j, r in enumerate(RULES):
        met[:, j] = flag[r]
    chosen = np.zeros(len(col["value"]), dtype=int)
    for r in reversed(rules.precedence):  # the first rule of the precedence is written last and wins
        chosen = np.where(flag[r], side[r], chosen)
    return flag, met, chosen


def readings(kind: str, values, denominators=None, *, direction: str | None = None) -> tuple[list[str], list[str]]:
    """Each month's special-cause rules and variation icon, as ``special_causes`` of ``p_chart``
    (``kind="p"``: ``values`` are the numerators) or of ``xmr_chart`` (``kind="xmr"``) over every
    month would give them, without building the charts' frames: for many charts at once (the
    quality indicators of every community). Inputs are trusted (already counted by the caller,
    NaN for a missing month); use the charts themselves for anything typed by a person.

    Returns
    -------
    (rules, variation)
        Per month: the rules met, comma-separated (``""`` for none, a gap or too few months), and
        the icon (``""`` for a gap or too few months).

    >>> readings("xmr", [10, 12] * 6 + [20], direction="lower_is_better")[1][-1]
    'special_cause_concern'
    >>> readings("p", [3, 4], [10, 10])
    (['', ''], ['', ''])
    """
    rules = load_rules()
    x = np.asarray(values, dtype=float)
    base = np.ones(len(x), dtype=bool)
    c = (_p_arrays(np.nan_to_num(x), np.nan_to_num(np.asarray(denominators, dtype=float)), base, rules)
         if kind == "p" else _xmr_arrays(x, base, rules))
    out_rules, out_icons = [""] * len(x), [""] * len(x)
    if c.status != "ok":
        return out_rules, out_icons
    seen = np.flatnonzero(~c.gaps)
    col = {"value": c.values[seen], "centre": c.centre[seen], "sigma": c.sigma[seen], "lower": c.lower[seen],
           "upper": c.upper[seen]}
    _, met, chosen = _met(col, rules)
    for k, at in enumerate(seen):
        out_rules[at] = ",".join(r for j, r in enumerate(RULES) if met[k, j])
        out_icons[at] = _icon(int(chosen[k]), direction)
    return out_rules, out_icons


def _icon(side: int, direction: str | None) -> str:
    if side == 0:
        return "common_cause"
    if direction is None:
        return "special_cause_neutral_high" if side > 0 else "special_cause_neutral_low"
    better = 1 if direction == "higher_is_better" else -1
    return "special_cause_improvement" if side == better else "special_cause_concern"


@validate_params({"chart": Instance(SPCChart, name="an SPCChart (from p_chart or xmr_chart)"),
                  "direction": Options(*DIRECTIONS), "target": Optional(Interval("real", None, None))})
def special_causes(chart: SPCChart, *, direction: str | None = None, target: float | None = None) -> Signals:
    """The special-cause rules each month meets, its MDC variation icon, and the assurance icon.

    Parameters
    ----------
    chart : SPCChart
        From :func:`p_chart` or :func:`xmr_chart`.
    direction : {None, "higher_is_better", "lower_is_better"}
        Which way is better: a signal on the better side is ``special_cause_improvement``, on the
        other ``special_cause_concern``; with None they are ``special_cause_neutral_high`` / ``_low``.
    target : float, optional
        The indicator's target (a proportion for a p chart). Gives the assurance icon when a
        direction is better.

    Returns
    -------
    Signals
        ``points`` has :data:`SIGNAL_COLUMNS`: a bool per rule (:data:`RULES`), ``rules`` (the
        rules met, comma-separated, ``""`` for none), ``side`` (``"high"``, ``"low"`` or blank) and
        ``variation`` (blank for a gap or a chart with too few months). ``variation`` of the
        Signals is the latest month's (``"too_few"`` when the chart has no limits); ``assurance``
        compares the target with the latest month's limits (strictly: a target on a limit is hit
        and miss).

    Notes
    -----
    Rules (lengths from ``workbench/data/spc_rules.yaml``; MDC, read in NHSRplotthedots):
    ``outside_limits`` a month above the upper or below the lower limit; ``shift`` 7 or more
    consecutive months with data on one side of the centre line (a month on it breaks the run);
    ``trend`` 7 or more consecutive months each higher (or each lower) than the one before (a tie
    breaks it); ``two_of_three`` 2 of 3 consecutive months beyond the same 2-sigma line (those 2
    are flagged; Montgomery's Western Electric rule). Gaps are skipped: a run counts months with
    data. A month meeting rules on both sides takes the side of the first rule in the declared
    precedence (outside limits, trend, two of three, shift).

    Examples
    --------
    Limits 5.68 to 16.32 (see :func:`xmr_chart`); lower is better and the target 4 is below the
    lower limit, so the process will consistently fail it:

    >>> c = xmr_chart([10, 12] * 6)
    >>> s = special_causes(c, direction="lower_is_better", target=4)
    >>> s.variation, s.assurance
    ('common_cause', 'consistently_failing')
    """
    points = chart.points
    rules = chart.rules
    if target is not None and chart.kind == "p":
        check("special_causes", "target", target, Interval("real", 0, 1))
    out = pd.DataFrame({"point": points["point"], "label": points["label"], "value": points["value"],
                        "gap": points["gap"]})
    for r in RULES:
        out[r] = False
    out["rules"], out["side"], out["variation"] = "", None, None
    if chart.status != "ok":
        return Signals(chart, direction, target, out[SIGNAL_COLUMNS], "too_few", None)
    seen = np.flatnonzero(~points["gap"].to_numpy(bool))
    col = {c: points[c].to_numpy(float)[seen] for c in ("value", "centre", "sigma", "lower", "upper")}
    flag, met, chosen = _met(col, rules)
    for r in RULES:
        out.loc[seen, r] = flag[r]
    out.loc[seen, "rules"] = [",".join(r for j, r in enumerate(RULES) if row[j]) for row in met]
    out.loc[seen, "side"] = [None if s == 0 else ("high" if s > 0 else "low") for s in chosen]
    out.loc[seen, "variation"] = [_icon(int(s), direction) for s in chosen]
    variation = out.loc[seen[-1], "variation"]
    assurance = None
    if target is not None and direction is not None:
        lower, upper = col["lower"][-1], col["upper"][-1]  # the latest month's limits
        if direction == "higher_is_better":  # every month expected above the target: passing
            assurance = ("consistently_passing" if target < lower else "consistently_failing" if target > upper
                         else "hit_and_miss")
        else:  # lower is better: every month expected below the target
            assurance = ("consistently_passing" if target > upper else "consistently_failing" if target < lower
                         else "hit_and_miss")
    return Signals(chart, direction, target, out[SIGNAL_COLUMNS], variation, assurance)
