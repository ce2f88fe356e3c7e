"""Cox and Fine-Gray regression, equal to R's ``coxph``, ``cox.zph``, ``finegray`` and
``cmprsk::crr``: the models behind ``workbench.survival.cox`` and ``workbench.survival.fine_gray``.

Fitted by ``workbench._coxph``, which follows R's ``coxph`` term by term in O(n log n). It
replaces lifelines' ``CoxPHFitter`` here, measured in ``benchmarks/results/survival_robust.md``:
lifelines' cluster-robust variance grows with n squared (32 s at 100,000 rows, R 4.4 s, ours
0.2 s), its proportional-hazards test is the older form (chi-squares about 5 % from R's current
``cox.zph``, no global test), and it has no Fine-Gray model.
"""

from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from workbench import _coxph
from workbench._survival_base import SurvivalDataError, _check
from workbench.params import ALPHA, FRAME, Options, Predicate, check, validate_params

__all__ = ["EVENTS_PER_PARAMETER", "CoxConvergenceWarning", "CoxFitError", "CoxModel", "FineGrayModel", "SparseDataWarning", "cox",
           "fine_gray"]


# --- Cox ------------------------------------------------------------------------------------

#: How tied event times enter the partial likelihood.
TIES = Options("efron", "breslow")
#: The time transform of the proportional-hazards test (R's ``cox.zph``).
TRANSFORMS = Options("km", "rank", "identity")


class CoxFitError(ValueError):
    """A Cox model that cannot be fitted (no events, or covariates with nothing to estimate)."""


CoxConvergenceWarning = _coxph.ConvergenceWarning

def _summary(beta, se, robust_se, names, alpha, *, ratio: str = "hr") -> pd.DataFrame:
    """coef, se, [robust_se], ratio and its interval, z and p; with a robust variance, z, p and
    the interval use it (as R's ``summary.coxph``)."""
    z = stats.norm.ppf(1 - alpha / 2)
    used = se if robust_se is None else robust_se
    columns = {"coef": beta, "se": se}
    if robust_se is not None:
        columns["robust_se"] = robust_se
    with np.errstate(over="ignore"):        # an infinite coefficient is warned about by the fit
        columns.update({ratio: np.exp(beta), f"{ratio}_ci_low": np.exp(beta - z * used),
                        f"{ratio}_ci_high": np.exp(beta + z * used), "z": beta / used,
                        "p_value": 2 * stats.norm.sf(np.abs(beta / used))})
    out = pd.DataFrame(columns, index=pd.Index(names, name="covariate"))
    out.attrs["alpha"] = alpha
    out.attrs["variance"] = "naive" if robust_se is None else "robust"
    return out


