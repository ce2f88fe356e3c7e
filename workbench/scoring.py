"""One vectorised scoring engine for every declared questionnaire.

Wide answers in (one row per assessment, item columns ``{instrument}_{n}``), tidy scores out.
Everything clinical (answer range, reverse keying, the missing-item rule, bands, critical
items) comes from the questionnaire's declaration in :mod:`workbench.instruments`.
"""

from __future__ import annotations

from typing import Iterable, NamedTuple

import numpy as np
import pandas as pd

from workbench.instruments import Instrument, get_instrument, instrument_ids
from workbench.params import FRAME, Either, Interval, Options, validate_params
from workbench.params import check as check_parameter
from workbench.problems import ProblemsError

__all__ = ["ResponseError", "ScoreResult", "check_answers", "instruments_in", "score", "score_all", "score_valid"]

#: Columns of every problems table, in order.
PROBLEM_COLUMNS = ["row", "column", "value", "check", "rule"]

#: How many problems a :class:`ResponseError` message spells out before referring to ``.problems``.
MESSAGE_LIMIT = 200  # the same as every ProblemsError's


class ResponseError(ProblemsError):
    """Answers that cannot be scored; nothing was scored.

    :attr:`problems` names every bad cell as ``table`` (the questionnaire), ``row`` (the row
    label), ``column``, ``value``, ``rule`` and ``check`` (``missing_column``, ``not_a_number``,
    ``not_whole``, ``out_of_range``); the message spells out the first ``MESSAGE_LIMIT``.
    """

    def __init__(self, instrument: str, problems: pd.DataFrame):
        self.instrument = instrument
        table = problems.copy()
        table.insert(0, "table", instrument)
        super().__init__(table, context=f"{instrument}: {len(problems)} answer(s) cannot be scored",
                         outcome="nothing was scored")

    def __reduce__(self):
        return (_rebuild_response_error, (self.instrument, self.problems.drop(columns="table")))


def _rebuild_response_error(instrument, problems):
    return ResponseError(instrument, problems)


class ScoreResult(NamedTuple):
    """What :func:`score_valid` returns: scores of the valid rows, and every problem found."""

    scores: pd.DataFrame
    problems: pd.DataFrame


#: The missing-item rule, whatever the questionnaire (its number of items bounds the int).
MISSING = Either(Options("default", "strict"), Interval(int, 0, None))


def _max_missing(inst: Instrument, missing, function: str = "score") -> int:
    rule = Either(Options("default", "strict"), Interval(int, 0, inst.n_items - 1))  # at least one item answered
    check_parameter(function, "missing", missing, rule)
    if missing == "default":
        return inst.max_missing
    return 0 if missing == "strict" else int(missing)


