"""Reading and validating import files before anything is written.

Every problem is reported at once as a table ``line, column, value, rule`` (``line`` is the
line of the file, the header being line 1), so staff can fix a spreadsheet in one pass.
Residents are checked with a pandera schema; questionnaire answers with the scoring engine's
own checks (:func:`workbench.check_answers`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from workbench.instruments import get_instrument
from workbench.policy import CONDITIONS
from workbench.problems import ProblemsError
from workbench.scoring import check_answers, instruments_in

__all__ = ["ImportProblems", "PROBLEM_COLUMNS", "PURPOSES", "check_assessment_file", "read_table", "validate_residents"]

PROBLEM_COLUMNS = ["line", "column", "value", "rule"]
RESIDENT_COLUMNS = ["resident_id", "sex", "birth_date", "community", "lives_alone", *CONDITIONS]
OPTIONAL_RESIDENT_COLUMNS = ["name", "phone", "id_number"]
_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}


class ImportProblems(ProblemsError):
    """An import that was refused; nothing was written. ``problems`` lists every bad cell as
    ``table`` (the file or source), ``row`` (the file's line; blank for the header or the file as
    a whole), ``column``, ``value`` and ``rule``."""

    row_word = "line"

    def __init__(self, source: str, problems: pd.DataFrame):
        if isinstance(problems, pd.DataFrame) and "line" in problems.columns:
            lines = problems["line"].astype(object).where(problems["line"].notna(), None)
            problems = [(source, None if line is None else int(line), column, value, rule)
                        for line, column, value, rule in zip(lines, problems["column"].astype(object),
                                                             problems["value"].astype(object),
                                                             problems["rule"].astype(object))]
        super().__init__(problems, context=source)


def read_table(path: str | Path) -> pd.DataFrame:
    """A CSV or Excel file as text cells (nothing guessed), blank cells as missing."""
    path = Path(path)
    if path.suffix.lower() in (".xlsx", ".xlsm", ".xls"):
        frame = pd.read_excel(path, dtype=str)
    elif path.suffix.lower() in (".csv", ".txt"):
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8-sig")
    else:
        raise ValueError(f"{path.name}: import files must be CSV (.csv) or Excel (.xlsx). Got {path.suffix!r}.")
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame.reset_index(drop=True)


def _lines(index) -> np.ndarray:
    return np.asarray(index, dtype=np.int64) + 2  # header is line 1


def _as_bool(series: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(series.dtype):
        return series.astype("boolean")
    text = series.astype("string").str.strip().str.lower()
    return pd.Series(np.where(text.isin(_TRUE), True, np.where(text.isin(_FALSE), False, None)),
                     index=series.index, dtype="boolean")


def _as_date(series: pd.Series) -> pd.Series:
    return pd.to_datetime(series.astype("string").str.strip(), format="%Y-%m-%d", errors="coerce")


def _residents_schema():
    import pandera.pandas as pa  # on first use: pandera takes ~0.5 s to import

    is_bool = pa.Check(lambda s: _as_bool(s).notna(), element_wise=False,
                       error="must be True or False (blank is not allowed)")
    return pa.DataFrameSchema({
        "resident_id": pa.Column(str, [pa.Check.str_length(1, 64), pa.Check.str_matches(r"^\S(.*\S)?$")],
                                 nullable=False, unique=True, report_duplicates="all"),
        "sex": pa.Column(str, pa.Check.isin(["female", "male"]), nullable=False),
        "birth_date": pa.Column(str, pa.Check(lambda s: _as_date(s).notna() & (_as_date(s) >= "1900-01-01"),
                                              error="must be a date YYYY-MM-DD from 1900"), nullable=False),
        "community": pa.Column(str, pa.Check.str_length(1, 100), nullable=False),
        **{c: pa.Column(nullable=False, checks=is_bool) for c in ("lives_alone", *CONDITIONS)},
        **{c: pa.Column(str, pa.Check.str_length(0, 200), nullable=True, required=False)
           for c in OPTIONAL_RESIDENT_COLUMNS},
    }, strict=False, coerce=False)


_RULES = {"str_length": "is too long or empty", "isin": "is not allowed", "field_uniqueness": "is repeated in the file",
          "not_nullable": "is blank but required", "column_in_dataframe": "is absent from the file",
          "str_matches": "has spaces at its start or end"}


def validate_residents(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Typed residents of the valid rows, and every problem (``line, column, value, rule``)."""
    from pandera.errors import SchemaErrors

    try:
        _residents_schema().validate(frame, lazy=True)
        failures = pd.DataFrame(columns=["column", "check", "failure_case", "index"])
    except SchemaErrors as err:
        failures = err.failure_cases
    rows = []
    for f in failures.itertuples(index=False):
        check = str(f.check)
        name = check.split("(")[0]
        rule = _RULES.get(name, check)
        if name == "isin":
            rule = "must be female or male"
        if name == "column_in_dataframe":
            rows.append((None, str(f.failure_case), None, "is absent from the file: it is required"))
        else:
            index = f.index if f.index is not None and not pd.isna(f.index) else None
            rows.append((None if index is None else int(index) + 2, f.column, f.failure_case, rule))
    problems = pd.DataFrame(rows, columns=PROBLEM_COLUMNS).drop_duplicates(ignore_index=True)
    if problems["line"].isna().any() and (problems["rule"].str.startswith("is absent")).any():
        return frame.iloc[0:0], problems
    bad_lines = set(problems["line"].dropna().astype(int))
    valid = frame[~pd.Series(_lines(frame.index), index=frame.index).isin(bad_lines)]
    typed = pd.DataFrame({
        "resident_id": valid["resident_id"].str.strip(), "sex": valid["sex"],
        "birth_date": _as_date(valid["birth_date"]).dt.date, "community": valid["community"].str.strip(),
        **{c: _as_bool(valid[c]).astype(bool) for c in ("lives_alone", *CONDITIONS)},
        **{c: valid[c].where(valid[c].notna(), None) if c in valid else None for c in OPTIONAL_RESIDENT_COLUMNS},
    }, index=valid.index)
    return typed, problems