class CoxModel:
    """A fitted Cox proportional-hazards model (:func:`cox`), equal to R's ``coxph``.

    Attributes
    ----------
    summary : DataFrame
        Indexed by covariate: ``coef, se, hr, hr_ci_low, hr_ci_high, z, p_value``; with a robust
        variance (``robust=True`` or ``cluster=``) also ``robust_se``, which then gives ``z``,
        ``p_value`` and the interval (``se`` stays the model-based one), as R's ``summary``.
    coef_ : Series
    variance_ : DataFrame
        The variance used for inference: robust when asked for, else model-based.
    naive_variance_ : DataFrame
        The inverse of the information matrix.
    log_likelihood_, log_likelihood_null_ : float
        The log partial likelihood at the estimates and at zero (R's ``fit$loglik``).
    n, events, iterations : int
    converged : bool
    """

    def __init__(self, *, design, beta, var, robust_var, terms, iterations, loglik0, converged, names,
                 duration, event, entry, strata, cluster, ties, alpha):
        self._design, self._terms = design, terms
        self.duration, self.event, self.entry, self.strata = duration, event, entry, strata
        self.cluster, self.ties, self.alpha, self.covariates = cluster, ties, alpha, list(names)
        self.coef_ = pd.Series(beta, index=pd.Index(names, name="covariate"))
        self.naive_variance_ = pd.DataFrame(var, index=names, columns=names)
        used = var if robust_var is None else robust_var
        self.variance_ = pd.DataFrame(used, index=names, columns=names)
        self.summary = _summary(beta, np.sqrt(np.diag(var)),
                                None if robust_var is None else np.sqrt(np.diag(robust_var)), names, alpha)
        self.log_likelihood_, self.log_likelihood_null_ = terms.loglik, loglik0
        self.n, self.events = int(design.counts.sum()), int(design.counts @ design.event)
        self.iterations, self.converged = iterations, converged

    @validate_params({"transform": TRANSFORMS})
    def ph_test(self, transform: str = "km") -> pd.DataFrame:
        """Proportional-hazards check, equal to R's ``cox.zph(fit, transform)`` (survival 3.x).

        The score test, per covariate and globally, of adding ``covariate x g(t)`` to the
        model at its fitted coefficients, where ``g`` is the transformed time centred on its mean
        over the events: ``"km"`` one minus the pooled Kaplan-Meier curve just before ``t``,
        ``"rank"`` the rank of the time among all rows, ``"identity"`` the time itself. Efron or
        Breslow ties as fitted; strata keep their own risk sets; delayed entry and case weights
        as in the fit. O(n log n).

        Returns
        -------
        DataFrame
            Indexed by covariate and ``GLOBAL``: ``statistic`` (chi-square), ``dof``, ``p_value``.
        """
        d = self._design
        u, imat = _coxph.zph(d, self._terms, _ph_time(d, transform))
        p = d.p
        rows = []
        for j, name in enumerate(self.covariates):
            keep = list(range(p)) + [p + j]
            sub_u = np.concatenate([np.zeros(p), [u[p + j]]])
            rows.append((name, float(sub_u @ np.linalg.solve(imat[np.ix_(keep, keep)], sub_u)), 1))
        full_u = np.concatenate([np.zeros(p), u[p:]])
        rows.append(("GLOBAL", float(full_u @ np.linalg.solve(imat, full_u)), p))
        out = pd.DataFrame(rows, columns=["covariate", "statistic", "dof"]).set_index("covariate")
        out["p_value"] = stats.chi2.sf(out["statistic"], out["dof"])
        out.attrs["transform"] = transform
        return out

    def plot_forest(self, *, ax=None, lang: str = "en", names: dict | None = None, per: dict | None = None,
                    title: str = ""):
        """Forest plot of the hazard ratios (:func:`workbench.plots.forest_plot`): readable row
        names (``names``, else the workbench's zh/en words), ratios per ``per`` units
        (``{"age": 10}``: ``exp(10 coef)``), plain ticks on a log axis, a line at 1 and
        "HR (95% CI)" beside each row. Returns the axes."""
        from workbench._forest import forest_plot

        return forest_plot(self.summary, names=names, per=per, lang=lang, title=title, ax=ax)

    def _repr_html_(self) -> str:
        return self.summary.to_html(float_format=lambda v: f"{v:.4g}")

    def __repr__(self) -> str:
        return (f"CoxModel(n={self.n}, events={self.events}, covariates={self.covariates}, strata={self.strata}, "
                f"cluster={self.cluster!r}, variance={self.summary.attrs['variance']!r})")


def _ph_time(d, transform: str) -> np.ndarray:
    """``g(t)`` of ``cox.zph`` for each (sorted) row of a fit's design, centred on its mean over the
    events: the stop time, its average rank among all subjects, or one minus the pooled
    Kaplan-Meier curve just before it (rows standing for several subjects count as many)."""
    times, inverse = np.unique(d.stop, return_inverse=True)
    if transform == "identity":
        g = d.stop.copy()
    elif transform == "rank":
        per_time = np.bincount(inverse, d.counts, len(times))
        g = (np.cumsum(per_time) - per_time + (per_time + 1) / 2)[inverse]
    else:
        deaths = np.bincount(inverse, d.counts * d.event, len(times))
        at_risk = _rev_cumsum_counts(inverse, d.counts, len(times))
        if d.entry is not None:
            entered = np.searchsorted(times, d.entry, side="right")        # first time after entry
            at_risk = at_risk - _rev_cumsum_counts(entered, d.counts, len(times) + 1)[1:]   # not yet in
        with np.errstate(divide="ignore", invalid="ignore"):
            surv = np.cumprod(np.where(at_risk > 0, 1 - deaths / at_risk, 1.0))
        g = 1 - np.concatenate([[1.0], surv])[inverse]                     # the curve just before t
    w = d.counts * d.event
    return g - (w @ g) / w.sum()


