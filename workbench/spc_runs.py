"""Run charts and funnel plots (notebook 05, drawn by :mod:`workbench.quality_plots`): the
run-chart rules of Perla, Provost & Murray (2011) with the exact runs limits, and Spiegelhalter's
(2005) exact binomial funnel limits, on the helpers of :mod:`workbench.spc`.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from workbench.params import Predicate, check, validate_params
from workbench.spc import _LABELS, _SEQUENCE, SPCDataError, _as_numbers, _labels_for, _runs

#: Run-chart rules (Perla, Provost & Murray 2011, "The run chart: a simple analytical tool for
#: learning from variation in healthcare processes", BMJ Qual Saf 20:46-51): a shift is this many
#: or more consecutive points on one side of the median, a trend this many or more points each
#: higher (or lower) than the one before.
RUN_SHIFT, RUN_TREND = 6, 5
#: The two-sided risk of calling a random series's number of runs too few or too many (half each side).
RUNS_RISK = 0.05
RUN_COLUMNS = ["point", "label", "value", "median", "side", "shift", "trend"]
FUNNEL_COLUMNS = ["label", "numerator", "denominator", "value", "centre", "lower_inner", "upper_inner",
                  "lower_outer", "upper_outer", "signal"]
__all__ = ["FUNNEL_COLUMNS", "RUN_COLUMNS", "RUN_SHIFT", "RUN_TREND", "RUNS_RISK", "funnel", "funnel_limits",
           "run_chart_rules", "runs_limits"]


def runs_limits(above: int, below: int, *, risk: float = RUNS_RISK) -> tuple[int, int]:
    """The fewest and most runs a random series makes, given its points above and below the median.

    From the exact distribution of the number of runs (Swed & Eisenhart 1943, Ann Math Stat
    14:66), ``risk / 2`` in each tail: the series has too few runs when it has fewer than the first
    number, too many when it has more than the second. Perla et al. (2011) tabulate these limits for
    an even split of the useful observations; here the series's own split is used.

    >>> runs_limits(10, 10)
    (7, 15)
    """
    a, b = int(above), int(below)
    if a < 1 or b < 1:
        return 1, 1
    r = np.arange(2, a + b + 1)
    k = r // 2
    comb = np.vectorize(math.comb)
    p = np.where(r % 2 == 0, 2 * comb(a - 1, k - 1) * comb(b - 1, k - 1),
                 comb(a - 1, k) * comb(b - 1, k - 1) + comb(a - 1, k - 1) * comb(b - 1, k)) / math.comb(a + b, a)
    low = int(r[np.cumsum(p) > risk / 2].min())
    high = int(r[np.cumsum(p[::-1])[::-1] > risk / 2].max())
    return low, high


def _longest_runs(keys: np.ndarray, length: int) -> np.ndarray:
    """True at every position of a run of ``length`` or more equal non-zero keys."""
    flag = np.zeros(len(keys), dtype=bool)
    for start, stop, key in _runs(keys, length):
        if key != 0:
            flag[start:stop] = True
    return flag


@validate_params({"values": _SEQUENCE, "labels": _LABELS})
def run_chart_rules(values, *, labels=None) -> pd.DataFrame:
    """A run chart's median and the Perla-Provost-Murray rules, per point.

    Parameters
    ----------
    values : sequence of numbers
        One per month in time order; a missing value is a gap (skipped, never 0).
    labels : sequence, optional
        A label per month; default the Series index, else 0, 1, 2 ...

    Returns
    -------
    DataFrame
        :data:`RUN_COLUMNS`: ``median`` (of the values with data), ``side`` (1 above, -1 below, 0
        on the median or a gap), ``shift`` (the point is in a run of :data:`RUN_SHIFT` or more on
        one side; points on the median are skipped: they neither add to nor break a run),
        ``trend`` (in :data:`RUN_TREND` or more points each higher, or each lower, than the one
        before; a repeated value is skipped). ``attrs``: ``useful`` (points not on the median),
        ``runs``, ``runs_low``, ``runs_high`` (:func:`runs_limits`), ``too_few_runs``,
        ``too_many_runs`` and ``rules`` (the rules met, of ``shift``, ``trend``, ``too_few_runs``,
        ``too_many_runs``).

    Notes
    -----
    Perla, Provost & Murray 2011 (BMJ Qual Saf 20:46): shift 6, trend 5, too few or too many runs
    (Swed & Eisenhart's limits). The fourth rule, an "astronomical" point, is a judgement and is
    not computed. The rules need about 10 useful points; with fewer, ``runs_low``/``runs_high``
    are still given but read them with care.

    Examples
    --------
    >>> r = run_chart_rules([5, 6, 5, 6, 5, 6, 1, 2, 3, 4, 5, 9, 9, 9, 9, 9, 9])
    >>> float(r["median"].iloc[0]), int(r["shift"].sum()), int(r["trend"].sum()), r.attrs["runs"]
    (6.0, 14, 6, 2)
    >>> r.attrs["rules"]
    ['shift', 'trend', 'too_few_runs']
    """
    problems: list = []
    v, _ = _as_numbers(values, "values", problems, whole=False)
    if problems:
        raise SPCDataError(problems)
    names = _labels_for("run_chart_rules", len(v), labels, values)
    seen = np.flatnonzero(~np.isnan(v))
    median = float(np.median(v[seen])) if len(seen) else math.nan
    side = np.zeros(len(v), dtype=int)
    side[seen] = np.sign(np.round(v[seen] - median, 12)).astype(int)
    shift = np.zeros(len(v), dtype=bool)
    useful = seen[side[seen] != 0]
    shift[useful] = _longest_runs(side[useful], RUN_SHIFT)
    trend = np.zeros(len(v), dtype=bool)
    if len(seen):
        moved = seen[np.r_[True, np.diff(v[seen]) != 0]]  # a repeated value is skipped
        step = np.sign(np.diff(v[moved])).astype(int)     # step j: from moved[j] to moved[j + 1]
        for start, stop, _key in _runs(step, RUN_TREND - 1):
            if _key != 0:
                trend[moved[start:stop + 1]] = True
    s = side[useful]
    runs = int(len(s) and 1 + np.count_nonzero(s[1:] != s[:-1]))
    low, high = runs_limits(int((s > 0).sum()), int((s < 0).sum()))
    out = pd.DataFrame({"point": np.arange(len(v)), "label": names, "value": v, "median": median, "side": side,
                        "shift": shift, "trend": trend})
    few, many = bool(runs and runs < low), bool(runs > high)
    out.attrs.update(useful=len(useful), runs=runs, runs_low=low, runs_high=high, too_few_runs=few,
                     too_many_runs=many,
                     rules=[r for r, met in (("shift", shift.any()), ("trend", trend.any()),
                                             ("too_few_runs", few), ("too_many_runs", many)) if met])
    return out


def funnel_limits(denominators, *, centre: float, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Exact binomial funnel limits around ``centre`` for each denominator (Spiegelhalter 2005).

    For ``q = (1 - level) / 2`` and ``1 - q``: ``r = qbinom(q, n, centre)``, interpolated as
    ``(r - a) / n`` with ``a = (F(r) - q) / (F(r) - F(r - 1))`` (Spiegelhalter 2005, "Funnel plots
    for comparing institutional performance", Stat Med 24:1185, appendix A.1.1), clipped to [0, 1].
    Checked against R (``tests/reference/quality_alerts/make_reference.R``).

    >>> low, high = funnel_limits([20, 100], centre=0.2, level=0.95)
    >>> [round(float(x), 4) for x in low], [round(float(x), 4) for x in high]
    ([0.0117, 0.1197], [0.3661, 0.2765])
    """
    from scipy import stats

    n = np.asarray(denominators, dtype=float)
    out = []
    for q in ((1 - level) / 2, (1 + level) / 2):
        r = stats.binom.ppf(q, n, centre)
        f, f1 = stats.binom.cdf(r, n, centre), stats.binom.cdf(r - 1, n, centre)
        with np.errstate(invalid="ignore", divide="ignore"):
            limit = (r - (f - q) / (f - f1)) / n
        out.append(np.clip(np.where(n > 0, limit, np.nan), 0, 1))
    return out[0], out[1]


@validate_params({"numerators": _SEQUENCE, "denominators": _SEQUENCE, "labels": _LABELS,
                  "levels": Predicate(lambda v: isinstance(v, tuple) and len(v) == 2 and 0 < v[0] < v[1] < 1,
                                      "a pair (inner, outer) of levels in (0, 1), inner < outer, e.g. (0.95, 0.998)")})
def funnel(numerators, denominators, *, labels=None, levels=(0.95, 0.998)) -> pd.DataFrame:
    """Units' proportions (e.g. communities) against their denominators, with funnel limits.

    Parameters
    ----------
    numerators, denominators : sequence of whole numbers
        One pair per unit; a unit with denominator 0 or missing counts has no value (not 0).
    labels : sequence, optional
        The units' names (default the Series index, else 0, 1, 2 ...).
    levels : (float, float)
        The inner and outer limits' levels: 95 % and 99.8 % (about 2 and 3 sigma), as Spiegelhalter.

    Returns
    -------
    DataFrame
        :data:`FUNNEL_COLUMNS`, one row per unit: ``centre`` = Σ numerators / Σ denominators (the
        overall proportion), the limits at each unit's denominator (:func:`funnel_limits`, for
        drawing), and ``signal``: ``above_outer``, ``above_inner``, ``below_inner``,
        ``below_outer`` or ``""``, from the exact one-sided binomial test at the centre
        (``P(X >= x)`` or ``P(X <= x)`` at most ``(1 - level) / 2``; as R's ``pbinom``). ``attrs``:
        ``levels``, ``centre``.

    Examples
    --------
    >>> f = funnel([10, 12, 35, 3], [50, 60, 80, 40], labels=["a", "b", "c", "d"])
    >>> round(f.attrs["centre"], 4), f.set_index("label")["signal"].to_dict()
    (0.2609, {'a': '', 'b': '', 'c': 'above_outer', 'd': 'below_inner'})
    """
    n = len(numerators)
    check("funnel", "denominators", denominators, Predicate(lambda d: len(d) == n, f"one denominator per numerator ({n})"))
    names = _labels_for("funnel", n, labels, numerators)
    problems: list = []
    num, _ = _as_numbers(numerators, "numerators", problems, whole=True)
    den, _ = _as_numbers(denominators, "denominators", problems, whole=True)
    for i in range(n):
        if not np.isnan(num[i]) and not np.isnan(den[i]) and num[i] > den[i]:
            problems.append(("numerators", i, None, int(num[i]), f"must not exceed the unit's denominator ({int(den[i])})"))
    if problems:
        raise SPCDataError(problems)
    known = ~np.isnan(num) & ~np.isnan(den) & (den > 0)
    centre = float(num[known].sum() / den[known].sum()) if known.any() else math.nan
    with np.errstate(invalid="ignore", divide="ignore"):
        value = np.where(known, num / np.where(known, den, 1), np.nan)
    d = np.where(known, den, 0)
    (lo_in, hi_in), (lo_out, hi_out) = (funnel_limits(d, centre=centre, level=lv) for lv in levels)
    # The signal is the exact one-sided binomial test, not "beyond the interpolated line": at a
    # count equal to the quantile r the interpolated limit lies below r / n although P(X >= r) is
    # above the tail (10 of 10 against 85.7 % has P = 0.21, yet sits above the 99.8 % line).
    from scipy import stats

    with np.errstate(invalid="ignore"):
        upper_p = np.where(known, stats.binom.sf(num - 1, d, centre), np.nan)   # P(X >= x)
        lower_p = np.where(known, stats.binom.cdf(num, d, centre), np.nan)      # P(X <= x)
    tail = {lv: (1 - lv) / 2 for lv in levels}
    signal = np.select([upper_p <= tail[levels[1]], lower_p <= tail[levels[1]], upper_p <= tail[levels[0]],
                        lower_p <= tail[levels[0]]], ["above_outer", "below_outer", "above_inner", "below_inner"], "")
    out = pd.DataFrame({"label": names, "numerator": num, "denominator": den, "value": value, "centre": centre,
                        "lower_inner": lo_in, "upper_inner": hi_in, "lower_outer": lo_out, "upper_outer": hi_out,
                        "signal": np.where(known, signal, "")})
    out.attrs.update(levels=levels, centre=centre)
    return out
