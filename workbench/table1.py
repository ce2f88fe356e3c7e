"""The "Table 1" of a paper: baseline characteristics by group, with p-values and standardised
mean differences (SMD), as a tidy DataFrame and as publication-ready HTML.

Every p-value names its test. Checked against R 4.2 (``chisq.test(correct = FALSE)``,
``fisher.test``, ``t.test`` (Welch), ``summary(aov())``, ``wilcox.test(exact = FALSE,
correct = TRUE)``, ``kruskal.test``) in ``tests/test_table1.py``; the R script, its seeded
inputs and its outputs are in ``tests/reference/table1/``.

Missing-data policy: a missing value is never a category and never a zero. Each variable is
summarised over the persons with a known value (percentages use that denominator), and the
number of persons with a missing value is the ``missing`` column. A missing ``group`` is an
error (:class:`Table1DataError` names the rows).
"""

from __future__ import annotations

import html
import math
from typing import Any, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from workbench._errors import RowProblemsError
from workbench.params import COLUMN, FRAME, Instance, Interval, Optional, Predicate, check, validate_params

__all__ = ["Table1DataError", "table1", "table1_html"]

#: enumerate at most this many tables for an exact r x c Fisher test, then simulate instead
_FISHER_MAX_TABLES = 2_000_000
_FISHER_SIMULATIONS = 100_000


class Table1DataError(RowProblemsError):
    """Input that cannot be summarised; names every bad row (row, column, value, rule)."""

    def __init__(self, problems: list[tuple]):
        super().__init__(problems)


# --- parameter rules --------------------------------------------------------------------------

def _is_names(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, (list, tuple)) and all(isinstance(v, str) and v for v in value))


#: A column name or a list of them.
NAMES = Predicate(_is_names, "a list of column names")
#: What :func:`table1` returns.
TABLE1 = Predicate(lambda t: isinstance(t, pd.DataFrame) and {"variable", "level", "p_value", "smd"} <= set(t.columns),
                   "the result of table1")


def _names(value: Any) -> list[str]:
    """A list-of-names argument (checked by :data:`NAMES`) as a list."""
    return [] if value is None else [value] if isinstance(value, str) else list(value)


# --- tests ------------------------------------------------------------------------------------

def _fisher_rxc(table: np.ndarray) -> tuple[float, str]:
    """Two-sided Fisher exact test for an r x c table, as R ``fisher.test`` (relative tolerance
    1e-7 when comparing table probabilities). Falls back to a seeded Monte Carlo p-value
    (R ``simulate.p.value = TRUE``) when there are too many tables to enumerate."""
    table = np.asarray(table, dtype=np.int64)
    rows, cols, n = table.sum(axis=1), table.sum(axis=0), int(table.sum())
    const = (sum(math.lgamma(r + 1) for r in rows) + sum(math.lgamma(c + 1) for c in cols)
             - math.lgamma(n + 1))

    def logp(t: np.ndarray) -> float:
        return const - float(np.sum([math.lgamma(x + 1) for x in t.ravel()]))

    observed = logp(table)
    threshold = observed + math.log1p(1e-7)
    total, count = 0.0, 0
    r_, c_ = table.shape

    def columns(j: int, remaining: np.ndarray, acc: float):
        """Enumerate column j given remaining row totals; yields log-prob contributions."""
        nonlocal total, count
        if j == c_ - 1:                        # last column is determined
            if remaining.sum() != cols[j]:
                return
            lp = acc - sum(math.lgamma(x + 1) for x in remaining)
            count += 1
            if count > _FISHER_MAX_TABLES:
                raise OverflowError
            if lp <= threshold:
                total += math.exp(lp)
            return
        for split in _splits(int(cols[j]), remaining):
            columns(j + 1, remaining - split, acc - sum(math.lgamma(x + 1) for x in split))

    try:
        columns(0, rows.copy(), const)
    except OverflowError:
        rng = np.random.default_rng(0)
        dist = stats.random_table(rows, cols, seed=rng)
        sims = dist.rvs(size=_FISHER_SIMULATIONS)
        lps = np.array([logp(s) for s in sims])
        p = (1 + np.sum(lps <= threshold)) / (_FISHER_SIMULATIONS + 1)
        return float(p), f"Fisher's exact (Monte Carlo, {_FISHER_SIMULATIONS} tables, seed 0)"
    return float(min(1.0, total)), "Fisher's exact"


def _splits(total: int, capacity: np.ndarray):
    """All ways to put ``total`` into len(capacity) cells with cell i <= capacity[i]."""
    if len(capacity) == 1:
        if total <= capacity[0]:
            yield np.array([total])
        return
    rest = int(capacity[1:].sum())
    for first in range(max(0, total - rest), min(total, int(capacity[0])) + 1):
        for tail in _splits(total - first, capacity[1:]):
            yield np.concatenate(([first], tail))


