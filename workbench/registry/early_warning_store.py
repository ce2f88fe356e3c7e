"""Storing a wristband's daily features and the risk model's predictions (issue 17).

:meth:`Registry.save_wearable_days <workbench.registry.store.Registry.save_wearable_days>` and
:meth:`Registry.save_risk_predictions <workbench.registry.store.Registry.save_risk_predictions>`
call :func:`save_wearable_days` and :func:`save_risk_predictions` inside their write transaction.
Both check every cell first by the analysis tables' declarations (:func:`workbench.tables.coerce`
and :meth:`workbench.tables.Tables.problems`: type, range, allowed values, the key, the rules
between columns), then what only the registry knows (the resident, the decision), and refuse the
whole frame naming every problem (``table, row, column, value, rule``; the row is the frame's
index label): nothing is written then.

- ``wearable_days``: one row per resident and local day. Saving days already stored replaces
  them (features computed again: an audited ``update`` of the row, under the saver's name); the
  same content again is left as it is; other days of the resident are not touched.
- ``risk_predictions``: append-only. One prediction per decision and model (``model`` is
  ``id@version``): a second, different one for the same decision and model is refused (a new
  model version is another model and adds a row); the same prediction again (same id, same
  content) is left as it is. ``predicted_by`` is the saver (blank: filled in; another name is
  refused). ``resident_id`` and ``assessed_on`` must be those of the decision.

Who: admins, counsellors and doctors; a clinician only about residents they may read (their
caseload, or a second counsellor's approval), checked before anything about them is looked up.
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from workbench.registry import audit
from workbench.registry.schema import residents, risk_predictions, tier_assignments, wearable_days

__all__ = ["Saved", "latest_predictions", "latest_wearable_days", "save_risk_predictions", "save_wearable_days"]


class Saved(NamedTuple):
    """What a save did: rows ``written`` (new), ``replaced`` (stored before with other content) and
    ``unchanged`` (stored before with the same content)."""

    written: int
    replaced: int
    unchanged: int


#: the columns of each table as the analysis tables declare them (the registry adds who and when)
WEARABLE_COLUMNS = [c.name for c in wearable_days.columns if c.name not in ("recorded_by", "recorded_at")]
PREDICTION_COLUMNS = [c.name for c in risk_predictions.columns if c.name != "recorded_at"]


def _checked(name: str, frame: pd.DataFrame) -> tuple[pd.DataFrame, list[tuple]]:
    """``frame`` typed as the analysis table ``name``, and every problem with it alone (links to
    other tables are checked against the registry by the caller)."""
    from workbench.tables import Tables, coerce

    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"The {name} to save must be a DataFrame. Got {type(frame).__name__} instead.")
    typed, problems = coerce(name, frame)
    unread = {(r, c) for _, r, c, _, _ in problems}
    found = Tables(**{name: typed}).problems()
    for row in found.itertuples(index=False):
        if str(row.rule).startswith("refers to no row of") or (row.row, row.column) in unread:
            continue
        problems.append((row.table, row.row, row.column, row.value, row.rule))
    return typed, problems


def _records(frame: pd.DataFrame, columns: list[str]) -> list[dict]:
    from workbench.registry.bulk import _records as records

    return records(frame, columns)


def _same(a, b) -> bool:
    from workbench.registry.bulk import _comparable

    return _comparable(a) == _comparable(b)


def _refuse(table: str, problems: list[tuple]) -> None:
    if problems:
        from workbench.registry.record_problems import RecordProblems

        raise RecordProblems(table, [p[1:] for p in problems])


def _known_residents(conn: Connection, ids: list[str]) -> set[str]:
    wanted = sorted(set(ids))
    found: set[str] = set()
    for start in range(0, len(wanted), 5000):
        found |= set(conn.execute(sa.select(residents.c.resident_id)
                                  .where(residents.c.resident_id.in_(wanted[start:start + 5000]))).scalars())
    return found


def save_wearable_days(conn: Connection, frame: pd.DataFrame, *, by: str, at: dt.datetime) -> Saved:
    """Store ``frame`` (rows of ``wearable_days``) inside the caller's transaction, replacing the
    stored rows of the same resident and day; all or nothing (:class:`RecordProblems`). The
    caller has checked ``by`` may write about every resident in it."""
    typed, problems = _checked("wearable_days", frame)
    if problems:
        _refuse("wearable_days", problems)
    known = _known_residents(conn, typed["resident_id"].tolist())
    recs = _records(typed, WEARABLE_COLUMNS)
    problems = [("wearable_days", label, "resident_id", rec["resident_id"], "is not a resident of the registry")
                for label, rec in zip(typed.index, recs) if rec["resident_id"] not in known]
    _refuse("wearable_days", problems)
    audit._lock(conn)
    stored = {}
    for rid in sorted({r["resident_id"] for r in recs}):
        days = sorted({r["day"] for r in recs if r["resident_id"] == rid})
        for start in range(0, len(days), 2000):
            for row in conn.execute(sa.select(wearable_days).where(wearable_days.c.resident_id == rid,
                                                                   wearable_days.c.day.in_(days[start:start + 2000]))
                                    ).mappings():
                stored[(row["resident_id"], row["day"])] = dict(row)
    new, replaced, unchanged = [], [], 0
    for rec in recs:
        row = {**rec, "recorded_by": by, "recorded_at": at}
        old = stored.get((rec["resident_id"], rec["day"]))
        if old is None:
            new.append(row)
        elif all(_same(old[c], rec[c]) for c in WEARABLE_COLUMNS):
            unchanged += 1
        else:
            replaced.append(row)
    if new:
        conn.execute(wearable_days.insert(), new)
    if replaced:
        t = wearable_days.c
        conn.execute(wearable_days.update().where(t.resident_id == sa.bindparam("_rid"), t.day == sa.bindparam("_day")),
                     [{**{k: v for k, v in r.items() if k not in ("resident_id", "day")}, "_rid": r["resident_id"],
                       "_day": r["day"]} for r in replaced])
    entries = audit.entries_for("wearable_days", new) + audit.entries_for("wearable_days", replaced, action="update")
    if entries:
        entries.append({"action": "save", "target_table": "wearable_days",
                        "details": {"written": len(new), "replaced": len(replaced), "unchanged": unchanged}})
        audit.append(conn, entries, user=by, at=at)
    return Saved(len(new), len(replaced), unchanged)


def save_risk_predictions(conn: Connection, frame: pd.DataFrame, *, by: str, at: dt.datetime) -> Saved:
    """Store ``frame`` (rows of ``risk_predictions``) inside the caller's transaction, append-only
    (see the module docstring); all or nothing (:class:`RecordProblems`)."""
    frame = frame.copy() if isinstance(frame, pd.DataFrame) else frame
    if isinstance(frame, pd.DataFrame) and "predicted_by" not in frame.columns:
        frame["predicted_by"] = by
    typed, problems = _checked("risk_predictions", frame)
    if problems:
        _refuse("risk_predictions", problems)
    recs = _records(typed, PREDICTION_COLUMNS)
    decisions = {}
    ids = [r["decision_id"] for r in recs]
    numbers = sorted({int(i) for i in ids if str(i).isdigit()})
    for start in range(0, len(numbers), 5000):
        for r in conn.execute(sa.select(tier_assignments.c.assignment_id, tier_assignments.c.resident_id,
                                        tier_assignments.c.assessed_on)
                              .where(tier_assignments.c.assignment_id.in_(numbers[start:start + 5000]))):
            decisions[str(r.assignment_id)] = r
    for label, rec in zip(typed.index, recs):
        if rec["predicted_by"] is None:
            rec["predicted_by"] = by
        elif rec["predicted_by"] != by:
            problems.append(("risk_predictions", label, "predicted_by", rec["predicted_by"],
                             f"must be the user saving it ({by}) or blank"))
        d = decisions.get(str(rec["decision_id"]))
        if d is None:
            problems.append(("risk_predictions", label, "decision_id", rec["decision_id"],
                             "is not a tier decision of the registry"))
            continue
        for column in ("resident_id", "assessed_on"):
            if not _same(d._mapping[column], rec[column]):
                problems.append(("risk_predictions", label, column, rec[column] if column == "resident_id" else
                                 str(rec[column]), f"differs from the decision's {column} ({d._mapping[column]})"))
        rec["decision_id"] = d.assignment_id
    _refuse("risk_predictions", problems)
    audit._lock(conn)
    stored = {r["prediction_id"]: dict(r) for r in conn.execute(
        sa.select(risk_predictions).where(risk_predictions.c.prediction_id.in_([r["prediction_id"] for r in recs]))
    ).mappings()}
    pairs = {(r.decision_id, r.model): r.prediction_id for r in conn.execute(
        sa.select(risk_predictions.c.decision_id, risk_predictions.c.model, risk_predictions.c.prediction_id)
        .where(risk_predictions.c.decision_id.in_(sorted({r["decision_id"] for r in recs}))))}
    new, unchanged = [], 0
    for label, rec in zip(typed.index, recs):
        old = stored.get(rec["prediction_id"])
        if old is not None:
            differs = [c for c in PREDICTION_COLUMNS if not _same(old[c], rec[c])]
            if differs:
                c = differs[0]
                problems.append(("risk_predictions", label, c, rec[c], f"differs from the stored prediction "
                                 f"{rec['prediction_id']} ({old[c]!r}); a prediction is never replaced"))
            else:
                unchanged += 1
            continue
        other = pairs.get((rec["decision_id"], rec["model"]))
        if other is not None:
            problems.append(("risk_predictions", label, "model", rec["model"],
                             f"a prediction of this model for this decision is stored already ({other}); a "
                             "prediction is never replaced (a new model version adds one)"))
            continue
        new.append({**rec, "recorded_at": at})
    _refuse("risk_predictions", problems)
    if new:
        conn.execute(risk_predictions.insert(), new)
        audit.append(conn, audit.entries_for("risk_predictions", new)
                     + [{"action": "save", "target_table": "risk_predictions",
                         "details": {"written": len(new), "unchanged": unchanged}}], user=by, at=at)
    return Saved(len(new), 0, unchanged)


# --- what the caseload reads -------------------------------------------------------------------

def _latest(conn: Connection, table: sa.Table, columns: list[str], order: list, mine) -> pd.DataFrame:
    """Each resident's latest row of ``table`` (by ``order``, newest first), residents in ``mine``
    (a subquery; None: everyone)."""
    ranked = sa.select(*[table.c[c] for c in columns], sa.func.row_number().over(
        partition_by=table.c.resident_id, order_by=order).label("n"))
    if mine is not None:
        ranked = ranked.where(table.c.resident_id.in_(mine))
    ranked = ranked.subquery()
    query = sa.select(*[ranked.c[c] for c in columns]).where(ranked.c.n == 1).order_by(ranked.c.resident_id)
    return pd.DataFrame(conn.execute(query).all(), columns=columns)


def latest_wearable_days(conn: Connection, mine=None) -> pd.DataFrame:
    """Each resident's latest stored wristband day (the ``wearable_days`` columns), typed."""
    from workbench.tables import coerce

    t = wearable_days.c
    frame = _latest(conn, wearable_days, WEARABLE_COLUMNS, [t.day.desc()], mine)
    typed, _ = coerce("wearable_days", frame, clean_text=False)
    return typed


def latest_predictions(conn: Connection, mine=None) -> pd.DataFrame:
    """Each resident's latest stored prediction (the ``risk_predictions`` columns; the latest
    screening, then the latest prediction of it), typed."""
    from workbench.tables import coerce

    t = risk_predictions.c
    frame = _latest(conn, risk_predictions, PREDICTION_COLUMNS,
                    [t.assessed_on.desc(), t.predicted_on.desc(), t.recorded_at.desc(), t.prediction_id.desc()], mine)
    frame["decision_id"] = frame["decision_id"].astype(str)
    typed, _ = coerce("risk_predictions", frame, clean_text=False)
    return typed
