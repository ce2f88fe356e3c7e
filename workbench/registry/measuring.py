"""Storing measurements: the registry's side of ``workbench import measurements`` and of a visit saved.

A file of readings and a family doctor's visit form go the same way: the rows are converted and
checked by :func:`workbench.measurements.prepare` (units, plausible ranges, cross-field rules), then
checked against the registry here (the resident is registered, who measured is a user, a reading
already stored is the same or refused: nothing is overwritten), then written in the caller's
transaction with one audit entry per row, or nothing is.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import NamedTuple

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from workbench.registry import audit
from workbench.registry.schema import measurements, residents, users

__all__ = ["MEASUREMENT_COLUMNS", "Prepared", "Stored", "prepare_file", "store"]

#: The registry columns a reading's content is compared on (what was measured, and by whom).
MEASUREMENT_COLUMNS = [c.name for c in measurements.columns
                       if c.name not in ("measurement_id", "submission_id", "resident_id", "measured_on", "setting",
                                         "recorded_by", "recorded_at")]


class Prepared(NamedTuple):
    """Checked readings (the ``measurements`` columns of :func:`workbench.measurements.prepare`),
    each with its file line, and the problems found (``line, column, value, rule``)."""

    readings: pd.DataFrame
    lines: np.ndarray
    problems: list[tuple]


def prepare_file(frame: pd.DataFrame, *, codes: dict | None = None, line_of=None) -> Prepared:
    """Check a file (or a visit form) of readings: declared code maps first (``codes``, e.g.
    ``{"adherence": "form"}``: :func:`workbench.registry.imports.apply_codes`), then
    :func:`workbench.measurements.prepare`. ``line_of``: a row's label -> its line (default: the
    row's position + 2, the header being line 1; a function returning None: no lines, a form)."""
    from workbench.measurements import prepare
    from workbench.registry.imports import apply_codes, collapse_problems

    frame = frame.reset_index(drop=True).rename(columns=lambda c: str(c).strip())
    if line_of is None:
        def line_of(label):
            return int(label) + 2
    coded, code_problems = apply_codes(frame.astype(object).where(frame.notna(), None), codes)
    code_problems = [(None if p[0] is None else line_of(int(p[0]) - 2), *p[1:]) for p in code_problems]
    if any(p[0] is None for p in code_problems) and codes:
        return Prepared(prepare(frame.iloc[0:0])[0], np.zeros(0, dtype=np.int64), code_problems)
    readings, found = prepare(coded)
    problems = code_problems + [(None if row is None else line_of(row), column, value, rule)
                                for row, column, value, rule in found]
    coded_cells = {(p[0], p[1]) for p in code_problems}
    problems = code_problems + [p for p in problems[len(code_problems):] if (p[0], p[1]) not in coded_cells]
    lines = np.array([line_of(label) for label in readings.index], dtype=object)
    return Prepared(readings, lines, collapse_problems(problems, len(frame)) if line_of(0) is not None else problems)


class Stored(NamedTuple):
    """What :func:`store` wrote: the rows written (registry rows, with their ``measurement_id``
    when asked for), how many were already stored unchanged, and the problems found."""

    rows: list[dict]
    unchanged: int
    problems: list[tuple]


def _value(v):
    if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and math.isnan(v)):
        return None
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, pd.Timestamp):
        return v.date()
    return v


def _rows(readings: pd.DataFrame) -> list[dict]:
    """Readings (the analysis shape) as registry rows (HbA1c in % only: mmol/mol is computed when read)."""
    names = ["resident_id", "measured_on", "setting", "submission_id", *MEASUREMENT_COLUMNS]
    columns = {c: [_value(v) for v in readings[c].astype(object)] for c in names}
    return [dict(zip(names, values)) for values in zip(*columns.values())]