#: Why a questionnaire was taken (an import file's optional ``purpose`` column; blank: screening).
PURPOSES = ("screening", "review", "study")


def check_assessment_file(frame: pd.DataFrame) -> tuple[list[tuple], pd.Series]:
    """Every problem of a file (or app form) of questionnaires, ``(line, column, value, rule)``
    (``line`` None for the file as a whole), and the purpose of each row.

    A row may hold several questionnaires; a questionnaire whose items are all blank in a row
    was not given in that sitting. A row with no questionnaire at all is a problem. A review
    names its ``referral_id``; a study visit its ``study`` and ``visit``.
    """
    problems: list[tuple] = []
    for column in ("resident_id", "assessed_on"):
        if column not in frame.columns:
            problems.append((None, column, None, "is absent from the file: it is required"))
    present = instruments_in(frame)
    if not present:
        problems.append((None, "(items)", None, "no questionnaire item columns such as phq9_1 were found"))
    purposes = pd.Series("screening", index=frame.index, dtype=object)
    if problems:
        return problems, purposes
    lines = _lines(frame.index)
    ids = frame["resident_id"].astype("string").str.strip()
    for i in np.flatnonzero((ids.isna() | (ids == "")).to_numpy()):
        problems.append((lines[i], "resident_id", frame["resident_id"].iloc[i], "is blank but required"))
    dates = _as_date(frame["assessed_on"])
    for i in np.flatnonzero(dates.isna().to_numpy()):
        problems.append((lines[i], "assessed_on", frame["assessed_on"].iloc[i], "must be a date YYYY-MM-DD"))
    for column, allowed in (("mode", {"self", "interviewer"}), ("language", {"zh", "en"})):
        if column in frame.columns:
            bad = frame[column].notna() & ~frame[column].isin(allowed)
            for i in np.flatnonzero(bad.to_numpy()):
                problems.append((lines[i], column, frame[column].iloc[i], f"must be one of {sorted(allowed)} or blank"))
    if "purpose" in frame.columns:
        text = frame["purpose"].astype("string").str.strip().str.lower()
        bad = text.notna() & ~text.isin(PURPOSES)
        for i in np.flatnonzero(bad.to_numpy()):
            problems.append((lines[i], "purpose", frame["purpose"].iloc[i], f"must be one of {list(PURPOSES)} or blank "
                                                                           "(a screening)"))
        purposes = text.where(text.isin(PURPOSES), "screening").astype(object)

    def blank(column: str) -> pd.Series:
        if column not in frame.columns:
            return pd.Series(True, index=frame.index)
        return frame[column].astype("string").str.strip().fillna("").eq("")

    for i in np.flatnonzero(((purposes == "review") & blank("referral_id")).to_numpy()):
        problems.append((lines[i], "referral_id", None, "is required for a review: the referral it belongs to"))
    for column in ("study", "visit"):
        for i in np.flatnonzero(((purposes == "study") & blank(column)).to_numpy()):
            problems.append((lines[i], column, None, "is required for a study visit"))
    if "visit" in frame.columns:
        visit = pd.to_numeric(frame["visit"], errors="coerce")
        bad = ~blank("visit") & (visit.isna() | (visit < 0) | (visit != np.floor(visit)))
        for i in np.flatnonzero(bad.to_numpy()):
            problems.append((lines[i], "visit", frame["visit"].iloc[i], "must be a whole number (month or wave) >= 0"))
    for inst_id in present:
        found = check_answers(frame, inst_id)
        position = {label: k for k, label in enumerate(frame.index)}
        for r in found.itertuples(index=False):
            line = None if r.row is None or (isinstance(r.row, float) and np.isnan(r.row)) else lines[position[r.row]]
            problems.append((line, r.column, r.value, r.rule))
    given_any = np.zeros(len(frame), dtype=bool)
    for inst_id in present:
        inst = get_instrument(inst_id)
        columns = [c for c in inst.item_columns + inst.supplementary_columns if c in frame.columns]
        given_any |= frame[columns].apply(pd.to_numeric, errors="coerce").notna().any(axis=1).to_numpy()
    for i in np.flatnonzero(~given_any):
        problems.append((lines[i], "(items)", None, "no questionnaire was answered in this row"))
    problems = [(None if line is None else int(line), column, value, rule) for line, column, value, rule in problems]
    return sorted(problems, key=lambda p: (-1 if p[0] is None else p[0])), purposes
