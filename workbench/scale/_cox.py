"""Cox regression over a partitioned cohort, from counts aggregated by covariate pattern and time.

With covariates that take few values (0/1 flags, categories coded 0/1, age groups), everything
a proportional-hazards fit needs is the number of events and of exits per covariate pattern
and distinct time. Every partition counts its own; the counts are summed; the model is fitted
on the client from the summed table, whose size grows with patterns x distinct times, not rows.

Two fits from the same counts:

- ``"efron"``: the Cox partial likelihood with Efron's ties (R's and lifelines' default), from
  the risk sets rebuilt per pattern. Exact: the same likelihood as the full fit.
- ``"poisson"``: the piecewise-exponential model (a constant baseline hazard within each time
  interval, a Poisson model for the events with log person-time as offset; Holford 1980,
  Laird & Olivier 1981). Approximate: how close it is depends on the intervals; its baseline
  hazards are a by-product. The interval parameters are profiled out, so the fit is a Newton
  iteration on the covariates alone and its standard errors are those of the full Poisson GLM.
"""

from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from workbench._errors import RowProblemsError
from workbench.scale._compute import ScaleDataError, aggregate, as_dask, problems_of, sum_tables
from workbench.params import ALPHA, Options, Predicate, validate_params
from workbench.survival_regression import (FG_METHODS, TRANSFORMS, FineGrayModel, _fit_cox, _fit_fine_gray,
                                           _model_frame, _no_fit)

METHODS = ("efron", "poisson")
MAX_ITERATIONS = 100
TOLERANCE = 1e-10


class AggregateCoxModel:
    """A proportional-hazards model fitted from aggregated counts (:func:`cox`).

    Attributes
    ----------
    summary : DataFrame
        Indexed by covariate: ``coef, se, hr, hr_ci_low, hr_ci_high, z, p_value``, as
        :class:`workbench.survival.CoxModel`; ``attrs`` has ``alpha`` and ``method``.
    method : str
        ``"efron"`` or ``"poisson"``.
    counts : DataFrame
        The summed counts the fit used: covariates, ``time``, ``events``, ``exits``.
    baseline : DataFrame or None
        Poisson only: ``start, end`` (interval ``(start, end]`` in days), ``events``,
        ``person_time`` and ``hazard`` (events per day with every covariate 0).
    log_likelihood_ : float
        Efron: the partial log-likelihood (as R's ``coxph``); Poisson: the profile
        log-likelihood, up to a constant.
    n, events, patterns, iterations : int
    """

    def __init__(self, *, summary, method, counts, baseline, log_likelihood, n, events, patterns, iterations,
                 model=None):
        self.summary, self.method, self.counts, self.baseline = summary, method, counts, baseline
        self.log_likelihood_, self.n, self.events = log_likelihood, n, events
        self.patterns, self.iterations = patterns, iterations
        self._model = model

    @validate_params({"transform": TRANSFORMS})
    def ph_test(self, transform: str = "km") -> pd.DataFrame:
        """The proportional-hazards test of :meth:`workbench.survival.CoxModel.ph_test` (R's
        ``cox.zph``), exact from the counts. Efron only: the Poisson fit has no partial
        likelihood to add ``x g(t)`` to."""
        if self._model is None:
            raise ScaleDataError([(None, "method", self.method, "ph_test needs method='efron' (the partial "
                                   "likelihood of R's cox.zph)")])
        return self._model.ph_test(transform)

    def _repr_html_(self) -> str:
        return (f"<p>Cox model from aggregated counts ({self.method}): {self.n:,} subjects, {self.events:,} "
                f"events, {self.patterns:,} covariate patterns</p>" + self.summary.to_html(float_format=lambda v: f"{v:.4g}"))

    def __repr__(self) -> str:
        return (f"AggregateCoxModel(method={self.method!r}, n={self.n}, events={self.events}, "
                f"covariates={list(self.summary.index)})")


