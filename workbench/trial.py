"""Analysis of the 12-month randomised trial (intervention vs usual care).

CONSORT flow counts, the primary ANCOVA (follow-up score on baseline and arm, as R's ``lm``),
Hedges' g, and binary outcomes (response, remission, recovery) compared by arm with risk
difference, risk ratio and number needed to treat (rounded up, with Altman's interval:
:func:`nnt_text` prints it in zh or en), plus a sensitivity analysis for missing follow-up, a
mixed ANOVA over waves (pingouin) and the mean score by arm and visit (:func:`trajectory`; drawn
by :mod:`workbench.trial_plots`).

Missing follow-up is handled explicitly: every analysis is complete-case, and the number of
rows it excluded is a column of its result (``n_excluded``), with the excluded rows' index in
``result.attrs["excluded"]``. Nothing is imputed unless you ask for it
(:func:`ancova_sensitivity`). Estimates are checked against R 4.2 in ``tests/test_trial.py``
(script and outputs in ``tests/reference/trial/``).

Data are one row per randomised resident ("wide"), e.g. columns ``arm``, ``phq9_0`` (baseline)
and ``phq9_12`` (12 months), as :func:`workbench.cohort.trial_frame` builds them from the analysis
tables' stored scores; :func:`mixed_anova` takes long data (one row per resident per wave);
:func:`consort` reads the analysis tables (:class:`workbench.tables.Tables`) directly.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from workbench._errors import RowProblemsError, other_arms
from workbench._nnt import NNT_GLOSSARY, NNT_WORDS, _nnt, nnt_text
from workbench.params import ALPHA, COLUMN, FRAME, TABLES, Interval, Predicate, check, validate_params

__all__ = ["NNT_GLOSSARY", "NNT_WORDS", "TrialDataError", "ancova", "ancova_sensitivity", "consort", "hedges_g",
           "mixed_anova", "nnt_text", "risk_compare", "trajectory"]


class TrialDataError(RowProblemsError):
    """Input that cannot be analysed; names every bad row (row, column, value, rule)."""

    def __init__(self, function: str, problems: list[tuple]):
        super().__init__(problems, context=f"the data of {function}")


# --- checks (the parameters' rules are declared on each function) ------------------------------

def _check_columns(data: pd.DataFrame, function: str, columns: list[str]) -> None:
    absent = [c for c in columns if c not in data.columns]
    if absent:
        raise TrialDataError(function, [(None, c, None, "is absent from the data") for c in absent])


def _prepare(data: Any, function: str, *, arm: str, reference: Any, numeric: list[str],
             binary: list[str] = ()) -> tuple[pd.DataFrame, list]:
    """Validate; return the numeric frame and the sorted non-reference arms.

    Missing values (NaN/NA) in ``numeric`` and ``binary`` columns are allowed (they make a row
    incomplete); values that are present but not numbers, not 0/1, or a missing arm are errors.
    """
    _check_columns(data, function, [arm, *numeric, *binary])
    problems: list[tuple] = []
    out = pd.DataFrame(index=data.index)
    arms = data[arm]
    for i in np.flatnonzero(arms.isna().to_numpy()):
        problems.append((data.index[i], arm, None, "is missing: every randomised row needs an arm"))
    out[arm] = arms
    for c in (*numeric, *binary):
        raw = data[c]
        values = pd.to_numeric(raw.astype(object).where(raw.notna(), np.nan), errors="coerce").astype(float)
        bad = (raw.notna().to_numpy() & values.isna().to_numpy()) | np.isinf(values.to_numpy())
        for i in np.flatnonzero(bad):
            problems.append((data.index[i], c, raw.iloc[i], "must be a number (or missing)"))
        if c in binary:
            notbinary = values.notna().to_numpy() & ~values.isin([0.0, 1.0]).to_numpy()
            for i in np.flatnonzero(notbinary & ~bad):
                problems.append((data.index[i], c, raw.iloc[i], "must be 0 or 1 (or missing)"))
        out[c] = values
    if problems:
        raise TrialDataError(function, problems)
    levels = sorted(arms.dropna().unique(), key=str)
    others = other_arms(levels, reference, arm=arm, function=function)
    return out, others


def _complete(frame: pd.DataFrame, columns: list[str]) -> tuple[pd.DataFrame, pd.Index]:
    keep = frame[columns].notna().all(axis=1)
    return frame[keep], frame.index[~keep]


# --- ANCOVA -----------------------------------------------------------------------------------

def _ols(y: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Coefficients, their standard errors and residual degrees of freedom (as R's ``lm``)."""
    n, p = x.shape
    q, r = np.linalg.qr(x)
    if np.linalg.matrix_rank(r) < p:
        raise ValueError("The ANCOVA design is rank-deficient (an arm with no complete rows, or a constant "
                         "baseline); nothing was analysed.")
    beta = np.linalg.solve(r, q.T @ y)
    dof = n - p
    if dof < 1:
        raise ValueError(f"The ANCOVA needs more complete rows than parameters ({p}). Got {n}.")
    resid = y - x @ beta
    sigma2 = resid @ resid / dof
    rinv = np.linalg.inv(r)
    se = np.sqrt(sigma2 * np.sum(rinv ** 2, axis=1))
    return beta, se, dof


