"""Regression models the body-and-mind analyses need, each as R fits it: a binomial logistic
model (R ``glm(family = binomial)``), a linear mixed model with a random intercept per subject
(R ``lme4::lmer(REML = TRUE)``) and count models with an exposure offset (R ``glm(family =
poisson)`` and ``MASS::glm.nb``), fitted with statsmodels.

Every function takes one row per observation ("long" data) and column names, and returns a tidy
DataFrame with fixed snake_case columns, one row per model term. Terms are named the same way
everywhere: ``intercept``; a numeric column by its name (``age``); a level of a categorical
column as ``column[level]`` against its reference level (``psych_status[clinical]``); an
interaction as ``a:b`` (``arm[intervention]:month[12]``). A categorical column's reference level
is the one passed as ``reference`` for the exposure (or arm), else its first level in sorted
order (R's default for a factor of text).

Missing data: complete cases. Rows missing any column of the model are excluded and counted
(``n_excluded``; their index in ``attrs["excluded"]``); nothing is imputed. Values that are
present but unusable (text in a numeric column, an outcome that is not 0/1 or not a count, a
non-positive exposure) raise :class:`ModelDataError`, which names every such row.

Agreement with R 4.2 (``glm``, ``lme4::lmer``, ``nlme::lme``, ``MASS::glm.nb``) to 4
significant figures is tested in ``tests/test_bodymind.py`` on the seeded data of
``tests/reference/bodymind/`` (script ``make_reference.R`` and its output beside it).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from scipy import special, stats

from workbench._errors import RowProblemsError
from workbench.params import ALPHA, COLUMN, FRAME, Options, Predicate, Sequence, validate_params

__all__ = ["ModelDataError", "count_model", "logistic_model", "mixed_model"]

TERMS = ["term", "estimate", "se", "ci_low", "ci_high", "p_value"]


class ModelDataError(RowProblemsError):
    """Data a model cannot be fitted to; names every bad row (row, column, value, rule)."""

    def __init__(self, function: str, problems: list[tuple]):
        super().__init__(problems, context=f"the data of {function}")


# --- preparing a design matrix -------------------------------------------------------------------

def _absent(data: pd.DataFrame, function: str, columns: list[str]) -> None:
    absent = [c for c in dict.fromkeys(columns) if c not in data.columns]
    if absent:
        raise ModelDataError(function, [(None, c, None, "is absent from the data") for c in absent])


def _numbers(data: pd.DataFrame, column: str, problems: list) -> pd.Series:
    raw = data[column]
    values = pd.to_numeric(raw.astype(object).where(raw.notna(), np.nan), errors="coerce").astype(float)
    bad = (raw.notna().to_numpy() & values.isna().to_numpy()) | np.isinf(values.to_numpy())
    for i in np.flatnonzero(bad):
        problems.append((data.index[i], column, raw.iloc[i], "must be a number (or missing)"))
    return values.where(~bad)


def _is_numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def _levels(series: pd.Series, reference: Any = None) -> list:
    levels = sorted(pd.unique(series.dropna()), key=lambda v: (str(type(v)), v))
    if reference is not None:
        levels = [reference] + [v for v in levels if v != reference]
    return levels


def _dummies(series: pd.Series, name: str, levels: list) -> pd.DataFrame:
    return pd.DataFrame({f"{name}[{level}]": (series == level).astype(float).where(series.notna())
                         for level in levels[1:]}, index=series.index)


def _reference_ok(data: pd.DataFrame, column: str, reference: Any, function: str) -> None:
    levels = _levels(data[column])
    from workbench.params import check

    check(function, "reference", reference,
          Predicate(lambda r: r in levels, f"one of the levels of '{column}' {levels}"))
    if len(levels) < 2:
        raise ValueError(f"The '{column}' column must have at least 2 levels for {function}. Got {levels}.")


def _design(data: pd.DataFrame, *, categorical: dict[str, Any], numeric: list[str], order: list[str],
            problems: list) -> tuple[pd.DataFrame, dict[str, list]]:
    """Columns of the design (without the intercept) in ``order``; categorical -> dummies."""
    parts, levels = [], {}
    for column in order:
        if column in categorical:
            levels[column] = _levels(data[column], categorical[column])
            parts.append(_dummies(data[column], column, levels[column]))
        else:
            parts.append(_numbers(data, column, problems).rename(column).to_frame())
    design = pd.concat(parts, axis=1) if parts else pd.DataFrame(index=data.index)
    return design, levels


def _kinds(data: pd.DataFrame, covariates: list[str], fixed: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    categorical = dict(fixed)
    numeric = []
    for c in covariates:
        if c in categorical:
            continue
        values = data[c]
        if _is_numeric(values) or (not pd.api.types.is_bool_dtype(values) and pd.to_numeric(
                values.dropna().astype(object), errors="coerce").notna().any()):
            numeric.append(c)  # a column holding any number is numeric: its text values are then named
        else:
            categorical[c] = None
    return categorical, numeric


def _complete(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.Index]:
    keep = frame.notna().all(axis=1)
    return frame[keep], frame.index[~keep]


def _rank_ok(x: np.ndarray, names: list[str], function: str) -> None:
    if x.shape[0] <= x.shape[1]:
        raise ValueError(f"{function} needs more complete rows than parameters ({x.shape[1]}). Got {x.shape[0]}.")
    if np.linalg.matrix_rank(x) < x.shape[1]:
        raise ValueError(f"The design of {function} is rank-deficient (a level with no complete rows, a constant "
                         f"column or columns that determine each other among {names}); nothing was fitted.")


def _wald(names: list[str], beta: np.ndarray, se: np.ndarray, alpha: float) -> pd.DataFrame:
    z = stats.norm.ppf(1 - alpha / 2)
    return pd.DataFrame({"term": names, "estimate": beta, "se": se, "ci_low": beta - z * se,
                         "ci_high": beta + z * se, "p_value": 2 * stats.norm.sf(np.abs(beta / se))})


COVARIATES = Sequence(COLUMN)


# --- logistic ---------------------------------------------------------------------------------------

@validate_params({"data": FRAME, "outcome": COLUMN, "exposure": COLUMN, "covariates": COVARIATES, "alpha": ALPHA})
def logistic_model(data: pd.DataFrame, *, outcome: str, exposure: str, reference: Any,
                   covariates: list[str] | tuple[str, ...] = (), alpha: float = 0.05) -> pd.DataFrame:
    """Binomial logistic regression of a 0/1 outcome on a categorical exposure and covariates.

    Fits ``outcome ~ exposure + covariates`` by maximum likelihood (statsmodels ``GLM``,
    binomial family, logit link; IRLS), as R's
    ``glm(outcome ~ relevel(factor(exposure), reference) + covariates, family = binomial)``.

    Parameters
    ----------
    data : DataFrame
        One row per person (or observation).
    outcome : str
        Column holding 1 (e.g. controlled), 0 or missing.
    exposure : str
        Categorical column compared against ``reference`` (e.g. ``psych_status``).
    reference : scalar
        The exposure's reference level (e.g. ``"normal"``).
    covariates : list of str
        Adjustment columns: numeric columns enter as they are, others (text, bool) as
        categorical with their first sorted level as reference. A column holding any number is
        numeric, so a stray text value in it (``"old"`` in ``age``) is named as a bad row rather
        than turning the column into categories.
    alpha : float
        1 - confidence level.

    Returns
    -------
    DataFrame
        One row per term (``intercept`` first, then the exposure's levels, then covariates):
        ``term, estimate`` (log odds), ``se``, ``ci_low, ci_high`` (Wald, of the log odds),
        ``p_value`` (Wald z, as ``summary.glm``), ``odds_ratio, or_ci_low, or_ci_high``
        (exponentiated), ``n`` (complete rows), ``events`` (rows with outcome 1) and
        ``n_excluded``. ``attrs``: ``alpha``, ``excluded``, ``loglik``, ``aic``,
        ``converged``, ``levels`` (each categorical column's levels, reference first).

    Raises
    ------
    ModelDataError
        An outcome that is not 0/1, or a numeric covariate that is not a number, naming every
        such row.

    Notes
    -----
    The interval is the Wald interval :math:`\\hat\\beta \\pm z_{1-\\alpha/2} SE` on the log
    odds, exponentiated (R: ``exp(confint.default(fit))``), not the profile-likelihood
    interval of R's ``confint`` on a ``glm`` (MASS). A complete separation (a level where every
    outcome is the same) gives no finite estimate; the fit then reports ``converged`` False
    and a warning, as R's does.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"controlled": [1, 1, 0, 1, 0, 0, 1, 0, 1, 1, 0, 1],
    ...                   "psych": ["normal"] * 6 + ["clinical"] * 6})
    >>> r = logistic_model(d, outcome="controlled", exposure="psych", reference="normal")
    >>> r[["term", "odds_ratio", "n", "events"]].round(4)  # (3/3) / (3/3) = 1
                  term  odds_ratio   n  events
    0        intercept         1.0  12       7
    1  psych[clinical]         2.0  12       7
    """
    import statsmodels.api as sm

    fn = "logistic_model"
    covariates = list(covariates)
    _absent(data, fn, [outcome, exposure, *covariates])
    _reference_ok(data, exposure, reference, fn)
    problems: list[tuple] = []
    y = _numbers(data, outcome, problems)
    for i in np.flatnonzero((y.notna() & ~y.isin([0.0, 1.0])).to_numpy()):
        problems.append((data.index[i], outcome, data[outcome].iloc[i], "must be 0 or 1 (or missing)"))
    categorical, numeric = _kinds(data, covariates, {exposure: reference})
    design, levels = _design(data, categorical=categorical, numeric=numeric, order=[exposure, *covariates],
                             problems=problems)
    if problems:
        raise ModelDataError(fn, problems)
    frame = pd.concat([y.rename("_y"), design, data[list(categorical)].notna().all(axis=1)
                       .map({True: 1.0, False: np.nan}).rename("_cat")], axis=1)
    used, excluded = _complete(frame)
    names = ["intercept", *design.columns]
    x = np.column_stack([np.ones(len(used)), used[design.columns].to_numpy(float)])
    _rank_ok(x, names, fn)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = sm.GLM(used["_y"].to_numpy(float), x, family=sm.families.Binomial()).fit(
            tol=1e-10, tol_criterion="params", maxiter=100)
    converged = bool(fit.converged) and not any("separation" in str(w.message) for w in caught)
    if not converged:
        warnings.warn(f"{fn}: the fit did not converge (a complete separation?); estimates are not finite or "
                      "not reliable.", RuntimeWarning, stacklevel=2)
    out = _wald(names, fit.params, fit.bse, alpha)
    with np.errstate(over="ignore"):  # a separated fit's estimates run off to infinity
        out["odds_ratio"], out["or_ci_low"], out["or_ci_high"] = (np.exp(out[c]) for c in ("estimate", "ci_low",
                                                                                           "ci_high"))
    out["n"], out["events"], out["n_excluded"] = len(used), int(used["_y"].sum()), len(excluded)
    out.attrs.update(alpha=alpha, excluded=list(excluded), loglik=float(fit.llf), aic=float(fit.aic),
                     converged=converged, levels=levels)
    return out


# --- linear mixed model -------------------------------------------------------------------------------

@validate_params({"data": FRAME, "outcome": COLUMN, "time": COLUMN, "subject": COLUMN, "arm": COLUMN,
                  "time_as": Options("factor", "linear"), "covariates": COVARIATES, "alpha": ALPHA})
def mixed_model(data: pd.DataFrame, *, outcome: str, time: str, subject: str, arm: str, reference: Any,
                time_as: str = "factor", covariates: list[str] | tuple[str, ...] = (),
                alpha: float = 0.05) -> pd.DataFrame:
    """Linear mixed model of repeated measures: arm x time fixed effects, a random intercept per subject.

    Fits ``outcome ~ arm * time + covariates + (1 | subject)`` by REML (statsmodels
    ``MixedLM``), as R's ``lme4::lmer(..., REML = TRUE)`` or
    ``nlme::lme(fixed, random = ~ 1 | subject, method = "REML")``.

    Parameters
    ----------
    data : DataFrame
        Long data: one row per subject per visit (e.g. SBP at months 0, 3, ..., 12).
    outcome : str
        The repeated measure (numeric; missing rows are excluded, the subject's other visits kept).
    time : str
        The visit (numeric, e.g. month).
    subject : str
        The subject id (random intercept).
    arm : str
        The randomised arm; ``reference`` is its comparator.
    time_as : {"factor", "linear"}
        ``"factor"``: one mean per visit and arm (terms ``time[m]`` and ``arm[a]:time[m]``
        against the first visit); ``"linear"``: a straight line per arm (terms ``time`` and
        ``arm[a]:time``, the difference in slope per unit of time).
    covariates : list of str
        Further fixed effects (numeric as they are; others categorical).
    alpha : float
        1 - confidence level.

    Returns
    -------
    DataFrame
        One row per fixed effect: ``term, estimate, se, ci_low, ci_high`` (Wald z),
        ``p_value`` (Wald z), ``n`` (observations), ``n_subjects``, ``n_excluded`` (rows
        missing a value). ``attrs``: ``variance_components`` (``{"subject": variance of the
        random intercepts, "residual": residual variance}``), ``reml_loglik``, ``alpha``,
        ``excluded``, ``converged``, ``levels``.

    Raises
    ------
    ModelDataError
        A value that is present but not a number, a blank time, subject or arm, a subject in two
        arms, or two rows of one subject at one visit, naming every such row.

    Notes
    -----
    Estimates, standard errors and variance components agree with ``lme4::lmer`` (and
    ``nlme::lme``, REML) to 4 significant figures. lme4 gives no p-values; these are Wald z
    tests (as statsmodels reports them), slightly smaller than the t tests of ``nlme::lme``
    for few subjects. The model assumes the correlation between a subject's visits comes from
    the shared intercept only (compound symmetry); missing visits are taken to be missing at
    random given the visits observed, so subjects with some missing visits still contribute.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(1)
    >>> d = pd.DataFrame({"id": np.repeat(np.arange(40), 3), "month": np.tile([0, 6, 12], 40),
    ...                   "arm": np.repeat(["ic", "uc"], 60)})
    >>> d["sbp"] = (150 - (d["arm"] == "ic") * d["month"] + np.repeat(rng.normal(0, 8, 40), 3)
    ...             + rng.normal(0, 5, 120))
    >>> m = mixed_model(d, outcome="sbp", time="month", subject="id", arm="arm", reference="uc", time_as="linear")
    >>> m["term"].tolist()
    ['intercept', 'arm[ic]', 'month', 'arm[ic]:month']
    >>> round(m.loc[3, "estimate"])  # 1 mmHg a month lower in the arm
    -1
    """
    import statsmodels.api as sm

    fn = "mixed_model"
    covariates = list(covariates)
    _absent(data, fn, [outcome, time, subject, arm, *covariates])
    _reference_ok(data, arm, reference, fn)
    problems: list[tuple] = []
    y = _numbers(data, outcome, problems)
    t = _numbers(data, time, problems)
    for column in (time, subject, arm):
        for i in np.flatnonzero(data[column].isna().to_numpy()):
            problems.append((data.index[i], column, None, "is missing: every row needs it"))
    arms = data[[subject, arm]].dropna().drop_duplicates()
    two = arms[arms[subject].duplicated(keep=False)][subject]
    for i in np.flatnonzero(data[subject].isin(two).to_numpy() & data[arm].notna().to_numpy()):
        problems.append((data.index[i], arm, data[arm].iloc[i], "differs between rows of one subject"))
    dup = data[[subject]].assign(_t=t).dropna().duplicated(keep="first")
    for i in dup.index[dup]:
        problems.append((i, time, data.at[i, time], "is a second row of this subject at this visit"))
    categorical, numeric = _kinds(data, covariates, {arm: reference})
    cov, levels = _design(data, categorical=categorical, numeric=numeric, order=covariates, problems=problems)
    if problems:
        raise ModelDataError(fn, problems)
    a = _dummies(data[arm], arm, _levels(data[arm], reference))
    levels[arm] = _levels(data[arm], reference)
    if time_as == "factor":
        levels[time] = _levels(t)
        tt = _dummies(t, time, levels[time])
        tt.columns = [f"{time}[{_tidy(v)}]" for v in levels[time][1:]]
    else:
        tt = t.rename(time).to_frame()
    inter = pd.DataFrame({f"{ca}:{ct}": a[ca] * tt[ct] for ca in a.columns for ct in tt.columns}, index=data.index)
    design = pd.concat([a, tt, inter, cov], axis=1)
    frame = pd.concat([y.rename("_y"), design, data[subject].rename("_g")], axis=1)
    used, excluded = _complete(frame)
    names = ["intercept", *design.columns]
    x = np.column_stack([np.ones(len(used)), used[design.columns].to_numpy(float)])
    _rank_ok(x, names, fn)
    model = sm.MixedLM(used["_y"].to_numpy(float), x, groups=used["_g"].to_numpy(), exog_re=np.ones((len(used), 1)))
    fit = None
    for method, options in (("bfgs", {"gtol": 1e-12}), ("powell", {"xtol": 1e-10, "ftol": 1e-12})):
        # statsmodels' default lbfgs can step onto a singular random-effects covariance and fail;
        # BFGS to a tight gradient reaches lmer's optimum (4th-5th figure), Powell is the fallback
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                fit = model.fit(reml=True, method=[method], maxiter=5000, **options)
            except (np.linalg.LinAlgError, ValueError):
                continue
        if fit.converged:
            break
    if fit is None:
        raise ValueError(f"{fn}: the REML fit failed with every optimiser (BFGS, Powell); nothing was fitted.")
    k = x.shape[1]
    group, resid = float(np.asarray(fit.cov_re)[0, 0]), float(fit.scale)
    out = _wald(names, np.asarray(fit.fe_params), _gls_se(x, used["_g"].to_numpy(), group, resid), alpha)
    out["n"], out["n_subjects"], out["n_excluded"] = len(used), int(used["_g"].nunique()), len(excluded)
    out.attrs.update(variance_components={"subject": group, "residual": resid}, reml_loglik=float(fit.llf),
                     alpha=alpha, excluded=list(excluded),
                     converged=bool(fit.converged), levels=levels, n_fixed=k)
    return out


def _gls_se(x: np.ndarray, groups: np.ndarray, tau2: float, sigma2: float) -> np.ndarray:
    """Standard errors of the fixed effects, sqrt(diag((X' V^-1 X)^-1)) with V = sigma2 I + tau2 J
    within each group (random intercept), at the REML variance estimates: what ``vcov`` of an
    ``lmer`` fit and ``nlme::lme`` report. (statsmodels' ``bse_fe`` inverts the Hessian of the
    whole likelihood instead, which differs in the 4th or 5th significant figure.)"""
    codes, index = pd.factorize(groups)
    counts = np.bincount(codes).astype(float)
    sums = np.zeros((len(index), x.shape[1]))
    np.add.at(sums, codes, x)
    shrink = tau2 / (sigma2 + counts * tau2)
    info = (x.T @ x - (sums * shrink[:, None]).T @ sums) / sigma2
    return np.sqrt(np.diag(np.linalg.inv(info)))


def _tidy(value: Any) -> Any:
    """A whole-number float level as an int (month 12.0 -> 12), for term names."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


# --- count models ---------------------------------------------------------------------------------------

def _nb_fit(y: np.ndarray, x: np.ndarray, offset: np.ndarray, theta: float, start: np.ndarray):
    """The negative binomial GLM at fixed theta (IRLS, scale 1), as ``glm(family = negative.binomial(theta))``."""
    import statsmodels.api as sm

    family = sm.families.NegativeBinomial(alpha=1 / theta)
    return sm.GLM(y, x, family=family, offset=offset).fit(start_params=start, tol=1e-10, tol_criterion="params",
                                                          maxiter=100, scale=1.0)


def _theta_ml(y: np.ndarray, mu: np.ndarray, theta: float, limit: int = 100) -> tuple[float, float]:
    """ML theta of a negative binomial for fixed means, and its SE: MASS::theta.ml's Newton steps
    (score and information of the log-likelihood in theta), to full precision."""
    def gradient(th):  # the score (d loglik / d theta)
        return np.sum(special.digamma(th + y) - special.digamma(th) + np.log(th) + 1 - np.log(th + mu)
                      - (y + th) / (mu + th))

    def info(th):
        return np.sum(-special.polygamma(1, th + y) + special.polygamma(1, th) - 1 / th + 2 / (mu + th)
                      - (y + th) / (mu + th) ** 2)

    with np.errstate(all="ignore"):
        for _ in range(limit):
            th = abs(theta)
            step = gradient(th) / info(th)
            theta = th + step
            if not np.isfinite(theta) or abs(theta) > THETA_MAX:
                return np.inf, np.nan          # no overdispersion: the likelihood rises towards Poisson
            if abs(step) <= 1e-12 * max(1.0, th):
                break
        theta = abs(theta)
        return theta, float(np.sqrt(1 / info(theta)))


#: Above this theta the negative binomial is taken to be the Poisson model (no overdispersion).
THETA_MAX = 1e6


@validate_params({"data": FRAME, "outcome": COLUMN, "arm": COLUMN, "exposure": Predicate(
    lambda v: v is None or (isinstance(v, str) and v != ""), "None or a column name (str)"),
    "family": Options("poisson", "negative_binomial"), "covariates": COVARIATES, "alpha": ALPHA})
def count_model(data: pd.DataFrame, *, outcome: str, arm: str, reference: Any, exposure: str | None = None,
                family: str = "poisson", covariates: list[str] | tuple[str, ...] = (),
                alpha: float = 0.05) -> pd.DataFrame:
    """Rate ratios of a count (ER visits, hospital days) by arm: Poisson or negative binomial GLM.

    Fits ``log E[outcome] = log(exposure) + arm + covariates``, as R's
    ``glm(outcome ~ arm + covariates + offset(log(exposure)), family = poisson)`` or
    ``MASS::glm.nb(...)`` (negative binomial with theta estimated by maximum likelihood).

    Parameters
    ----------
    data : DataFrame
        One row per person.
    outcome : str
        The count (a whole number >= 0, or missing).
    arm : str
        The arm (or any categorical exposure); ``reference`` is its comparator.
    exposure : str or None
        Column of each person's time at risk (e.g. days of follow-up; > 0): its log is the
        offset, so rate ratios are per unit of that time. None: no offset.
    family : {"poisson", "negative_binomial"}
        Poisson assumes variance = mean; the negative binomial (NB2) variance =
        mean + mean^2 / theta allows the overdispersion counts of health care use usually have.
    covariates : list of str
        Adjustment columns (numeric as they are; others categorical).
    alpha : float
        1 - confidence level.

    Returns
    -------
    DataFrame
        One row per term: ``term, estimate`` (log rate ratio), ``se, ci_low, ci_high`` (Wald),
        ``p_value`` (Wald z, as ``summary.glm`` / ``summary.negbin``), ``rate_ratio,
        rr_ci_low, rr_ci_high``, ``n`` and ``n_excluded``. ``attrs``: ``family``, ``theta`` and
        ``theta_se`` (negative binomial; NaN for Poisson), ``loglik``, ``aic`` (as R's
        ``AIC``: theta counts as a parameter), ``dispersion`` (Pearson chi-square / residual
        df: well above 1 under a Poisson fit means overdispersion), ``alpha``, ``excluded``.

    Raises
    ------
    ModelDataError
        A count that is negative or not whole, an exposure that is not > 0, or a value that is
        not a number, naming every such row.

    Notes
    -----
    statsmodels' ``GLM(family=NegativeBinomial())`` does not estimate theta: it fixes
    ``alpha = 1 / theta = 1`` unless told otherwise, so its coefficients are not those of
    ``glm.nb``. Here theta is estimated as ``glm.nb`` does: alternate (i) a GLM fit at fixed
    theta (statsmodels ``GLM`` with ``NegativeBinomial(alpha=1/theta)``, IRLS, scale fixed at
    1) and (ii) the ML theta at the fitted means (``MASS::theta.ml``'s Newton iteration),
    from the Poisson fit's means, until theta and the deviance settle (relative change
    < 1e-10). That is the joint maximum likelihood estimate ``glm.nb`` converges to; the
    standard errors are the GLM's at the final theta (expected information, theta treated
    as known), as ``summary.negbin`` reports them, and ``theta_se`` is ``theta.ml``'s
    information formula at the final theta (``glm.nb``'s ``SE.theta`` evaluates it one Newton
    step earlier, which differs in the 4th figure when theta is small). Counts with no
    overdispersion drive theta to infinity (above :data:`THETA_MAX`): the negative binomial is
    then the Poisson model, reported as such with ``theta = inf`` and a ``RuntimeWarning``
    (``glm.nb`` warns and stops at a very large theta). The intervals are Wald (R:
    ``confint.default``).

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"arm": ["ic"] * 4 + ["uc"] * 4, "er": [0, 1, 0, 1, 2, 1, 3, 2],
    ...                   "days": [365] * 8})
    >>> r = count_model(d, outcome="er", arm="arm", reference="uc", exposure="days")
    >>> r[["term", "rate_ratio"]].round(4)  # 2 visits / 8 visits
            term  rate_ratio
    0  intercept      0.0055
    1    arm[ic]      0.2500
    """
    import statsmodels.api as sm

    fn = "count_model"
    covariates = list(covariates)
    _absent(data, fn, [outcome, arm, *([exposure] if exposure else []), *covariates])
    _reference_ok(data, arm, reference, fn)
    problems: list[tuple] = []
    y = _numbers(data, outcome, problems)
    for i in np.flatnonzero((y.notna() & ((y < 0) | (y != np.floor(y)))).to_numpy()):
        problems.append((data.index[i], outcome, data[outcome].iloc[i], "must be a whole number >= 0 (a count)"))
    if exposure:
        e = _numbers(data, exposure, problems)
        for i in np.flatnonzero((e.notna() & (e <= 0)).to_numpy()):
            problems.append((data.index[i], exposure, data[exposure].iloc[i], "must be > 0 (time at risk)"))
    else:
        e = pd.Series(1.0, index=data.index)
    categorical, numeric = _kinds(data, covariates, {arm: reference})
    design, levels = _design(data, categorical=categorical, numeric=numeric, order=[arm, *covariates],
                             problems=problems)
    if problems:
        raise ModelDataError(fn, problems)
    frame = pd.concat([y.rename("_y"), e.rename("_e"), design,
                       data[list(categorical)].notna().all(axis=1).map({True: 1.0, False: np.nan}).rename("_cat")],
                      axis=1)
    used, excluded = _complete(frame)
    names = ["intercept", *design.columns]
    x = np.column_stack([np.ones(len(used)), used[design.columns].to_numpy(float)])
    _rank_ok(x, names, fn)
    yy, offset = used["_y"].to_numpy(float), np.log(used["_e"].to_numpy(float))
    fit = sm.GLM(yy, x, family=sm.families.Poisson(), offset=offset).fit(tol=1e-10, tol_criterion="params",
                                                                         maxiter=100)
    theta = theta_se = np.nan
    poisson = fit
    if family == "negative_binomial":
        mu = fit.fittedvalues
        with np.errstate(divide="ignore"):
            start = len(yy) / np.sum((yy / mu - 1) ** 2)                       # glm.nb's starting value
        theta, _ = _theta_ml(yy, mu, start)
        deviance = np.inf
        for _ in range(200):
            if not np.isfinite(theta):
                break
            fit = _nb_fit(yy, x, offset, theta, fit.params)
            new_theta, theta_se = _theta_ml(yy, fit.fittedvalues, theta)
            settled = (abs(new_theta - theta) <= 1e-10 * theta
                       and abs(fit.deviance - deviance) <= 1e-10 * max(1.0, abs(fit.deviance)))
            theta, deviance = new_theta, fit.deviance
            if settled:
                break
    if family == "negative_binomial" and not np.isfinite(theta):
        warnings.warn(f"{fn}: the counts of '{outcome}' show no overdispersion (theta runs to infinity), so the "
                      "negative binomial fit is the Poisson fit; it is reported with theta = inf.", RuntimeWarning,
                      stacklevel=2)
        fit, theta_se = poisson, np.nan
        loglik, aic = float(fit.llf), float(-2 * fit.llf + 2 * (x.shape[1] + 1))
    elif family == "negative_binomial":
        fit = _nb_fit(yy, x, offset, theta, fit.params)
        mu = fit.fittedvalues
        loglik = float(np.sum(special.gammaln(theta + yy) - special.gammaln(theta) - special.gammaln(yy + 1)
                              + theta * np.log(theta) + yy * np.log(np.where(yy > 0, mu, 1.0))
                              - (theta + yy) * np.log(theta + mu)))
        aic = -2 * loglik + 2 * (x.shape[1] + 1)
    else:
        loglik, aic = float(fit.llf), float(-2 * fit.llf + 2 * x.shape[1])
    out = _wald(names, np.asarray(fit.params), np.asarray(fit.bse), alpha)
    out["rate_ratio"], out["rr_ci_low"], out["rr_ci_high"] = np.exp(out["estimate"]), np.exp(out["ci_low"]), \
        np.exp(out["ci_high"])
    out["n"], out["n_excluded"] = len(used), len(excluded)
    out.attrs.update(family=family, theta=float(theta), theta_se=float(theta_se), loglik=loglik, aic=float(aic),
                     dispersion=float(fit.pearson_chi2 / fit.df_resid), alpha=alpha, excluded=list(excluded),
                     levels=levels)
    return out
