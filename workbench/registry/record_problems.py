"""The error a registry write raises when rows cannot be recorded (nothing was written).

It lives below :mod:`workbench.registry.store` so that the modules ``store`` calls inside its
write transactions (e.g. :mod:`workbench.registry.early_warning_store`) can raise it without
importing ``store`` back; ``store`` re-exports it as ``workbench.registry.store.RecordProblems``.
"""

from __future__ import annotations

from workbench.problems import ProblemsError

__all__ = ["RecordProblems"]


class RecordProblems(ProblemsError):
    """Rows that cannot be recorded; nothing was written. ``problems``: table, row, column, value, rule."""

    def __init__(self, table: str, problems: list[tuple]):
        super().__init__([(table, *p) for p in problems], context=table)
