"""The analysis modules' "these rows cannot be used" error, in the one problems shape."""

from __future__ import annotations

from workbench.params import Predicate, check
from workbench.problems import ProblemsError

MESSAGE_LIMIT = 50


class RowProblemsError(ProblemsError):
    """Input that cannot be analysed; nothing was analysed. :attr:`problems` names every bad row
    as ``table, row, column, value, rule`` (``table`` is the argument the rows came in, ``data``
    unless said otherwise), like every problems error of the workbench
    (:class:`workbench.problems.ProblemsError`).

    ``problems`` may be given as ``(row, column, value, rule)`` tuples: ``table`` is then filled in.
    """

    #: The argument whose rows these are.
    table = "data"

    def __init__(self, problems: list[tuple], *, context: str = "the data", table: str | None = None):
        rows = [(table or self.table, *p) if len(p) == 4 else tuple(p) for p in problems]
        super().__init__(rows, context=context, outcome="nothing was analysed")


def other_arms(levels: list, reference, *, arm: str, function: str) -> list:
    """The arms other than ``reference``; a clear error when the reference or a comparison is absent."""
    check(function, "reference", reference,
          Predicate(lambda r: r in levels, f"one of the arms in the data {levels}"))
    others = [a for a in levels if a != reference]
    if not others:
        raise ValueError(f"The '{arm}' column must have at least 2 arms for {function}. Got {levels}.")
    return others