def _partition_counts(frame: pd.DataFrame, number: int, *, duration: str, event: str, covariates: list[str],
                      max_patterns: int, cluster: str | None = None, entry: str | None = None, causes: bool = False):
    """Per (pattern[, cluster][, entry], time): ``events`` and ``exits`` (Cox), or per
    (pattern[, cluster], time, status): ``subjects`` (``causes``: Fine-Gray)."""
    try:
        _model_frame(frame, duration=duration, event=event, covariates=covariates, entry=entry, cluster=cluster,
                     binary=not causes)
    except RowProblemsError as err:
        return None, problems_of(err, number)
    table = pd.DataFrame({c: pd.to_numeric(frame[c]).to_numpy(float) for c in covariates})
    distinct = table.drop_duplicates()
    if len(distinct) > max_patterns:
        counts = {c: int(table[c].nunique()) for c in covariates}
        worst = max(counts, key=counts.get)
        return None, [((number, None), worst, counts[worst],
                       f"makes {len(distinct):,} covariate patterns in this partition, more than max_patterns "
                       f"({max_patterns:,}): bin it (e.g. age groups coded 0/1) for an aggregated fit "
                       f"(distinct values per covariate: {counts})")]
    keys = [*covariates]
    if cluster is not None:
        table[cluster] = frame[cluster].to_numpy()
        keys.append(cluster)
    if entry is not None:
        table["entry"] = pd.to_numeric(frame[entry]).to_numpy(float)
        keys.append("entry")
    table["time"] = pd.to_numeric(frame[duration]).to_numpy(float)
    if causes:
        table["status"] = pd.to_numeric(frame[event]).to_numpy(float)
        table["subjects"] = np.ones(len(frame), dtype=np.int64)
        return table.groupby([*keys, "time", "status"], sort=False).sum().reset_index(), []
    table["events"] = pd.to_numeric(frame[event]).to_numpy(float)
    table["exits"] = np.ones(len(frame), dtype=np.int64)
    return table.groupby([*keys, "time"], sort=False).sum().reset_index(), []


def _fit(x: np.ndarray, weight: np.ndarray, risk: np.ndarray, deaths: np.ndarray):
    """Newton-Raphson for beta of the piecewise-exponential model with the interval hazards
    profiled out. ``risk`` and ``deaths`` are intervals x patterns: person-time and events.
    Returns beta, covariance, log-likelihood and iterations."""
    x = x - (weight @ x) / weight.sum()              # centring changes the baseline only
    q = x.shape[1]
    xx = (x[:, :, None] * x[:, None, :]).reshape(len(x), q * q)
    d = deaths.sum(axis=1)
    keep = d > 0
    risk, deaths, d = risk[keep], deaths[keep], d[keep]
    x_events = deaths.sum(axis=0) @ x

    def terms(beta):
        w = np.exp(x @ beta)
        s0, s1, s2 = risk @ w, risk @ (w[:, None] * x), (risk @ (w[:, None] * xx)).reshape(-1, q, q)
        loglik = float(x_events @ beta - (d * np.log(s0)).sum())
        grad = x_events - (s1 * (d / s0)[:, None]).sum(axis=0)
        info = ((s2 * (d / s0)[:, None, None]).sum(axis=0)
                - np.einsum("t,ti,tj->ij", d / s0 ** 2, s1, s1))
        return loglik, grad, info

    beta = np.zeros(q)
    loglik, grad, info = terms(beta)
    for iteration in range(1, MAX_ITERATIONS + 1):
        step = np.linalg.solve(info, grad)
        for _ in range(30):                              # halve the step while it lowers the likelihood
            new = terms(beta + step)
            if new[0] >= loglik - 1e-12 * abs(loglik):
                break
            step = step / 2
        beta = beta + step
        loglik, grad, info = new
        if np.max(np.abs(step)) < TOLERANCE:
            break
    else:
        warnings.warn(f"The aggregated Cox fit did not converge in {MAX_ITERATIONS} iterations; the estimates "
                      "may be unreliable (a covariate that separates events may have an infinite coefficient).",
                      RuntimeWarning, stacklevel=3)
    return beta, np.linalg.inv(info), loglik, iteration


def _intervals_ok(value) -> bool:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return value >= 1
    cuts = np.asarray(value, dtype=float)
    return cuts.ndim == 1 and not np.any(cuts <= 0) and not np.any(np.diff(cuts) <= 0)


#: Poisson's intervals: how many, or where they are cut.
INTERVALS = Predicate(_intervals_ok, "an int >= 1 or increasing cut points in days (> 0)")


def _breaks(times: np.ndarray, events: np.ndarray, intervals) -> np.ndarray:
    """The cut points of ``intervals`` (checked by :data:`INTERVALS`)."""
    if isinstance(intervals, (int, np.integer)) and not isinstance(intervals, bool):
        at = times[events > 0]
        cumulative = np.cumsum(events[events > 0])
        if not len(at):
            return np.array([])
        targets = cumulative[-1] * np.arange(1, intervals) / intervals
        return np.unique(at[np.searchsorted(cumulative, targets, side="left")])
    return np.asarray(intervals, dtype=float)