def _rev_cumsum_counts(index: np.ndarray, counts: np.ndarray, size: int) -> np.ndarray:
    """Per position k, the counts of rows whose index is >= k."""
    per = np.bincount(index, counts, size + 1)
    return np.cumsum(per[::-1])[::-1][:size]


def _codes(data: pd.DataFrame, columns: list[str]) -> np.ndarray:
    if len(columns) == 1:
        return pd.factorize(data[columns[0]], sort=True)[0].astype(np.int64)
    return pd.MultiIndex.from_frame(data[columns]).factorize(sort=True)[0].astype(np.int64)


def _model_frame(data: pd.DataFrame, *, duration, event, covariates, entry=None, strata=(), weights=None,
                 cluster=None, binary=True) -> None:
    """Check every row the fit will use; raise :class:`SurvivalDataError` naming each bad one."""
    _check(data, duration=duration, event=event, entry=entry, covariates=covariates,
           binary=binary)
    problems: list[tuple] = []
    for column, rule in [*[(s, "is missing: every row needs a stratum") for s in strata],
                         *([(cluster, "is missing: every row needs a cluster")] if cluster else [])]:
        if column not in data.columns:
            raise SurvivalDataError([(None, column, None, "is absent from the data")])
        problems += [(data.index[i], column, None, rule) for i in np.flatnonzero(data[column].isna().to_numpy())]
    if weights is not None:
        if weights not in data.columns:
            raise SurvivalDataError([(None, weights, None, "is absent from the data")])
        w = pd.to_numeric(data[weights], errors="coerce")
        bad = w.isna() | ~np.isfinite(w.fillna(0)) | (w <= 0)
        problems += [(data.index[i], weights, data[weights].iloc[i], "must be a positive number (a case weight)")
                     for i in np.flatnonzero(bad.to_numpy())]
    if problems:
        raise SurvivalDataError(problems)


#: Fewer events than this per estimated coefficient and a Cox model's estimates are biased and its
#: intervals unreliable (Peduzzi et al. 1995, J Clin Epidemiol 48:1503; Concato et al. 1995, J Clin
#: Epidemiol 48:1495). Vittinghoff & McCulloch (2007, Am J Epidemiol 165:710) found 5-9 often
#: acceptable: below 10 is a warning, not a refusal.
EVENTS_PER_PARAMETER = 10


class SparseDataWarning(UserWarning):
    """Too few events for the number of coefficients (:data:`EVENTS_PER_PARAMETER`)."""


def _caller_level() -> int:
    """The ``stacklevel`` that points a warning at the first frame outside the workbench package
    (the user's cell, not a decorator or a wrapper in here)."""
    import sys
    from pathlib import Path

    package = str(Path(__file__).resolve().parent)
    frame, level = sys._getframe(1), 1
    while frame is not None and str(Path(frame.f_code.co_filename).resolve()).startswith(package):
        frame, level = frame.f_back, level + 1
    return level


def _no_fit(events: float, covariates: pd.DataFrame, *, what: str) -> None:
    """Refuse, by name, fits with nothing to estimate: no events (``what`` names them), or a
    covariate with one value in every row; warn when there are fewer than
    :data:`EVENTS_PER_PARAMETER` events per coefficient."""
    if events == 0:
        raise CoxFitError(f"no events in {what}: a Cox model needs at least one")
    constant = [c for c in covariates.columns if pd.to_numeric(covariates[c]).nunique() < 2]
    if constant:
        raise CoxFitError(f"{', '.join(map(repr, constant))} take{'s' if len(constant) == 1 else ''} one value in "
                          "every row: there is no effect to estimate; leave "
                          f"{'it' if len(constant) == 1 else 'them'} out")
    p = covariates.shape[1]
    if p and events / p < EVENTS_PER_PARAMETER:
        warnings.warn(f"{events:g} events in {what} for {p} coefficient{'s' if p > 1 else ''}: "
                      f"{events / p:.1f} events per coefficient, fewer than {EVENTS_PER_PARAMETER} "
                      f"(Peduzzi 1995). The hazard ratios may be biased away from 1 and their intervals too "
                      f"narrow; fit fewer covariates (at most {int(events // EVENTS_PER_PARAMETER)}) or read "
                      "the model as exploratory.", SparseDataWarning, stacklevel=_caller_level())