def _column_values(series: pd.Series, lo: int, hi: int, codes: frozenset,
                   ) -> tuple[np.ndarray, list[tuple[np.ndarray, str, str]]]:
    """Answers of one column as floats (NaN = unanswered) and the masks of its bad cells."""
    allowed = f"answers are whole numbers from {lo} to {hi}"
    if pd.api.types.is_bool_dtype(series.dtype):
        bad = series.notna().to_numpy()
        return np.full(len(series), np.nan), [(bad, "not_a_number", f"is a yes/no value, not an answer: {allowed}")]
    bad_cells: list[tuple[np.ndarray, str, str]] = []
    if isinstance(series.dtype, np.dtype) and series.dtype.kind in "fiu":
        values = series.to_numpy(dtype="float64", copy=True)  # NaN already marks blanks
    elif pd.api.types.is_numeric_dtype(series.dtype):
        values = series.to_numpy(dtype="float64", na_value=np.nan)
    else:
        text = series.astype("string").str.strip()
        blank = text.isna() | (text == "")
        values = pd.to_numeric(text.mask(blank), errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        not_number = (~blank).to_numpy() & np.isnan(values)
        if not_number.any():
            bad_cells.append((not_number, "not_a_number", f"is not a number: {allowed}"))
    if codes:
        values = np.where(np.isin(values, list(codes)), np.nan, values)
    finite = np.isfinite(values)
    infinite = ~finite & ~np.isnan(values)
    if infinite.any():
        bad_cells.append((infinite, "not_a_number", f"is not a finite number: {allowed}"))
    with np.errstate(invalid="ignore"):
        not_whole = finite & (values != np.floor(values))
        out_of_range = finite & ~not_whole & ((values < lo) | (values > hi))
    if not_whole.any():
        bad_cells.append((not_whole, "not_whole", f"is not a whole number: {allowed}"))
    if out_of_range.any():
        bad_cells.append((out_of_range, "out_of_range", f"is out of range: {allowed}"))
    return values, bad_cells


def _read(data: pd.DataFrame, inst: Instrument, missing_codes: Iterable
          ) -> tuple[np.ndarray, pd.DataFrame, np.ndarray]:
    """All item answers as an (n, k) float array, the problems table, and the bad rows."""
    codes = frozenset(float(c) for c in missing_codes)
    problems: list[pd.DataFrame] = []
    absent = [c for c in inst.item_columns if c not in data.columns]
    if absent:
        problems.append(pd.DataFrame({
            "row": None, "column": absent, "value": None, "check": "missing_column",
            "rule": f"is absent: {inst.id} needs every item column "
                    f"{inst.item_columns[0]}..{inst.item_columns[-1]}"}))
    answers = np.full((len(data), inst.n_items), np.nan)
    bad_rows = np.full(len(data), bool(absent))
    checked = [(j, col, inst.response_min, inst.response_max) for j, col in enumerate(inst.item_columns)]
    checked += [(None, f"{inst.id}_{sup['n']}", sup["min"], sup["max"]) for sup in inst.supplementary_items]
    for j, col, lo, hi in checked:
        if col not in data.columns:
            continue
        series = data[col]
        if isinstance(series, pd.DataFrame):
            raise ValueError(f"The column {col!r} appears more than once in data.")
        values, bad_cells = _column_values(series, lo, hi, codes)
        for mask, check, rule in bad_cells:
            problems.append(pd.DataFrame({"row": data.index[mask], "column": col,
                                          "value": series.to_numpy(dtype=object)[mask],
                                          "check": check, "rule": rule}))
            values[mask] = np.nan
            bad_rows |= mask
        if j is not None:
            answers[:, j] = values
    table = (pd.concat(problems, ignore_index=True) if problems
             else pd.DataFrame({c: pd.Series(dtype=object) for c in PROBLEM_COLUMNS}))
    return answers, table[PROBLEM_COLUMNS], bad_rows


def _not_applicable(data: pd.DataFrame, inst: Instrument, answers: np.ndarray) -> np.ndarray:
    """Cells of items that do not apply to the respondent (e.g. PHQ-15 item 4 for men), left blank."""
    out = np.zeros(answers.shape, dtype=bool)
    if "sex" not in data.columns:
        return out
    sex = data["sex"].astype("string").str.strip().str.lower().to_numpy(dtype=object, na_value=None)
    for j, item in enumerate(inst.items):
        wanted = item.applies_to.get("sex")
        if wanted:
            known_other = np.array([s is not None and s != wanted for s in sex], dtype=bool)
            out[:, j] = known_other & np.isnan(answers[:, j])
    return out


def _compute(data: pd.DataFrame, inst: Instrument, answers: np.ndarray, max_missing: int) -> pd.DataFrame:
    raw = answers  # critical items are read before reverse keying
    keyed = answers.copy()
    if inst.reverse_keyed:
        cols = [n - 1 for n in inst.reverse_keyed]
        keyed[:, cols] = inst.response_min + inst.response_max - keyed[:, cols]
    answered = ~np.isnan(keyed)
    n_answered = answered.sum(axis=1)
    n_expected = inst.n_items - _not_applicable(data, inst, keyed).sum(axis=1)
    n_missing = n_expected - n_answered
    total = np.where(answered, keyed, 0).sum(axis=1).astype(np.int64)
    scorable = (n_missing <= max_missing) & (n_answered > 0)
    # prorate with exact integer arithmetic: round half up of total * expected / answered
    safe_answered = np.maximum(n_answered, 1)
    prorated_total = (2 * total * n_expected + safe_answered) // (2 * safe_answered)
    value = np.where(n_missing == 0, total, prorated_total).astype("float64")
    value[~scorable] = np.nan

    codes = np.full(len(value), -1, dtype=np.int64)
    for code, band in enumerate(inst.bands):
        lower = value >= band.lower if band.lower_closed else value > band.lower
        upper = value <= band.upper if band.upper_closed else value < band.upper
        codes[lower & upper] = code
    out = pd.DataFrame({
        "score": value,
        "band": pd.Categorical.from_codes(codes, categories=inst.band_ids, ordered=True),
        "n_answered": n_answered.astype(np.int64),
        "prorated": scorable & (n_missing > 0),
    }, index=data.index)
    for crit in inst.critical_items:
        cells = raw[:, [n - 1 for n in crit.items]]
        with np.errstate(invalid="ignore"):
            hit = (cells >= crit.at_least) if crit.at_least is not None else (cells <= crit.at_most)
        flag = pd.array(hit.any(axis=1), dtype="boolean")
        flag[~flag.to_numpy(dtype=bool) & np.isnan(cells).any(axis=1)] = pd.NA  # unknown, never False
        out[crit.flag] = flag
    for name, multiplier in inst.derived.items():
        out[name] = value * multiplier
    out.attrs.update({"instrument": inst.id, "declaration_version": inst.declaration_version,
                      "max_missing": max_missing})
    return out


@validate_params({"data": FRAME})
def check_answers(data: pd.DataFrame, instrument: str | Instrument, *,
                  missing_codes: Iterable = ()) -> pd.DataFrame:
    """Every answer that cannot be scored, as a table; empty when all answers are valid.

    Parameters
    ----------
    data : DataFrame
        One row per assessment, item columns ``{instrument}_{n}``.
    instrument : str or Instrument
        A declared questionnaire id (see :func:`workbench.instruments.instrument_ids`).
    missing_codes : iterable of numbers, optional
        Codes that mean "not answered" in this data source (for example 9 or 99). They are
        never accepted unless listed here.

    Returns
    -------
    DataFrame
        ``row`` (the row label in ``data``; empty for an absent column), ``column``, ``value``
        (as given), ``check`` (``missing_column``, ``not_a_number``, ``not_whole``,
        ``out_of_range``) and ``rule`` (a sentence a person can act on).

    Examples
    --------
    >>> import pandas as pd
    >>> answers = pd.DataFrame({f"gad2_{n}": [1, 3] for n in (1, 2)}, index=["a", "b"])
    >>> answers.loc["b", "gad2_2"] = 4
    >>> check_answers(answers, "gad2")[["row", "column", "value", "check"]]
      row  column value         check
    0   b  gad2_2     4  out_of_range
    """
    inst = get_instrument(instrument)
    return _read(data, inst, missing_codes)[1]


@validate_params({"data": FRAME, "missing": MISSING})
def score(data: pd.DataFrame, instrument: str | Instrument, *, missing: str | int = "default",
          missing_codes: Iterable = ()) -> pd.DataFrame:
    """Score one questionnaire for every row of ``data``.

    Parameters
    ----------
    data : DataFrame
        One row per assessment with the item columns ``{instrument}_{n}`` (n from 1); other
        columns are ignored, except ``sex`` for items that apply to one sex only (PHQ-15 item 4).
        Blank cells (NaN, None, empty text) are unanswered items: they are never counted as 0.
    instrument : str or Instrument
        A declared questionnaire id, e.g. ``"phq9"``, or a loaded declaration.
    missing : {"default", "strict"} or int
        ``"default"``: prorate when at most the declared number of items is unanswered
        (PHQ-9: 2, APA; others: 20% of items rounded down). ``"strict"``: any unanswered item
        makes the total not scorable. An int sets the number of unanswered items allowed.
    missing_codes : iterable of numbers, optional
        Codes that this data source uses for "not answered" (e.g. 9, 99); they become blanks.
        Without this, such codes are rejected as out-of-range answers.

    Returns
    -------
    DataFrame
        Same index as ``data``, with columns ``score`` (float; NaN when not scorable),
        ``band`` (ordered categorical of the declared band ids; NA when not scorable),
        ``n_answered`` (int) and ``prorated`` (bool), then one nullable boolean column per
        critical-item flag (PHQ-9: ``self_harm``, True when item 9 >= 1, False when 0, NA
        when unanswered, whatever the total) and one column per derived score (WHO-5:
        ``percent`` = score x 4). ``attrs`` records the instrument, its declaration version and
        the missing-item rule used.

    Raises
    ------
    ResponseError
        If any answer is not a whole number in the declared range, is text, or an item column
        is absent. The message names every bad cell (row, column, value, rule); nothing is
        returned half-scored. Use :func:`score_valid` to score the valid rows instead.

    Notes
    -----
    Reverse-keyed items are recoded as ``min + max - answer`` before summing. The prorated total
    is ``sum of answered items x items / answered``, rounded half up with exact integer
    arithmetic (REFERENCE.md, "Missing items"). Critical items are never prorated: an unanswered
    critical item gives an unknown (NA) flag, not False.

    Examples
    --------
    >>> import pandas as pd
    >>> answers = pd.DataFrame([[1, 2, 1, 1, 0, 1, 2, 1, 0],
    ...                         [3, 3, None, 2, 2, 3, 2, 2, 1],
    ...                         [1, None, None, None, 0, 0, 0, 0, None]],
    ...                        columns=[f"phq9_{n}" for n in range(1, 10)])
    >>> score(answers, "phq9")
       score    band  n_answered  prorated  self_harm
    0    9.0    mild           9     False      False
    1   20.0  severe           8      True       True
    2    NaN     NaN           5     False       <NA>
    """
    inst = get_instrument(instrument)
    max_missing = _max_missing(inst, missing)
    answers, problems, _ = _read(data, inst, missing_codes)
    if len(problems):
        raise ResponseError(inst.id, problems)
    return _compute(data, inst, answers, max_missing)


@validate_params({"data": FRAME, "missing": MISSING})
def score_valid(data: pd.DataFrame, instrument: str | Instrument, *, missing: str | int = "default",
                missing_codes: Iterable = ()) -> ScoreResult:
    """Score the rows whose answers are all valid, and report the problems of the others.

    For staff importing a messy spreadsheet: rows with any bad answer are left out of
    ``scores`` (never scored as if the bad cell were blank) and every bad cell is in
    ``problems``. An absent item column makes every row invalid.

    Returns
    -------
    ScoreResult
        ``scores``: as :func:`score`, for the valid rows only (their original labels);
        ``problems``: as :func:`check_answers`.

    Examples
    --------
    >>> import pandas as pd
    >>> answers = pd.DataFrame({"gad2_1": [1, "x", 2], "gad2_2": [2, 1, 7]})
    >>> result = score_valid(answers, "gad2")
    >>> result.scores[["score", "band"]]
       score      band
    0    3.0  positive
    >>> result.problems[["row", "column", "value", "check"]]
       row  column value         check
    0    1  gad2_1     x  not_a_number
    1    2  gad2_2     7  out_of_range
    """
    inst = get_instrument(instrument)
    max_missing = _max_missing(inst, missing, "score_valid")
    answers, problems, bad_rows = _read(data, inst, missing_codes)
    keep = ~bad_rows
    scores = _compute(data.iloc[keep] if not keep.all() else data, inst, answers[keep], max_missing)
    return ScoreResult(scores=scores, problems=problems)


def instruments_in(data: pd.DataFrame) -> list[str]:
    """Ids of the declared questionnaires with at least one item column in ``data``.

    >>> import pandas as pd
    >>> instruments_in(pd.DataFrame(columns=["resident_id", "gad7_1", "phq9_1", "phq9_10"]))
    ['gad7', 'phq9']
    """
    columns = set(map(str, data.columns))
    return [i for i in instrument_ids() if columns & set(get_instrument(i).item_columns)]


@validate_params({"data": FRAME, "missing": MISSING})
def score_all(data: pd.DataFrame, *, instruments: Iterable[str] | None = None,
              missing: str | int = "default", missing_codes: Iterable = ()) -> pd.DataFrame:
    """Score every questionnaire present in ``data``; columns prefixed with the questionnaire id.

    A questionnaire is present when any of its item columns is (so a form missing one item
    column is an error naming that column, never silently skipped). All problems of all
    questionnaires are reported together in one :class:`ResponseError`.

    Returns
    -------
    DataFrame
        Same index as ``data``; for each questionnaire ``{id}_score``, ``{id}_band``,
        ``{id}_n_answered``, ``{id}_prorated`` and its flag and derived columns
        (e.g. ``phq9_self_harm``, ``who5_percent``).

    Examples
    --------
    >>> import pandas as pd
    >>> data = pd.DataFrame({"gad2_1": [1, 2], "gad2_2": [1, 3], "phq2_1": [0, 3], "phq2_2": [0, None]})
    >>> score_all(data, missing="strict")[["gad2_score", "gad2_band", "phq2_score"]]
       gad2_score gad2_band  phq2_score
    0         2.0  negative         0.0
    1         5.0  positive         NaN
    """
    ids = instruments_in(data) if instruments is None else list(instruments)
    parts, problems = [], []
    for inst_id in ids:
        inst = get_instrument(inst_id)
        max_missing = _max_missing(inst, missing, "score_all")
        answers, bad, _ = _read(data, inst, missing_codes)
        if len(bad):
            problems.append(bad)
        else:
            parts.append(_compute(data, inst, answers, max_missing).add_prefix(f"{inst.id}_"))
    if problems:
        raise ResponseError("+".join(ids), pd.concat(problems, ignore_index=True))
    return pd.concat(parts, axis=1) if parts else pd.DataFrame(index=data.index)
