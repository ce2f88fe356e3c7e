"""Checking and reading the input frames of the follow-up rules (chronic care, severe mental
disorders): every bad cell named as ``(table, row, column, value, rule)``, columns typed by kind,
dates as year and month-day read from a table of the days spanned, and month labels.

>>> _month_text(_month_index("2025-12") + 1)
'2026-01'
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

#: Rows of one problem listed by name; the rest are counted in one more line.
_LISTED = 1000


def _bad(table: str, frame: pd.DataFrame, mask: np.ndarray, column: str, rule: str) -> list[tuple]:
    rows = np.flatnonzero(mask)
    if not len(rows):
        return []
    shown = rows[:_LISTED]
    if column in frame.columns:
        values = frame[column].iloc[shown].to_numpy(dtype=object)
    else:  # a key of several columns: the value is the tuple
        values = list(frame[column.split(", ")].iloc[shown].itertuples(index=False, name=None))
    out = [(table, frame.index[i], column, v, rule) for i, v in zip(shown, values)]
    if len(rows) > _LISTED:
        out.append((table, None, column, None, f"... and {len(rows) - _LISTED:,} more rows that {rule.removeprefix('is ')}"))
    return out


def _kind(series: pd.Series) -> str:
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_datetime64_dtype(dtype):
        return "date"
    if pd.api.types.is_numeric_dtype(dtype):
        return "number"
    return "text" if pd.api.types.is_string_dtype(dtype) or dtype == object else str(dtype)


_WORDS = {"date": "dates (datetime64, without a time zone)", "number": "numbers", "bool": "True/False (bool or boolean)",
          "text": "text"}


def _is_flag(value: Any) -> bool:
    return isinstance(value, (bool, np.bool_))


def _typed(table: str, frame: pd.DataFrame, wanted: Mapping[str, str], problems: list[tuple]) -> pd.DataFrame:
    """``frame`` with the columns the rules read, each of its kind (``date``, ``number``, ``bool``,
    ``text``). Declared types pass as they are (the fast path); a column of Python objects, as an
    app builds a one-row frame, is converted cell by cell, and a cell that is not of the kind is
    named; a missing column, or one of another type, is named as such."""
    converted = {}
    for column, kind in wanted.items():
        if column not in frame.columns:
            problems.append((table, None, column, None, "is missing: the table must have this column"))
            continue
        series = frame[column]
        if _kind(series) == kind or (kind == "text" and series.dtype == object):
            continue
        if series.dtype != object:
            problems.append((table, None, column, str(series.dtype), f"has the wrong type: it must hold {_WORDS[kind]}"))
            continue
        present = series.notna().to_numpy()
        flag = np.array([_is_flag(v) for v in series], dtype=bool)  # Python objects: few rows (an app's visit)
        if kind == "number":  # True is not the number 1
            as_kind = pd.to_numeric(series.where(~flag), errors="coerce").astype("float64")
            bad = present & as_kind.isna().to_numpy()
        elif kind == "bool":
            bad = present & ~flag
            as_kind = pd.array([bool(v) if f else pd.NA for v, f in zip(series, flag)], dtype="boolean")
        elif kind == "date":
            as_kind = pd.to_datetime(series, errors="coerce")
            if getattr(as_kind.dtype, "tz", None) is not None:
                problems.append((table, None, column, str(as_kind.dtype), f"has the wrong type: it must hold {_WORDS[kind]}"))
                continue
            bad = present & as_kind.isna().to_numpy()
        else:
            continue
        problems += _bad(table, frame, bad, column, f"is not {'a number' if kind == 'number' else 'True or False' if kind == 'bool' else 'a date'}")
        converted[column] = as_kind
    return frame.assign(**converted) if converted else frame


def _columns(table: str, frame: pd.DataFrame, wanted: Mapping[str, str]) -> list[tuple]:
    """Missing columns and columns of the wrong type (``date``, ``number``, ``bool``, ``text``)."""
    problems: list[tuple] = []
    _typed(table, frame, wanted, problems)
    return problems


_DAY_NS = 86_400 * 10**9
#: year*10000 + month*100 + day standing for an unknown birth date: later than any day, so the age is negative
_UNBORN = 99_999_999


def _ymd(dates: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Year and month*100+day of datetime64 values (NaT: year -1) and whether each is known.

    Read from a table of the days spanned (few), not computed per value: 10^7 dates in a blink.
    """
    ns = np.asarray(dates).astype("datetime64[ns]").view(np.int64)
    known = ns != np.iinfo(np.int64).min
    day = ns // _DAY_NS
    if not known.any():
        return np.full(len(ns), -1, np.int64), np.zeros(len(ns), np.int64), known
    lo, hi = int(day[known].min()), int(day[known].max())
    span = pd.DatetimeIndex(np.arange(lo, hi + 1).astype("datetime64[D]"))
    years, mds = span.year.to_numpy(np.int64), (span.month * 100 + span.day).to_numpy(np.int64)
    at = np.where(known, day - lo, 0)
    return np.where(known, years[at], -1), np.where(known, mds[at], 0), known


def _blank(column: pd.Series) -> np.ndarray:
    """Whether each cell of a text column is blank. Python strings without a blank are recognised
    in one pass of their types (``isna`` of 10^6 Python strings takes a third of a second)."""
    if column.dtype == object or isinstance(column.array, pd.arrays.StringArray):
        raw = np.asarray(column.array)
        if pd.api.types.infer_dtype(raw, skipna=False) == "string":
            return np.zeros(len(raw), dtype=bool)
    return column.isna().to_numpy()


def _month_index(text: str) -> int:
    year, month = map(int, text.split("-"))
    return year * 12 + month - 1


def _month_text(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"
