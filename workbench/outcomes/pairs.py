"""Response, remission, recovery and reliable change of a start and an end score: the one coding
of each, with the thresholds declared in ``thresholds.yaml``.

:func:`classify_pairs` classifies pairs of scores given as columns; :func:`workbench.outcomes.change`,
:func:`workbench.outcomes.referral_outcomes` and :func:`workbench.cohort.trial_frame` use the
same functions of this module, so each outcome is defined here and nowhere else.

Definitions (REFERENCE.md, "Change and outcome metrics"; values and sources in ``thresholds.yaml``):

- ``response``: a fall of at least 50% from the start score (NCQA/HEDIS, AIMS Center).
- ``remission``: an end score below the instrument's declared remission threshold (PHQ-9 < 5);
  NA for an instrument without one.
- Both apply only to those at caseness at the start: start score at least the instrument's
  declared ``baseline_caseness`` (PHQ-9 >= 10, as CMS159's index PHQ-9 > 9). A start below it
  (or an instrument without one) gives NA: outside the denominator, never "not remitted". So a
  resident who starts at PHQ-9 3 and ends at 2 has neither responded nor remitted: the question
  does not apply.
- ``caseness`` (NHS Talking Therapies): PHQ-9 >= 10 or GAD-7 >= 8. True when either known score
  is at caseness, False when both are known and below, else NA.
- ``recovered``: at caseness at the start, below caseness on both at the end; it applies to
  those at caseness at the start whose two end scores are both known.
- ``reliable_improvement``: PHQ-9 fall >= 6 or GAD-7 fall >= 4, with no reliable deterioration
  on the other (REFERENCE.md marks the second part *check*); ``reliable_deterioration``: a rise
  of at least as much on either; both need all four scores.
- ``reliable_recovery``: recovered and reliable improvement.

A missing score is never read as 0: what it would decide is NA ("cannot be known").
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

from workbench.instruments import instrument_ids
from workbench.outcomes._config import thresholds
from workbench.outcomes._inputs import INSTRUMENT, Checker
from workbench.params import FRAME, Predicate, check, validate_params

__all__ = ["PAIR_COLUMNS", "TALKING_THERAPIES_COLUMNS", "classify_pairs"]

#: Columns of :func:`classify_pairs` for the chosen instrument.
PAIR_COLUMNS = ["response", "remission"]
#: Columns of :func:`classify_pairs` when PHQ-9 and GAD-7 are both given.
TALKING_THERAPIES_COLUMNS = ["caseness_start", "caseness_end", "recovered", "reliable_improvement",
                             "reliable_deterioration", "reliable_recovery"]


def _flags(values: np.ndarray, known: np.ndarray) -> pd.arrays.BooleanArray:
    out = pd.array(np.asarray(values, dtype=bool) & known, dtype="boolean")
    out[~known] = pd.NA
    return out


def _float(values: Any) -> np.ndarray:
    return np.asarray(pd.to_numeric(pd.Series(values), errors="coerce"), dtype=float)


def _at_caseness(start: np.ndarray, instrument: str) -> np.ndarray:
    """Start known and at least the declared ``baseline_caseness`` (all False when none is declared)."""
    at_least = thresholds().baseline_caseness.get(instrument)
    if at_least is None:
        return np.zeros(len(start), bool)
    with np.errstate(invalid="ignore"):
        return ~np.isnan(start) & (np.nan_to_num(start, nan=-np.inf) >= at_least)


def response(start: Any, end: Any, *, instrument: str = "phq9") -> pd.arrays.BooleanArray:
    """Fall of at least ``response.min_fall`` (50%) from a start score at caseness; NA when either
    score is missing or the start is below the declared ``baseline_caseness`` (PHQ-9 10).

    >>> response([18, 18, 10, 0, 12, 4], [9, 10, None, 0, 6, 1]).tolist()
    [True, False, <NA>, <NA>, True, <NA>]
    """
    b, last = _float(start), _float(end)
    known = _at_caseness(b, instrument) & ~np.isnan(last)
    with np.errstate(invalid="ignore"):
        # the tolerance keeps a fall of exactly half (e.g. 9 of 18) from being lost to float error
        fell = b - last >= thresholds().response_min_fall * b - 1e-9
    return _flags(fell, known)


def remission(start: Any, end: Any, *, instrument: str = "phq9") -> pd.arrays.BooleanArray:
    """End score below the instrument's declared remission threshold, for a start at caseness; NA
    when either score is missing, the start is below the declared ``baseline_caseness`` (PHQ-9
    10), or no remission threshold is declared for ``instrument``.

    >>> remission([12, 12, 12, 4, None], [4, 5, None, 2, 2]).tolist()
    [True, False, <NA>, <NA>, <NA>]
    >>> remission([15], [1], instrument="gad7").tolist()
    [<NA>]
    """
    b, last = _float(start), _float(end)
    below = thresholds().remission_below.get(instrument)
    if below is None:
        return _flags(np.zeros(len(last), bool), np.zeros(len(last), bool))
    with np.errstate(invalid="ignore"):
        return _flags(last < below, _at_caseness(b, instrument) & ~np.isnan(last))


def caseness(phq9: Any, gad7: Any) -> pd.arrays.BooleanArray:
    """NHS Talking Therapies caseness (PHQ-9 >= 10 or GAD-7 >= 8): True when either known score
    is at caseness, False when both are known and below, NA otherwise.

    >>> caseness([12, 9, None, None], [None, 7, 8, 3]).tolist()
    [True, False, True, <NA>]
    """
    p, g = _float(phq9), _float(gad7)
    t = thresholds()
    with np.errstate(invalid="ignore"):
        at = (p >= t.tt_caseness["phq9"]) | (g >= t.tt_caseness["gad7"])
    return _flags(at, at | (~np.isnan(p) & ~np.isnan(g)))


def talking_therapies(phq9_start: Any, gad7_start: Any, phq9_end: Any, gad7_end: Any) -> dict[str, pd.arrays.BooleanArray]:
    """The NHS Talking Therapies flags of start and end scores (:data:`TALKING_THERAPIES_COLUMNS`)."""
    p0, g0, p1, g1 = (_float(v) for v in (phq9_start, gad7_start, phq9_end, gad7_end))
    t = thresholds()
    start, end = caseness(p0, g0), caseness(p1, g1)
    end_known = ~np.isnan(p1) & ~np.isnan(g1)
    all_known = end_known & ~np.isnan(p0) & ~np.isnan(g0)
    start_case = start.to_numpy(dtype=bool, na_value=False)
    end_case = end.to_numpy(dtype=bool, na_value=False)
    rp, rg = t.tt_reliable_change["phq9"], t.tt_reliable_change["gad7"]
    with np.errstate(invalid="ignore"):
        improved = (p0 - p1 >= rp) | (g0 - g1 >= rg)
        deteriorated = (p1 - p0 >= rp) | (g1 - g0 >= rg)
    recovery_applies = start_case & end_known
    recovered = ~end_case
    reliable_improvement = improved & ~deteriorated  # improvement on one, deterioration on neither
    return {"caseness_start": start, "caseness_end": end,
            "recovered": _flags(recovered, recovery_applies),
            "reliable_improvement": _flags(reliable_improvement, all_known),
            "reliable_deterioration": _flags(deteriorated, all_known),
            "reliable_recovery": _flags(recovered & reliable_improvement, recovery_applies & all_known)}


#: Start or end columns: instrument id -> column of its totals.
SCORE_COLUMNS = Predicate(lambda v: isinstance(v, Mapping) and len(v) > 0
                          and all(isinstance(k, str) and isinstance(c, str) for k, c in v.items())
                          and all(k in instrument_ids() for k in v),
                          lambda: f"a mapping of instrument ids (among {instrument_ids()}) to column names, "
                                  "e.g. {'phq9': 'phq9_0'}")


@validate_params({"data": FRAME, "start": SCORE_COLUMNS, "end": SCORE_COLUMNS, "instrument": INSTRUMENT})
def classify_pairs(data: pd.DataFrame, *, start: Mapping[str, str], end: Mapping[str, str],
                   instrument: str = "phq9") -> pd.DataFrame:
    """Response, remission and (with PHQ-9 and GAD-7) recovery and reliable change, per row.

    Parameters
    ----------
    data : DataFrame
        One row per person (or episode) with start and end scores (NaN = not scorable or not
        assessed; never read as 0).
    start, end : mapping of instrument id to column name
        The columns of the start and end totals, e.g. ``{"phq9": "phq9_0", "gad7": "gad7_0"}``.
        ``instrument`` must be in both; recovery and reliable change need ``phq9`` and ``gad7``
        in both.
    instrument : str
        The questionnaire whose response and remission are given (``phq9`` by default).

    Returns
    -------
    DataFrame
        Same index as ``data``, nullable booleans (NA = does not apply or cannot be known):
        ``response`` and ``remission`` (:data:`PAIR_COLUMNS`; NA for a start below the declared
        baseline caseness, PHQ-9 10), then, when PHQ-9 and GAD-7 are both
        given, :data:`TALKING_THERAPIES_COLUMNS`. ``attrs['thresholds_version']`` says which
        thresholds were used. Definitions: the module docstring.

    Raises
    ------
    OutcomeDataError
        A column absent, or a score that is not a whole number in the instrument's range, naming
        every such cell.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"phq9_0": [12, 4, 16, 11], "gad7_0": [5, 9, 12, 11],
    ...                   "phq9_12": [4, 5, 8, None], "gad7_12": [7, 8, 3, 9]})
    >>> out = classify_pairs(d, start={"phq9": "phq9_0", "gad7": "gad7_0"}, end={"phq9": "phq9_12", "gad7": "gad7_12"})
    >>> out[["response", "remission", "caseness_start", "caseness_end"]]
       response  remission  caseness_start  caseness_end
    0      True       True            True         False
    1      <NA>       <NA>            True          True
    2      True      False            True         False
    3      <NA>       <NA>            True          True
    >>> out[["recovered", "reliable_improvement", "reliable_deterioration", "reliable_recovery"]]
       recovered  reliable_improvement  reliable_deterioration  reliable_recovery
    0       True                  True                   False               True
    1      False                 False                   False              False
    2       True                  True                   False               True
    3       <NA>                  <NA>                    <NA>               <NA>

    Row 0: 12 -> 4 is a fall of 8 >= 6 (half of 12), ends below 5 and below caseness on both
    (4 < 10, 7 < 8); row 1 starts at PHQ-9 4, below caseness (10): response and remission do not
    apply; it is at caseness on GAD-7 at both ends (9, 8 >= 8); row 3's end PHQ-9 is
    missing: GAD-7 9 is still caseness, but recovery needs both end scores.
    """
    fn = "classify_pairs"
    start, end = dict(start), dict(end)
    for name, columns in (("start", start), ("end", end)):
        check(fn, name, columns, Predicate(lambda m: instrument in m, f"a mapping with a column for the instrument "
                                                                      f"{instrument!r}"))
    chk = Checker(fn)
    chk.frame(data, "data")
    if not chk.require(data, "data", list(dict.fromkeys([*start.values(), *end.values()]))):
        chk.done()
    before = {i: chk.scores(data, "data", c, i) for i, c in start.items()}
    after = {i: chk.scores(data, "data", c, i) for i, c in end.items()}
    chk.done()
    out = pd.DataFrame({"response": response(before[instrument], after[instrument], instrument=instrument),
                        "remission": remission(before[instrument], after[instrument], instrument=instrument)},
                       index=data.index)
    if {"phq9", "gad7"} <= set(start) and {"phq9", "gad7"} <= set(end):
        flags = talking_therapies(before["phq9"], before["gad7"], after["phq9"], after["gad7"])
        for name in TALKING_THERAPIES_COLUMNS:
            out[name] = flags[name]
    out.attrs["thresholds_version"] = thresholds().version
    return out
