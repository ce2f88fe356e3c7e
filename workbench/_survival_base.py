"""What every survival function checks first: the input, every bad row named (row, column,
value, rule). Shared by ``workbench.survival``, ``workbench.survival_regression`` and
``workbench.scale``."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from workbench._errors import RowProblemsError


class SurvivalDataError(RowProblemsError):
    """Input that cannot be analysed; names every bad row (row, column, value, rule)."""

    def __init__(self, problems: list[tuple]):
        super().__init__(problems, context="the survival data")


def _check(data: pd.DataFrame, *, duration: str, event: str, entry: str | None = None,
           group: str | None = None, covariates: Sequence[str] = (), binary: bool = True) -> None:
    """Every bad row, named; ``binary``: the event is 0/1, else 0 or a cause code (a whole number)."""
    needed = [c for c in (duration, event, entry, group, *covariates) if c is not None]
    absent = [c for c in needed if c not in data.columns]
    if absent:
        raise SurvivalDataError([(None, c, None, "is absent from the data") for c in absent])
    problems: list[tuple] = []

    def flag(mask, column, rule):
        for i in np.flatnonzero(np.asarray(mask)):
            problems.append((data.index[i], column, data[column].iloc[i], rule))

    t = pd.to_numeric(data[duration], errors="coerce")
    flag(t.isna() | ~np.isfinite(t.fillna(0)), duration, "must be a number of days (not missing)")
    flag(t < 0, duration, "must not be negative")
    e = pd.to_numeric(data[event], errors="coerce")
    if binary:
        flag(e.isna() | ~e.isin([0, 1]), event, "must be one of [0, 1] (0 = censored)")
    else:
        flag(e.isna() | (e % 1 != 0) | (e < 0), event, "must be 0 (censored) or a cause: a whole number >= 1")
    if entry is not None:
        s = pd.to_numeric(data[entry], errors="coerce")
        flag(s.isna() | (s < 0), entry, "must be a number of days >= 0")
        flag(s >= t, entry, f"must be before the exit time ({duration})")
    if group is not None:
        flag(data[group].isna(), group, "is missing: every row needs a group")
    for c in covariates:
        v = pd.to_numeric(data[c], errors="coerce")
        flag(v.isna(), c, "is missing or not numeric (encode categories as 0/1 columns)")
    if problems:
        raise SurvivalDataError(problems)