@validate_params({"data": FRAME, "outcome": COLUMN, "baseline": COLUMN, "arm": COLUMN, "alpha": ALPHA})
def ancova(data: pd.DataFrame, *, outcome: str, baseline: str, arm: str, reference: Any,
           alpha: float = 0.05) -> pd.DataFrame:
    """The primary analysis: ANCOVA of the follow-up score on baseline and arm (complete cases).

    Fits ``outcome ~ baseline + arm`` by least squares with the ``reference`` arm as the
    baseline level (R: ``lm(outcome ~ baseline + relevel(factor(arm), reference))``).

    Parameters
    ----------
    data : DataFrame
        One row per randomised resident.
    outcome, baseline : str
        Columns of the follow-up and baseline scores (missing allowed: such rows are excluded).
    arm : str
        Column of the randomised arm (never missing).
    reference : scalar
        The comparator arm, e.g. ``"usual_care"``.
    alpha : float
        1 - confidence level.

    Returns
    -------
    DataFrame
        One row per non-reference arm (sorted): ``arm``, ``effect`` (adjusted mean difference,
        arm minus reference), ``se``, ``ci_low``, ``ci_high`` (t interval, as R's ``confint``),
        ``p_value`` (two-sided t test, as ``summary.lm``), ``n`` (complete rows in the model)
        and ``n_excluded`` (rows excluded for a missing outcome or baseline; the same for every
        row, as there is one model). ``attrs``: ``alpha``, ``dof``, ``excluded`` (their index).

    Raises
    ------
    TrialDataError
        A missing arm, or a score that is present but not a number, naming every such row.

    Notes
    -----
    Missing data: complete-case analysis; rows missing the outcome or the baseline are
    excluded and counted, never imputed. See :func:`ancova_sensitivity` for baseline
    observation carried forward. Checked against R 4.2.2 ``summary(lm(...))`` and
    ``confint`` (5 significant figures) in ``tests/test_trial.py``.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"arm": ["ic", "uc"] * 5, "phq9_0": [10, 12, 8, 9, 15, 14, 11, 10, 13, 9],
    ...                   "phq9_12": [4, 9, 3, 8, 7, 12, None, 9, 6, 7]})
    >>> ancova(d, outcome="phq9_12", baseline="phq9_0", arm="arm", reference="uc").round(4)  # R: -4.4686, se 0.44464
      arm  effect      se  ci_low  ci_high  p_value  n  n_excluded
    0  ic -4.4686  0.4446 -5.5566  -3.3806   0.0001  9           1
    """
    fn = "ancova"
    frame, others = _prepare(data, fn, arm=arm, reference=reference, numeric=[outcome, baseline])
    used, excluded = _complete(frame, [outcome, baseline])
    x = np.column_stack([np.ones(len(used)), used[baseline].to_numpy()]
                        + [(used[arm] == a).to_numpy(float) for a in others])
    beta, se, dof = _ols(used[outcome].to_numpy(), x)
    t = stats.t.ppf(1 - alpha / 2, dof)
    effect, err = beta[2:], se[2:]
    out = pd.DataFrame({"arm": others, "effect": effect, "se": err, "ci_low": effect - t * err,
                        "ci_high": effect + t * err, "p_value": 2 * stats.t.sf(np.abs(effect / err), dof),
                        "n": len(used), "n_excluded": len(excluded)})
    out.attrs.update(alpha=alpha, dof=int(dof), excluded=list(excluded))
    return out