def _categorical_test(table: np.ndarray) -> tuple[float, str]:
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    if table.shape[0] < 2 or table.shape[1] < 2:
        return np.nan, ""
    expected = stats.contingency.expected_freq(table)
    if (expected < 5).any():
        if table.shape == (2, 2):
            return float(stats.fisher_exact(table).pvalue), "Fisher's exact"
        return _fisher_rxc(table)
    chi2 = stats.chi2_contingency(table, correction=False)
    return float(chi2.pvalue), "chi-square"


def _continuous_test(samples: list[np.ndarray], nonnormal: bool) -> tuple[float, str]:
    samples = [s for s in samples if len(s) > 0]
    if len(samples) < 2 or any(len(s) < 2 for s in samples) and not nonnormal:
        return np.nan, ""
    if nonnormal:
        if len(samples) == 2:
            res = stats.mannwhitneyu(samples[0], samples[1], use_continuity=True, method="asymptotic",
                                     alternative="two-sided")
            return float(res.pvalue), "Mann-Whitney U"
        return float(stats.kruskal(*samples).pvalue), "Kruskal-Wallis"
    if len(samples) == 2:
        return float(stats.ttest_ind(samples[1], samples[0], equal_var=False).pvalue), "Welch t-test"
    return float(stats.f_oneway(*samples).pvalue), "one-way ANOVA"


# --- standardised mean differences -------------------------------------------------------------

def _smd_continuous(x0: np.ndarray, x1: np.ndarray) -> float:
    if len(x0) < 2 or len(x1) < 2:
        return np.nan
    s = math.sqrt((np.var(x1, ddof=1) + np.var(x0, ddof=1)) / 2)
    return float((x1.mean() - x0.mean()) / s) if s > 0 else np.nan


def _smd_categorical(p0: np.ndarray, p1: np.ndarray) -> float:
    """Binary: signed (p1 - p0)/sqrt((p1(1-p1) + p0(1-p0))/2) for the second level. More levels:
    Yang & Dalton's multivariate SMD sqrt(T' S^-1 T) (non-negative), which reduces to the
    absolute binary formula for 2 levels."""
    if len(p0) == 2:
        s = math.sqrt((p1[1] * (1 - p1[1]) + p0[1] * (1 - p0[1])) / 2)
        return float((p1[1] - p0[1]) / s) if s > 0 else np.nan
    t = (p1 - p0)[1:]
    q0, q1 = p0[1:], p1[1:]
    cov = (np.diag(q1) - np.outer(q1, q1) + np.diag(q0) - np.outer(q0, q0)) / 2
    try:
        return float(math.sqrt(max(0.0, t @ np.linalg.solve(cov, t))))
    except np.linalg.LinAlgError:
        return np.nan


# --- the table ----------------------------------------------------------------------------------

def _fmt(x: float, digits: int) -> str:
    return f"{x:.{digits}f}" if np.isfinite(x) else ""


@validate_params({"data": FRAME, "group": COLUMN, "variables": Predicate(lambda v: _is_names(v) and len(v) > 0,
                                                                          "a non-empty list of column names"),
                  "categorical": Optional(NAMES), "nonnormal": Optional(NAMES), "smd": Instance(bool, name="a bool"),
                  "digits": Interval(int, 0, None)})
