"""Reading and validating import files before anything is written.

Every problem is reported at once as a table ``line, column, value, rule`` (``line`` is the
line of the file, the header being line 1), so staff can fix a spreadsheet in one pass.
Residents are checked with a pandera schema; questionnaire answers with the scoring engine's
own checks (:func:`workbench.check_answers`).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from workbench.instruments import get_instrument
from workbench.policy import CONDITIONS
from workbench.scoring import check_answers, instruments_in

__all__ = ["ImportProblems", "PROBLEM_COLUMNS", "read_table", "validate_assessments", "validate_residents"]

PROBLEM_COLUMNS = ["line", "column", "value", "rule"]
RESIDENT_COLUMNS = ["resident_id", "sex", "birth_date", "community", "lives_alone", *CONDITIONS]
OPTIONAL_RESIDENT_COLUMNS = ["name", "phone", "id_number"]
_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}


class ImportProblems(ValueError):
    """An import that was refused; nothing was written. ``problems`` lists every bad cell."""

    def __init__(self, source: str, problems: pd.DataFrame):
        self.problems = problems
        lines = [f"- line {'(header)' if pd.isna(r.line) else int(r.line)}, column {r.column!r}: "
                 f"value {r.value!r} {r.rule}" for r in problems.head(200).itertuples(index=False)]
        if len(problems) > 200:
            lines.append(f"- ... and {len(problems) - 200} more")
        super().__init__(f"{source}: {len(problems)} problem(s); nothing was written:\n" + "\n".join(lines))


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


def validate_assessments(frame: pd.DataFrame) -> tuple[list[dict], pd.DataFrame]:
    """One record per questionnaire administered in the valid rows, and every problem.

    A row may hold several questionnaires; a questionnaire whose items are all blank in a row
    was not administered in that session. A row with no questionnaire at all is a problem.
    """
    problems: list[tuple] = []
    for column in ("resident_id", "assessed_on"):
        if column not in frame.columns:
            problems.append((None, column, None, "is absent from the file: it is required"))
    present = instruments_in(frame)
    if not present:
        problems.append((None, "(items)", None, "no questionnaire item columns such as phq9_1 were found"))
    if problems:
        return [], pd.DataFrame(problems, columns=PROBLEM_COLUMNS)
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
    for inst_id in present:
        found = check_answers(frame, inst_id)
        position = {label: k for k, label in enumerate(frame.index)}
        for r in found.itertuples(index=False):
            line = None if r.row is None or (isinstance(r.row, float) and np.isnan(r.row)) else lines[position[r.row]]
            problems.append((line, r.column, r.value, r.rule))
    records: list[dict] = []
    administered_any = np.zeros(len(frame), dtype=bool)
    for inst_id in present:
        inst = get_instrument(inst_id)
        columns = [c for c in inst.item_columns + inst.supplementary_columns if c in frame.columns]
        answers = frame[columns].apply(pd.to_numeric, errors="coerce")
        given = answers[inst.item_columns].notna().any(axis=1).to_numpy() if set(inst.item_columns) <= set(columns) \
            else np.zeros(len(frame), dtype=bool)
        administered_any |= given
        keys = [c.rsplit("_", 1)[1] for c in columns]
        values = answers.to_numpy(dtype="float64")
        for i in np.flatnonzero(given):
            cells = {k: (None if np.isnan(v) else int(v)) for k, v in zip(keys, values[i])}
            records.append({"_row": frame.index[i], "_line": int(lines[i]), "instrument": inst_id,
                            "answers": json.dumps(cells, sort_keys=True)})
    for i in np.flatnonzero(~administered_any):
        problems.append((lines[i], "(items)", None, "no questionnaire was answered in this row"))
    table = pd.DataFrame(problems, columns=PROBLEM_COLUMNS)
    table = table.sort_values("line", na_position="first", kind="stable", ignore_index=True)
    return records, table
