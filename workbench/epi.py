"""Descriptive epidemiology that agrees with R: prevalence, incidence rates, rate ratios,
direct age standardisation and small-cell suppression.

Intervals are computed from closed forms (Wilson, Clopper-Pearson, exact Poisson, Fay-Feuer
gamma), each checked against R (``prop.test``, ``binom.test``, ``poisson.test``,
``epitools::ageadjust.direct``) in ``tests/test_epi.py``; the R script, its generated inputs
and its outputs are committed in ``tests/reference/epi/``.

Missing-data policy: a missing outcome is never counted as 0. Functions that take a person-level
outcome exclude rows whose outcome is missing and report how many in a ``missing`` column.
Anything else that cannot be analysed (a value that is not 0/1, a negative person-time, a
missing group) raises :class:`EpiDataError`, which names every bad row.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from workbench._errors import RowProblemsError
from workbench._declarations import load_yaml
from workbench.params import ALPHA, COLUMNS, FRAME, Instance, Interval, Options, Predicate, check, validate_params

__all__ = ["EpiDataError", "incidence_rate", "prevalence", "proportion_ci", "rate_ratio", "standard_population",
           "standardize", "suppress"]

_STANDARDS = Path(__file__).with_name("data") / "standard_populations.yaml"


class EpiDataError(RowProblemsError):
    """Input that cannot be analysed; names every bad row (row, column, value, rule)."""

    def __init__(self, problems: list[tuple]):
        super().__init__(problems)


# --- parameter rules and data checks --------------------------------------------------------

def _standard_series(value) -> pd.Series | None:
    """A standard given as a mapping, a Series (index: age groups) or a two-column frame (age
    group, population) as a Series of floats indexed by age group; None when it is none of these
    or its age groups repeat or its populations are not numbers."""
    if isinstance(value, pd.DataFrame):
        if value.shape[1] != 2:
            return None
        labels, numbers = value.iloc[:, 0], value.iloc[:, 1]
    elif isinstance(value, pd.Series):
        labels, numbers = value.index.to_series(), value
    elif isinstance(value, Mapping):
        labels, numbers = pd.Series(list(value.keys()), dtype=object), pd.Series(list(value.values()), dtype=object)
    else:
        return None
    if labels.isna().any() or labels.duplicated().any():
        return None
    numbers = pd.to_numeric(pd.Series(numbers.to_numpy(), dtype=object), errors="coerce")
    return pd.Series(numbers.to_numpy(float), index=pd.Index(labels.to_numpy(), name="age_group"), name="population")


def _standard_ok(value) -> bool:
    if isinstance(value, str):
        return value in _standards()
    std = _standard_series(value)
    return std is not None and bool(len(std)) and not std.isna().any() and not (std < 0).any() and std.sum() > 0


#: A standard population given to :func:`standardize`.
STANDARD = Predicate(_standard_ok, lambda: "age group -> population (each a number >= 0, with a positive total, "
                                           "each age group once) as a mapping, a Series indexed by age group or a "
                                           "two-column frame (age group, population), or the name of a shipped "
                                           f"standard {sorted(_standards())}")


def _labels(value) -> bool:
    """None, or some column labels (not one text, not a one-pass iterator)."""
    if value is None:
        return True
    if isinstance(value, (str, bytes)) or iter(value) is value:
        return False
    return len(list(value)) > 0


def _as_list(by) -> list[str]:
    """A ``by`` argument (already checked: :data:`workbench.params.COLUMNS`) as a list."""
    return [] if by is None else [by] if isinstance(by, str) else list(by)


def _check_frame(data, fn: str, columns: Sequence[str]) -> None:
    """Every one of ``columns`` is in ``data`` (a frame, checked by the parameter rules)."""
    absent = [c for c in columns if c not in data.columns]
    if absent:
        raise EpiDataError([(None, c, None, "is absent from the data") for c in absent])


def _flag(problems: list, data: pd.DataFrame, mask, column: str, rule: str) -> None:
    for i in np.flatnonzero(np.asarray(mask, dtype=bool)):
        row, value = data.index[i], data[column].iloc[i]
        problems.append((row.item() if isinstance(row, np.generic) else row, column,
                         value.item() if isinstance(value, np.generic) else value, rule))


def _binary(data: pd.DataFrame, column: str, problems: list) -> pd.Series:
    """0/1 (or bool) column as float with NaN for missing; other values are problems."""
    raw = data[column]
    missing = raw.isna()
    values = pd.to_numeric(raw.astype(object).where(~missing), errors="coerce")
    _flag(problems, data, ~missing & ~values.isin([0, 1]), column,
          "must be 0/1 or True/False (or missing, which is excluded and counted)")
    return values.astype(float)


def _check_by(data: pd.DataFrame, by: list[str], problems: list) -> None:
    for b in by:
        _flag(problems, data, data[b].isna(), b, "is missing: every row needs a group")


def _grouped(data: pd.DataFrame, by: list[str]):
    if not by:
        return [((), data)]
    return [((k,) if not isinstance(k, tuple) else k, g) for k, g in data.groupby(by, sort=True, observed=True)]


# --- intervals (closed forms; R equivalents in the docstrings) ------------------------------

def _wilson(x: np.ndarray, n: np.ndarray, alpha: float):
    """R ``prop.test(x, n, correct = FALSE)$conf.int``."""
    z = stats.norm.ppf(1 - alpha / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = x / n
        z22n = z * z / (2 * n)
        half = z * np.sqrt(p * (1 - p) / n + z22n / (2 * n))
        low = np.where(p <= 0, 0.0, (p + z22n - half) / (1 + 2 * z22n))
        high = np.where(p >= 1, 1.0, (p + z22n + half) / (1 + 2 * z22n))
    return np.maximum(low, 0.0), np.minimum(high, 1.0)


def _clopper_pearson(x: np.ndarray, n: np.ndarray, alpha: float):
    """R ``binom.test(x, n)$conf.int``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        low = np.where(x > 0, stats.beta.ppf(alpha / 2, x, n - x + 1), 0.0)
        high = np.where(x < n, stats.beta.ppf(1 - alpha / 2, x + 1, n - x), 1.0)
    return low, high


