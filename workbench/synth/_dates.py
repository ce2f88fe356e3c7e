"""Vectorised calendar helpers on ``datetime64[D]`` arrays (whole-year ages, year shifts)."""

from __future__ import annotations

import numpy as np


def ymd(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split ``datetime64[D]`` values into year, month (1-12) and day (1-31) integer arrays."""
    days = np.asarray(days, dtype="datetime64[D]")
    months = days.astype("datetime64[M]")
    year = months.astype("datetime64[Y]").astype(np.int64) + 1970
    month = months.astype(np.int64) % 12 + 1
    day = (days - months.astype("datetime64[D]")).astype(np.int64) + 1
    return year, month, day


def from_ymd(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Build ``datetime64[D]`` values from valid year, month, day arrays."""
    first = (np.asarray(year) - 1970).astype("datetime64[Y]").astype("datetime64[M]")
    first = first + (np.asarray(month) - 1).astype("timedelta64[M]")
    return first.astype("datetime64[D]") + (np.asarray(day) - 1).astype("timedelta64[D]")


def is_leap(year: np.ndarray) -> np.ndarray:
    """Gregorian leap years."""
    year = np.asarray(year)
    return (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))


def minus_years(days: np.ndarray, years: np.ndarray) -> np.ndarray:
    """The same calendar day ``years`` earlier (29 February becomes 28 February if needed)."""
    year, month, day = ymd(days)
    year = year - np.asarray(years)
    day = np.where((month == 2) & (day == 29) & ~is_leap(year), 28, day)
    return from_ymd(year, month, day)


def whole_years(born: np.ndarray, on: np.ndarray) -> np.ndarray:
    """Age in completed years on date ``on`` of people born on ``born``.

    A birthday counts once the calendar (month, day) is reached; people born on 29 February
    become a year older on 1 March in common years.

    Examples
    --------
    >>> import numpy as np
    >>> whole_years(np.array(["1960-03-02", "1960-03-01"], dtype="datetime64[D]"),
    ...             np.array(["2025-03-01", "2025-03-01"], dtype="datetime64[D]")).tolist()
    [64, 65]
    """
    yb, mb, db = ymd(born)
    yo, mo, do = ymd(on)
    before_birthday = (mo < mb) | ((mo == mb) & (do < db))
    return yo - yb - before_birthday.astype(np.int64)
