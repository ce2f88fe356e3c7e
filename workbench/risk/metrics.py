"""How good are predicted risks: discrimination with intervals, calibration, the decision curve.

Each function takes the observed outcomes ``y`` (0/1) and the predicted risks ``p`` (in (0, 1)),
keyword-only after them, and returns a tidy DataFrame (or, for :func:`val_prob`, a Series named
as rms names its statistics, in snake_case). Pairs with a blank ``y`` or ``p`` are dropped and
counted in ``attrs["dropped"]``: a blank outcome is never read as 0.

- :func:`c_statistic`: the C statistic (area under the ROC curve) with DeLong's standard error
  and a Wald interval on the AUC scale, clipped to [0, 1] (DeLong ER, DeLong DM, Clarke-Pearson
  DL. Comparing the areas under two or more correlated receiver operating characteristic curves:
  a nonparametric approach. Biometrics 1988;44:837-845; the same interval as pROC's
  ``ci.auc(method = "delong")``).
- :func:`calibration`: calibration-in-the-large (the intercept of a logistic model of ``y`` with
  ``logit(p)`` as an offset: 0 when the average risk is right), the calibration slope (of
  ``y ~ logit(p)``: 1 when the spread is right, < 1 when risks are too extreme), with Wald
  intervals, observed and mean predicted risk.
- :func:`val_prob`: the statistics of R's ``rms::val.prob(p, y, pl = FALSE)`` (Harrell), computed
  the way rms 6.5 computes them (checked at 4 significant figures in
  ``tests/test_risk_calibration.py`` against ``tests/reference/risk_calibration``). Note rms's
  ``intercept`` is the intercept of the recalibration model with its slope, not
  calibration-in-the-large; rms 6.5 reports ``D:p`` as NA, here it is the chi-square p-value.
- :func:`calibration_curve`: the flexible calibration curve of ``val.prob``: ``lowess(p, y,
  iter = 0)`` (R's ``lowess``, Cleveland 1979, ported line by line), read at each predicted risk.
- :func:`net_benefit`: the decision curve (Vickers AJ, Elkin EB. Decision curve analysis: a
  novel method for evaluating prediction models. Med Decis Making 2006;26:565-574): at a
  threshold risk ``pt``, ``NB = TP/n - FP/n * pt / (1 - pt)`` for the model (treat when
  ``p >= pt``), for treating everyone, and 0 for treating no one.

Examples
--------
>>> y = [0, 0, 1, 1, 0, 1]
>>> p = [0.1, 0.4, 0.35, 0.8, 0.2, 0.6]
>>> round(c_statistic(y, p)["auc"].item(), 4)
0.8889
>>> net_benefit(y, p, thresholds=[0.5]).set_index("strategy")["net_benefit"].round(4).to_dict()
{'model': 0.3333, 'treat_all': 0.0, 'treat_none': 0.0}
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["NOT_ESTIMABLE", "RMS_NAMES", "c_statistic", "calibration", "calibration_curve", "lowess", "net_benefit", "val_prob"]

#: The statistics of rms::val.prob, in its order: our name -> rms's name.
RMS_NAMES = {"dxy": "Dxy", "c": "C (ROC)", "r2": "R2", "d": "D", "d_chisq": "D:Chi-sq", "d_p": "D:p", "u": "U",
             "u_chisq": "U:Chi-sq", "u_p": "U:p", "q": "Q", "brier": "Brier", "intercept": "Intercept",
             "slope": "Slope", "emax": "Emax", "e90": "E90", "eavg": "Eavg", "s_z": "S:z", "s_p": "S:p"}


#: Why a statistic is blank (NA): the reason in each language, shown with it, never silence.
NOT_ESTIMABLE = {
    "empty": ("cannot be estimated: nobody has both an outcome and a predicted risk",
              "无法估计：没有人同时有结局和预测风险"),
    "one_class": ("cannot be estimated: everyone has the same outcome (no events, or no non-events)",
                  "无法估计：所有人结局相同（没有人发生，或没有人未发生）"),
    "same_risk": ("cannot be estimated: every predicted risk is the same", "无法估计：所有人的预测风险都相同"),
    "separated": ("cannot be estimated: the outcome is perfectly separated (every event has a higher predicted "
                  "risk than every non-event, or the reverse)",
                  "无法估计：结局被预测风险完全分开（所有发生者的预测风险都高于未发生者，或反之）"),
    "no_convergence": ("cannot be estimated: the logistic fit did not converge", "无法估计：逻辑回归拟合不收敛"),
}


def _slope_problem(y: np.ndarray, x: np.ndarray) -> str | None:
    """Why ``glm(y ~ x, binomial)`` has no finite slope (a key of :data:`NOT_ESTIMABLE`), or None.

    One outcome only, one value of ``x`` only, or (quasi-)complete separation: the largest ``x``
    of one outcome is at most the smallest ``x`` of the other (the likelihood then rises forever
    as the slope grows; R's glm stops with a huge slope and a warning)."""
    if len(y) == 0:
        return "empty"
    if y.min() == y.max():
        return "one_class"
    if x.min() == x.max():
        return "same_risk"
    x1, x0 = x[y == 1], x[y == 0]
    if x0.max() <= x1.min() or x1.max() <= x0.min():
        return "separated"
    return None


def _pairs(y: Any, p: Any) -> tuple[np.ndarray, np.ndarray, int]:
    """The 0/1 outcomes and risks as float arrays, blanks dropped (counted); bad values refused."""
    ys = pd.to_numeric(pd.Series(y, dtype=object), errors="coerce").astype(float).to_numpy()
    ps = pd.to_numeric(pd.Series(p, dtype=object), errors="coerce").astype(float).to_numpy()
    if len(ys) != len(ps):
        raise ValueError(f"y and p must have the same length. Got {len(ys)} and {len(ps)} instead.")
    keep = ~(np.isnan(ys) | np.isnan(ps))
    ys, ps = ys[keep], ps[keep]
    bad_y = np.flatnonzero(~np.isin(ys, (0.0, 1.0)))
    if len(bad_y):
        raise ValueError(f"y must be 0 or 1. Got {ys[bad_y[0]]!r} at position {int(np.flatnonzero(keep)[bad_y[0]])}.")
    bad_p = np.flatnonzero((ps < 0) | (ps > 1))
    if len(bad_p):
        raise ValueError(f"p must be a risk in [0, 1]. Got {ps[bad_p[0]]!r} at position "
                         f"{int(np.flatnonzero(keep)[bad_p[0]])}.")
    return ys, ps, int((~keep).sum())


def _delong(y: np.ndarray, p: np.ndarray) -> tuple[float, float]:
    """AUC and DeLong's variance, from placement values (ties count 1/2)."""
    pos, neg = np.sort(p[y == 1]), np.sort(p[y == 0])
    m, n = len(pos), len(neg)
    v10 = (np.searchsorted(neg, pos, "left") + np.searchsorted(neg, pos, "right")) / (2.0 * n)
    v01 = 1.0 - (np.searchsorted(pos, neg, "left") + np.searchsorted(pos, neg, "right")) / (2.0 * m)
    auc = float(v10.mean())
    var = (v10.var(ddof=1) / m if m > 1 else np.nan) + (v01.var(ddof=1) / n if n > 1 else np.nan)
    return auc, float(var)


def c_statistic(y: Any, p: Any, *, alpha: float = 0.05) -> pd.DataFrame:
    """The C statistic (ROC AUC) with DeLong's standard error and interval.

    Returns
    -------
    DataFrame
        One row: ``n, events, auc, se, lower, upper`` (``attrs``: ``alpha``, ``method``,
        ``dropped``, ``note_en``, ``note_zh``). No events or no non-events: ``auc``, ``se`` and
        limits blank (NA, never a crash), ``attrs["note_en"]`` says why (:data:`NOT_ESTIMABLE`);
        one event or one non-event: ``se`` and limits blank.

    Notes
    -----
    ``lower, upper = auc -+ z * se``, clipped to [0, 1]; ``se`` from DeLong 1988's structural
    components (``var(V10)/m + var(V01)/n``, sample variances). Checked against DeLong computed
    by hand in R (``tests/reference/risk_calibration/make_reference.R``).

    Examples
    --------
    >>> c_statistic([0, 1, 0, 1], [0.2, 0.9, 0.6, 0.4]).round(4).iloc[0].tolist()
    [4.0, 2.0, 0.75, 0.3536, 0.057, 1.0]
    >>> c_statistic([0, 0, 0], [0.2, 0.3, 0.4]).attrs["note_en"]
    'cannot be estimated: everyone has the same outcome (no events, or no non-events)'
    """
    ys, ps, dropped = _pairs(y, p)
    m, n = int(ys.sum()), int(len(ys) - ys.sum())
    auc = se = np.nan
    if m and n:
        auc, var = _delong(ys, ps)
        se = float(np.sqrt(var))
    z = stats.norm.ppf(1 - alpha / 2)
    lo, hi = (max(0.0, auc - z * se), min(1.0, auc + z * se)) if se == se else (np.nan, np.nan)
    out = pd.DataFrame({"n": [len(ys)], "events": [m], "auc": [auc], "se": [se], "lower": [lo], "upper": [hi]})
    note = None if m and n else NOT_ESTIMABLE["empty" if not len(ys) else "one_class"]
    out.attrs.update(alpha=alpha, method="DeLong 1988", dropped=dropped, note_en=note and note[0],
                     note_zh=note and note[1])
    return out


def _logit(p: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.log(p) - np.log1p(-p)


def _logistic(x: np.ndarray | None, y: np.ndarray, offset: np.ndarray, *, init: Sequence[float] | None = None,
              iterations: int = 50) -> tuple[np.ndarray, np.ndarray, float]:
    """Maximum likelihood logistic regression ``y ~ 1 (+ x) + offset`` by Newton-Raphson:
    coefficients, their covariance, and the deviance (-2 log likelihood)."""
    design = np.ones((len(y), 1)) if x is None else np.column_stack([np.ones(len(y)), x])
    beta = np.zeros(design.shape[1]) if init is None else np.asarray(init, float)
    for _ in range(iterations):
        eta = design @ beta + offset
        mu = 1 / (1 + np.exp(-eta))
        info = design.T @ (design * (mu * (1 - mu))[:, None])
        step = np.linalg.solve(info, design.T @ (y - mu))
        beta = beta + step
        if np.max(np.abs(step)) < 1e-10:
            break
    eta = design @ beta + offset
    mu = 1 / (1 + np.exp(-eta))
    info = design.T @ (design * (mu * (1 - mu))[:, None])
    return beta, np.linalg.inv(info), float(-2 * np.sum(y * eta - np.logaddexp(0, eta)))


def _fit_or_none(x: np.ndarray | None, y: np.ndarray, offset: np.ndarray) -> tuple | None:
    """:func:`_logistic`, or None when it fails (singular information, non-finite estimates)."""
    try:
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            b, cov, dev = _logistic(x, y, offset)
    except np.linalg.LinAlgError:
        return None
    if not (np.all(np.isfinite(b)) and np.all(np.isfinite(np.diag(cov))) and np.all(np.diag(cov) > 0)):
        return None
    return b, cov, dev


def _lrm_fit(x: np.ndarray, y: np.ndarray, *, eps: float = 0.025, maxit: int = 12) -> tuple[np.ndarray, float]:
    """``rms::lrm.fit(x, y)`` as rms 6.5 stops it: Newton-Raphson from (logit(mean y), 0); once a
    step lowers -2 log L by less than ``eps`` (0.025), one more step and stop. Coefficients and
    -2 log L at them. (In small samples this differs from the full maximum in the 4th digit.)"""
    design = np.column_stack([np.ones(len(y)), x])
    pbar = y.mean()
    beta = np.array([np.log(pbar / (1 - pbar)), 0.0])

    def deviance(b: np.ndarray) -> float:
        eta = design @ b
        return float(-2 * np.sum(y * eta - np.logaddexp(0, eta)))

    def newton(b: np.ndarray) -> np.ndarray:
        mu = 1 / (1 + np.exp(-(design @ b)))
        info = design.T @ (design * (mu * (1 - mu))[:, None])
        return b + np.linalg.solve(info, design.T @ (y - mu))

    old = deviance(beta)
    for _ in range(maxit):
        beta = newton(beta)
        new = deviance(beta)
        if abs(old - new) < eps:
            beta = newton(beta)
            break
        old = new
    return beta, deviance(beta)


def calibration(y: Any, p: Any, *, alpha: float = 0.05) -> pd.DataFrame:
    """Calibration-in-the-large and slope with Wald intervals; observed and mean predicted risk.

    Returns
    -------
    DataFrame
        One row: ``n, events, observed, mean_predicted, citl, citl_lower, citl_upper, slope,
        slope_lower, slope_upper, note_en, note_zh``. ``citl`` is the intercept of ``glm(y ~ 1,
        offset = logit(p), binomial)`` (0 = right on average; > 0 = risks too low), ``slope``
        the coefficient of ``glm(y ~ logit(p), binomial)`` (1 = right spread; < 1 = too
        extreme). Risks of exactly 0 or 1 are left out of the two models (as rms does).
        A figure that cannot be estimated is blank (NaN, never an exception) and ``note_en`` /
        ``note_zh`` say why (:data:`NOT_ESTIMABLE`; blank when everything is estimated): no
        events or no non-events (both blank); every risk the same, or the outcome perfectly
        separated by the risk (the slope would be infinite: slope blank, calibration-in-the-large
        kept, it is finite whenever there are events and non-events).

    Examples
    --------
    >>> c = calibration([0, 0, 1, 1, 0, 1, 0, 0], [0.1, 0.4, 0.35, 0.8, 0.2, 0.6, 0.3, 0.5])
    >>> c[["observed", "mean_predicted"]].round(4).iloc[0].tolist()
    [0.375, 0.4062]
    >>> s = calibration([0, 0, 1, 1], [0.1, 0.2, 0.6, 0.7])  # separated: every event above every non-event
    >>> bool(pd.isna(s["slope"].item())), "perfectly separated" in s["note_en"].item()
    (True, True)
    """
    ys, ps, dropped = _pairs(y, p)
    row: dict[str, float] = {"n": len(ys), "events": int(ys.sum()), "observed": ys.mean() if len(ys) else np.nan,
                             "mean_predicted": ps.mean() if len(ps) else np.nan}
    z = stats.norm.ppf(1 - alpha / 2)
    lg = _logit(ps)
    ok = np.isfinite(lg)
    yk, lk = ys[ok], lg[ok]
    names = ("citl", "citl_lower", "citl_upper", "slope", "slope_lower", "slope_upper")
    row.update(dict.fromkeys(names, np.nan))
    problem = _slope_problem(yk, lk)
    if problem not in ("empty", "one_class"):
        fitted = _fit_or_none(None, yk, lk)
        if fitted is None:
            problem = "no_convergence"
        else:
            b, se = fitted[0][0], np.sqrt(fitted[1][0, 0])
            row.update(citl=b, citl_lower=b - z * se, citl_upper=b + z * se)
    if problem is None:
        fitted = _fit_or_none(lk, yk, np.zeros(len(yk)))
        if fitted is None:
            problem = "no_convergence"
        else:
            b, se = fitted[0][1], np.sqrt(fitted[1][1, 1])
            row.update(slope=b, slope_lower=b - z * se, slope_upper=b + z * se)
    note = NOT_ESTIMABLE[problem] if problem else (None, None)
    row.update(note_en=note[0], note_zh=note[1])
    out = pd.DataFrame([row])
    out["n"], out["events"] = out["n"].astype(int), out["events"].astype(int)
    out.attrs.update(alpha=alpha, dropped=dropped)
    return out


def _lowest(x: np.ndarray, y: np.ndarray, xs: float, nleft: int, nright: int) -> float | None:
    """R's ``lowest`` (stats/src/lowess.c, no robustness weights): the local linear fit at xs.
    Indices are 0-based here."""
    n = len(x)
    rng = x[-1] - x[0]
    h = max(xs - x[nleft], x[nright] - xs)
    h9, h1 = 0.999 * h, 0.001 * h
    r = np.abs(x[nleft:] - xs)
    stop = np.flatnonzero((r > h9) & (x[nleft:] > xs))
    nrt = nleft + (stop[0] if len(stop) else n - nleft)  # one past the rightmost point used
    r = r[: nrt - nleft]
    w = np.where(r <= h9, np.where(r <= h1, 1.0, (1 - (r / h) ** 3) ** 3) if h > 0 else 1.0, 0.0)
    a = w.sum()
    if a <= 0:
        return None
    w = w / a
    xj = x[nleft:nrt]
    if h > 0:
        a = np.sum(w * xj)
        b = xs - a
        c = np.sum(w * (xj - a) ** 2)
        if np.sqrt(c) > 0.001 * rng:
            w = w * (b / c * (xj - a) + 1.0)
    return float(np.sum(w * y[nleft:nrt]))


def lowess(x: Any, y: Any, *, f: float = 2 / 3, delta: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """R's ``lowess(x, y, f, iter = 0, delta)``: the sorted ``x`` and the smooth at each.

    A line-by-line port of R's ``clowess`` (Cleveland 1979) without robustness iterations (as
    ``rms::val.prob`` calls it); ``delta`` defaults to 1 % of the range of ``x``, as in R.

    Examples
    --------
    >>> xs, ys = lowess([1, 2, 3, 4, 5, 6, 7, 8], [2, 4, 5, 4, 6, 8, 7, 9])
    >>> [round(float(v), 4) for v in ys]  # R: lowess(1:8, c(2, 4, 5, 4, 6, 8, 7, 9), iter = 0)$y
    [2.4014, 3.5036, 4.4274, 4.8589, 6.0, 7.1411, 7.8985, 8.617]
    """
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    order = np.argsort(x, kind="stable")
    x, y = x[order], y[order]
    n = len(x)
    if n < 2:
        return x, y.copy()
    delta = 0.01 * (x[-1] - x[0]) if delta is None else delta
    ns = max(2, min(n, int(f * n + 1e-7)))
    ys = np.empty(n)
    nleft, nright, last, i = 0, ns - 1, -1, 0
    while True:
        if nright < n - 1:
            if x[i] - x[nleft] > x[nright + 1] - x[i]:
                nleft += 1
                nright += 1
                continue
        fitted = _lowest(x, y, x[i], nleft, nright)
        ys[i] = y[i] if fitted is None else fitted
        if last < i - 1:
            denom = x[i] - x[last]
            for j in range(last + 1, i):
                alpha = (x[j] - x[last]) / denom
                ys[j] = alpha * ys[i] + (1 - alpha) * ys[last]
        last = i
        cut = x[last] + delta
        i = last + 1
        while i < n:
            if x[i] > cut:
                break
            if x[i] == x[last]:
                ys[i] = ys[last]
                last = i
            i += 1
        i = max(last + 1, i - 1)
        if last >= n - 1:
            break
    return x, ys


def _unique_smooth(p: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct predictions and the lowess smooth at each (tied x: the mean, as R's approx)."""
    sx, sy = lowess(p, y)
    ux, inverse = np.unique(sx, return_inverse=True)
    return ux, np.bincount(inverse, weights=sy) / np.bincount(inverse)


def _smooth_at(p: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``approx(lowess(p, y, iter = 0), xout = p, ties = mean)$y`` as rms::val.prob reads it."""
    ux, uy = _unique_smooth(p, y)
    return np.interp(p, ux, uy)


def calibration_curve(y: Any, p: Any) -> pd.DataFrame:
    """The flexible calibration curve of ``rms::val.prob``: lowess of ``y`` on ``p`` (iter 0).

    Returns
    -------
    DataFrame
        One row per distinct predicted risk, in order: ``predicted, observed`` (the smoothed
        observed risk at that prediction) and ``n`` (people with that prediction).

    Examples
    --------
    >>> calibration_curve([0, 1, 0, 1, 1, 0, 1, 1], [0.1, 0.3, 0.5, 0.7, 0.9, 0.2, 0.6, 0.8]).round(3)["observed"].tolist()
    [-0.005, 0.267, 0.421, 0.579, 0.635, 1.0, 1.0, 1.0]
    """
    ys, ps, dropped = _pairs(y, p)
    if len(ps) == 0:
        return pd.DataFrame({"predicted": [], "observed": [], "n": pd.Series([], dtype=int)})
    ux, smooth = _unique_smooth(ps, ys)
    out = pd.DataFrame({"predicted": ux, "observed": smooth, "n": np.unique(ps, return_counts=True)[1]})
    out.attrs.update(method="lowess(p, y, iter = 0), as rms::val.prob", dropped=dropped)
    return out


def val_prob(p: Any, y: Any) -> pd.Series:
    """The statistics of R's ``rms::val.prob(p, y, pl = FALSE)`` (rms 6.5), snake_case names.

    Returns
    -------
    Series
        Index :data:`RMS_NAMES` keys: ``dxy, c, r2, d, d_chisq, d_p, u, u_chisq, u_p, q, brier,
        intercept, slope, emax, e90, eavg, s_z, s_p``.

    Notes
    -----
    As rms computes them: ``c`` and ``dxy`` from the risks binned in steps of 1/5000 (as
    ``lrm.fit`` counts concordance; :func:`c_statistic` is exact and may differ in the 4th
    digit); ``d_chisq`` = null deviance - deviance of the predictions as they are
    (intercept 0, slope 1 on ``logit(p)``); ``r2`` Nagelkerke's on that; ``d = (d_chisq - 1)/n``;
    ``u_chisq`` = deviance of the predictions - deviance of the logistic recalibration
    ``y ~ logit(p)``, ``u = (u_chisq - 2)/n``, ``q = d - u``; ``intercept`` and ``slope`` of the
    recalibration; ``emax, e90, eavg`` the maximum, 90th centile and mean of ``|p - smooth|`` over
    the data (the lowess calibration curve, :func:`calibration_curve`); ``s_z``, ``s_p``
    Spiegelhalter's z test. Risks of exactly 0 or 1 are left out of the logistic fits. The
    recalibration is fitted as ``rms::lrm.fit`` stops (:func:`_lrm_fit`: change in -2 log L
    below 0.025, then one more Newton step), so in small samples ``intercept`` and ``slope``
    differ from the full maximum (:func:`calibration`'s slope) in the 4th digit, as rms's do.

    Blank (NaN, never an exception) where a statistic cannot be estimated, with the reason in
    ``attrs["note_en"]`` and ``attrs["note_zh"]`` (:data:`NOT_ESTIMABLE`): no events or no
    non-events (or nobody): every statistic but ``brier``; the outcome perfectly separated by the
    risk: the recalibration (``intercept``, ``slope``) and what is computed from it (``u``,
    ``u_chisq``, ``u_p``, ``q``).

    Examples
    --------
    >>> v = val_prob([0.1, 0.4, 0.35, 0.8, 0.2, 0.6], [0, 0, 1, 1, 0, 1])
    >>> round(float(v["c"]), 4), round(float(v["brier"]), 5), round(float(v["slope"]), 4)
    (0.8889, 0.13875, 3.0557)
    >>> val_prob([0.1, 0.2, 0.3], [0, 0, 0]).attrs["note_en"][:40]
    'cannot be estimated: everyone has the sa'
    """
    ys, ps, _ = _pairs(y, p)
    n = len(ys)
    if n == 0 or ys.min() == ys.max():
        out = pd.Series(np.nan, index=list(RMS_NAMES), dtype=float)
        out["brier"] = np.mean((ps - ys) ** 2) if n else np.nan
        note = NOT_ESTIMABLE["empty" if n == 0 else "one_class"]
        out.attrs.update(note_en=note[0], note_zh=note[1])
        return out
    lg = _logit(ps)
    spi_num = np.sum((ys - ps) * (1 - 2 * ps))
    s_z = spi_num / np.sqrt(np.sum((1 - 2 * ps) ** 2 * ps * (1 - ps)))
    s_p = 2 * stats.norm.cdf(-abs(s_z))
    with np.errstate(divide="ignore", invalid="ignore"):
        l01 = float(-2 * np.nansum(ys * lg - np.log1p(np.exp(lg))))
    if len(np.unique(ps)) == 1:
        pbar = ys.mean()
        intc = np.log(pbar / (1 - pbar))
        l_cal = -2 * np.sum(ys * intc - np.log1p(np.exp(intc)))
        u_chisq = l01 - l_cal
        u = (u_chisq - 1) / n
        d = -1 / n
        e = abs(ps[0] - pbar)
        values = [0, 0.5, 0, d, 0, 1, u, u_chisq, 1 - stats.chi2.cdf(u_chisq, 1), d - u, np.mean((ys - ps[0]) ** 2),
                  intc, 0, 0, e, e, s_z, s_p]
        out = pd.Series(values, index=list(RMS_NAMES), dtype=float)
        out.attrs.update(note_en=None, note_zh=None)
        return out
    ok = np.isfinite(lg)
    yk, lk = ys[ok], lg[ok]
    nk = len(yk)
    pbar = yk.mean()
    l0 = float(-2 * np.sum(yk * np.log(pbar) + (1 - yk) * np.log(1 - pbar)))
    l_fixed = float(-2 * np.sum(yk * lk - np.logaddexp(0, lk)))
    lr = l0 - l_fixed
    r2 = (1 - np.exp(-lr / nk)) / (1 - np.exp(-l0 / nk))
    auc, _ = _delong(yk, np.floor(ps[ok] * 5000))  # lrm.fit's C: risks binned in 1/5000ths
    problem = _slope_problem(yk, lk)
    b, dev_recal = np.full(2, np.nan), np.nan
    if problem is None:
        try:
            with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
                b, dev_recal = _lrm_fit(lk, yk)
        except np.linalg.LinAlgError:
            problem = "no_convergence"
        if not np.all(np.isfinite(b)):
            problem, b, dev_recal = "no_convergence", np.full(2, np.nan), np.nan
    d = (lr - 1) / nk
    u_chisq = l01 - dev_recal
    u = (u_chisq - 2) / nk
    er = np.abs(ps - _smooth_at(ps, ys))
    values = [2 * (auc - 0.5), auc, r2, d, lr, 1 - stats.chi2.cdf(lr, 1), u, u_chisq, 1 - stats.chi2.cdf(u_chisq, 2),
              d - u, np.mean((ps - ys) ** 2), b[0], b[1], er.max(), np.quantile(er, 0.9), er.mean(), s_z, s_p]
    out = pd.Series(values, index=list(RMS_NAMES), dtype=float)
    note = NOT_ESTIMABLE[problem] if problem else (None, None)
    out.attrs.update(note_en=note[0], note_zh=note[1])
    return out


def net_benefit(y: Any, p: Any, *, thresholds: Sequence[float] | None = None) -> pd.DataFrame:
    """The decision curve: net benefit of the model, of treating all and of treating none.

    Parameters
    ----------
    y, p : array-like
        Outcomes (0/1) and predicted risks.
    thresholds : sequence of float in (0, 1), optional
        Threshold risks ``pt`` (default 0.01, 0.02, ..., 0.60).

    Returns
    -------
    DataFrame
        Long: one row per threshold and ``strategy`` (``model``, ``treat_all``, ``treat_none``):
        ``threshold, strategy, n, tp, fp, net_benefit``.

    Notes
    -----
    ``NB = TP/n - FP/n * pt/(1 - pt)``; the model treats those with ``p >= pt``; treat-all
    treats everyone (``TP`` = events, ``FP`` = non-events); treat-none has NB 0 (Vickers & Elkin
    2006). A model is worth using at ``pt`` only where its curve is above both.

    Examples
    --------
    >>> nb = net_benefit([1, 0, 1, 0], [0.9, 0.6, 0.4, 0.1], thresholds=[0.5])
    >>> nb[["strategy", "tp", "fp", "net_benefit"]].values.tolist()
    [['model', 1, 1, 0.0], ['treat_all', 2, 2, 0.0], ['treat_none', 0, 0, 0.0]]
    """
    ys, ps, dropped = _pairs(y, p)
    pts = np.round(np.arange(1, 61) / 100, 2) if thresholds is None else np.asarray(thresholds, float)
    if len(pts) == 0 or np.any((pts <= 0) | (pts >= 1)):
        raise ValueError(f"thresholds must be risks strictly between 0 and 1. Got {list(pts)!r} instead.")
    n = len(ys)
    events = int(ys.sum())
    rows = []
    for pt in pts:
        odds = pt / (1 - pt)
        treat = ps >= pt
        tp, fp = int((treat & (ys == 1)).sum()), int((treat & (ys == 0)).sum())
        for strategy, t_p, f_p in (("model", tp, fp), ("treat_all", events, n - events), ("treat_none", 0, 0)):
            nb = (t_p / n - f_p / n * odds) if n else np.nan
            rows.append((float(pt), strategy, n, t_p, f_p, float(nb)))
    out = pd.DataFrame(rows, columns=["threshold", "strategy", "n", "tp", "fp", "net_benefit"])
    out.attrs.update(dropped=dropped, method="Vickers & Elkin 2006")
    return out