def table1(data: pd.DataFrame, *, group: str, variables: Sequence[str],
           categorical: Sequence[str] | None = None, nonnormal: Sequence[str] | None = None,
           smd: bool = True, digits: int = 1) -> pd.DataFrame:
    """Baseline characteristics by group with p-values (test named) and SMDs.

    Parameters
    ----------
    data : DataFrame
        One row per person.
    group : str
        Column of the group (e.g. trial arm); never missing. Groups are sorted, or in category
        order if the column is a pandas Categorical.
    variables : list of str
        Columns to summarise, in the order of the table.
    categorical : list of str, optional
        Those of ``variables`` summarised as n (%) per level. Levels are sorted, or in category
        order (unused categories shown with 0) for a pandas Categorical.
    nonnormal : list of str, optional
        Continuous ``variables`` summarised as median [Q1, Q3] and tested by rank tests.
    smd : bool
        Compute standardised mean differences (2 groups only; NaN otherwise).
    digits : int
        Decimal places of the means, SDs, medians, quartiles and percentages.

    Returns
    -------
    DataFrame
        Columns ``variable, level``, one column per group (named ``str(group value)``),
        ``overall, missing, p_value, test, smd``. The first row is ``variable = "n"`` (persons
        per group). A continuous variable has one row (``level`` = ``"mean (SD)"`` or
        ``"median [IQR]"``); a categorical variable has a header row (``level`` empty, holding
        ``missing``, ``p_value``, ``test`` and ``smd``) followed by one row per level with
        ``n (%)``. Cells are formatted strings; ``missing``, ``p_value`` and ``smd`` are numbers.
        ``attrs["groups"]`` lists the group values in column order.

    Notes
    -----
    Tests. Categorical: Pearson chi-square without continuity correction (R
    ``chisq.test(correct = FALSE)``), or Fisher's exact test when any expected count is below 5
    (R ``fisher.test``; r x c tables are enumerated exactly, or, beyond 2 million tables,
    simulated with 100,000 tables and seed 0, which the ``test`` column says). Levels or groups
    with no persons are dropped from the test. Continuous: Welch's t-test (R ``t.test``) for 2
    groups, one-way ANOVA (R ``summary(aov())``) for more. Non-normal: Mann-Whitney U with the
    normal approximation, tie correction and continuity correction (R ``wilcox.test(exact =
    FALSE, correct = TRUE)``; R's default would be exact for n < 50 without ties, so the setting
    is pinned on both sides), Kruskal-Wallis (R ``kruskal.test``) for more groups.

    SMD (group 2 minus group 1 in column order): continuous
    ``(m1 - m0) / sqrt((s1² + s0²)/2)`` (for ``nonnormal`` variables too, on the means);
    binary ``(p1 - p0) / sqrt((p1(1-p1) + p0(1-p0))/2)`` for the second level; more levels:
    Yang & Dalton (2012) multivariate SMD, non-negative. As R ``tableone::ExtractSmd`` except
    that the continuous and binary ones keep their sign.

    Quartiles use linear interpolation (R ``quantile(type = 7)``).

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"arm": ["a"] * 4 + ["b"] * 4,
    ...                   "sex": ["f", "m", "f", None, "m", "m", "f", "m"],
    ...                   "age": [30, 40, 50, 60, 35, 45, 55, 65]})
    >>> t = table1(d, group="arm", variables=["age", "sex"], categorical=["sex"])
    >>> t[["variable", "level", "a", "b", "missing", "test"]]  # doctest: +NORMALIZE_WHITESPACE
      variable      level            a            b  missing            test
    0        n                       4            4        0
    1      age  mean (SD)  45.0 (12.9)  50.0 (12.9)        0    Welch t-test
    2      sex                                             1  Fisher's exact
    3      sex          f    2 (66.7%)    1 (25.0%)     <NA>
    4      sex          m    1 (33.3%)    3 (75.0%)     <NA>
    >>> round(float(t.loc[1, "smd"]), 4), round(float(t.loc[1, "p_value"]), 4)  # R t.test: p = 0.6036
    (0.3873, 0.6036)
    """
    variables, categorical, nonnormal = _names(variables), _names(categorical), _names(nonnormal)
    for name, subset in (("categorical", categorical), ("nonnormal", nonnormal)):
        check("table1", name, subset,
              Predicate(lambda s: all(v in variables for v in s), "a list of columns in 'variables'"))
    check("table1", "nonnormal", nonnormal, Predicate(lambda s: not set(s) & set(categorical),
                                                      "a list of variables that are not in 'categorical'"))
    check("table1", "variables", variables, Predicate(lambda s: group not in s,
                                                      f"a list of columns without the group column {group!r}"))

    problems: list[tuple] = [(None, c, None, "is absent from the data")
                             for c in [group, *variables] if c not in data.columns]
    if problems:
        raise Table1DataError(problems)
    for i in np.flatnonzero(data[group].isna().to_numpy()):
        problems.append((data.index[i], group, None, "is missing: every row needs a group"))
    numeric: dict[str, pd.Series] = {}
    for v in variables:
        if v in categorical:
            continue
        raw = data[v]
        values = pd.to_numeric(raw.astype(object).where(raw.notna(), np.nan), errors="coerce").astype(float)
        bad = (raw.notna().to_numpy() & values.isna().to_numpy()) | np.isinf(values.to_numpy())
        for i in np.flatnonzero(bad):
            problems.append((data.index[i], v, raw.iloc[i],
                             "must be a number (or missing); list the column in 'categorical' if it is not"))
        numeric[v] = values
    if problems:
        raise Table1DataError(problems)

    g = data[group]
    groups = (list(g.cat.categories[g.cat.categories.isin(g.unique())]) if isinstance(g.dtype, pd.CategoricalDtype)
              else sorted(g.unique(), key=lambda x: (str(type(x)), x)))
    names = [str(x) for x in groups]
    if len(set(names)) != len(names) or set(names) & {"variable", "level", "overall", "missing", "p_value",
                                                      "test", "smd"}:
        raise ValueError(f"The group values of table1 must have distinct names that are not column names of "
                         f"the result. Got {names!r}.")
    masks = [(g == x).to_numpy() for x in groups]
    two = len(groups) == 2
    out: list[dict] = []

    def row(variable, level, cells, overall, missing=np.nan, p=np.nan, test="", s=np.nan):
        r = {"variable": variable, "level": level}
        r.update(dict(zip(names, cells)))
        r.update(overall=overall, missing=missing, p_value=p, test=test, smd=s)
        out.append(r)

    row("n", "", [str(int(m.sum())) for m in masks], str(len(data)), 0)
    for v in variables:
        if v in categorical:
            raw = data[v]
            known = raw.notna().to_numpy()
            if isinstance(raw.dtype, pd.CategoricalDtype):
                levels = list(raw.cat.categories)
            else:
                levels = sorted(raw[known].unique(), key=lambda x: (str(type(x)), x))
            counts = np.array([[int(((raw == lev).to_numpy() & known & m).sum()) for m in masks] for lev in levels],
                              dtype=np.int64).reshape(len(levels), len(groups))
            p, test = _categorical_test(counts)
            totals = counts.sum(axis=0)
            s = np.nan
            if smd and two and len(levels) >= 2 and (totals > 0).all():
                s = _smd_categorical(counts[:, 0] / totals[0], counts[:, 1] / totals[1])
            row(v, "", [""] * len(groups), "", int((~known).sum()), p, test, s)
            for k, lev in enumerate(levels):
                cells = [f"{counts[k, j]} ({_fmt(100 * counts[k, j] / totals[j], digits)}%)" if totals[j] else "0"
                         for j in range(len(groups))]
                n_all = counts.sum()
                row(v, str(lev), cells, f"{counts[k].sum()} ({_fmt(100 * counts[k].sum() / n_all, digits)}%)"
                    if n_all else "0")
        else:
            x = numeric[v]
            known = x.notna().to_numpy()
            samples = [x.to_numpy()[m & known] for m in masks]
            allx = x.to_numpy()[known]
            rank = v in nonnormal

            def summary(a: np.ndarray) -> str:
                if len(a) == 0:
                    return ""
                if rank:
                    q1, med, q3 = np.percentile(a, [25, 50, 75])
                    return f"{_fmt(med, digits)} [{_fmt(q1, digits)}, {_fmt(q3, digits)}]"
                sd = np.std(a, ddof=1) if len(a) > 1 else np.nan
                return f"{_fmt(a.mean(), digits)} ({_fmt(sd, digits)})"

            p, test = _continuous_test(samples, rank)
            s = _smd_continuous(samples[0], samples[1]) if smd and two else np.nan
            row(v, "median [IQR]" if rank else "mean (SD)", [summary(a) for a in samples], summary(allx),
                int((~known).sum()), p, test, s)

    table = pd.DataFrame(out, columns=["variable", "level", *names, "overall", "missing", "p_value", "test", "smd"])
    table["missing"] = table["missing"].astype("Int64")
    table.attrs["groups"] = list(groups)
    return table