def _person_time(codes: np.ndarray, times: np.ndarray, events: np.ndarray, exits: np.ndarray, n_patterns: int,
                 breaks: np.ndarray):
    """Person-time and events per interval (0, b1], (b1, b2], ..., (b_last, inf) and pattern."""
    k = len(breaks) + 1
    lower = np.concatenate([[0.0], breaks])
    interval = np.searchsorted(breaks, times, side="left")
    partial = np.zeros((k, n_patterns))
    leaving = np.zeros((k, n_patterns))
    deaths = np.zeros((k, n_patterns))
    np.add.at(partial, (interval, codes), exits * (times - lower[interval]))
    np.add.at(leaving, (interval, codes), exits)
    np.add.at(deaths, (interval, codes), events)
    later = leaving[::-1].cumsum(axis=0)[::-1] - leaving          # exits in later intervals
    width = np.concatenate([np.diff(lower), [0.0]])                # nobody leaves after the last one
    return partial + later * width[:, None], deaths, lower, np.concatenate([breaks, [np.inf]])


@validate_params({"covariates": Predicate(lambda v: not isinstance(v, (str, bytes)) and iter(v) is not v
                                         and len(list(v)) > 0, "a non-empty list of columns"),
                  "method": Options(*METHODS), "intervals": INTERVALS, "alpha": ALPHA})
