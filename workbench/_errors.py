"""One shape for "these rows cannot be used" errors across the analysis modules."""

from __future__ import annotations

import pandas as pd

MESSAGE_LIMIT = 50


class RowProblemsError(ValueError):
    """Input that cannot be analysed; the message names every bad row (row, column, value, rule).

    Attributes
    ----------
    problems : DataFrame
        ``row, column, value, rule``: one row per problem, all of them at once (the message
        spells out the first ``MESSAGE_LIMIT``).
    """

    def __init__(self, problems: list[tuple], *, context: str = "the data"):
        self.problems = pd.DataFrame(problems, columns=["row", "column", "value", "rule"])
        lines = [f"- row {r!r}, column {c!r}: value {v!r} {rule}" for r, c, v, rule in problems[:MESSAGE_LIMIT]]
        if len(problems) > MESSAGE_LIMIT:
            lines.append(f"- ... and {len(problems) - MESSAGE_LIMIT} more (see .problems)")
        super().__init__(f"{len(problems)} problem(s) in {context}; nothing was analysed:\n" + "\n".join(lines))


def other_arms(levels: list, reference, *, arm: str, function: str) -> list:
    """The arms other than ``reference``; a clear error when the reference or a comparison is absent."""
    if reference not in levels:
        raise ValueError(f"The 'reference' parameter of {function} must be one of the arms in the data "
                         f"{levels}. Got {reference!r} instead.")
    others = [a for a in levels if a != reference]
    if not others:
        raise ValueError(f"The '{arm}' column must have at least 2 arms for {function}. Got {levels}.")
    return others
