"""The synthetic community's parameter rules, on :mod:`workbench.params` (one sentence shape, as in
scikit-learn):

"The 'n' parameter of community must be an int in [100, 1000000]. Got 5 instead."

:func:`workbench.synth.community` declares its rules (:data:`DATE` among them); the helpers here
are thin: they check with a constraint and return the value in the form the generator works
with (a day as ``datetime64[D]``), or raise the sentence for a rule that depends on other
parameters (:func:`fail`).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Iterable

import numpy as np

from workbench.params import ParameterError, Predicate, check, sentence

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
EARLIEST = np.datetime64("1900-01-01", "D")
LATEST = np.datetime64("2199-12-31", "D")


def fail(param: str, caller: str, rule: str, value: Any) -> None:
    """Raise the one sentence (:class:`workbench.params.ParameterError`, a ValueError) for a
    parameter that breaks a rule depending on other parameters."""
    raise ParameterError(sentence(caller, param, rule, value))


def _day(value: Any) -> np.datetime64 | None:
    """``value`` as a day between :data:`EARLIEST` and :data:`LATEST`, or None."""
    try:
        if isinstance(value, str):
            if not _ISO_DATE.match(value):
                return None
            day = np.datetime64(dt.date.fromisoformat(value), "D")
        elif isinstance(value, dt.datetime):
            day = np.datetime64(value.date(), "D")
        elif isinstance(value, dt.date):
            day = np.datetime64(value, "D")
        elif isinstance(value, np.datetime64) and not np.isnat(value):
            day = value.astype("datetime64[D]")
        else:
            return None
    except (ValueError, TypeError, OverflowError):
        return None
    return day if EARLIEST <= day <= LATEST else None


#: A day of the synthetic calendar.
DATE = Predicate(lambda v: _day(v) is not None,
                 "a date (an ISO 'YYYY-MM-DD' string, datetime.date or numpy.datetime64) "
                 f"between {EARLIEST} and {LATEST}")


def check_date(value: Any, param: str, caller: str) -> np.datetime64:
    """An ISO 'YYYY-MM-DD' string, datetime.date/datetime or numpy.datetime64 -> datetime64[D]."""
    check(caller, param, value, DATE)
    return _day(value)


def instruments_rule(available: Iterable[str]) -> Predicate:
    """A non-empty sequence (not a str) of distinct ids among ``available``."""
    available = tuple(available)

    def test(value: Any) -> bool:
        ids = tuple(value) if not isinstance(value, (str, bytes)) and isinstance(value, Iterable) else ()
        return (bool(ids) and len(set(ids)) == len(ids)
                and all(isinstance(i, str) and i in available for i in ids))

    return Predicate(test, f"a non-empty tuple of distinct instrument ids among {list(available)}")


def check_instruments(value: Any, param: str, caller: str,
                      available: Iterable[str]) -> tuple[str, ...]:
    """A non-empty sequence (not a str) of distinct ids among ``available``."""
    if isinstance(value, Iterable) and iter(value) is value:  # a one-pass iterator: read it once
        value = tuple(value)
    return tuple(check(caller, param, value, instruments_rule(available)))