def cox(data, *, duration: str, event: str, covariates: Sequence[str], method: str = "efron",
        intervals: int | Sequence[float] = 20, entry: str | None = None, cluster: str | None = None,
        robust: bool = False, alpha: float = 0.05, max_patterns: int = 10_000, client=None) -> AggregateCoxModel:
    """Fit a proportional-hazards model over a partitioned cohort from aggregated counts.

    Parameters
    ----------
    data : dask DataFrame, pandas DataFrame or path of a Parquet dataset
        One row per subject.
    duration, event : str
        As in :func:`workbench.survival.cox`.
    covariates : sequence of str
        Numeric columns (0/1 flags, categories coded as 0/1 columns, banded values) with few
        distinct combinations: the counts are kept per combination (pattern).
    method : {"efron", "poisson"}
        ``"efron"``: the Cox partial likelihood with Efron's ties, exact (the same estimates
        as :func:`workbench.survival.cox` on the same rows). ``"poisson"``: the
        piecewise-exponential Poisson model, approximate, with baseline hazards.
    intervals : int or sequence of float
        Poisson only: the number of intervals, cut where equal shares of the events have
        happened, or the cut points in days (intervals ``(0, b1], (b1, b2], ..., (b_last, inf)``).
    entry : str, optional
        Efron only: delayed entry, as :func:`workbench.survival.cox` (the counts are kept per
        entry day too).
    cluster : str, optional
        Efron only: the cluster-robust variance of :func:`workbench.survival.cox` (R's
        ``coxph(cluster = )``), exact from counts kept per pattern, cluster and time: subjects
        with the same pattern, time and outcome have the same score residual, so each
        cluster's sum is a sum over its counts. Few clusters (communities) keep the table
        small; one per household makes it nearly as long as the cohort.
    robust : bool
        Efron only: the robust variance with each subject its own cluster (R's
        ``robust = TRUE``), exact from the same counts.
    alpha : float
        1 - confidence level of the hazard-ratio intervals.
    max_patterns : int
        Most covariate patterns a partition may have; more is refused with the covariate with
        the most distinct values named (bin it first).
    client : distributed.Client, str or None
        A client, a scheduler address, or None for Dask's current default.

    Returns
    -------
    AggregateCoxModel
        ``summary`` with the columns of :class:`workbench.survival.CoxModel`'s (``robust_se``
        too when asked for); Efron's has ``ph_test(transform)``, equal to R's ``cox.zph``.

    Raises
    ------
    ScaleDataError
        Every bad row (as ``(partition, label)``), column, value and rule, or too many patterns.

    Notes
    -----
    Efron: the counts become rows that each stand for their number of identical subjects, and
    the fit is :func:`workbench.survival.cox`'s own (``workbench._coxph``): at each distinct
    event time ``t`` with ``d`` events the log-likelihood adds ``sum(x_i b over the events) -
    sum_{l<d} log(S0 - l/d D0)`` where ``S0`` sums ``n_p(t) exp(x_p b)`` over patterns at risk;
    the same sums give the score, the information, the score residuals (robust variances) and
    the proportional-hazards test. Poisson: the
    interval hazards are profiled out (``exp(a_k) = D_k / sum_p T_pk exp(x_p b)``), leaving
    Breslow's form with person-time ``T_pk`` in place of the risk set; its information is the
    full GLM's for the covariates. Checked against the subject-level fit (Efron, to 1e-7) and
    statsmodels' Poisson GLM (to 1e-8) in ``tests/test_scale_cox.py``; the Poisson fit's distance from the
    full Cox fit is measured in ``benchmarks/bench_scale.py``.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"t": [5, 8, 3, 9, 12, 4, 7, 10], "e": [1, 1, 1, 0, 1, 1, 0, 1],
    ...                   "treated": [0, 1, 0, 1, 1, 0, 1, 0]})
    >>> model = cox(d, duration="t", event="e", covariates=["treated"])
    >>> model.summary.loc["treated", ["coef", "se"]].round(4).tolist()  # R coxph (Efron): -1.8562, se 1.1358
    [-1.8562, 1.1358]
    """
    covariates = list(covariates)
    if method == "poisson" and (cluster is not None or robust):
        raise ScaleDataError([(None, cluster or "robust", None, "robust variances are computed for method='efron' "
                               "(the partial likelihood, as R's coxph); the Poisson fit has none")])
    if method == "poisson" and entry is not None:
        raise ScaleDataError([(None, entry, None, "delayed entry is taken by method='efron'; the Poisson fit's "
                               "person-time starts at 0")])
    ddf = as_dask(data, [duration, event, *covariates, *([cluster] if cluster else []), *([entry] if entry else [])])

    def per_partition(frame, number):
        return _partition_counts(frame, number, duration=duration, event=event, covariates=covariates,
                                 max_patterns=max_patterns, cluster=cluster, entry=entry)

    keys = [*covariates, *([cluster] if cluster else []), *(["entry"] if entry else []), "time"]
    counts = aggregate(ddf, per_partition, sum_tables(keys), client=client, context="the survival data")
    counts = counts.sort_values(keys, ignore_index=True)
    counts["events"] = counts["events"].round().astype(np.int64)
    codes, patterns = pd.MultiIndex.from_frame(counts[covariates]).factorize()
    x = np.array([list(p) for p in patterns], dtype=float).reshape(len(patterns), len(covariates))
    times = counts["time"].to_numpy(float)
    events = counts["events"].to_numpy(float)
    exits = counts["exits"].to_numpy(float)
    if method == "efron":
        _no_fit(counts["events"].sum(), counts[covariates], what=repr(event))
        # one row for the events and one for the censored of each pattern (and cluster) and time
        rows = np.concatenate([np.flatnonzero(events > 0), np.flatnonzero(exits - events > 0)])
        died = np.arange(len(rows)) < (events > 0).sum()
        groups = None
        if cluster is not None:
            cc = pd.factorize(counts[cluster], sort=True)[0]
            groups = (cc[rows], int(cc.max()) + 1)
        model = _fit_cox(x[codes[rows]], times[rows], died, counts=np.where(died, events[rows], (exits - events)[rows]),
                         entry=None if entry is None else counts["entry"].to_numpy(float)[rows], ties="efron", robust=robust or cluster is not None, cluster=groups, names=covariates,
                         alpha=alpha, labels=dict(duration=duration, event=event, entry=entry, strata=None,
                                                  cluster=cluster))
        summary = model.summary
        summary.attrs.update(method=method)
        return AggregateCoxModel(summary=summary, method=method, counts=counts, baseline=None,
                                 log_likelihood=model.log_likelihood_, n=int(exits.sum()), events=int(events.sum()),
                                 patterns=len(patterns), iterations=model.iterations, model=model)
    weight = np.bincount(codes, exits, len(patterns))
    per_time = counts.groupby("time", sort=True)["events"].sum()
    breaks = _breaks(per_time.index.to_numpy(float), per_time.to_numpy(float), intervals)
    person_time, deaths, start, end = _person_time(codes, times, events, exits, len(patterns), breaks)
    beta, cov, loglik, iterations = _fit(x, weight, person_time, deaths)
    exposure = person_time @ np.exp(x @ beta)
    with np.errstate(divide="ignore", invalid="ignore"):
        hazard = deaths.sum(axis=1) / exposure
    baseline = pd.DataFrame({"start": start, "end": end, "events": deaths.sum(axis=1).astype(np.int64),
                             "person_time": person_time.sum(axis=1), "hazard": hazard})
    se = np.sqrt(np.diag(cov))
    z = stats.norm.ppf(1 - alpha / 2)
    summary = pd.DataFrame({"coef": beta, "se": se, "hr": np.exp(beta), "hr_ci_low": np.exp(beta - z * se),
                            "hr_ci_high": np.exp(beta + z * se), "z": beta / se,
                            "p_value": 2 * stats.norm.sf(np.abs(beta / se))},
                           index=pd.Index(covariates, name="covariate"))
    summary.attrs.update(alpha=alpha, method=method)
    return AggregateCoxModel(summary=summary, method=method, counts=counts, baseline=baseline, log_likelihood=loglik,
                             n=int(exits.sum()), events=int(events.sum()), patterns=len(patterns),
                             iterations=iterations)


