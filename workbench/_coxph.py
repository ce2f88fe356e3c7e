"""The Cox partial likelihood, its score residuals and the proportional-hazards score test, in
O(n log n): the engine behind :func:`workbench.survival.cox`, ``CoxModel.ph_test`` and
:func:`workbench.survival.fine_gray`.

It follows R's survival package (3.x) term by term, so that estimates, naive and robust
variances and ``cox.zph`` agree with R to rounding:

- the fit (``agfit4``): counting-process risk sets ``entry < t <= stop`` within strata, case
  weights, Breslow or Efron ties (Efron: the ``d`` tied deaths enter as ``d`` steps with
  ``S0 - k/d D0``, ``k = 0..d-1``, weighted by the deaths' mean case weight); Newton-Raphson with
  step halving from zero;
- score residuals (``agscore3``): ``U_i = int (x_i - xbar(t)) dM_i(t)`` with Efron's
  look-ahead correction for the tied deaths; the dfbeta residuals are ``w_i U_i V`` and the
  robust (sandwich) variance is ``D'D`` with ``D`` summed within clusters (``coxph(cluster=)``);
- the score test of ``cox.zph`` (``zph1``/``zph2``): the score and information of the model
  with the added covariates ``x g(t)`` at the fitted coefficients.

R walks the rows one at a time, adding and removing each from running sums. Here the rows are
sorted once by (stratum, time); every risk-set sum at every event time is a difference of two
reverse cumulative sums, found by binary search on integer (stratum, time) keys, and a row's
score residual is a difference of two cumulative sums over event times. Each Newton step is
O(n p^2); only the initial sorts are O(n log n).

A Fine-Gray fit (the subdistribution hazard) adds, at each event time ``t``, the subjects who
had a competing event before ``t`` with weight ``G(t-)/G(T_i-)`` (``G`` the Kaplan-Meier curve of
censoring): exactly the risk sets of R's ``finegray`` expansion, without expanding the rows.
``censoring_correction`` adds to each subject's influence the part that comes from estimating
``G``, as ``cmprsk::crr``'s variance does.

Rows may stand for several identical subjects (``counts``): the aggregated fits of
``workbench.scale`` run through the same code, Efron's steps counted per subject.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

MAX_ITERATIONS = 30
LOGLIK_TOLERANCE = 1e-13  # on the relative change of the log-likelihood (R's coxph stops at 1e-9) ...
STEP_TOLERANCE = 1e-10    # ... or on the largest Newton step: estimates exact to rounding
R_EPS = 1e-9              # R's coxph.control(eps): its judgement of an infinite coefficient


def _rev_cumsum(values: np.ndarray) -> np.ndarray:
    """``out[k] = values[k:].sum(axis=0)``, with one more row of zeros at the end."""
    out = np.zeros((len(values) + 1,) + values.shape[1:])
    np.cumsum(values[::-1], axis=0, out=out[:-1][::-1])
    return out


def _cumsum0(values: np.ndarray) -> np.ndarray:
    """``out[k] = values[:k].sum(axis=0)``: a leading row of zeros."""
    out = np.zeros((len(values) + 1,) + values.shape[1:])
    np.cumsum(values, axis=0, out=out[1:])
    return out


@dataclass
class Design:
    """The rows of a Cox fit, sorted once by (stratum, stop): every risk set as positions.

    All row arrays are in that sorted order; ``perm[k]`` is the input row of sorted row ``k``.
    ``counts``: how many identical subjects each row stands for (1 for subject-level data; the
    aggregated fits of ``workbench.scale`` pass pattern counts). ``tail``: Fine-Gray only, per row
    the scale ``1/G(T_i-)`` of subjects with a competing event (0 for every other row);
    ``tail_weight``: per event time, ``G(t-)``.
    """

    x: np.ndarray                 # n x p, centred
    stop: np.ndarray
    event: np.ndarray             # bool
    weights: np.ndarray
    counts: np.ndarray
    strata: np.ndarray            # int codes
    entry: np.ndarray | None
    efron: bool
    perm: np.ndarray = None
    centre: np.ndarray = None     # the (count-weighted) means subtracted from x
    xx: np.ndarray = None         # n x p*p: x_i x_i', fixed for the whole fit
    cw: np.ndarray = None         # case weight x count
    stop_lo: np.ndarray = None    # per event time: first sorted row at risk (stop >= t)
    stop_hi: np.ndarray = None    # per event time: end of its stratum
    entry_order: np.ndarray = None
    entry_lo: np.ndarray = None   # per event time: first position (in `entry_order`) with entry >= t
    entry_hi: np.ndarray = None
    group_keys: np.ndarray = None  # per event time: (stratum, time) key, ascending
    group_time: np.ndarray = None
    group_stratum: np.ndarray = None
    dead: np.ndarray = None       # rows with an event, by event time
    dead_group: np.ndarray = None
    deaths: np.ndarray = None     # subjects with an event per event time (counts summed)
    frac: np.ndarray = None       # Efron's steps: k/d, one per subject with an event
    step_group: np.ndarray = None
    row_lo: np.ndarray = None     # per row: event times before its risk interval (cumulative index)
    row_hi: np.ndarray = None     # per row: event times up to its stop
    tail: np.ndarray | None = None
    tail_weight: np.ndarray | None = None
    tail_rows: np.ndarray = None  # rows with a tail, by their time
    tail_lo: np.ndarray = None    # per event time: tail rows with time < t (within the stratum)
    tail_first: np.ndarray = None
    row_tail_from: np.ndarray = None  # per tail row: first event time after its time

    @property
    def n(self) -> int:
        return len(self.stop)

    @property
    def p(self) -> int:
        return self.x.shape[1]

    def subjects(self) -> float:
        return float(self.counts.sum())


def design(x, stop, event, *, weights=None, counts=None, strata=None, entry=None, efron=True, tail=None,
           tail_weight_of=None) -> Design:
    """Sort the rows once. ``tail_weight_of(times)``: ``G(t-)`` at event times (Fine-Gray)."""
    x = np.asarray(x, float)
    stop = np.asarray(stop, float)
    n = len(stop)
    counts = np.ones(n) if counts is None else np.asarray(counts, float)
    centre = (counts @ x) / counts.sum()
    x = x - centre
    strata = np.zeros(n, np.int64) if strata is None else np.asarray(strata, np.int64)
    entry = None if entry is None else np.asarray(entry, float)
    all_times = np.unique(stop if entry is None else np.concatenate([stop, entry]))
    span = len(all_times) + 1
    stop_key = strata * span + np.searchsorted(all_times, stop)
    perm = np.argsort(stop_key, kind="stable")
    stop_key = stop_key[perm]

    def sort(values, default):
        return default if values is None else np.asarray(values)[perm]

    d = Design(x=x[perm], stop=stop[perm], event=np.asarray(event, bool)[perm],
               weights=sort(weights, np.ones(n)).astype(float), counts=counts[perm], strata=strata[perm],
               entry=sort(entry, None), efron=efron, perm=perm, centre=centre)
    d.xx = (d.x[:, :, None] * d.x[:, None, :]).reshape(n, -1)
    d.cw = d.weights * d.counts
    strata = d.strata
    group_keys, dead_group = np.unique(stop_key[d.event], return_inverse=True)
    d.group_keys = group_keys
    d.group_time = all_times[group_keys % span]
    d.group_stratum = group_stratum = group_keys // span
    stratum_end_key = (group_stratum + 1) * span
    d.stop_lo = np.searchsorted(stop_key, group_keys, side="left")
    d.stop_hi = np.searchsorted(stop_key, stratum_end_key, side="left")
    if entry is not None:
        entry_key = strata * span + np.searchsorted(all_times, d.entry)
        d.entry_order = np.argsort(entry_key, kind="stable")
        sorted_entry = entry_key[d.entry_order]
        d.entry_lo = np.searchsorted(sorted_entry, group_keys, side="left")   # entry >= t
        d.entry_hi = np.searchsorted(sorted_entry, stratum_end_key, side="left")
        lo_key = entry_key
    else:
        lo_key = strata * span - 1
    # rows with an event, grouped by event time (already in time order), and Efron's steps: one
    # per subject, k/d for k = 0..d-1 at each event time
    d.dead = np.flatnonzero(d.event)
    d.dead_group = dead_group
    m = len(group_keys)
    d.deaths = np.bincount(dead_group, d.counts[d.dead], m)
    per_time = np.rint(d.deaths).astype(np.int64)
    d.step_group = np.repeat(np.arange(m), per_time)
    first = np.concatenate([[0], np.cumsum(per_time)[:-1]])
    k = np.arange(len(d.step_group)) - first[d.step_group]
    d.frac = k / d.deaths[d.step_group] if efron else np.zeros(len(d.step_group))
    # per row, the event times in its risk interval: cumulative indices (lo, hi]
    d.row_lo = np.searchsorted(group_keys, lo_key, side="right")
    d.row_hi = np.searchsorted(group_keys, stop_key, side="right")
    if tail is not None:
        d.tail = np.asarray(tail, float)[perm]
        d.tail_weight = np.asarray(tail_weight_of(d.group_time), float)
        d.tail_rows = np.flatnonzero(d.tail > 0)                                   # already by time
        tail_key = stop_key[d.tail_rows]
        d.tail_lo = np.searchsorted(tail_key, group_keys, side="left")          # time < t
        d.tail_first = np.searchsorted(tail_key, group_stratum * span, side="left")
        d.row_tail_from = np.searchsorted(group_keys, tail_key, side="right")
    return d


@dataclass
class Terms:
    loglik: float
    score: np.ndarray
    info: np.ndarray
    # per Efron step
    a: np.ndarray
    mean: np.ndarray
    meanwt: np.ndarray
    # per event time, for the proportional-hazards test
    s2: np.ndarray = None
    d2: np.ndarray = None


def _risk_sums(d: Design, vals: np.ndarray) -> np.ndarray:
    """For each event time, the sums of ``vals`` (rows) over its risk set (and Fine-Gray tail)."""
    rs = _rev_cumsum(vals)
    total = rs[d.stop_lo] - rs[d.stop_hi]
    if d.entry is not None:
        re = _rev_cumsum(vals[d.entry_order])
        total = total - (re[d.entry_lo] - re[d.entry_hi])
    if d.tail is not None and len(d.tail_rows):
        rows = d.tail_rows
        tv = vals[rows] * (d.tail[rows] if vals.ndim == 1 else d.tail[rows][:, None])
        cs = _cumsum0(tv)
        add = cs[d.tail_lo] - cs[d.tail_first]
        total = total + (add * d.tail_weight if add.ndim == 1 else add * d.tail_weight[:, None])
    return total


def _by_time(d: Design, values: np.ndarray) -> np.ndarray:
    """Sums over the rows with an event, per event time (1-d or n x k values of those rows)."""
    m = len(d.group_keys)
    if values.ndim == 1:
        return np.bincount(d.dead_group, values, m)
    return np.stack([np.bincount(d.dead_group, values[:, j], m) for j in range(values.shape[1])], axis=1) \
        if values.shape[1] else np.zeros((m, 0))


def terms(d: Design, beta: np.ndarray, *, information: bool = True) -> Terms:
    """Log partial likelihood, score and information at ``beta`` (R's agfit4, term by term)."""
    p = d.p
    eta = d.x @ beta
    v = d.cw * np.exp(eta)
    s0 = _risk_sums(d, v)
    s1 = _risk_sums(d, v[:, None] * d.x)
    dead = d.dead
    dv = v[dead]
    d0 = _by_time(d, dv)
    d1 = _by_time(d, dv[:, None] * d.x[dead])
    meanwt = _by_time(d, d.cw[dead]) / d.deaths
    g, f = d.step_group, d.frac
    a = s0[g] - f * d0[g]
    mean = (s1[g] - f[:, None] * d1[g]) / a[:, None]
    mw = meanwt[g]
    loglik = float(d.cw[dead] @ eta[dead] - (mw * np.log(a)).sum())
    score = d.cw[dead] @ d.x[dead] - (mw[:, None] * mean).sum(axis=0)
    out = Terms(loglik=loglik, score=score, info=None, a=a, mean=mean, meanwt=mw)
    if information:
        m = len(d.group_keys)
        out.s2 = _risk_sums(d, v[:, None] * d.xx)
        out.d2 = _by_time(d, dv[:, None] * d.xx[dead])
        c = mw / a
        c_s = np.bincount(g, c, m)
        c_f = np.bincount(g, c * f, m)
        out.info = (c_s @ out.s2 - c_f @ out.d2).reshape(p, p) - np.einsum("e,ei,ej->ij", mw, mean, mean)
    return out


class ConvergenceWarning(RuntimeWarning):
    """The Newton iterations did not settle: a coefficient may be infinite."""


class FitFailure(ValueError):
    """The information matrix is singular at the start: a covariate has no variation to fit."""


def fit(d: Design, *, init: np.ndarray | None = None):
    """Newton-Raphson from zero with step halving. Returns beta, naive variance, terms, iterations,
    the log-likelihood at zero, and whether it converged."""
    beta = np.zeros(d.p) if init is None else np.asarray(init, float)
    current = terms(d, beta)
    loglik0 = current.loglik
    converged = False
    iteration = 0
    for iteration in range(1, MAX_ITERATIONS + 1):
        try:
            step = np.linalg.solve(current.info, current.score)
        except np.linalg.LinAlgError as err:
            raise FitFailure(str(err)) from err
        for _ in range(40):
            new = terms(d, beta + step)
            if np.isfinite(new.loglik) and new.loglik >= current.loglik - 1e-12 * abs(current.loglik):
                break
            step = step / 2
        beta = beta + step
        change = abs(new.loglik - current.loglik)
        current = new
        if np.max(np.abs(step)) < STEP_TOLERANCE or change <= LOGLIK_TOLERANCE * abs(current.loglik):
            converged = True
            break
    try:
        var = np.linalg.inv(current.info)
    except np.linalg.LinAlgError as err:
        raise FitFailure(str(err)) from err
    if not converged:
        warnings.warn(f"The Cox fit did not converge in {MAX_ITERATIONS} iterations; a coefficient may be "
                      "infinite (a covariate that separates events from non-events).", ConvergenceWarning,
                      stacklevel=3)
    return beta, var, current, iteration, loglik0, converged


def infinite(beta: np.ndarray, var: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Which coefficients still move at convergence, as R's ``coxph.fit`` judges it: the next Newton
    step ``|U V|`` above 1e-9 and above sqrt(1e-9) times the coefficient. Their likelihood is
    flat towards infinity (a covariate that separates the events)."""
    step = np.abs(score @ var)
    return (step > R_EPS) & (step > np.sqrt(R_EPS) * np.abs(beta))


def score_residuals(d: Design, beta: np.ndarray, t: Terms) -> np.ndarray:
    """Per (sorted) row, the score residual ``int (x_i - xbar(t)) dM_i(t)`` of one of its subjects
    (R's ``agscore3``), n x p."""
    m = len(d.group_keys)
    p = d.p
    g, f = d.step_group, d.frac
    h = t.meanwt / t.a                                     # hazard jump of each Efron step

    def per_time(weights):
        return np.stack([np.bincount(g, weights * t.mean[:, j], m) for j in range(p)], axis=1)
    hazard, xhaz = np.bincount(g, h, m), per_time(h)
    mh1, mh2 = np.bincount(g, h * f, m), per_time(h * f)
    mh3 = per_time(np.ones(len(g))) / d.deaths[:, None]
    r = np.exp(d.x @ beta)
    ch, cx = _cumsum0(hazard), _cumsum0(xhaz)
    lo, hi = d.row_lo, d.row_hi
    resid = -r[:, None] * (d.x * (ch[hi] - ch[lo])[:, None] - (cx[hi] - cx[lo]))
    dead, dg = d.dead, d.dead_group
    resid[dead] += (d.x[dead] - mh3[dg]) + r[dead, None] * (d.x[dead] * mh1[dg][:, None] - mh2[dg])
    if d.tail is not None and len(d.tail_rows):
        # subjects after a competing event: at risk at every later event time with G(t-)/G(T_i-)
        gw = d.tail_weight
        cgh = _cumsum0(hazard * gw)
        cgx = _cumsum0(xhaz * gw[:, None])
        rows = d.tail_rows
        start = d.row_tail_from
        end = np.searchsorted(d.group_stratum, d.strata[rows], side="right")   # the stratum's last + 1
        scale = d.tail[rows] * r[rows]
        resid[rows] -= scale[:, None] * (d.x[rows] * (cgh[end] - cgh[start])[:, None] - (cgx[end] - cgx[start]))
    return resid


def sandwich(d: Design, influence: np.ndarray, cluster: tuple[np.ndarray, int] | None) -> np.ndarray:
    """``D'D`` from per-row influence (one subject's; each row stands for ``counts`` subjects),
    summed within clusters first when given (``cluster``: codes in input row order, how many)."""
    if cluster is None:
        return (influence * d.counts[:, None]).T @ influence
    codes, n_clusters = cluster
    codes = np.asarray(codes)[d.perm]
    summed = np.stack([np.bincount(codes, influence[:, j] * d.counts, n_clusters) for j in range(d.p)], axis=1)
    return summed.T @ summed


def robust_variance(d: Design, beta: np.ndarray, var: np.ndarray, t: Terms,
                    cluster: tuple[np.ndarray, int] | None) -> np.ndarray:
    """R's ``coxph(robust = TRUE)`` / ``cluster =``: ``D'D`` with ``D`` the weighted dfbeta residuals
    summed within clusters (each subject its own cluster when ``cluster`` is None)."""
    return sandwich(d, (d.weights[:, None] * score_residuals(d, beta, t)) @ var, cluster)


def zph(d: Design, t: Terms, gtime: np.ndarray):
    """Score and information of the model with ``x g(t)`` added, at the fitted coefficients (``t``
    their terms), as R's zph1/zph2. ``gtime``: per (sorted) row, the transformed and centred time
    of its stop. Returns ``u`` (2p) and ``imat`` (2p x 2p)."""
    p = d.p
    m = len(d.group_keys)
    gt = np.empty(m)
    gt[d.dead_group] = gtime[d.dead]
    g, f = d.step_group, d.frac
    c = t.meanwt / t.a
    c_s = np.bincount(g, c, m)
    c_f = np.bincount(g, c * f, m)
    per_time = (c_s[:, None] * t.s2 - c_f[:, None] * t.d2).reshape(m, p, p)
    outer = np.einsum("e,ei,ej->eij", t.meanwt, t.mean, t.mean)
    per_time -= np.stack([np.bincount(g, outer[:, i, j], m) for i in range(p) for j in range(p)],
                         axis=1).reshape(m, p, p)
    imat = np.zeros((2 * p, 2 * p))
    imat[:p, :p] = per_time.sum(axis=0)
    cross = np.einsum("t,tij->ij", gt, per_time)
    imat[:p, p:] = cross
    imat[p:, :p] = cross.T
    imat[p:, p:] = np.einsum("t,tij->ij", gt * gt, per_time)
    u = np.zeros(2 * p)
    u[p:] = (gt[d.dead_group] * d.cw[d.dead]) @ d.x[d.dead] - (gt[g] * t.meanwt) @ t.mean
    return u, imat


def censoring_correction(d: Design, beta: np.ndarray, t: Terms) -> np.ndarray:
    """Per (sorted) row, ``psi_i`` of Fine and Gray (1999): the part of a subject's influence that
    comes from estimating the censoring curve ``G``, as ``cmprsk::crr`` computes it (its subroutine
    ``crrvv``).

    ``psi_i = int q(u) / Y(u) dM^c_i(u)``, with ``M^c`` the censoring martingale (``Y(u)`` the
    number with time >= u) and ``q(u) = sum over event times t >= u of d_t G(t-) / S0(t) times
    sum over competing subjects j with T_j < u of r_j (x_j - xbar(t)) / G(T_j-)``. Breslow ties,
    one stratum, no case weights (as crr). O(n log n)."""
    m = len(d.group_keys)
    r = np.exp(d.x @ beta)
    first = np.searchsorted(d.step_group, np.arange(m))
    s0, xbar = t.a[first], t.mean[first]
    c = d.deaths * d.tail_weight / s0
    rc0 = _rev_cumsum(c)
    rc1 = _rev_cumsum(c[:, None] * xbar)
    rows = d.tail_rows
    scale = (r * d.tail * d.counts)[rows]
    a0 = _cumsum0(scale)
    a1 = _cumsum0(scale[:, None] * d.x[rows])
    censored = ~d.event & (d.tail == 0)
    cens_times, inverse = np.unique(d.stop[censored], return_inverse=True)
    n_cens = np.bincount(inverse, d.counts[censored], len(cens_times))
    total = _rev_cumsum(d.counts)                                          # rows are in time order
    at_risk = total[np.searchsorted(d.stop, cens_times, side="left")]      # time >= u
    k = np.searchsorted(d.group_time, cens_times, side="left")             # event times >= u
    j = np.searchsorted(d.stop[rows], cens_times, side="left")              # competing with T < u
    q = a1[j] * rc0[k][:, None] - a0[j][:, None] * rc1[k]
    drift = _cumsum0(q * (n_cens / at_risk ** 2)[:, None])
    upto = np.searchsorted(cens_times, d.stop, side="right")                # censoring times <= T_i
    psi = -drift[upto]
    own = np.flatnonzero(censored)
    psi[own] += q[inverse] / at_risk[inverse][:, None]
    return psi