def _fit_design(d, names):
    try:
        out = _coxph.fit(d)
    except _coxph.FitFailure as err:
        raise CoxFitError(f"the covariates {names} cannot all be estimated together: one is a combination of "
                          "the others or separates the events completely "
                          f"({err}); drop or merge one") from err
    beta, var, terms, *_ = out
    flat = [n for n, f in zip(names, _coxph.infinite(beta, var, terms.score)) if f]
    if flat:
        warnings.warn(f"The log-likelihood converged before {', '.join(map(repr, flat))}: the coefficient may be "
                      "infinite (the covariate separates those with the event from those without); its hazard "
                      "ratio and interval are not usable.", CoxConvergenceWarning, stacklevel=3)
    return out


def _as_list(value) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


@validate_params({"data": FRAME, "alpha": ALPHA, "ties": TIES})
def cox(data: pd.DataFrame, *, duration: str, event: str, covariates: Sequence[str],
        strata: Sequence[str] | str | None = None, entry: str | None = None, weights: str | None = None,
        cluster: str | None = None, robust: bool = False, ties: str = "efron", alpha: float = 0.05) -> CoxModel:
    """Fit a Cox model, equal to R's ``coxph`` (Efron ties by default).

    Parameters
    ----------
    duration, event : str
        Exit time and 0/1 event.
    covariates : sequence of str
        Numeric columns (categories as 0/1 columns).
    strata : str or sequence of str, optional
        Each stratum has its own baseline hazard (R's ``strata()``).
    entry : str, optional
        Delayed entry (left truncation): the subject is at risk on ``(entry, duration]``, as
        R's ``Surv(entry, duration, event)``.
    weights : str, optional
        Positive case weights.
    cluster : str, optional
        Rows in one cluster (community, household, or several rows of one person) are not
        independent: the variance is R's robust (sandwich) one, summed within clusters
        (``coxph(..., cluster = )``), computed from the dfbeta residuals in O(n log n).
    robust : bool
        The robust variance with every row its own cluster (R's ``robust = TRUE``); implied by
        ``cluster``.
    ties : {"efron", "breslow"}
    alpha : float
        1 - confidence level of the intervals.

    Raises
    ------
    SurvivalDataError
        Every bad row, column, value and rule.
    CoxFitError
        No events, a covariate with one value, or covariates that cannot be estimated together.

    Notes
    -----
    Fitted by Newton-Raphson from zero with step halving, to a relative change in the log partial
    likelihood below 1e-13 or a step below 1e-10 (R stops at 1e-9, so its estimates can differ in
    the 7th figure). Checked against R's survival 3.5-3 in ``tests/test_survival_vs_r.py`` and
    ``tests/test_survival_robust_vs_r.py`` (lung, veteran, heart, rats and a clustered cohort).

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
    strata = _as_list(strata)
    _model_frame(data, duration=duration, event=event, covariates=covariates, entry=entry, strata=strata,
                 weights=weights, cluster=cluster)
    _no_fit((pd.to_numeric(data[event]) == 1).sum(), data[covariates], what=repr(event))
    groups = None
    if cluster is not None:
        codes = _codes(data, [cluster])
        groups = (codes, int(codes.max()) + 1)
    return _fit_cox(
        data[covariates].apply(pd.to_numeric).to_numpy(float), pd.to_numeric(data[duration]).to_numpy(float),
        pd.to_numeric(data[event]).to_numpy() == 1,
        weights=None if weights is None else pd.to_numeric(data[weights]).to_numpy(float),
        strata=_codes(data, strata) if strata else None,
        entry=None if entry is None else pd.to_numeric(data[entry]).to_numpy(float), ties=ties,
        robust=robust or cluster is not None, cluster=groups, names=covariates, alpha=alpha,
        labels=dict(duration=duration, event=event, entry=entry, strata=strata or None, cluster=cluster))


def _fit_cox(x, stop, event, *, counts=None, weights=None, strata=None, entry=None, ties, robust, cluster, names,
             alpha, labels) -> CoxModel:
    """The fit behind :func:`cox` and ``workbench.scale.cox`` (rows standing for ``counts``
    identical subjects). ``labels``: the column names the model reports."""
    d = _coxph.design(x, stop, event, weights=weights, counts=counts, strata=strata, entry=entry,
                      efron=ties == "efron")
    beta, var, terms, iterations, loglik0, converged = _fit_design(d, names)
    robust_var = _coxph.robust_variance(d, beta, var, terms, cluster) if robust else None
    d.xx = None                      # n x p^2, needed by the fit only: the model keeps its per-time sums
    return CoxModel(design=d, beta=beta, var=var, robust_var=robust_var, terms=terms, iterations=iterations,
                    loglik0=loglik0, converged=converged, names=names, ties=ties, alpha=alpha, **labels)


# --- Fine-Gray ------------------------------------------------------------------------------

def _censoring_before(time: np.ndarray, status: np.ndarray, *, events_first: bool, counts: np.ndarray | None = None):
    """``G(t-)``: the Kaplan-Meier curve of censoring just before ``t``.

    ``events_first`` (R's ``finegray``): events at a time come before the censorings at that
    time, so they are not in the censoring risk set there. Otherwise (``cmprsk::crr``) the plain
    Kaplan-Meier curve of censoring, with everyone whose time is >= t at risk. ``counts``: how
    many subjects each row stands for."""
    counts = np.ones(len(time)) if counts is None else counts
    times, inverse = np.unique(time, return_inverse=True)
    per_time = np.bincount(inverse, counts, len(times))
    censored = np.bincount(inverse, counts * (status == 0), len(times))
    at_risk = np.cumsum(per_time[::-1])[::-1]                                # time >= t
    if events_first:
        at_risk = at_risk - (per_time - censored)
    with np.errstate(divide="ignore", invalid="ignore"):
        curve = np.concatenate([[1.0], np.cumprod(np.where(censored > 0, 1 - censored / at_risk, 1.0))])

    def before(t):
        return curve[np.searchsorted(times, t, side="left")]
    return before


#: Whose Fine-Gray estimates to give.
FG_METHODS = Options("finegray", "crr")


class FineGrayModel:
    """A fitted Fine-Gray model of one cause's subdistribution hazard (:func:`fine_gray`).

    Attributes
    ----------
    summary : DataFrame
        Indexed by covariate: ``coef, se, robust_se, shr, shr_ci_low, shr_ci_high, z, p_value``;
        ``shr`` is the subdistribution hazard ratio; ``z``, ``p_value`` and the interval use
        ``robust_se``, as R does: the sandwich variance by subject or by ``cluster``
        (``"finegray"``), or Fine and Gray's variance (``"crr"``).
    method : str
    coef_ : Series
    variance_ : DataFrame
        The robust variance.
    cause : the cause modelled
    log_likelihood_ : float
        The weighted log partial likelihood (R's ``coxph`` on the ``finegray`` data).
    n, events, competing, iterations : int
    """

    def __init__(self, *, method, design, beta, var, robust_var, terms, iterations, names, cause, ties, alpha,
                 duration, event, cluster):
        self._design, self._terms, self.method = design, terms, method
        self.cause, self.ties, self.alpha, self.covariates = cause, ties, alpha, list(names)
        self.duration, self.event, self.cluster = duration, event, cluster
        self.coef_ = pd.Series(beta, index=pd.Index(names, name="covariate"))
        self.naive_variance_ = pd.DataFrame(var, index=names, columns=names)
        self.variance_ = pd.DataFrame(robust_var, index=names, columns=names)
        self.summary = _summary(beta, np.sqrt(np.diag(var)), np.sqrt(np.diag(robust_var)), names, alpha, ratio="shr")
        self.summary.attrs["cause"] = cause
        self.log_likelihood_ = terms.loglik
        self.n, self.events = int(design.counts.sum()), int(design.counts @ design.event)
        self.competing = int(design.counts @ (design.tail > 0))
        self.iterations = iterations

    def baseline_cumulative_hazard(self) -> pd.DataFrame:
        """The baseline cumulative subdistribution hazard at each event time (covariates at their
        means), Efron-adjusted when fitted with Efron ties, as R's ``survfit`` on the fit."""
        d, t = self._design, self._terms
        h = np.bincount(d.step_group, t.meanwt / t.a, len(d.group_keys))
        return pd.DataFrame({"time": d.group_time, "cumulative_hazard": np.cumsum(h)})

    def predict_cumulative_incidence(self, profiles: pd.DataFrame, times: Sequence[float] | None = None) -> pd.DataFrame:
        """Cumulative incidence of the cause for each profile (a row of covariate values):
        ``1 - exp(-H0(t) exp(x b))``, equal to ``1 - survfit(fit, newdata)$surv`` in R.

        Returns
        -------
        DataFrame
            One row per time (the event times, or ``times``), one column per profile (its index).
        """
        missing = [c for c in self.covariates if c not in profiles.columns]
        if missing:
            raise SurvivalDataError([(None, c, None, "is absent from the profiles") for c in missing])
        base = self.baseline_cumulative_hazard()
        if times is None:
            at, cum = base["time"].to_numpy(), base["cumulative_hazard"].to_numpy()
        else:
            at = np.asarray(times, float)
            cum = np.concatenate([[0.0], base["cumulative_hazard"].to_numpy()])[
                np.searchsorted(base["time"].to_numpy(), at, side="right")]
        eta = (profiles[self.covariates].to_numpy(float) - self._design.centre) @ self.coef_.to_numpy()
        cif = 1 - np.exp(-np.outer(cum, np.exp(eta)))
        return pd.DataFrame(cif, index=pd.Index(at, name="time"), columns=profiles.index)

    def _repr_html_(self) -> str:
        return (f"<p>Fine-Gray model of cause {self.cause}: {self.n:,} subjects, {self.events:,} events, "
                f"{self.competing:,} competing</p>" + self.summary.to_html(float_format=lambda v: f"{v:.4g}"))

    def __repr__(self) -> str:
        return (f"FineGrayModel(cause={self.cause!r}, n={self.n}, events={self.events}, competing={self.competing}, "
                f"covariates={self.covariates})")


@validate_params({"data": FRAME, "alpha": ALPHA, "method": FG_METHODS,
                  "ties": Options("efron", "breslow", None)})
def fine_gray(data: pd.DataFrame, *, duration: str, event: str, cause, covariates: Sequence[str],
              method: str = "finegray", cluster: str | None = None, entry: str | None = None,
              ties: str | None = None, alpha: float = 0.05) -> FineGrayModel:
    """Fine-Gray regression of one cause's subdistribution hazard, with the others competing.

    Subjects who had a competing event stay in the risk set after it with weight
    ``G(t-)/G(T-)``, ``G`` the Kaplan-Meier curve of censoring, computed without expanding rows:
    O(n log n). Two methods, as R's two implementations:

    - ``"finegray"`` (default): R's ``coxph(Surv(fgstart, fgstop, fgstatus) ~ ..., weights = fgwt,
      cluster = id)`` on ``finegray(Surv(time, factor(status)) ~ ., etype = cause)``: in ``G``,
      events at a time come before the censorings at that time; Efron ties by default; the
      robust variance treats ``G`` as known.
    - ``"crr"``: ``cmprsk::crr``: ``G`` the plain Kaplan-Meier curve of censoring, Breslow ties,
      and the variance of Fine and Gray (1999), which adds the uncertainty of estimating ``G``.

    The two give the same coefficients when no censoring is tied with an event; with such ties
    they differ in about the 3rd or 4th figure (R's mgus2, whose times are in months: -0.017302 vs
    -0.017338 for age), and crr's standard errors are about 0.5 % larger.

    Parameters
    ----------
    event : str
        0 censored, otherwise the cause (as for :func:`cumulative_incidence`).
    cause
        The cause modelled; every other non-zero code competes.
    method : {"finegray", "crr"}
    cluster : str, optional
        ``"finegray"`` only: sum the subjects' dfbeta residuals within clusters (community,
        household). Without it, each subject is its own cluster (R on ``finegray`` data).
    entry : str, optional
        Refused: with delayed entry the weights need the entry distribution too (Geskus 2011),
        which is not implemented here.
    ties : {"efron", "breslow"}, optional
        ``"finegray"``: Efron unless told; ``"crr"``: Breslow only.
    alpha : float

    Raises
    ------
    SurvivalDataError, CoxFitError
        As :func:`cox`; also ``entry`` (delayed entry is refused by name).

    Notes
    -----
    Checked against R (survival 3.5-3 ``finegray`` + ``coxph``, and cmprsk 2.2-11 ``crr``) on
    mgus2, a hand-made set with ties between causes and censorings, and a clustered cohort, in
    ``tests/test_survival_robust_vs_r.py``.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"t": [2, 3, 4, 5, 6, 7, 8, 9, 10, 11], "status": [1, 2, 1, 0, 2, 1, 0, 1, 2, 1],
    ...                   "x": [1, 0, 1, 0, 1, 1, 0, 0, 1, 0]})
    >>> fine_gray(d, duration="t", event="status", cause=1, covariates=["x"]).summary.columns.tolist()[:3]
    ['coef', 'se', 'robust_se']
    """
    if entry is not None:
        raise SurvivalDataError([(None, entry, None, "delayed entry is not supported by fine_gray: the censoring "
                                  "weights would need the entry distribution too (Geskus 2011); use "
                                  "cumulative_incidence with entry, or a cause-specific cox(..., entry=)")])
    if method == "crr" and ties == "efron":
        check("fine_gray", "ties", ties, Options("breslow"))
    if method == "crr" and cluster is not None:
        raise SurvivalDataError([(None, cluster, None, "cmprsk::crr has no clusters: use method='finegray' "
                                  "for a variance clustered by community or household")])
    ties = ties or ("efron" if method == "finegray" else "breslow")
    covariates = list(covariates)
    codes = pd.to_numeric(data[event], errors="coerce") if event in data.columns else None
    causes = sorted(set(codes.dropna().unique()) - {0}) if codes is not None else []
    _model_frame(data, duration=duration, event=event, covariates=covariates, cluster=cluster, binary=False)
    check("fine_gray", "cause", cause, Predicate(lambda c: c in causes, f"one of the causes in the data {causes}"))
    _no_fit((codes == cause).sum(), data[covariates], what=f"{event!r} of cause {cause}")
    groups = None
    if cluster is not None:
        cc = _codes(data, [cluster])
        groups = (cc, int(cc.max()) + 1)
    return _fit_fine_gray(data[covariates].apply(pd.to_numeric).to_numpy(float),
                          pd.to_numeric(data[duration]).to_numpy(float), codes.to_numpy(float), cause=cause,
                          method=method, ties=ties, cluster=groups, names=covariates, alpha=alpha,
                          duration=duration, event=event, cluster_name=cluster)


def _fit_fine_gray(x, time, status, *, counts=None, cause, method, ties, cluster, names, alpha, duration, event,
                   cluster_name) -> FineGrayModel:
    """The fit behind :func:`fine_gray` and ``workbench.scale.fine_gray`` (rows standing for
    ``counts`` identical subjects)."""
    g_before = _censoring_before(time, status, events_first=method == "finegray", counts=counts)
    competing = (status != 0) & (status != cause)
    tail = np.where(competing, 1.0 / np.where(competing, g_before(time), 1.0), 0.0)
    d = _coxph.design(x, time, status == cause, counts=counts, efron=ties == "efron", tail=tail,
                      tail_weight_of=g_before)
    beta, var, terms, iterations, _, _ = _fit_design(d, names)
    if method == "crr":
        influence = (_coxph.score_residuals(d, beta, terms) + _coxph.censoring_correction(d, beta, terms)) @ var
        robust_var = _coxph.sandwich(d, influence, None)
    else:
        robust_var = _coxph.robust_variance(d, beta, var, terms, cluster)
    d.xx = None
    return FineGrayModel(method=method, design=d, beta=beta, var=var, robust_var=robust_var, terms=terms,
                         iterations=iterations, names=names, cause=cause, ties=ties, alpha=alpha,
                         duration=duration, event=event, cluster=cluster_name)
