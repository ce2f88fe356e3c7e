"""Change in one questionnaire's score: response, remission and Jacobson-Truax reliable change."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from workbench.outcomes._config import thresholds
from workbench.outcomes._inputs import INSTRUMENT, Checker
from workbench.outcomes.pairs import remission, response
from workbench.params import FRAME, Either, Instance, Interval, Optional, Options, Predicate, validate_params

__all__ = ["change", "jacobson_truax", "jt_cutoffs"]

RELIABLE_CHANGE = ["improved", "no_change", "deteriorated"]
CATEGORIES = ["recovered", "improved", "unchanged", "deteriorated"]


def _is_number(v: Any) -> bool:
    return (isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))
            and math.isfinite(v))


def _pair_ok(value: Any) -> bool:
    return value is None or (isinstance(value, (tuple, list)) and len(value) == 2
                             and all(v is None or _is_number(v) for v in value)
                             and value[0] is not None and (value[1] is None or value[1] > 0))


#: A population's (mean, sd); the sd may be None (not declared).
NORMS = Predicate(_pair_ok, "None or a (mean, sd) pair of finite numbers with sd > 0")
#: The test-retest reliability (None: the declared one).
RELIABILITY = Optional(Interval(float, 0, 1, closed="neither"))
#: The baseline SD of the reliable change index.
SD_PRE = Either(Options(None, "sample"), Predicate(lambda v: _is_number(v) and v > 0, "a positive number"),
                words="None, 'sample' or a positive number")
#: The Jacobson-Truax cut-off.
CUTOFF = Options("a", "b", "c")
#: The rules shared by :func:`jacobson_truax` and :func:`change`.
JT = {"instrument": INSTRUMENT, "reliability": RELIABILITY, "sd_pre": SD_PRE, "cutoff": CUTOFF,
      "functional": NORMS, "clinical": NORMS}


def _pair(value: Any) -> tuple[float, float | None] | None:
    """A (mean, sd) argument (checked: :data:`NORMS`) as floats."""
    if value is None:
        return None
    return float(value[0]), None if value[1] is None else float(value[1])


def _norms(instrument: str, functional: Any, clinical: Any, function: str) -> tuple[float, float, float, float | None]:
    declared = thresholds().jt.get(instrument)
    f, c = _pair(functional), _pair(clinical)
    if declared is None and (f is None or c is None):
        raise ValueError(f"{function}: no Jacobson-Truax norms are declared for {instrument!r} (only for "
                         f"{sorted(thresholds().jt)}); pass functional=(mean, sd) and clinical=(mean, sd).")
    m0, sd0 = f if f is not None else (declared.functional_mean, declared.functional_sd)
    m1, sd1 = c if c is not None else (declared.clinical_mean, declared.clinical_sd)
    return m0, sd0, m1, sd1


@validate_params({"instrument": INSTRUMENT, "functional": NORMS, "clinical": NORMS})
def jt_cutoffs(*, instrument: str = "phq9", functional: tuple[float, float] | None = None,
               clinical: tuple[float, float] | None = None) -> dict[str, float]:
    """Jacobson-Truax clinical-significance cut-offs a, b and c for a lower-is-better scale.

    Parameters
    ----------
    instrument : str
        Questionnaire id whose declared norms are the defaults (``phq9`` or ``gad7``).
    functional, clinical : (mean, sd), optional
        Functional (healthy, group 0) and clinical (group 1) population mean and SD; default the
        values declared in ``thresholds.yaml`` with their sources.

    Returns
    -------
    dict
        ``a = M1 - 2 SD1`` (2 SD below the clinical mean), ``b = M0 + 2 SD0`` (2 SD above the
        functional mean, using the *functional* SD) and ``c = (SD0 M1 + SD1 M0) / (SD0 + SD1)``
        (where the two distributions meet). A cut-off that needs an undeclared value is NaN.

    Notes
    -----
    Jacobson & Truax 1991 (J Consult Clin Psychol 59:12). The R package ``clinicalsignificance``
    computes b with the clinical SD; the definition uses SD0, as here.

    Examples
    --------
    >>> cuts = jt_cutoffs(functional=(3.0, 3.0), clinical=(17.0, 6.0))
    >>> {k: round(v, 3) for k, v in cuts.items()}
    {'a': 5.0, 'b': 9.0, 'c': 7.667}
    """
    m0, sd0, m1, sd1 = _norms(instrument, functional, clinical, "jt_cutoffs")
    nan = float("nan")
    return {"a": nan if sd1 is None else m1 - 2 * sd1,
            "b": m0 + 2 * sd0,
            "c": nan if sd1 is None else (sd0 * m1 + sd1 * m0) / (sd0 + sd1)}


def _jt_setup(instrument: str, reliability: Any, sd_pre: Any, cutoff: Any, functional: Any,
              clinical: Any, pre_values: pd.Series, function: str) -> dict[str, Any]:
    m0, sd0, m1, sd1 = _norms(instrument, functional, clinical, function)
    declared = thresholds().jt.get(instrument)
    if reliability is None:
        if declared is None:
            raise ValueError(f"{function}: no reliability is declared for {instrument!r}; pass reliability=.")
        reliability = declared.reliability
    if sd_pre is None:
        if sd1 is None:
            raise ValueError(f"{function}: the clinical SD of {instrument!r} is not declared (see "
                             "thresholds.yaml), so SD_pre has no default; pass sd_pre= (a number or "
                             "'sample') and, for cut-off a or c, clinical=(mean, sd).")
        sd_pre = sd1
    elif isinstance(sd_pre, str) and sd_pre == "sample":
        observed = pre_values.dropna()
        sd_pre = float(observed.std(ddof=1)) if len(observed) >= 2 else float("nan")
        if not sd_pre > 0:
            raise ValueError(f"{function}: sd_pre='sample' needs at least 2 different baseline "
                             f"scores; got {len(observed)} scored baseline(s).")
    cuts = jt_cutoffs(instrument=instrument, functional=(m0, sd0), clinical=(m1, sd1))
    if math.isnan(cuts[cutoff]):
        raise ValueError(f"{function}: cut-off {cutoff!r} needs the clinical SD of {instrument!r}, which "
                         "is not declared; pass clinical=(mean, sd) or use cutoff='b'.")
    return {"reliability": float(reliability), "sd_pre": float(sd_pre), "cutoff": cutoff,
            "cutoff_value": cuts[cutoff], "critical_z": thresholds().jt_critical_z,
            "s_diff": math.sqrt(2) * float(sd_pre) * math.sqrt(1 - float(reliability))}


def _classify(pre: np.ndarray, post: np.ndarray, setup: dict[str, Any], index: pd.Index) -> pd.DataFrame:
    rci = (post - pre) / setup["s_diff"]
    known = ~np.isnan(rci)
    # Round before comparing so that an RCI of exactly 1.96 is not tipped over by float error.
    z, r = setup["critical_z"], np.round(rci, 9)
    improved, worse = known & (r < -z), known & (r > z)
    codes = np.where(improved, 0, np.where(worse, 2, 1))
    codes[~known] = -1
    cut = setup["cutoff_value"]
    crossed = pd.array((pre >= cut) & (post < cut), dtype="boolean")
    crossed[~known] = pd.NA
    category = np.where(improved & crossed.to_numpy(dtype=bool, na_value=False), 0,
                        np.where(improved, 1, np.where(worse, 3, 2)))
    category[~known] = -1
    return pd.DataFrame({
        "rci": rci,
        "reliable_change": pd.Categorical.from_codes(codes, categories=RELIABLE_CHANGE),
        "crossed_cutoff": crossed,
        "category": pd.Categorical.from_codes(category, categories=CATEGORIES),
    }, index=index)


@validate_params({"data": FRAME, "pre": Instance(str, name="a column name"),
                  "post": Instance(str, name="a column name"), **JT})
def jacobson_truax(data: pd.DataFrame, *, pre: str, post: str, instrument: str = "phq9",
                   reliability: float | None = None, sd_pre: float | str | None = None,
                   cutoff: str = "c", functional: tuple[float, float] | None = None,
                   clinical: tuple[float, float] | None = None) -> pd.DataFrame:
    """Reliable change index and clinical significance (Jacobson & Truax 1991) per row.

    Parameters
    ----------
    data : DataFrame
        One row per person (or episode) with a baseline and a follow-up score.
    pre, post : str
        Columns of the baseline and follow-up totals (NaN when not scorable; never read as 0).
    instrument : str
        Questionnaire id; its declared parameters are the defaults (``phq9``, ``gad7``).
    reliability : float, optional
        Test-retest reliability r in (0, 1). Default: the declared value.
    sd_pre : float or "sample", optional
        SD of baseline scores in S_diff. Default: the declared *clinical* population SD (a stable,
        published value, so one person's result does not depend on who else is in the table).
        ``"sample"``: the SD (ddof=1) of the ``pre`` column of ``data``.
    cutoff : {"a", "b", "c"}
        Clinical-significance cut-off (see :func:`jt_cutoffs`); ``c`` is the one Jacobson & Truax
        recommend when functional norms exist.
    functional, clinical : (mean, sd), optional
        Override the declared population norms.

    Returns
    -------
    DataFrame
        Same index as ``data``: ``rci`` (float), ``reliable_change`` (categorical: ``improved``
        when RCI < -1.96, ``deteriorated`` when RCI > 1.96, else ``no_change``),
        ``crossed_cutoff`` (nullable boolean: baseline >= cut-off and follow-up < cut-off) and
        ``category`` (``recovered`` = improved and crossed; ``improved``; ``unchanged``;
        ``deteriorated``). All are NA when either score is missing. ``attrs`` records r,
        SD_pre, S_diff, the cut-off and its value, and the thresholds version.

    Notes
    -----
    S_diff = sqrt(2) x SD_pre x sqrt(1 - r); RCI = (post - pre) / S_diff. The workbench's scales are
    lower-is-better, so a negative RCI is improvement. |RCI| must *exceed* 1.96 (RCI is rounded
    to 9 decimals first, so a value of exactly 1.96 is not reliable change).

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"pre": [18, 20, 15, 10, 12], "post": [8, 11, 14, 19, None]})
    >>> jacobson_truax(d, pre="pre", post="post").round(3)
         rci reliable_change  crossed_cutoff      category
    0 -2.898        improved            True     recovered
    1 -2.608        improved           False      improved
    2 -0.290       no_change           False     unchanged
    3  2.608    deteriorated           False  deteriorated
    4    NaN             NaN            <NA>           NaN
    """
    chk = Checker("jacobson_truax")
    chk.frame(data, "data")
    if chk.require(data, "data", [pre, post]):
        pre_values = chk.scores(data, "data", pre, instrument)
        post_values = chk.scores(data, "data", post, instrument)
    chk.done()
    setup = _jt_setup(instrument, reliability, sd_pre, cutoff, functional, clinical, pre_values,
                      "jacobson_truax")
    out = _classify(pre_values.to_numpy(), post_values.to_numpy(), setup, data.index)
    out.attrs.update(setup, instrument=instrument, thresholds_version=thresholds().version)
    return out


@validate_params({"data": FRAME, "baseline": Optional(Instance(str, name="the name of a True/False column")), **JT})
def change(data: pd.DataFrame, *, subject: str = "resident_id", time: str = "assessed_on",
           instrument: str = "phq9", baseline: str | None = None, reliability: float | None = None,
           sd_pre: float | str | None = None, cutoff: str = "c",
           functional: tuple[float, float] | None = None,
           clinical: tuple[float, float] | None = None) -> pd.DataFrame:
    """Change from baseline to the last assessment, one row per subject.

    Parameters
    ----------
    data : DataFrame
        Long assessments: one row per administered questionnaire, with ``subject``, ``time`` (a
        date) and the stored score, either in ``{instrument}_score`` (as
        :meth:`workbench.tables.Tables.referral_scores` and ``scores_wide`` name it) or in
        ``score`` (with an ``instrument`` column when questionnaires are mixed, as
        :meth:`~workbench.tables.Tables.scores_of` gives them).
    subject, time : str
        Column names of the subject id and the assessment date.
    instrument : str
        Questionnaire id (``phq9`` by default).
    baseline : str, optional
        ``None``: each subject's earliest scored assessment. A column name: a True/False column
        marking each subject's baseline row (at most one per subject).
    reliability, sd_pre, cutoff, functional, clinical
        Passed to :func:`jacobson_truax` (``sd_pre="sample"`` uses the SD of the baselines).

    Returns
    -------
    DataFrame
        One row per subject, sorted: ``subject``, ``baseline_on``, ``baseline_score``,
        ``last_on``, ``last_score`` (the latest scored assessment after the baseline date; NA when
        there is none), ``weeks`` (float), ``change`` (last - baseline), ``percent_change``
        (100 x change / baseline; NaN for a baseline of 0), ``response`` (fall >= 50% of the
        baseline), ``remission`` (last < 5 for PHQ-9; NA for an instrument with no declared
        remission threshold); both NA for a baseline below the declared caseness (PHQ-9 10), then ``rci``, ``reliable_change``, ``crossed_cutoff`` and
        ``category`` from :func:`jacobson_truax`. Flags are nullable booleans, NA when not
        computable.

    Notes
    -----
    Unscored assessments (NaN) are skipped, never read as 0; a subject with none still gets a row
    of NAs. Same-day ties keep the table's row order. Response: NCQA/HEDIS, AIMS Center; remission
    PHQ-9 < 5 (thresholds.yaml); both are coded once, in :mod:`workbench.outcomes.pairs`.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"resident_id": ["a", "a", "a", "b", "b"],
    ...                   "assessed_on": ["2024-01-01", "2024-02-01", "2024-03-25", "2024-01-08", "2024-02-05"],
    ...                   "phq9_score": [18, None, 8, 12, 4]})
    >>> out = change(d)
    >>> out[["resident_id", "baseline_score", "last_score", "weeks", "percent_change"]].round(1)
      resident_id  baseline_score  last_score  weeks  percent_change
    0           a            18.0         8.0   12.0           -55.6
    1           b            12.0         4.0    4.0           -66.7
    >>> out[["response", "remission", "reliable_change", "category"]]
       response  remission reliable_change   category
    0      True      False        improved  recovered
    1      True       True        improved  recovered
    """
    fn = "change"
    chk = Checker(fn)
    chk.frame(data, "data")
    if not chk.require(data, "data", [subject, time] + ([baseline] if baseline else [])):
        chk.done()
    ids = chk.ids(data, "data", subject)
    when = chk.dates(data, "data", time)
    scores = chk.score_column(data, "data", instrument)
    marked = chk.flags(data, "data", baseline) if baseline else None
    chk.done()

    rows = pd.DataFrame({"subject": ids.to_numpy(), "on": when.to_numpy(), "score": scores.to_numpy(),
                         "order": np.arange(len(data))})
    if marked is not None:
        rows["marked"] = marked.to_numpy()
        twice = rows[rows["marked"]].groupby("subject", sort=False).size()
        for sid in twice[twice > 1].index:
            chk.add("data", None, baseline, sid, f"marks {int(twice[sid])} baseline rows for {subject} "
                    f"{sid!r}: at most one is allowed")
        chk.done()
    subjects = pd.Index(pd.unique(rows["subject"]), name="subject")
    rows = rows.sort_values(["subject", "on", "order"], kind="stable")
    if marked is None:
        base = rows[rows["score"].notna()].groupby("subject", sort=False).head(1)
    else:
        base = rows[rows["marked"]]
    base = base.set_index("subject")[["on", "score"]].rename(columns={"on": "baseline_on", "score": "baseline_score"})
    later = rows[rows["score"].notna()].join(base["baseline_on"], on="subject")
    later = later[later["on"] > later["baseline_on"]].groupby("subject", sort=False).tail(1)
    last = later.set_index("subject")[["on", "score"]].rename(columns={"on": "last_on", "score": "last_score"})
    out = pd.DataFrame(index=subjects).join(base).join(last).sort_index()

    b, l = out["baseline_score"].to_numpy(dtype=float), out["last_score"].to_numpy(dtype=float)
    out["weeks"] = (out["last_on"] - out["baseline_on"]).dt.days / 7
    out["change"] = l - b
    with np.errstate(divide="ignore", invalid="ignore"):
        out["percent_change"] = np.where(b > 0, 100 * (l - b) / b, np.nan)
    t = thresholds()
    out["response"] = response(b, l, instrument=instrument)
    out["remission"] = remission(b, l, instrument=instrument)
    setup = _jt_setup(instrument, reliability, sd_pre, cutoff, functional, clinical,
                      out["baseline_score"], fn)
    out = out.join(_classify(b, l, setup, out.index))
    out = out.rename_axis(subject).reset_index()
    out.attrs.update(setup, instrument=instrument, thresholds_version=t.version)
    return out