@validate_params({"data": FRAME, "outcome": COLUMN, "baseline": COLUMN, "arm": COLUMN, "alpha": ALPHA})
def ancova_sensitivity(data: pd.DataFrame, *, outcome: str, baseline: str, arm: str, reference: Any,
                       alpha: float = 0.05) -> pd.DataFrame:
    """The ANCOVA under two missing-data assumptions: complete case and baseline carried forward.

    Returns
    -------
    DataFrame
        The columns of :func:`ancova` preceded by ``analysis``: ``"complete_case"`` (the
        primary analysis) and ``"baseline_carried_forward"`` (a missing outcome replaced by
        the resident's baseline score, i.e. no change: BOCF; rows missing the baseline are
        still excluded). ``n_imputed`` counts the outcomes filled in.

    Notes
    -----
    BOCF assumes those lost to follow-up did not change; it is a sensitivity analysis, not a
    replacement for the primary complete-case result. Both rows come from :func:`ancova`.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"arm": ["ic", "uc"] * 5, "phq9_0": [10, 12, 8, 9, 15, 14, 11, 10, 13, 9],
    ...                   "phq9_12": [4, 9, 3, 8, 7, 12, None, 9, 6, 7]})
    >>> ancova_sensitivity(d, outcome="phq9_12", baseline="phq9_0", arm="arm", reference="uc")[
    ...     ["analysis", "effect", "n", "n_excluded", "n_imputed"]].round(3)
                       analysis  effect   n  n_excluded  n_imputed
    0             complete_case  -4.469   9           1          0
    1  baseline_carried_forward  -3.170  10           0          1
    """
    complete = ancova(data, outcome=outcome, baseline=baseline, arm=arm, reference=reference, alpha=alpha)
    filled = data.copy()
    y = pd.to_numeric(filled[outcome], errors="coerce")
    fill = y.isna() & pd.to_numeric(filled[baseline], errors="coerce").notna() & data[outcome].isna()
    filled[outcome] = y.where(~fill, pd.to_numeric(filled[baseline], errors="coerce"))
    bocf = ancova(filled, outcome=outcome, baseline=baseline, arm=arm, reference=reference, alpha=alpha)
    complete.insert(0, "analysis", "complete_case")
    bocf.insert(0, "analysis", "baseline_carried_forward")
    complete["n_imputed"], bocf["n_imputed"] = 0, int(fill.sum())
    out = pd.concat([complete, bocf], ignore_index=True)
    out.attrs.update(alpha=alpha)
    return out


# --- Hedges' g --------------------------------------------------------------------------------