@validate_params({"covariates": Predicate(lambda v: not isinstance(v, (str, bytes)) and iter(v) is not v
                                         and len(list(v)) > 0, "a non-empty list of columns"),
                  "method": FG_METHODS, "ties": Options("efron", "breslow", None), "alpha": ALPHA})
def fine_gray(data, *, duration: str, event: str, cause, covariates: Sequence[str], method: str = "finegray",
              cluster: str | None = None, ties: str | None = None, alpha: float = 0.05, max_patterns: int = 10_000,
              client=None) -> FineGrayModel:
    """Fine-Gray regression over a partitioned cohort, exact from counts per covariate pattern,
    (cluster,) time and status: the same model as :func:`workbench.survival.fine_gray` on the
    same rows, estimates, robust variances and predictions alike.

    Every partition counts subjects per pattern, time and status; the sums give the censoring
    curve ``G``, the weighted risk sets and (subjects with the same pattern, time and status
    having the same influence) the sandwich variances, including crr's term for estimating ``G``.

    Parameters
    ----------
    data : dask DataFrame, pandas DataFrame or path of a Parquet dataset
    duration, event, cause, covariates, method, cluster, ties, alpha
        As :func:`workbench.survival.fine_gray` (covariates with few distinct combinations).
    max_patterns, client
        As :func:`cox`.

    Returns
    -------
    workbench.survival.FineGrayModel

    Raises
    ------
    ScaleDataError
        Every bad row (as ``(partition, label)``), column, value and rule, or too many patterns.
    """
    if method == "crr" and cluster is not None:
        raise ScaleDataError([(None, cluster, None, "cmprsk::crr has no clusters: use method='finegray' "
                               "for a variance clustered by community or household")])
    if method == "crr" and ties == "efron":
        raise ScaleDataError([(None, "ties", ties, "method='crr' uses Breslow's ties, as cmprsk::crr")])
    ties = ties or ("efron" if method == "finegray" else "breslow")
    covariates = list(covariates)
    ddf = as_dask(data, [duration, event, *covariates, *([cluster] if cluster else [])])

    def per_partition(frame, number):
        return _partition_counts(frame, number, duration=duration, event=event, covariates=covariates,
                                 max_patterns=max_patterns, cluster=cluster, causes=True)

    keys = [*covariates, *([cluster] if cluster else []), "time", "status"]
    counts = aggregate(ddf, per_partition, sum_tables(keys), client=client, context="the survival data")
    counts = counts.sort_values(keys, ignore_index=True)
    causes = sorted(set(counts["status"].unique()) - {0})
    if cause not in causes:
        raise ScaleDataError([(None, event, cause, f"is not a cause in the data: one of {causes}")])
    _no_fit(counts.loc[counts["status"] == cause, "subjects"].sum(), counts[covariates],
            what=f"{event!r} of cause {cause}")
    groups = None
    if cluster is not None:
        cc = pd.factorize(counts[cluster], sort=True)[0]
        groups = (cc, int(cc.max()) + 1)
    return _fit_fine_gray(counts[covariates].to_numpy(float), counts["time"].to_numpy(float),
                          counts["status"].to_numpy(float), counts=counts["subjects"].to_numpy(float), cause=cause,
                          method=method, ties=ties, cluster=groups, names=covariates, alpha=alpha,
                          duration=duration, event=event, cluster_name=cluster)