def _poisson_exact(x: np.ndarray, alpha: float):
    """Exact limits for a Poisson count, as R ``poisson.test`` (before dividing by time)."""
    low = np.where(x > 0, stats.gamma.ppf(alpha / 2, np.maximum(x, 1)), 0.0)
    high = stats.gamma.ppf(1 - alpha / 2, x + 1)
    return low, high


@validate_params({"method": Options("wilson", "exact"), "alpha": ALPHA})
def proportion_ci(events, n, *, method: str = "wilson", alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Confidence limits of a proportion from counts: Wilson (R ``prop.test(x, n, correct =
    FALSE)``) or exact (``binom.test``), for counts already summed (a Dask result, a report).

    Examples
    --------
    >>> low, high = proportion_ci([64, 7], [425, 114])   # R: 0.11972 0.18771; 0.03006 0.12134
    >>> low.round(5).tolist(), high.round(5).tolist()
    ([0.11972, 0.03006], [0.18771, 0.12134])
    >>> proportion_ci(1, 0)
    Traceback (most recent call last):
    ...
    ValueError: proportion_ci: n must be whole numbers > 0 and events whole numbers from 0 to n; got events [1], n [0]
    """
    x, m = np.atleast_1d(np.asarray(events, dtype=float)), np.atleast_1d(np.asarray(n, dtype=float))
    ok = (x.shape == m.shape and np.isfinite(x).all() and np.isfinite(m).all() and (m > 0).all()
          and (x >= 0).all() and (x <= m).all() and (x == np.round(x)).all() and (m == np.round(m)).all())
    if not ok:
        raise ValueError("proportion_ci: n must be whole numbers > 0 and events whole numbers from 0 to n; "
                         f"got events {x.astype(int).tolist() if np.isfinite(x).all() else x.tolist()}, "
                         f"n {m.astype(int).tolist() if np.isfinite(m).all() else m.tolist()}")
    return _wilson(x, m, alpha) if method == "wilson" else _clopper_pearson(x, m, alpha)


def _binom_two_sided_p(x: int, n: int, p: float) -> float:
    """R ``binom.test(x, n, p)$p.value`` (two-sided, R's relative tolerance 1 + 1e-7)."""
    rel = 1 + 1e-7
    d = stats.binom.pmf(x, n, p)
    m = n * p
    if x == m:
        return 1.0
    if x < m:
        i = np.arange(int(np.ceil(m)), n + 1)
        y = int(np.sum(stats.binom.pmf(i, n, p) <= d * rel))
        pv = stats.binom.cdf(x, n, p) + stats.binom.sf(n - y, n, p)
    else:
        i = np.arange(0, int(np.floor(m)) + 1)
        y = int(np.sum(stats.binom.pmf(i, n, p) <= d * rel))
        pv = stats.binom.cdf(y - 1, n, p) + stats.binom.sf(x - 1, n, p)
    return float(min(1.0, pv))


# --- prevalence -----------------------------------------------------------------------------

@validate_params({"data": FRAME, "by": COLUMNS, "method": Options("wilson", "exact"), "alpha": ALPHA})
def prevalence(data: pd.DataFrame, *, outcome: str, by: str | Sequence[str] | None = None,
               method: str = "wilson", alpha: float = 0.05) -> pd.DataFrame:
    """Prevalence (a proportion of persons) with its confidence interval, overall or per group.

    Parameters
    ----------
    data : DataFrame
        One row per person.
    outcome : str
        Column: 1/True = has the condition, 0/False = has not, missing = not assessed.
    by : str or list of str, optional
        Columns to group by; every row must have a value.
    method : {"wilson", "exact"}
        ``"wilson"``: score interval without continuity correction, as R
        ``prop.test(x, n, correct = FALSE)``. ``"exact"``: Clopper-Pearson, as R ``binom.test``.
    alpha : float
        1 - confidence level.

    Returns
    -------
    DataFrame
        One row per group: the ``by`` columns, ``n`` (persons with a known outcome), ``cases``,
        ``prevalence`` (cases / n), ``ci_low``, ``ci_high``, ``missing`` (persons whose outcome
        is missing: excluded, never counted as 0). ``attrs`` has ``method`` and ``alpha``.

    Notes
    -----
    Wilson: ``(p + z²/2n ± z sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n)``, with the limit set to 0
    when ``x = 0`` and to 1 when ``x = n``, as R. Clopper-Pearson: beta quantiles
    ``B(α/2; x, n-x+1)`` and ``B(1-α/2; x+1, n-x)``. A group whose outcome is all missing has
    ``n = 0`` and NaN prevalence. Checked against R 4.2 (``tests/reference/epi``).

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"site": list("aaaabbb"), "phq9_pos": [1, 0, 0, None, 1, 1, 0]})
    >>> prevalence(d, outcome="phq9_pos", by="site").round(4)  # R prop.test(1, 3, correct=FALSE): 0.0615 0.7923
      site  n  cases  prevalence  ci_low  ci_high  missing
    0    a  3      1      0.3333  0.0615   0.7923        1
    1    b  3      2      0.6667  0.2077   0.9385        0
    """
    by = _as_list(by)
    _check_frame(data, "prevalence", [outcome, *by])
    problems: list[tuple] = []
    y = _binary(data, outcome, problems)
    _check_by(data, by, problems)
    if problems:
        raise EpiDataError(problems)
    frame = data[by].copy()
    frame["_y"] = y.to_numpy()
    rows = []
    for key, part in _grouped(frame, by):
        known = part["_y"].dropna()
        rows.append({**dict(zip(by, key)), "n": len(known), "cases": int(known.sum()),
                     "missing": int(part["_y"].isna().sum())})
    out = pd.DataFrame(rows, columns=[*by, "n", "cases", "missing"])
    x, n = out["cases"].to_numpy(float), out["n"].to_numpy(float)
    low, high = (_wilson if method == "wilson" else _clopper_pearson)(x, n, alpha)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["prevalence"] = x / n
    empty = n == 0
    out["ci_low"], out["ci_high"] = np.where(empty, np.nan, low), np.where(empty, np.nan, high)
    out = out[[*by, "n", "cases", "prevalence", "ci_low", "ci_high", "missing"]]
    out.attrs.update(method=method, alpha=alpha)
    return out


# --- incidence rates ------------------------------------------------------------------------

def _check_counts(data: pd.DataFrame, events: str, person_time: str, problems: list):
    e = pd.to_numeric(data[events], errors="coerce")
    _flag(problems, data, e.isna() | (e < 0) | (e != np.round(e)), events,
          "must be a whole number of events >= 0 (not missing)")
    t = pd.to_numeric(data[person_time], errors="coerce")
    _flag(problems, data, t.isna() | ~np.isfinite(t.fillna(0)) | (t < 0), person_time,
          "must be a person-time >= 0 (not missing)")
    return e, t


def _rate_table(data, events, person_time, by):
    frame = data[by].copy()
    frame["_e"], frame["_t"] = (pd.to_numeric(data[events]).to_numpy(float),
                                pd.to_numeric(data[person_time]).to_numpy(float))
    rows = [{**dict(zip(by, k)), "events": int(p["_e"].sum()), "person_time": float(p["_t"].sum())}
            for k, p in _grouped(frame, by)]
    return pd.DataFrame(rows, columns=[*by, "events", "person_time"])


@validate_params({"data": FRAME, "by": COLUMNS, "alpha": ALPHA})
def incidence_rate(data: pd.DataFrame, *, events: str, person_time: str,
                   by: str | Sequence[str] | None = None, alpha: float = 0.05) -> pd.DataFrame:
    """Incidence rate (events per unit of person-time) with its exact Poisson interval.

    Parameters
    ----------
    data : DataFrame
        One row per person (or per person-period).
    events : str
        Column: number of events (whole number >= 0).
    person_time : str
        Column: time at risk (>= 0), in the unit the rate is wanted per (e.g. person-years).
    by : str or list of str, optional
        Columns to group by.
    alpha : float
        1 - confidence level.

    Returns
    -------
    DataFrame
        The ``by`` columns, ``events``, ``person_time``, ``rate`` (events / person_time),
        ``ci_low``, ``ci_high``. ``attrs`` has ``alpha``.

    Notes
    -----
    Exact limits ``Γ⁻¹(α/2; x) / T`` and ``Γ⁻¹(1-α/2; x+1) / T`` (lower 0 when ``x = 0``), as R
    ``poisson.test(x, T)``. Missing events or person-time are errors, not zeros. Multiply the
    rate by 1000 for "per 1000 person-years".

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"relapses": [0, 2, 1, 0], "years": [1.5, 2.0, 0.5, 1.0]})
    >>> incidence_rate(d, events="relapses", person_time="years").round(4)  # R: 0.6, 0.1237 1.7535
       events  person_time  rate  ci_low  ci_high
    0       3          5.0   0.6  0.1237   1.7535
    """
    by = _as_list(by)
    _check_frame(data, "incidence_rate", [events, person_time, *by])
    problems: list[tuple] = []
    _check_counts(data, events, person_time, problems)
    _check_by(data, by, problems)
    if problems:
        raise EpiDataError(problems)
    out = _rate_table(data, events, person_time, by)
    x, t = out["events"].to_numpy(float), out["person_time"].to_numpy(float)
    low, high = _poisson_exact(x, alpha)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["rate"], out["ci_low"], out["ci_high"] = x / t, low / t, high / t
    out.attrs.update(alpha=alpha)
    return out


@validate_params({"data": FRAME, "group": Instance(str, name="a column name"), "alpha": ALPHA})
def rate_ratio(data: pd.DataFrame, *, events: str, person_time: str, group: str, reference,
               alpha: float = 0.05) -> pd.DataFrame:
    """Incidence rate ratio of each group against a reference group, with exact CI and p-value.

    Parameters
    ----------
    data : DataFrame
        One row per person (or per person-period).
    events, person_time : str
        Columns as in :func:`incidence_rate`.
    group : str
        Column of the groups compared.
    reference
        The value of ``group`` that is the denominator of every ratio.
    alpha : float
        1 - confidence level.

    Returns
    -------
    DataFrame
        One row per non-reference group: ``group`` column, ``reference``, ``events``,
        ``person_time``, ``ref_events``, ``ref_person_time``, ``rate_ratio``, ``ci_low``,
        ``ci_high``, ``p_value`` (two-sided, H0: ratio = 1). ``attrs`` has ``alpha``.

    Notes
    -----
    Conditional on the total ``x1 + x2``, ``x1`` is binomial with ``p = T1 / (T1 + T2)`` under
    H0; the Clopper-Pearson limits for ``p`` are mapped to the ratio by
    ``p / (1 - p) * T2 / T1``, and the p-value is the binomial test's. This is R
    ``poisson.test(c(x1, x2), c(T1, T2))``. With no events in either group everything is NaN.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"arm": ["care", "care", "usual", "usual"], "ev": [2, 1, 6, 4],
    ...                   "py": [10.0, 10.0, 12.0, 8.0]})
    >>> rr = rate_ratio(d, events="ev", person_time="py", group="arm", reference="usual")
    >>> rr[["arm", "reference", "rate_ratio", "ci_low", "ci_high", "p_value"]].round(4)
        arm reference  rate_ratio  ci_low  ci_high  p_value
    0  care     usual         0.3  0.0531   1.1651   0.0923

    R: ``poisson.test(c(3, 10), c(20, 20))`` gives 0.3, 0.05305 1.16512, p = 0.09229.
    """
    _check_frame(data, "rate_ratio", [events, person_time, group])
    problems: list[tuple] = []
    _check_counts(data, events, person_time, problems)
    _check_by(data, [group], problems)
    if problems:
        raise EpiDataError(problems)
    table = _rate_table(data, events, person_time, [group])
    levels = sorted(table[group].tolist(), key=str)
    check("rate_ratio", "reference", reference,
          Predicate(lambda r: r in set(table[group]), f"a value of column {group!r} (one of {levels})"))
    ref = table[table[group] == reference].iloc[0]
    x2, t2 = int(ref["events"]), float(ref["person_time"])
    rows = []
    for _, r in table[table[group] != reference].iterrows():
        x1, t1 = int(r["events"]), float(r["person_time"])
        n = x1 + x2
        if n == 0 or t1 <= 0 or t2 <= 0:
            est = low = high = p = np.nan
        else:
            pl, pu = _clopper_pearson(np.array([x1]), np.array([n]), alpha)
            with np.errstate(divide="ignore"):
                est = (x1 / t1) / (x2 / t2) if x2 > 0 else np.inf
                low = float(pl[0] / (1 - pl[0]) * t2 / t1)
                high = float(pu[0] / (1 - pu[0]) * t2 / t1) if pu[0] < 1 else np.inf
            p = _binom_two_sided_p(x1, n, t1 / (t1 + t2))
        rows.append({group: r[group], "reference": reference, "events": x1, "person_time": t1,
                     "ref_events": x2, "ref_person_time": t2, "rate_ratio": est, "ci_low": low,
                     "ci_high": high, "p_value": p})
    out = pd.DataFrame(rows, columns=[group, "reference", "events", "person_time", "ref_events",
                                      "ref_person_time", "rate_ratio", "ci_low", "ci_high", "p_value"])
    out.attrs.update(alpha=alpha)
    return out


# --- direct age standardisation -------------------------------------------------------------

@lru_cache(maxsize=1)
def _standards() -> dict:
    return load_yaml(_STANDARDS.read_text(encoding="utf-8"))


@validate_params({"name": Options(of=lambda: sorted(_standards()))})
def standard_population(name: str) -> pd.Series:
    """A shipped standard population (``workbench/data/standard_populations.yaml``).

    Returns a Series indexed by age group; ``attrs`` has ``label``, ``source`` and ``notes``.
    A standard whose source ends in "(check)" has not been verified against its primary
    source, and a ``UserWarning`` says so.

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     w = standard_population("who_2000_2025")
    >>> float(w["0-4"]), len(w)
    (8860.0, 21)
    """
    entry = _standards()[name]
    source = " ".join(str(entry["source"]).split())
    if source.endswith("(check)"):
        warnings.warn(f"Standard population {name!r} is not verified against its source: {source}",
                      UserWarning, stacklevel=3)
    s = pd.Series(entry["population"], name="population", dtype=float)
    s.index.name = "age_group"
    s.attrs.update(label=entry["label"], source=source, notes=" ".join(str(entry.get("notes", "")).split()))
    return s


def _fay_feuer(count: np.ndarray, pop: np.ndarray, weight: np.ndarray, alpha: float):
    """Directly standardised rate and Fay-Feuer gamma interval, as epitools ``ageadjust.direct``."""
    w = weight / weight.sum()
    dsr = float(np.sum(w * count / pop))
    var = float(np.sum(w ** 2 * count / pop ** 2))
    wm = float(np.max(w / pop))
    with np.errstate(divide="ignore", invalid="ignore"):
        low = stats.gamma.ppf(alpha / 2, dsr ** 2 / var, scale=var / dsr) if dsr > 0 else 0.0
        high = stats.gamma.ppf(1 - alpha / 2, (dsr + wm) ** 2 / (var + wm ** 2), scale=(var + wm ** 2) / (dsr + wm))
    return dsr, float(low), float(high)


@validate_params({"data": FRAME, "standard": STANDARD, "by": COLUMNS, "alpha": ALPHA})
def standardize(data: pd.DataFrame, *, outcome: str, age_group: str, standard,
                by: str | Sequence[str] | None = None, alpha: float = 0.05) -> pd.DataFrame:
    """Directly age-standardised prevalence (or risk) with the Fay-Feuer gamma interval.

    Parameters
    ----------
    data : DataFrame
        One row per person: the outcome and the person's age group.
    outcome : str
        Column: 1/True = case, 0/False = not a case, missing = excluded (counted in ``missing``).
    age_group : str
        Column of age-group labels; every label must be in the standard, and every group of the
        standard must have persons in every ``by`` group.
    standard : mapping, Series, DataFrame or str
        Age group -> standard population (or weights): a mapping, a Series indexed by age group
        (as :func:`standard_population` returns) or a two-column frame (age group, population),
        as standards are usually held; or the name of a shipped standard: ``"who_2000_2025"``
        (Ahmad et al. 2001) or ``"china_2020_census"`` (7th census, yearbook table 1-5); see
        :func:`standard_population`.
    by : str or list of str, optional
        Columns to standardise separately.
    alpha : float
        1 - confidence level.

    Returns
    -------
    DataFrame
        The ``by`` columns, ``n`` (persons with a known outcome), ``cases``, ``crude``,
        ``adjusted``, ``ci_low``, ``ci_high``, ``missing`` (persons with a missing outcome,
        excluded). ``attrs`` has ``alpha`` and ``standard`` (its name or "custom").

    Notes
    -----
    With age-specific counts ``x_i``, persons ``n_i`` and standard weights ``w_i`` (summing to
    1): ``adjusted = Σ w_i x_i / n_i``, ``v = Σ w_i² x_i / n_i²``, ``w_M = max w_i / n_i``;
    the interval is ``Gamma(adjusted²/v, scale v/adjusted)`` at α/2 and
    ``Gamma((adjusted+w_M)²/(v+w_M²), scale (v+w_M²)/(adjusted+w_M))`` at 1-α/2 (Fay & Feuer
    1997), exactly R ``epitools::ageadjust.direct(count, pop, stdpop = ...)``.
    The standard must cover exactly the age groups used: pass a mapping restricted to them
    when the data cover part of the age range (e.g. adults only).

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"age": ["18-44"] * 4 + ["45+"] * 4, "case": [0, 0, 1, 0, 1, 1, 0, 0]})
    >>> standardize(d, outcome="case", age_group="age", standard={"18-44": 60, "45+": 40}).round(4)
       n  cases  crude  adjusted  ci_low  ci_high  missing
    0  8      3  0.375      0.35   0.069   1.1096        0

    R: ``ageadjust.direct(c(1, 2), c(4, 4), stdpop = c(60, 40))`` gives 0.375 0.35 0.06904 1.10956.
    """
    by = _as_list(by)
    _check_frame(data, "standardize", [outcome, age_group, *by])
    if isinstance(standard, str):
        std_name, std = standard, standard_population(standard)
    else:
        std_name, std = "custom", _standard_series(standard)
    problems: list[tuple] = []
    y = _binary(data, outcome, problems)
    _check_by(data, by, problems)
    _flag(problems, data, data[age_group].isna(), age_group, "is missing: every person needs an age group")
    _flag(problems, data, data[age_group].notna() & ~data[age_group].isin(std.index), age_group,
          f"is not an age group of the standard ({', '.join(map(str, std.index))})")
    if problems:
        raise EpiDataError(problems)
    frame = data[[*by, age_group]].copy()
    frame["_y"] = y.to_numpy()
    rows, empty = [], []
    for key, part in _grouped(frame, by):
        known = part.dropna(subset=["_y"])
        count = known.groupby(age_group)["_y"].sum().reindex(std.index, fill_value=0).to_numpy(float)
        pop = known.groupby(age_group).size().reindex(std.index, fill_value=0).to_numpy(float)
        for g in std.index[pop == 0]:
            empty.append((dict(zip(by, key)) or None, age_group, g,
                          "age group of the standard has no persons with a known outcome"))
        dsr, low, high = _fay_feuer(count, pop, std.to_numpy(float), alpha) if (pop > 0).all() else (np.nan,) * 3
        rows.append({**dict(zip(by, key)), "n": int(pop.sum()), "cases": int(count.sum()),
                     "crude": count.sum() / pop.sum() if pop.sum() else np.nan, "adjusted": dsr,
                     "ci_low": low, "ci_high": high, "missing": int(part["_y"].isna().sum())})
    if empty:
        raise EpiDataError(empty)
    out = pd.DataFrame(rows, columns=[*by, "n", "cases", "crude", "adjusted", "ci_low", "ci_high", "missing"])
    out.attrs.update(alpha=alpha, standard=std_name)
    return out


# --- small-cell suppression -----------------------------------------------------------------

@validate_params({"table": FRAME, "min_count": Interval(int, 1, None),
                  "columns": Predicate(_labels, "None or a non-empty list of count columns")})
def suppress(table: pd.DataFrame, *, min_count: int = 5, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Hide small counts, and enough other counts that no hidden one can be recomputed.

    Parameters
    ----------
    table : DataFrame
        A table of counts: one row per row category, one column per column category (label
        columns are allowed and left alone). Its row and column totals are assumed to be
        published or computable.
    min_count : int
        Counts ``1 .. min_count - 1`` are suppressed (primary). Zeros are not sensitive.
    columns : list of str, optional
        The count columns; by default every numeric column.

    Returns
    -------
    DataFrame
        A copy with suppressed cells as ``<NA>`` (count columns become ``Int64``). ``attrs``:
        ``primary`` and ``secondary`` (lists of ``(row label, column)``) and ``min_count``.

    Notes
    -----
    Secondary (complementary) suppression: while any row or column of count cells has exactly
    one suppressed cell, the smallest unsuppressed non-zero count in that row or column is
    suppressed too (ties: first in table order; rows before columns); a zero is hidden as the
    complement only when the line has no visible non-zero count left. This protects against recomputation
    from a single row or column total; it does not solve the general (linear-programming)
    disclosure problem, which is sufficient for the small tables of a service report. A line of
    a single cell (a one-column table's rows) has no total other than the cell, so it is not
    checked.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"male": [12, 3, 20], "female": [15, 9, 30]}, index=["a", "b", "c"])
    >>> s = suppress(t, min_count=5)
    >>> s
       male  female
    a  <NA>    <NA>
    b  <NA>    <NA>
    c    20      30
    >>> s.attrs["primary"], s.attrs["secondary"]
    ([('b', 'male')], [('b', 'female'), ('a', 'male'), ('a', 'female')])

    Hiding only the 3 would let anyone recompute it from the row total 12; hiding 3 and 9 would
    let both be recomputed from the column totals, hence the 12 and 15.
    """
    if columns is None:
        columns = [c for c in table.columns if pd.api.types.is_numeric_dtype(table[c])
                   and not pd.api.types.is_bool_dtype(table[c])]
        check("suppress", "columns", None, Predicate(lambda _: bool(columns),
                                                     "given: the table has no numeric count column"))
    else:
        columns = list(columns)
        _check_frame(table, "suppress", columns)
    problems: list[tuple] = []
    for c in columns:
        v = pd.to_numeric(table[c], errors="coerce")
        _flag(problems, table, v.isna() | (v < 0) | (v != np.round(v)), c, "must be a whole-number count >= 0")
    if problems:
        raise EpiDataError(problems)
    values = table[columns].to_numpy(float)
    primary = (values >= 1) & (values < min_count)
    hidden = primary.copy()
    secondary: list[tuple[int, int]] = []

    def complement(cells: list[tuple[int, int]]) -> bool:
        """Hide the smallest visible cell among ``cells`` (non-zero first)."""
        visible = [(values[i, j] == 0, values[i, j], k, (i, j)) for k, (i, j) in enumerate(cells) if not hidden[i, j]]
        i, j = min(visible)[3]
        hidden[i, j] = True
        secondary.append((i, j))
        return True

    changed = True
    while changed:
        changed = False
        # a line (of >= 2 cells) with exactly one hidden cell always has a visible one to hide
        for i in range(values.shape[0] if values.shape[1] > 1 else 0):
            if hidden[i].sum() == 1:
                changed = complement([(i, j) for j in range(values.shape[1])]) or changed
        for j in range(values.shape[1] if values.shape[0] > 1 else 0):
            if hidden[:, j].sum() == 1:
                changed = complement([(i, j) for i in range(values.shape[0])]) or changed
    out = table.copy()
    for j, c in enumerate(columns):
        col = pd.array(pd.to_numeric(table[c]).round().astype("int64"), dtype="Int64")
        col[hidden[:, j]] = pd.NA
        out[c] = col
    label = lambda ij: (table.index[ij[0]], columns[ij[1]])  # noqa: E731
    out.attrs.update(min_count=min_count,
                     primary=[label(ij) for ij in zip(*np.nonzero(primary))],
                     secondary=[label(ij) for ij in secondary])
    return out