@validate_params({"data": FRAME, "outcome": COLUMN, "arm": COLUMN, "alpha": ALPHA})
def hedges_g(data: pd.DataFrame, *, outcome: str, arm: str, reference: Any, alpha: float = 0.05) -> pd.DataFrame:
    """Standardised mean difference (Hedges' g) of each arm against the reference, with its CI.

    Returns
    -------
    DataFrame
        One row per non-reference arm: ``arm``, ``g`` (arm minus reference, so for PHQ-9 a
        negative g favours the arm), ``se``, ``ci_low``, ``ci_high``, ``n`` and
        ``n_reference`` (rows with an outcome), ``n_excluded`` (rows of the two arms missing
        the outcome). ``attrs``: ``alpha``, ``excluded``.

    Notes
    -----
    With group sizes :math:`n_1, n_0`, means :math:`\\bar y_1, \\bar y_0` and the pooled SD
    :math:`s_p = \\sqrt{((n_1-1)s_1^2 + (n_0-1)s_0^2)/(n_1+n_0-2)}`:

    .. math::

        d = (\\bar y_1 - \\bar y_0)/s_p, \\quad J = 1 - \\frac{3}{4(n_1+n_0-2)-1}, \\quad g = J d,

        V_d = \\frac{n_1+n_0}{n_1 n_0} + \\frac{d^2}{2(n_1+n_0)}, \\quad SE_g = \\sqrt{J^2 V_d},

    and the interval is :math:`g \\pm z_{1-\\alpha/2} SE_g` (normal approximation). Source:
    Hedges & Olkin (1985), *Statistical Methods for Meta-Analysis*, ch. 5; as written in
    Borenstein et al. (2009), *Introduction to Meta-Analysis*, eqs. 4.18-4.24. Complete cases
    (rows missing the outcome excluded and counted). Checked against these formulas computed
    in R 4.2.2 (``tests/reference/trial/make_reference.R``).

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"arm": ["ic"] * 4 + ["uc"] * 4, "phq9_12": [3, 5, 4, 8, 7, 9, 6, 10]})
    >>> hedges_g(d, outcome="phq9_12", arm="arm", reference="uc").round(4)
      arm       g     se  ci_low  ci_high  n  n_reference  n_excluded
    0  ic -1.3043  0.696 -2.6685   0.0598  4            4           0
    """
    fn = "hedges_g"
    frame, others = _prepare(data, fn, arm=arm, reference=reference, numeric=[outcome])
    z = stats.norm.ppf(1 - alpha / 2)
    ref = frame.loc[frame[arm] == reference, outcome]
    rows, excluded = [], list(ref.index[ref.isna()])
    y0 = ref.dropna().to_numpy()
    for a in others:
        this = frame.loc[frame[arm] == a, outcome]
        excluded += list(this.index[this.isna()])
        y1 = this.dropna().to_numpy()
        n1, n0 = len(y1), len(y0)
        if n1 < 2 or n0 < 2:
            raise ValueError(f"hedges_g needs at least 2 outcomes in each arm; arm {a!r} has {n1} and "
                             f"reference {reference!r} has {n0}.")
        sp = np.sqrt(((n1 - 1) * y1.var(ddof=1) + (n0 - 1) * y0.var(ddof=1)) / (n1 + n0 - 2))
        d = (y1.mean() - y0.mean()) / sp
        j = 1 - 3 / (4 * (n1 + n0 - 2) - 1)
        se = j * np.sqrt((n1 + n0) / (n1 * n0) + d * d / (2 * (n1 + n0)))
        g = j * d
        rows.append({"arm": a, "g": g, "se": se, "ci_low": g - z * se, "ci_high": g + z * se,
                     "n": n1, "n_reference": n0, "n_excluded": int(this.isna().sum() + ref.isna().sum())})
    out = pd.DataFrame(rows)
    out.attrs.update(alpha=alpha, excluded=excluded)
    return out


# --- binary outcomes --------------------------------------------------------------------------

@validate_params({"data": FRAME, "outcome": COLUMN, "arm": COLUMN, "alpha": ALPHA,
                  "desirable": Predicate(lambda v: isinstance(v, bool), "True or False")})