def _same(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(float(a), float(b), rel_tol=1e-12, abs_tol=1e-12)
    return a == b


def _stored(conn: Connection, ids: list[str]) -> dict[tuple, dict]:
    out = {}
    wanted = sorted(set(ids))
    for start in range(0, len(wanted), 5000):
        part = wanted[start:start + 5000]
        for row in conn.execute(sa.select(measurements).where(measurements.c.resident_id.in_(part))).mappings():
            out[(row["resident_id"], row["measured_on"], row["setting"])] = dict(row)
    return out


def _known(conn: Connection, column: sa.Column, values: list[str]) -> set[str]:
    found: set[str] = set()
    wanted = sorted(set(values))
    for start in range(0, len(wanted), 5000):
        found |= set(conn.execute(sa.select(column).where(column.in_(wanted[start:start + 5000]))).scalars())
    return found


def store(conn: Connection, prepared: Prepared, *, by: str, at: dt.datetime, source: str,
          skip_invalid: bool = False, new_only: bool = False, with_ids: bool = False) -> Stored:
    """Write the ``prepared`` readings not stored yet, inside the caller's transaction.

    ``measured_by`` blank: ``by`` for a clinic or home reading, nobody for the resident's own
    device. A reading already stored (same resident, date and setting) with the same values and
    measurer is left as it is (a re-import writes nothing); with any other value it is a problem
    naming the column, both values and that nothing is overwritten. An unknown resident or
    measurer is a problem. With problems nothing is written, unless ``skip_invalid`` (then the
    rows with a problem are left out). ``new_only``: a reading already stored is a problem even
    when the same (a visit saved once adds a reading, never confirms one).
    """
    readings, lines = prepared.readings, prepared.lines
    problems = list(prepared.problems)
    rows = _rows(readings)
    for row in rows:
        if row["measured_by"] is None and row["setting"] != "device":
            row["measured_by"] = by
    known = _known(conn, residents.c.resident_id, [r["resident_id"] for r in rows])
    staff = _known(conn, users.c.name, [r["measured_by"] for r in rows if r["measured_by"] is not None])
    stored = _stored(conn, [r["resident_id"] for r in rows])
    keep = np.ones(len(rows), dtype=bool)
    unchanged = 0
    for k, (row, line) in enumerate(zip(rows, lines)):
        line = None if line is None else int(line)
        if row["resident_id"] not in known:
            problems.append((line, "resident_id", row["resident_id"], "is not in the registry: import the resident "
                                                                       "first"))
            keep[k] = False
            continue
        if row["measured_by"] is not None and row["measured_by"] not in staff:
            problems.append((line, "measured_by", row["measured_by"], "is not a user of this registry: add them with "
                                                                       "'workbench users add' first"))
            keep[k] = False
            continue
        key = (row["resident_id"], row["measured_on"], row["setting"])
        if key in stored:
            keep[k] = False
            old = stored[key]
            differs = [c for c in MEASUREMENT_COLUMNS if not _same(old[c], row[c])]
            if new_only:
                problems.append((line, "measured_on", str(row["measured_on"]),
                                 f"a {row['setting']} reading is already stored for this resident and date"))
            elif differs:
                c = differs[0]
                more = "" if len(differs) == 1 else f"; and {', '.join(differs[1:])}"
                problems.append((line, c, row[c], f"differs from the reading stored for this resident, date and "
                                                  f"setting ({old[c]!r}{more}); nothing is overwritten"))
            else:
                unchanged += 1
    if problems and not skip_invalid:
        return Stored([], unchanged, problems)
    refused = {p[0] for p in problems if p[0] is not None}
    new = [{**row, "recorded_by": by, "recorded_at": at} for row, k, line in zip(rows, keep, lines)
           if k and (line is None or int(line) not in refused)]
    if new:
        if with_ids:
            ids = conn.execute(measurements.insert().returning(measurements.c.measurement_id,
                                                               sort_by_parameter_order=True), new).scalars().all()
            for row, i in zip(new, ids):
                row["measurement_id"] = i
        else:
            conn.execute(measurements.insert(), new)
        audit.append(conn, audit.entries_for("measurements", new)
                     + [{"action": "import", "target_table": "measurements",
                         "details": {"source": source, "written": len(new)}}], user=by, at=at)
    return Stored(new, unchanged, problems)