def _fmt_p(p: float) -> str:
    if not np.isfinite(p):
        return ""
    return "<0.001" if p < 0.001 else f"{p:.3f}"


@validate_params({"table": TABLE1, "caption": Instance(str, name="a str")})
def table1_html(table: pd.DataFrame, caption: str) -> str:
    """Publication-ready HTML of a :func:`table1` result: no index, a caption, p-values as
    ``<0.001`` or 3 decimals, SMDs to 3 decimals, categorical levels indented.

    Parameters
    ----------
    table : DataFrame
        The result of :func:`table1`.
    caption : str
        The table caption (escaped).

    Returns
    -------
    str
        An HTML ``<table>`` with a ``<caption>``.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"arm": list("aabb"), "age": [30, 40, 35, 45]})
    >>> html = table1_html(table1(d, group="arm", variables=["age"]), "Table 1. Baseline")
    >>> "<caption>Table 1. Baseline</caption>" in html, "<th></th>" in html
    (True, False)
    """
    show = table.copy()
    first = ~show["variable"].duplicated()
    show["characteristic"] = np.where(first, show["variable"] + np.where(show["level"] != "", ", " + show["level"], ""),
                                      "\u2003" + show["level"].astype(str))
    show["p_value"] = show["p_value"].map(_fmt_p)
    show["smd"] = show["smd"].map(lambda s: f"{s:.3f}" if np.isfinite(s) else "")
    show["missing"] = show["missing"].map(lambda m: "" if pd.isna(m) or m == 0 else str(int(m)))
    groups = [c for c in table.columns if c not in {"variable", "level", "overall", "missing", "p_value", "test",
                                                     "smd"}]
    show = show[["characteristic", *groups, "overall", "missing", "p_value", "test", "smd"]]
    show.columns = ["Characteristic", *groups, "Overall", "Missing", "p", "Test", "SMD"]
    body = show.to_html(index=False, escape=True, na_rep="", border=0, classes="table1")
    return body.replace(">\n", f">\n  <caption>{html.escape(caption)}</caption>\n", 1)