def risk_compare(data: pd.DataFrame, *, outcome: str, arm: str, reference: Any, alpha: float = 0.05,
                 desirable: bool = True) -> pd.DataFrame:
    """Risk of a binary outcome (response, remission, recovery) by arm: RD, RR and NNT.

    Parameters
    ----------
    data : DataFrame
        One row per randomised resident.
    outcome : str
        Column holding 1 (event, e.g. remitted), 0 (no event) or missing (excluded, counted:
        e.g. not assessed, or remission for a resident not at caseness at baseline).
    arm, reference, alpha
        As in :func:`ancova`.
    desirable : bool
        Whether the event is good (response, remission, recovery: True) or bad (deterioration:
        False); it decides which side of the NNT is benefit (NNTB) and which harm (NNTH).

    Returns
    -------
    DataFrame
        One row per non-reference arm: ``arm``, ``risk`` and ``risk_reference`` (proportions
        with the event), ``risk_difference`` (arm minus reference) with ``rd_ci_low``,
        ``rd_ci_high``, ``risk_ratio`` (arm / reference) with ``rr_ci_low``, ``rr_ci_high``,
        ``nnt`` (1 / abs(RD) rounded up to a whole person; NaN when RD is 0), ``nnt_kind``
        (``"NNTB"`` or ``"NNTH"``), ``nnt_unrounded``, the interval ``nnt_ci_low``
        (``nnt_ci_low_kind``) to ``nnt_ci_high`` (``nnt_ci_high_kind``) as unrounded reciprocals
        of RD's limits (``inf`` for a limit at 0), ``nnt_ci_through_infinity`` (True when RD's
        interval includes 0: read "NNTB low to infinity to NNTH high"), then ``events``, ``n``,
        ``events_reference``, ``n_reference``, ``n_excluded``. ``attrs``: ``alpha``,
        ``excluded``. :func:`nnt_text` prints the NNT and interval in en or zh.

    Notes
    -----
    Risk difference: Wald interval
    :math:`RD \\pm z \\sqrt{p_1(1-p_1)/n_1 + p_0(1-p_0)/n_0}` (the interval of R's
    ``prop.test(correct = FALSE)``; it is poor for very small counts or risks near 0 or 1).

    Risk ratio: interval on the log scale,
    :math:`\\exp(\\log RR \\pm z \\sqrt{1/x_1 - 1/n_1 + 1/x_0 - 1/n_0})` (Katz et al. 1978);
    undefined (NaN) when either arm has no events, as no continuity correction is applied.

    NNT = 1 / |RD|, rounded up to the next whole person (Cook & Sackett 1995, BMJ 310:452;
    Altman 1998, BMJ 317:1309): the number to treat with the arm instead of the reference for
    one more resident to benefit (NNTB) or be harmed (NNTH). Its interval is the reciprocal of
    RD's limits (Altman 1998); when RD's interval includes 0 it runs from NNTB through infinity
    to NNTH, and is reported so, not dropped. Checked against R (``tests/reference/nnt/``).

    Complete cases: rows missing the outcome are excluded and counted, never counted as
    non-events. Checked against R 4.2.2 (``prop.test`` and the formulas above).

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"arm": ["ic"] * 50 + ["uc"] * 50,
    ...                   "remitted": [1] * 30 + [0] * 20 + [1] * 15 + [0] * 34 + [None]})
    >>> r = risk_compare(d, outcome="remitted", arm="arm", reference="uc")
    >>> r[["arm", "risk", "risk_reference", "risk_difference", "rd_ci_low", "rd_ci_high"]].round(3)
      arm  risk  risk_reference  risk_difference  rd_ci_low  rd_ci_high
    0  ic   0.6           0.306            0.294      0.107       0.481
    >>> r[["nnt", "nnt_kind", "nnt_unrounded", "nnt_ci_low", "nnt_ci_high"]].round(2)  # 1 / 0.294 = 3.4 -> 4
       nnt nnt_kind  nnt_unrounded  nnt_ci_low  nnt_ci_high
    0  4.0     NNTB            3.4        2.08         9.39
    >>> nnt_text(r).item()
    'NNTB 4 (95% CI NNTB 3 to NNTB 10)'
    >>> r[["risk_ratio", "rr_ci_low", "rr_ci_high", "n_excluded"]].round(3)
       risk_ratio  rr_ci_low  rr_ci_high  n_excluded
    0        1.96      1.215       3.163           1
    """
    fn = "risk_compare"
    frame, others = _prepare(data, fn, arm=arm, reference=reference, numeric=[], binary=[outcome])
    z = stats.norm.ppf(1 - alpha / 2)
    ref = frame.loc[frame[arm] == reference, outcome]
    x0, n0 = float(ref.sum()), int(ref.notna().sum())
    rows, excluded = [], list(ref.index[ref.isna()])
    for a in others:
        this = frame.loc[frame[arm] == a, outcome]
        excluded += list(this.index[this.isna()])
        x1, n1 = float(this.sum()), int(this.notna().sum())
        if n1 == 0 or n0 == 0:
            raise ValueError(f"risk_compare needs at least 1 outcome in each arm; arm {a!r} has {n1} and "
                             f"reference {reference!r} has {n0}.")
        p1, p0 = x1 / n1, x0 / n0
        rd = p1 - p0
        se_rd = np.sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0)
        with np.errstate(divide="ignore", invalid="ignore"):
            rr = p1 / p0 if p0 > 0 else np.nan
            if x1 > 0 and x0 > 0:
                se_log = np.sqrt(1 / x1 - 1 / n1 + 1 / x0 - 1 / n0)
                rr_low, rr_high = np.exp(np.log(rr) - z * se_log), np.exp(np.log(rr) + z * se_log)
            else:
                rr_low = rr_high = np.nan
        low, high = rd - z * se_rd, rd + z * se_rd
        rows.append({"arm": a, "risk": p1, "risk_reference": p0, "risk_difference": rd, "rd_ci_low": low,
                     "rd_ci_high": high, "risk_ratio": rr, "rr_ci_low": rr_low, "rr_ci_high": rr_high,
                     **_nnt(rd, low, high, desirable=desirable),
                     "events": int(x1), "n": n1, "events_reference": int(x0), "n_reference": n0,
                     "n_excluded": int(this.isna().sum() + ref.isna().sum())})
    out = pd.DataFrame(rows)
    out.attrs.update(alpha=alpha, excluded=excluded)
    return out


