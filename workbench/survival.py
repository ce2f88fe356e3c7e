"""Survival analysis that agrees with R's survival package.

Kaplan-Meier, the log-rank test and the Aalen-Johansen estimator are computed here from
at-risk and event counts (vectorised numpy), because lifelines differs from R where it matters
for us: it counts a subject entering at t as at risk at t (R does not), and its Aalen-Johansen
fitter breaks tied times by random jitter. Cox models (with robust variances and the
proportional-hazards test) and the Fine-Gray model live in ``workbench.survival_regression`` and
are offered here too (``survival.cox``, ``survival.fine_gray``). Every estimate is checked
against R in ``tests/test_survival_vs_r.py`` and ``tests/test_survival_robust_vs_r.py``, with
the R scripts and their output committed in ``tests/reference/survival/`` and
``tests/reference/survival_robust/``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from workbench._survival_base import SurvivalDataError, _check
from workbench.params import ALPHA, FRAME, Options, Predicate, check, validate_params
from workbench.survival_regression import (EVENTS_PER_PARAMETER, CoxConvergenceWarning, CoxFitError, CoxModel,
                                           FineGrayModel, SparseDataWarning, cox, fine_gray)

__all__ = ["EVENTS_PER_PARAMETER", "CoxConvergenceWarning", "CoxFitError", "CoxModel", "FineGrayModel",
           "SparseDataWarning", "SurvivalDataError", "cox",
           "competing_summary", "cumulative_incidence", "fine_gray", "km", "km_summary", "logrank", "logrank_pairwise"]

_TOL = np.sqrt(np.finfo(float).eps)  # R's tolerance for "the curve equals p"


# --- Kaplan-Meier ---------------------------------------------------------------------------

def _km_counts(time: np.ndarray, event: np.ndarray, entry: np.ndarray | None):
    """Distinct times with at-risk, event and censoring counts (R's counting, delayed entry too)."""
    times, inverse = np.unique(time, return_inverse=True)
    d = np.bincount(inverse, weights=event, minlength=len(times))
    c = np.bincount(inverse, minlength=len(times)) - d
    exits_before = np.searchsorted(np.sort(time), times, side="left")           # time < t
    if entry is None:
        n = len(time) - exits_before
    else:
        entered_before = np.searchsorted(np.sort(entry), times, side="left")   # entry < t
        n = entered_before - exits_before
    return times, n.astype(float), d, c


def _km_curve(n, d, ci, alpha):
    with np.errstate(divide="ignore", invalid="ignore"):
        surv = np.cumprod(np.where(n > 0, 1 - d / n, 1.0))
        se = np.sqrt(np.cumsum(np.where(n > d, d / (n * (n - d)), np.where(d > 0, np.inf, 0.0))))
        z = stats.norm.ppf(1 - alpha / 2)
        if ci == "log":
            low = np.exp(np.log(surv) - z * se)
            high = np.minimum(np.exp(np.log(surv) + z * se), 1.0)
            low = np.where(surv == 0, np.nan, low)
            high = np.where(surv == 0, np.nan, high)
        elif ci == "log-log":
            x = np.where((surv == 0) | (surv == 1), np.nan, surv)
            # log(-log S) +/- z se / |log S|; log S < 0, so the lower limit of S takes "- z se / log S"
            low = np.exp(-np.exp(np.log(-np.log(x)) - z * se / np.log(x)))
            high = np.exp(-np.exp(np.log(-np.log(x)) + z * se / np.log(x)))
        else:
            check("km", "ci", ci, CI)
    # R gives no interval where the standard error is 0 (before the first event) or infinite
    low = np.where(se == 0, np.where(surv == 1, 1.0 if ci == "log" else np.nan, low), low)
    high = np.where(se == 0, np.where(surv == 1, 1.0 if ci == "log" else np.nan, high), high)
    return surv, np.where(np.isfinite(se), low, np.nan), np.where(np.isfinite(se), high, np.nan)


#: The transform of the Kaplan-Meier interval.
CI = Options("log-log", "log")


def _groups(data: pd.DataFrame, group: str | None):
    if group is None:
        return [(None, data)]
    return list(data.groupby(group, sort=True, observed=True))


@validate_params({"data": FRAME, "ci": CI, "alpha": ALPHA})
def km(data: pd.DataFrame, *, duration: str, event: str, group: str | None = None, entry: str | None = None,
       ci: str = "log-log", alpha: float = 0.05) -> pd.DataFrame:
    """Kaplan-Meier estimate, one row per distinct time (events or censorings) per group.

    Parameters
    ----------
    data : DataFrame
        One row per subject.
    duration, event : str
        Columns: time of exit (days) and 1 = event, 0 = censored.
    group : str, optional
        Column of the groups to estimate separately.
    entry : str, optional
        Column of delayed-entry times (left truncation): a subject entering at ``t`` is not at
        risk at ``t``, as in R's ``Surv(entry, time, event)``.
    ci : {"log-log", "log"}
        The confidence interval, as R's ``conf.type``; ``"log"`` is R's default.
    alpha : float
        1 - confidence level.

    Returns
    -------
    DataFrame
        ``group`` (when grouped), ``time``, ``at_risk``, ``events``, ``censored``,
        ``survival``, ``ci_low``, ``ci_high`` (NaN where R gives NA). ``attrs`` has ``ci`` and
        ``alpha``.

    Notes
    -----
    Greenwood variance; intervals as R's ``survfit`` (survival 3.x). Checked against
    ``summary(survfit(Surv(time, event) ~ group, conf.type=...), censored=TRUE)``.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"days": [2, 3, 3, 5, 8, 8], "died": [1, 1, 0, 1, 0, 0]})
    >>> km(d, duration="days", event="died")[["time", "at_risk", "events", "survival"]]
       time  at_risk  events  survival
    0     2        6       1  0.833333
    1     3        5       1  0.666667
    2     5        3       1  0.444444
    3     8        2       0  0.444444
    """
    _check(data, duration=duration, event=event, entry=entry, group=group)
    parts = []
    for label, part in _groups(data, group):
        times, n, d, c = _km_counts(part[duration].to_numpy(float), part[event].to_numpy(float),
                                    None if entry is None else part[entry].to_numpy(float))
        surv, low, high = _km_curve(n, d, ci, alpha)
        frame = pd.DataFrame({"time": times, "at_risk": n.astype(np.int64), "events": d.astype(np.int64),
                              "censored": c.astype(np.int64), "survival": surv, "ci_low": low, "ci_high": high})
        if entry is not None:
            frame = frame[frame["at_risk"] > 0]
        if group is not None:
            frame.insert(0, "group", label)
        parts.append(frame)
    out = pd.concat(parts, ignore_index=True)
    if np.issubdtype(data[duration].dtype, np.integer):
        out["time"] = out["time"].astype(data[duration].dtype)
    out.attrs.update(ci=ci, alpha=alpha)
    return out


def _quantile(times: np.ndarray, curve: np.ndarray, p: float) -> float:
    """R's rule: the first time the curve is below p; if it sits exactly at p, the midpoint to
    the next time it drops."""
    ok = ~np.isnan(curve)
    times, curve = times[ok], curve[ok]
    below = np.flatnonzero(curve < p - _TOL)
    at = np.flatnonzero(np.abs(curve - p) < _TOL)
    if len(at) and (not len(below) or at[0] < below[0]):
        return float((times[at[0]] + times[below[0]]) / 2) if len(below) else float(times[at[0]])
    return float(times[below[0]]) if len(below) else float("nan")


@validate_params({"data": FRAME, "ci": CI, "alpha": ALPHA})
def km_summary(data: pd.DataFrame, *, duration: str, event: str, group: str | None = None,
               entry: str | None = None, ci: str = "log-log", alpha: float = 0.05) -> pd.DataFrame:
    """Subjects, events and median survival time with its confidence interval, per group.

    Returns
    -------
    DataFrame
        ``group`` (when grouped), ``n``, ``events``, ``median``, ``ci_low``, ``ci_high``
        (NaN when the curve, or its confidence limit, never reaches 0.5), as R's
        ``summary(survfit(...))$table``.
    """
    table = km(data, duration=duration, event=event, group=group, entry=entry, ci=ci, alpha=alpha)
    rows = []
    for label, part in (table.groupby("group", sort=True) if group is not None else [(None, table)]):
        sub = data if group is None else data[data[group] == label]
        changes = part[part["events"] > 0]
        t = changes["time"].to_numpy(float)
        row = {"n": len(sub), "events": int(part["events"].sum()),
               "median": _quantile(t, changes["survival"].to_numpy(), 0.5),
               "ci_low": _quantile(t, changes["ci_low"].to_numpy(), 0.5),
               "ci_high": _quantile(t, changes["ci_high"].to_numpy(), 0.5)}
        rows.append({"group": label, **row} if group is not None else row)
    out = pd.DataFrame(rows)
    out.attrs.update(ci=ci, alpha=alpha)
    return out


# --- log-rank -------------------------------------------------------------------------------

def _logrank_stat(time: np.ndarray, event: np.ndarray, codes: np.ndarray, k: int) -> tuple[float, int]:
    times, inverse = np.unique(time, return_inverse=True)
    m = len(times)
    d_g = np.zeros((m, k))
    np.add.at(d_g, (inverse, codes), event)
    exits = np.zeros((m, k))
    np.add.at(exits, (inverse, codes), 1)
    return logrank_from_tables(d_g, exits)


def logrank_from_tables(d_g: np.ndarray, exits: np.ndarray) -> tuple[float, int]:
    """The log-rank chi-square and its degrees of freedom from events and exits per distinct time
    (rows, ascending) and group (columns), as R's ``survdiff``: groups with no expected events
    (nobody at risk at any event time) are left out, and the degrees of freedom are the groups
    left minus one; with fewer than two left the statistic is 0 (R: ``chisq`` 0).

    Examples
    --------
    >>> import numpy as np
    >>> d = np.array([[1., 0.], [0., 1.], [1., 0.]]); exits = np.array([[1., 1.], [0., 1.], [2., 0.]])
    >>> statistic, dof = logrank_from_tables(d, exits)  # R survdiff: chisq 0.1538462 on 1 df
    >>> round(statistic, 7), dof
    (0.1538462, 1)
    >>> logrank_from_tables(np.zeros((2, 2)), np.ones((2, 2)))  # no events at all
    (0.0, -1)
    """
    n_g = exits[::-1].cumsum(axis=0)[::-1]              # at risk: time >= t
    d, n = d_g.sum(axis=1), n_g.sum(axis=1)
    keep = d > 0
    d_g, n_g, d, n = d_g[keep], n_g[keep], d[keep], n[keep]
    observed = d_g.sum(axis=0)
    expected = (n_g * (d / n)[:, None]).sum(axis=0)
    w = np.where(n > 1, d * (n - d) / (n * n * np.maximum(n - 1, 1)), 0.0)
    var = np.diag((w[:, None] * n_g * n[:, None]).sum(axis=0)) - (w[:, None, None] * n_g[:, :, None] * n_g[:, None, :]).sum(axis=0)
    used = expected > 0
    dof = int(used.sum()) - 1
    if dof < 1:
        return 0.0, dof
    diff = (observed - expected)[used][:-1]
    statistic = float(diff @ np.linalg.solve(var[np.ix_(used, used)][:-1, :-1], diff))
    return statistic, dof


def logrank_p_value(statistic: float, dof: int) -> float:
    """The chi-square upper tail as R's ``pchisq(chisq, df, lower.tail = FALSE)``: 1 on 0
    degrees of freedom, NaN on fewer (no events at all)."""
    if dof < 0:
        return float("nan")
    if dof == 0:
        return 1.0
    return float(stats.chi2.sf(statistic, dof))


@validate_params({"data": FRAME})
def logrank(data: pd.DataFrame, *, duration: str, event: str, group: str) -> pd.DataFrame:
    """Log-rank test of equal survival across groups, as R's ``survdiff``.

    Returns
    -------
    DataFrame
        One row: ``statistic`` (chi-square), ``dof``, ``p_value``. As R's ``survdiff``, a group
        nobody of which is at risk at an event time is left out of the test and of ``dof``; with
        no events at all ``statistic`` is 0, ``dof`` -1 and ``p_value`` NaN.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"days": [1, 2, 3, 4, 5, 6], "event": [1, 1, 1, 1, 1, 0], "arm": list("aabbab")})
    >>> logrank(d, duration="days", event="event", group="arm").round(4)  # R survdiff: 0.899, p 0.343
       statistic  dof  p_value
    0      0.899    1    0.343
    """
    _check(data, duration=duration, event=event, group=group)
    codes, labels = pd.factorize(data[group], sort=True)
    if len(labels) < 2:
        raise ValueError(f"The 'group' column {group!r} must have at least 2 groups. Got {list(labels)}.")
    statistic, dof = _logrank_stat(data[duration].to_numpy(float), data[event].to_numpy(float), codes, len(labels))
    return pd.DataFrame({"statistic": [statistic], "dof": [dof], "p_value": [logrank_p_value(statistic, dof)]})


@validate_params({"data": FRAME, "correction": Options("holm", "bonferroni")})
def logrank_pairwise(data: pd.DataFrame, *, duration: str, event: str, group: str,
                     correction: str = "holm") -> pd.DataFrame:
    """Log-rank test for every pair of groups with a multiplicity correction (``holm``, ``bonferroni``).

    Returns
    -------
    DataFrame
        ``group_a, group_b, statistic, p_value, p_adjusted`` (as R's ``p.adjust``).
    """
    _check(data, duration=duration, event=event, group=group)
    labels = sorted(data[group].unique())
    rows = []
    for i, a in enumerate(labels):
        for b in labels[i + 1:]:
            pair = data[data[group].isin([a, b])]
            result = logrank(pair, duration=duration, event=event, group=group).iloc[0]
            rows.append({"group_a": a, "group_b": b, "statistic": result["statistic"], "p_value": result["p_value"]})
    out = pd.DataFrame(rows)
    all_p = out["p_value"].to_numpy(dtype=float)
    known = ~np.isnan(all_p)  # as R's p.adjust: a NaN p (a pair without events) is left out of m
    p = all_p[known]
    m = len(p)
    if correction == "bonferroni":
        adjusted = np.minimum(p * m, 1.0)
    else:
        order = np.argsort(p)
        stepped = np.maximum.accumulate((m - np.arange(m)) * p[order])
        adjusted = np.empty(m)
        adjusted[order] = np.minimum(stepped, 1.0)
    out["p_adjusted"] = np.nan
    out.loc[known, "p_adjusted"] = adjusted
    out.attrs["correction"] = correction
    return out


# --- Aalen-Johansen -------------------------------------------------------------------------

@validate_params({"data": FRAME, "alpha": ALPHA})
def cumulative_incidence(data: pd.DataFrame, *, duration: str, event: str, cause, group: str | None = None,
                         alpha: float = 0.05) -> pd.DataFrame:
    """Cumulative incidence of one cause with competing causes (Aalen-Johansen), exact with ties.

    ``event`` holds 0 for censored and a cause code otherwise. The interval is R's default for
    multi-state curves (``survfit``, log transform) with the infinitesimal-jackknife variance.

    Returns
    -------
    DataFrame
        ``group`` (when grouped), ``time``, ``cif``, ``ci_low``, ``ci_high`` at every distinct
        time.
    """
    causes = sorted(set(pd.to_numeric(data[event], errors="coerce").dropna().unique()) - {0})
    _check(data, duration=duration, event=event, group=group, binary=False)
    check("cumulative_incidence", "cause", cause,
          Predicate(lambda c: c in causes, f"one of the causes in the data {causes}"))
    z = stats.norm.ppf(1 - alpha / 2)
    parts = []
    for label, part in _groups(data, group):
        t = part[duration].to_numpy(float)
        e = part[event].to_numpy(float)
        times, inverse = np.unique(t, return_inverse=True)
        m, n_subj = len(times), len(t)
        d_all = np.bincount(inverse, weights=(e != 0).astype(float), minlength=m)
        d_k = np.bincount(inverse, weights=(e == cause).astype(float), minlength=m)
        n = n_subj - np.searchsorted(np.sort(t), times, side="left")
        hazard_all, hazard_k = d_all / n, d_k / n
        surv = np.cumprod(1 - hazard_all)
        surv_before = np.concatenate([[1.0], surv[:-1]])
        cif = np.cumsum(surv_before * hazard_k)
        # infinitesimal jackknife: influence of each subject on the curve at each time
        at_risk = t[:, None] >= times[None, :]
        died = (inverse[:, None] == np.arange(m)[None, :])
        dn_all = died & (e != 0)[:, None]
        dn_k = died & (e == cause)[:, None]
        infl_a_all = (dn_all - at_risk * hazard_all) / n
        infl_a_k = (dn_k - at_risk * hazard_k) / n
        with np.errstate(divide="ignore", invalid="ignore"):
            step = np.where(1 - hazard_all > 0, infl_a_all / (1 - hazard_all), 0.0)
        infl_s = -surv * np.cumsum(step, axis=1)
        infl_s_before = np.concatenate([np.zeros((n_subj, 1)), infl_s[:, :-1]], axis=1)
        infl_cif = np.cumsum(infl_s_before * hazard_k + surv_before * infl_a_k, axis=1)
        se = np.sqrt((infl_cif ** 2).sum(axis=0))
        with np.errstate(divide="ignore", invalid="ignore"):
            low = np.where(cif > 0, np.exp(np.log(cif) - z * se / cif), np.nan)
            high = np.where(cif > 0, np.minimum(np.exp(np.log(cif) + z * se / cif), 1.0), np.nan)
        frame = pd.DataFrame({"time": times, "cif": cif, "ci_low": low, "ci_high": high})
        if group is not None:
            frame.insert(0, "group", label)
        parts.append(frame)
    out = pd.concat(parts, ignore_index=True)
    out.attrs.update(cause=cause, alpha=alpha)
    return out


def _causes_ok(value) -> bool:
    return isinstance(value, dict) and len(value) > 0 and all(
        isinstance(k, (int, np.integer)) and not isinstance(k, bool) and k != 0 and isinstance(v, str) and v
        for k, v in value.items())


@validate_params({"data": FRAME, "alpha": ALPHA,
                  "causes": Predicate(_causes_ok, "a dict of cause code (a whole number, not 0) -> name, "
                                                  "e.g. {1: 'dropout', 2: 'death', 3: 'completed'}")})
def competing_summary(data: pd.DataFrame, *, duration: str, event: str, causes: dict, group: str | None = None,
                      at: float | None = None, alpha: float = 0.05) -> pd.DataFrame:
    """How follow-up ended, per group and cause: counts, crude shares and the cumulative incidence
    at a time, with every way of leaving counted as its own outcome (Aalen-Johansen).

    Treating a competing outcome (care completed, death) as censoring pretends those people could
    still have the event of interest later: one minus Kaplan-Meier then overstates it, and a
    "still in care" curve falls to zero as if everyone had dropped out. Here each cause has its own
    cumulative incidence; together with the share still under observation they add up to one.

    Parameters
    ----------
    data : DataFrame
        One row per subject.
    duration, event : str
        Columns of follow-up time and outcome: 0 = censored, else a cause code.
    causes : dict
        Cause code -> name, for every code in ``event`` but 0 (a code not named is an error).
    group : str, optional
        A grouping column.
    at : float, optional
        The time at which to read the cumulative incidence (default: the last time in each group).
    alpha : float
        1 - the confidence level of the intervals (the log-transformed interval of
        :func:`cumulative_incidence`, as R's ``survfit``).

    Returns
    -------
    DataFrame
        ``group`` (when grouped), ``cause`` (its name), ``code``, ``n`` (subjects in the group),
        ``events`` (of this cause, by ``at`` when given), ``crude`` (events / n), ``cif``,
        ``ci_low``, ``ci_high`` (at ``at``), then a row per group with cause ``"none_yet"``: ``events``
        = those censored or still under observation at ``at``, ``cif`` = 1 - the sum of the
        causes' (the estimated share with no outcome yet; no interval).

    Examples
    --------
    >>> d = pd.DataFrame({"t": [1, 2, 3, 4, 5, 6, 7, 8], "e": [1, 3, 0, 1, 3, 1, 0, 3]})
    >>> out = competing_summary(d, duration="t", event="e", causes={1: "dropout", 3: "completed"})
    >>> out[["cause", "events", "crude", "cif"]].round(3).values.tolist()
    [['dropout', 3, 0.375, 0.425], ['completed', 3, 0.375, 0.575], ['none_yet', 2, 0.25, 0.0]]
    """
    codes = sorted(set(pd.to_numeric(data[event], errors="coerce").dropna().unique()) - {0})
    unnamed = [c for c in codes if c not in causes]
    if unnamed:
        rows = data.index[data[event].isin(unnamed)]
        raise SurvivalDataError([(i, event, data.at[i, event], f"is a cause code without a name in causes {sorted(causes)}")
                                 for i in rows])
    out = []
    for label, part in _groups(data, group):
        time, ev = part[duration].to_numpy(float), part[event].to_numpy(float)
        horizon = float(np.max(time)) if at is None else float(at)
        total = 0.0
        for code, name in causes.items():
            count = int(((ev == code) & (time <= horizon)).sum())
            row = {"cause": name, "code": code, "n": len(part), "events": count, "crude": count / len(part),
                   "cif": 0.0, "ci_low": np.nan, "ci_high": np.nan}
            if (ev == code).any():  # a cause absent from this group has incidence 0 here
                curve = cumulative_incidence(part, duration=duration, event=event, cause=code, alpha=alpha)
                upto = curve[curve["time"] <= horizon]
                if len(upto):
                    row.update(upto.iloc[-1][["cif", "ci_low", "ci_high"]].to_dict())
            total += row["cif"]
            out.append({"group": label, **row} if group is not None else row)
        still = int((time > horizon).sum() + ((ev == 0) & (time <= horizon)).sum())
        row = {"cause": "none_yet", "code": 0, "n": len(part), "events": still, "crude": still / len(part),
               "cif": max(0.0, 1.0 - total), "ci_low": np.nan, "ci_high": np.nan}
        out.append({"group": label, **row} if group is not None else row)
    frame = pd.DataFrame(out)
    frame.attrs.update(alpha=alpha, at=at)
    return frame
