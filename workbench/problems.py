"""One shape for every refusal: a table of problems, each naming the table, the row, the column,
the value and the rule it breaks.

Every module that refuses data raises :class:`ProblemsError` or a subclass of it, so a person
fixing a spreadsheet, an app showing what is wrong beside a field, and a test all read the same
columns (:data:`PROBLEM_COLUMNS`), and nothing is half-done: whoever raises it has written and
computed nothing.

Examples
--------
>>> err = ProblemsError([("residents", 3, "sex", "F", "must be female or male")], context="residents.csv")
>>> print(err)
residents.csv: 1 problem; nothing was written:
- residents, row 3, column 'sex': value 'F' must be female or male
>>> err.problems.columns.tolist()
['table', 'row', 'column', 'value', 'rule']
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np
import pandas as pd

__all__ = ["PROBLEM_COLUMNS", "ProblemsError", "problems_frame"]

#: The columns of every problems table.
PROBLEM_COLUMNS = ["table", "row", "column", "value", "rule"]
#: How many problems a message lists before it says how many more there are.
SHOWN = 200


def problems_frame(rows: Iterable[Sequence] | pd.DataFrame | None = None) -> pd.DataFrame:
    """Problems as a table with :data:`PROBLEM_COLUMNS` (rows of 5 values, or a frame with those columns).

    >>> problems_frame().columns.tolist()
    ['table', 'row', 'column', 'value', 'rule']
    """
    if rows is None:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in PROBLEM_COLUMNS})
    if isinstance(rows, pd.DataFrame):  # extra columns (scoring's ``check``) are kept after the five
        missing = [c for c in PROBLEM_COLUMNS if c not in rows.columns]
        if missing:
            raise ValueError(f"A problems table needs the columns {PROBLEM_COLUMNS}; {missing} are missing.")
        return rows[PROBLEM_COLUMNS + [c for c in rows.columns if c not in PROBLEM_COLUMNS]].reset_index(drop=True)
    rows = [tuple(r) for r in rows]
    bad = [r for r in rows if len(r) != len(PROBLEM_COLUMNS)]
    if bad:
        raise ValueError(f"Each problem is (table, row, column, value, rule). Got {bad[0]!r} instead.")
    return pd.DataFrame(rows, columns=PROBLEM_COLUMNS, dtype=object)


def _where(problem, row_word: str = "row") -> str:
    parts = []
    if problem.table is not None and not (isinstance(problem.table, float) and pd.isna(problem.table)):
        parts.append(str(problem.table))
    if problem.row is not None and not (isinstance(problem.row, float) and pd.isna(problem.row)):
        parts.append(f"{row_word} {problem.row!r}" if isinstance(problem.row, str) else f"{row_word} {problem.row}")
    if problem.column is not None and not (isinstance(problem.column, float) and pd.isna(problem.column)):
        parts.append(f"column {problem.column!r}")
    return ", ".join(parts) or "(the data as a whole)"


def _shown(value) -> str:
    """A cell's value as a person reads it: ``'F'``, ``-3``, ``(none)`` for a blank."""
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and value != value):
        return "(none)"
    if isinstance(value, np.generic):
        value = value.item()
    return repr(value)


class ProblemsError(ValueError):
    """Data refused, with every problem found (:attr:`problems`: :data:`PROBLEM_COLUMNS`).

    ``context`` says what was refused (a file, a table, a function); ``outcome`` what that means
    ("nothing was written", "nothing was computed").
    """

    #: What a row is called in the message ("line" for files, where the header is line 1).
    row_word = "row"

    def __init__(self, problems: Iterable[Sequence] | pd.DataFrame, *, context: str = "data",
                 outcome: str = "nothing was written"):
        self.problems = problems_frame(problems)
        self.context = context
        self.outcome = outcome
        super().__init__(self._message())

    def _message(self) -> str:
        n = len(self.problems)
        lines = [f"- {_where(p, self.row_word)}: value {_shown(p.value)} {p.rule}"
                 for p in self.problems.head(SHOWN).itertuples(index=False)]
        if n > SHOWN:
            lines.append(f"- ... and {n - SHOWN} more")
        return f"{self.context}: {n} problem{'' if n == 1 else 's'}; {self.outcome}:\n" + "\n".join(lines)

    def __reduce__(self):  # picklable across Dask workers and processes
        return (_rebuild, (type(self), self.problems, self.context, self.outcome))


def _rebuild(cls, problems, context, outcome):
    error = cls.__new__(cls)
    ProblemsError.__init__(error, problems, context=context, outcome=outcome)
    return error