# --- CONSORT ----------------------------------------------------------------------------------

@validate_params({"tables": TABLES, "months": Interval(int, 1, None)})
def consort(tables, *, study: str = "rct_12m", months: int = 12) -> pd.DataFrame:
    """CONSORT flow counts per arm: randomised, assessed at follow-up, lost to follow-up.

    Parameters
    ----------
    tables : workbench.tables.Tables
        The analysis tables: ``enrolments`` (one row per randomised resident of ``study``, with
        its ``arm``) and ``assessments`` (the study visits: ``purpose == "study"``, ``study``,
        ``visit`` = month).
    study : str
        The trial's study id (default the 12-month trial).
    months : int
        The follow-up visit to count (e.g. 6 or 12).

    Returns
    -------
    DataFrame
        One row per arm (sorted): ``arm``, ``randomised``, ``assessed`` (residents with a
        questionnaire at the visit ``months``), ``lost_to_follow_up`` (randomised minus assessed),
        ``percent_assessed``. ``attrs``: ``study``, ``months``.

    Raises
    ------
    TrialDataError
        A resident enrolled twice, a missing arm, or a visit of a resident who was not
        randomised, naming every such row (the rule names the table).

    Notes
    -----
    "Assessed" means a questionnaire was taken at the visit; one whose score cannot be computed
    (too many missing answers) is still counted here, but is excluded (and counted) by the
    analyses.

    Examples
    --------
    >>> import pandas as pd
    >>> from workbench.tables import TABLES, Tables
    >>> e = pd.DataFrame({"enrolment_id": ["E1", "E2", "E3", "E4"], "resident_id": ["a", "b", "c", "d"],
    ...                   "study": "rct_12m", "arm": ["ic", "ic", "uc", "uc"],
    ...                   "enrolled_on": pd.Timestamp("2025-01-06")})
    >>> visits = pd.DataFrame({"resident_id": ["a", "a", "c", "d"], "visit": [6, 12, 12, 6]})
    >>> a = pd.concat([TABLES["assessments"].empty(), visits.assign(purpose="study", study="rct_12m")])
    >>> consort(Tables(enrolments=e.astype({"resident_id": "string"}), assessments=a), months=12)
      arm  randomised  assessed  lost_to_follow_up  percent_assessed
    0  ic           2         1                  1              50.0
    1  uc           2         1                  1              50.0
    """
    fn = "consort"
    enrolments = tables.enrolments
    enrolments = enrolments[enrolments["study"] == study]
    studies = sorted(tables.enrolments["study"].dropna().unique())
    check(fn, "study", study, Predicate(lambda s: not enrolments.empty, f"a study with enrolments {studies}"))
    a = tables.assessments
    assessments = a[(a["purpose"] == "study").fillna(False) & (a["study"] == study).fillna(False)]
    problems: list[tuple] = []
    ids = enrolments["resident_id"]
    for col, mask, rule in [("resident_id", ids.isna(), "is missing in enrolments"),
                            ("resident_id", ids.duplicated(keep="first") & ids.notna(),
                             "is enrolled twice (duplicate in enrolments)"),
                            ("arm", enrolments["arm"].isna(), "is missing in enrolments")]:
        for i in np.flatnonzero(mask.to_numpy(bool)):
            problems.append((enrolments.index[i], col, enrolments[col].iloc[i], rule))
    stray = ~assessments["resident_id"].isin(ids.dropna())
    for i in np.flatnonzero(stray.to_numpy(bool)):
        problems.append((assessments.index[i], "resident_id", assessments["resident_id"].iloc[i],
                         f"has a {study} visit in assessments but was not randomised (not in enrolments)"))
    if problems:
        raise TrialDataError(fn, problems)
    month = pd.to_numeric(assessments["visit"], errors="coerce")
    seen = set(assessments.loc[(month == months).fillna(False).to_numpy(bool), "resident_id"])
    table = pd.DataFrame({"arm": enrolments["arm"].astype(object), "assessed": enrolments["resident_id"].isin(seen)})
    out = (table.groupby("arm", sort=True)["assessed"].agg(randomised="size", assessed="sum").reset_index())
    out["randomised"] = out["randomised"].astype(np.int64)
    out["assessed"] = out["assessed"].astype(np.int64)
    out["lost_to_follow_up"] = out["randomised"] - out["assessed"]
    out["percent_assessed"] = (100 * out["assessed"] / out["randomised"]).round(1)
    out.attrs.update(study=study, months=months)
    return out


