"""Argument checks with one error sentence shape (as in scikit-learn):

"The 'n' parameter of community must be an int in [100, 1000000]. Got 5 instead."
"""

from __future__ import annotations

import datetime as dt
import numbers
import re
from typing import Any, Iterable

import numpy as np

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
EARLIEST = np.datetime64("1900-01-01", "D")
LATEST = np.datetime64("2199-12-31", "D")


def fail(param: str, caller: str, rule: str, value: Any) -> None:
    """Raise the standard ValueError for a parameter that breaks its rule."""
    raise ValueError(f"The {param!r} parameter of {caller} must be {rule}. Got {value!r} instead.")


def check_int(value: Any, param: str, caller: str, low: int, high: int | None) -> int:
    """A whole number (not bool) in [low, high] (high None = no upper bound)."""
    rule = f"an int in [{low}, {'inf)' if high is None else f'{high}]'}"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        fail(param, caller, rule, value)
    if value < low or (high is not None and value > high):
        fail(param, caller, rule, value)
    return int(value)


def check_date(value: Any, param: str, caller: str) -> np.datetime64:
    """An ISO 'YYYY-MM-DD' string, datetime.date/datetime or numpy.datetime64 -> datetime64[D]."""
    rule = ("a date (an ISO 'YYYY-MM-DD' string, datetime.date or numpy.datetime64) "
            f"between {EARLIEST} and {LATEST}")
    try:
        if isinstance(value, str):
            if not _ISO_DATE.match(value):
                raise ValueError
            day = np.datetime64(dt.date.fromisoformat(value), "D")
        elif isinstance(value, dt.datetime):
            day = np.datetime64(value.date(), "D")
        elif isinstance(value, dt.date):
            day = np.datetime64(value, "D")
        elif isinstance(value, np.datetime64) and not np.isnat(value):
            day = value.astype("datetime64[D]")
        else:
            raise ValueError
    except (ValueError, TypeError, OverflowError):
        fail(param, caller, rule, value)
    if not EARLIEST <= day <= LATEST:
        fail(param, caller, rule, value)
    return day


def check_choice(value: Any, param: str, caller: str, options: Iterable[str]) -> str:
    """One of a few strings."""
    options = tuple(options)
    if not isinstance(value, str) or value not in options:
        listed = ", ".join(repr(o) for o in options)
        fail(param, caller, f"a str among {{{listed}}}", value)
    return value


def check_instruments(value: Any, param: str, caller: str,
                      available: Iterable[str]) -> tuple[str, ...]:
    """A non-empty sequence (not a str) of distinct ids among ``available``."""
    available = tuple(available)
    rule = f"a non-empty tuple of distinct instrument ids among {list(available)}"
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        fail(param, caller, rule, value)
    ids = tuple(value)
    if (not ids or len(set(ids)) != len(ids)
            or any(not isinstance(i, str) or i not in available for i in ids)):
        fail(param, caller, rule, value)
    return ids
