"""Checking the input tables of the outcome functions; every problem is reported at once."""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np
import pandas as pd

from workbench.instruments import get_instrument, instrument_ids
from workbench.params import COLUMNS, FRAME, Date, Options, check
from workbench.problems import PROBLEM_COLUMNS, ProblemsError

__all__ = ["OutcomeDataError"]



class OutcomeDataError(ProblemsError):
    """Input tables that the outcome functions cannot use; nothing was computed.

    The one problems error of the workbench (:class:`workbench.problems.ProblemsError`): the
    message names every problem (table, row label, column, value, rule); ``problems`` holds all
    of them as a table with columns ``table, row, column, value, rule``.
    """

    def __init__(self, function: str, problems: list[dict[str, Any]]):
        rows = [tuple(_plain(p[c]) for c in PROBLEM_COLUMNS) for p in problems]
        super().__init__(rows, context=function, outcome="nothing was computed")


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


#: A questionnaire declared in ``workbench/instruments``.
INSTRUMENT = Options(of=instrument_ids)


def as_day(value: Any, function: str, name: str) -> pd.Timestamp:
    """A date argument (:class:`workbench.params.Date`) as a day-precision Timestamp (never a hidden "today")."""
    return pd.Timestamp(check(function, name, value, Date())).normalize()


def column_names(value: Any, function: str, name: str) -> list[str]:
    """``by``-style arguments (:data:`workbench.params.COLUMNS`): None, one column name or a list of names."""
    check(function, name, value, COLUMNS)
    return [] if value is None else [value] if isinstance(value, str) else list(value)


class Checker:
    """Collects problems across tables; :meth:`done` raises them all together."""

    def __init__(self, function: str):
        self.function = function
        self.problems: list[dict[str, Any]] = []

    def add(self, table: str, row: Any, column: str | None, value: Any, rule: str) -> None:
        self.problems.append({"table": table, "row": row, "column": column, "value": value, "rule": rule})

    def frame(self, data: Any, table: str) -> pd.DataFrame:
        check(self.function, table, data, FRAME)
        if not data.columns.is_unique:
            dupes = sorted(set(map(str, data.columns[data.columns.duplicated()])))
            raise ValueError(f"{self.function}: the {table} table has duplicated column(s) {dupes}.")
        return data

    def require(self, data: pd.DataFrame, table: str, columns: Iterable[str]) -> bool:
        missing = [c for c in columns if c not in data.columns]
        for c in missing:
            self.add(table, None, c, None, "is absent: this column is required")
        return not missing

    def _bad_cells(self, data: pd.DataFrame, table: str, column: str, mask: np.ndarray, rule: str) -> None:
        for label, value in zip(data.index[mask], data[column].to_numpy(dtype=object)[mask]):
            self.add(table, label, column, value, rule)

    def dates(self, data: pd.DataFrame, table: str, column: str, *, required: bool = True) -> pd.Series:
        """A date column as day-precision datetime64 (NaT where blank)."""
        raw = data[column]
        parsed = pd.to_datetime(raw, errors="coerce")
        if getattr(parsed.dt, "tz", None) is not None:
            parsed = parsed.dt.tz_localize(None)
        blank = raw.isna().to_numpy()
        unreadable = parsed.isna().to_numpy() & ~blank
        if unreadable.any():
            self._bad_cells(data, table, column, unreadable, "is not a date")
        if required and blank.any():
            self._bad_cells(data, table, column, blank, "is blank: a date is required")
        return parsed.dt.normalize()

    def flags(self, data: pd.DataFrame, table: str, column: str) -> pd.Series:
        """A yes/no column as bool; anything but True/False/1/0 is a problem (never guessed)."""
        raw = data[column]
        if raw.dtype == bool:
            return raw.astype(bool)
        values = raw.to_numpy(dtype=object)
        ok = np.array([isinstance(v, (bool, np.bool_)) or (isinstance(v, (int, np.integer, float, np.floating))
                       and not isinstance(v, (bool, np.bool_)) and v in (0, 1)) for v in values], dtype=bool)
        if (~ok).any():
            self._bad_cells(data, table, column, ~ok, "must be True or False (1 or 0); a blank is not 'no'")
        return pd.Series([bool(v) if k else False for v, k in zip(values, ok)], index=data.index)

    def ids(self, data: pd.DataFrame, table: str, column: str) -> pd.Series:
        blank = data[column].isna().to_numpy()
        if blank.any():
            self._bad_cells(data, table, column, blank, "is blank: an id is required")
        return data[column]

    def scores(self, data: pd.DataFrame, table: str, column: str, instrument: str) -> pd.Series:
        """Total scores as float (NaN = not scorable, never 0); bad cells are problems."""
        inst = get_instrument(instrument)
        raw = data[column]
        if pd.api.types.is_bool_dtype(raw.dtype):
            values = np.full(len(raw), np.nan)
            bad = raw.notna().to_numpy()
            self._bad_cells(data, table, column, bad, "is a yes/no value, not a score")
            return pd.Series(values, index=data.index)
        values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        blank = raw.isna().to_numpy()
        text = np.isnan(values) & ~blank
        if text.any():
            self._bad_cells(data, table, column, text, "is not a number")
        finite = np.isfinite(values)
        rule = (f"is not a {inst.id} total: whole numbers from {inst.score_min} to {inst.score_max} "
                "(blank when not scorable)")
        with np.errstate(invalid="ignore"):
            bad = (~finite & ~np.isnan(values)) | (finite & ((values != np.floor(values))
                                                             | (values < inst.score_min) | (values > inst.score_max)))
        if bad.any():
            self._bad_cells(data, table, column, bad, rule)
        values[bad | text] = np.nan
        return pd.Series(values, index=data.index)

    def score_column(self, data: pd.DataFrame, table: str, instrument: str,
                     instrument_column: str = "instrument") -> pd.Series | None:
        """Scores of ``instrument``: from ``{instrument}_score``, else from ``score`` (rows whose
        ``instrument`` column names it, or every row when there is no such column)."""
        prefixed = f"{instrument}_score"
        if prefixed in data.columns:
            return self.scores(data, table, prefixed, instrument)
        if "score" in data.columns:
            values = self.scores(data, table, "score", instrument)
            if instrument_column in data.columns:
                values = values.where(data[instrument_column].astype("string").str.lower() == instrument)
            return values
        self.add(table, None, prefixed, None,
                 f"is absent: give {prefixed!r}, or a 'score' column (with an 'instrument' column "
                 f"when several questionnaires are mixed)")
        return None

    def done(self) -> None:
        if self.problems:
            raise OutcomeDataError(self.function, self.problems)


def unique_ids(frame: pd.DataFrame, column: str, table: str, checker: Checker) -> None:
    """Report duplicated ids (e.g. a referral listed twice)."""
    dupes = (frame[column].duplicated(keep=False) & frame[column].notna()).to_numpy()
    for label, value in zip(frame.index[dupes], frame[column].to_numpy(dtype=object)[dupes]):
        checker.add(table, label, column, value, "is duplicated: each id may appear once in this table")