# --- mixed ANOVA ------------------------------------------------------------------------------

@validate_params({"data": FRAME, "dv": COLUMN, "within": COLUMN, "subject": COLUMN, "arm": COLUMN})
def mixed_anova(data: pd.DataFrame, *, dv: str, within: str, subject: str, arm: str) -> pd.DataFrame:
    """Mixed ANOVA of a score over waves (within) and arm (between), via ``pingouin.mixed_anova``.

    Parameters
    ----------
    data : DataFrame
        Long data: one row per resident per wave.
    dv, within, subject, arm : str
        Columns: the score, the wave (e.g. ``month``), the resident id, the arm.

    Returns
    -------
    DataFrame
        One row per effect (``arm``, the wave, ``interaction``): ``source``, ``ss``, ``df1``,
        ``df2``, ``ms``, ``f``, ``p_value``, ``np2`` (partial eta squared), ``n``
        (residents analysed), ``n_excluded`` (residents dropped for a missing wave or score).
        ``attrs``: ``excluded`` (their ids).

    Notes
    -----
    Complete cases by resident: anyone missing a score at any wave is dropped (pingouin's
    listwise deletion), here counted instead of silently. Sphericity is not corrected. Checked
    against R's ``summary(aov(y ~ arm * wave + Error(id / wave)))`` on the same complete cases
    (``tests/reference/trial/make_reference_mixed.R``).

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"id": [1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6],
    ...                   "arm": ["ic"] * 6 + ["uc"] * 6, "month": [0, 12] * 6,
    ...                   "phq9": [12, 5, 10, 4, 14, 6, 11, 9, 13, 12, 9, None]})
    >>> mixed_anova(d, dv="phq9", within="month", subject="id", arm="arm")[["source", "df1", "df2", "n", "n_excluded"]]
            source  df1  df2  n  n_excluded
    0          arm    1    3  5           1
    1        month    1    3  5           1
    2  interaction    1    3  5           1
    """
    import pingouin as pg

    fn = "mixed_anova"
    _check_columns(data, fn, [dv, within, subject, arm])
    problems: list[tuple] = []
    for col in (within, subject, arm):
        for i in np.flatnonzero(data[col].isna().to_numpy()):
            problems.append((data.index[i], col, None, "is missing"))
    raw = data[dv]
    y = pd.to_numeric(raw.astype(object).where(raw.notna(), np.nan), errors="coerce").astype(float)
    for i in np.flatnonzero(raw.notna().to_numpy() & y.isna().to_numpy()):
        problems.append((data.index[i], dv, raw.iloc[i], "must be a number (or missing)"))
    dup = data.duplicated([subject, within], keep="first")
    for i in np.flatnonzero(dup.to_numpy()):
        problems.append((data.index[i], within, data[within].iloc[i], "is a second row for this subject and wave"))
    if problems:
        raise TrialDataError(fn, problems)
    frame = data[[subject, within, arm]].assign(**{dv: y})
    waves = frame[within].nunique()
    has = frame.dropna(subset=[dv]).groupby(subject)[within].nunique()
    complete = set(has.index[has == waves])
    excluded = [s for s in pd.unique(frame[subject]) if s not in complete]
    used = frame[frame[subject].isin(complete)]
    res = pg.mixed_anova(data=used, dv=dv, within=within, subject=subject, between=arm, correction=False)
    out = pd.DataFrame({"source": ["arm", within, "interaction"], "ss": res["SS"].to_numpy(),
                        "df1": res["DF1"].astype(np.int64).to_numpy(), "df2": res["DF2"].astype(np.int64).to_numpy(),
                        "ms": res["MS"].to_numpy(), "f": res["F"].to_numpy(), "p_value": res["p_unc" if "p_unc" in res else "p-unc"].to_numpy(),
                        "np2": res["np2"].to_numpy(), "n": len(complete), "n_excluded": len(excluded)})
    out.attrs["excluded"] = excluded
    return out


# --- trajectory -------------------------------------------------------------------------------

@validate_params({"data": FRAME, "arm": COLUMN, "prefix": Predicate(lambda v: isinstance(v, str) and v != "",
                                                                    "a non-empty column prefix such as 'phq9'"),
                  "alpha": ALPHA})
def trajectory(data: pd.DataFrame, *, arm: str, prefix: str = "phq9", alpha: float = 0.05) -> pd.DataFrame:
    """Mean score by arm and visit month with its t interval (as R's ``t.test``), from wide data.

    Parameters
    ----------
    data : DataFrame
        One row per randomised resident with columns ``{prefix}_{month}`` (e.g. ``phq9_0``,
        ``phq9_6``, ``phq9_12``, as :func:`workbench.cohort.trial_frame` builds them).
    arm : str
        Column of the randomised arm.
    prefix : str
        The score's column prefix (``phq9`` by default).
    alpha : float
        1 - confidence level.

    Returns
    -------
    DataFrame
        One row per arm and month (sorted): ``arm``, ``month``, ``n`` (scores present), ``mean``,
        ``sd``, ``se``, ``ci_low``, ``ci_high`` (mean +/- t(1 - alpha/2, n - 1) se; NaN for n < 2),
        ``n_missing`` (residents of the arm without a score at that month). ``attrs``: ``alpha``,
        ``prefix``.

    Notes
    -----
    Each point uses the residents scored at that visit (available cases), so the n can fall over
    time; a missing score is left out and counted, never read as 0. Checked against R 4.2.2
    ``t.test(y)$conf.int`` per arm and month (``tests/reference/trajectory/``).

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"arm": ["ic"] * 3 + ["uc"] * 3, "phq9_0": [12, 14, 16, 13, 15, 17],
    ...                   "phq9_12": [4, 6, None, 10, 12, 14]})
    >>> trajectory(d, arm="arm").round(2)
      arm  month  n  mean    sd    se  ci_low  ci_high  n_missing
    0  ic      0  3  14.0  2.00  1.15    9.03    18.97          0
    1  ic     12  2   5.0  1.41  1.00   -7.71    17.71          1
    2  uc      0  3  15.0  2.00  1.15   10.03    19.97          0
    3  uc     12  3  12.0  2.00  1.15    7.03    16.97          0
    """
    import re

    fn = "trajectory"
    pattern = re.compile(rf"^{re.escape(prefix)}_(\d+)$")
    months = {int(m.group(1)): c for c in data.columns if (m := pattern.match(str(c)))}
    if not months:
        raise TrialDataError(fn, [(None, f"{prefix}_<month>", None, "no such column: the data need one score "
                                   "column per visit month, e.g. phq9_0, phq9_12")])
    frame, _ = _prepare(data, fn, arm=arm, reference=data[arm].dropna().iloc[0] if data[arm].notna().any() else None,
                        numeric=list(months.values()))
    rows = []
    for a in sorted(frame[arm].unique(), key=str):
        block = frame[frame[arm] == a]
        for m in sorted(months):
            y = block[months[m]]
            v = y.dropna().to_numpy()
            n = len(v)
            mean = float(v.mean()) if n else np.nan
            sd = float(v.std(ddof=1)) if n > 1 else np.nan
            se = sd / np.sqrt(n) if n > 1 else np.nan
            t = stats.t.ppf(1 - alpha / 2, n - 1) if n > 1 else np.nan
            rows.append({"arm": a, "month": m, "n": n, "mean": mean, "sd": sd, "se": se, "ci_low": mean - t * se,
                         "ci_high": mean + t * se, "n_missing": int(y.isna().sum())})
    out = pd.DataFrame(rows)
    out.attrs.update(alpha=alpha, prefix=prefix)
    return out
