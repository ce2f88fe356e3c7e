"""The append-only, hash-chained audit log, and checking that nothing was edited behind its back.

Every entry holds the hash of the previous entry and a hash of its own content, so removing,
reordering or editing an entry breaks the chain. Writes of residents and assessments record the
hash of the stored row; :func:`verify` recomputes every stored row's hash and compares.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any, Iterable, Mapping, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from workbench.registry.schema import assessments, audit_log, residents

__all__ = ["GENESIS", "AuditReport", "append", "canonical", "row_hash", "verify"]

#: The "previous hash" of the first entry.
GENESIS = "0" * 64
_LOCK_KEY = 73510001  # PostgreSQL advisory lock serialising appends to the chain

#: Columns of each audited table that its content hash covers (everything stored, except
#: the generated id, the hash itself and the write time).
HASHED = {
    "residents": [c.name for c in residents.columns if c.name not in ("content_hash", "created_at")],
    "assessments": [c.name for c in assessments.columns
                    if c.name not in ("assessment_id", "content_hash", "entered_at")],
}
KEYS = {"residents": ["resident_id"], "assessments": ["resident_id", "assessed_on", "instrument", "purpose", "study"]}
#: Columns added after a table's first version, with their defaults: a value equal to its default
#: is left out of the hash and the key, so rows written before the column existed still verify.
LATER = {"residents": {}, "assessments": {"purpose": "screening", "referral_id": None, "study": None, "visit": None,
                                          "derived": None}}


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return value.isoformat(timespec="microseconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def canonical(obj: Mapping[str, Any]) -> bytes:
    """The bytes a hash is taken of: sorted keys, no spaces, dates as ISO text, UTC times."""
    return json.dumps({k: _plain(v) for k, v in obj.items()}, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


def _kept(table: str, column: str, value: Any) -> bool:
    later = LATER[table]
    return column not in later or value != later[column]


def row_hash(table: str, row: Mapping[str, Any]) -> str:
    """Content hash of a stored row of ``table`` (``residents`` or ``assessments``)."""
    return hashlib.sha256(canonical({c: row.get(c) for c in HASHED[table] if _kept(table, c, row.get(c))})).hexdigest()


def row_hashes(table: str, rows: list[Mapping[str, Any]], *, plain: Mapping[str, list] | None = None) -> list[str]:
    """:func:`row_hash` of many rows, faster: ``plain`` gives columns already in their canonical
    form (dates as ISO text, whole floats as int); the other columns must hold JSON-ready values
    (str, int, float, bool, None) or they go through the same conversion as :func:`row_hash`."""
    plain = plain or {}
    columns = HASHED[table]
    later = LATER[table]
    out = []
    dumps = json.dumps
    for k, row in enumerate(rows):
        body = {}
        for c in columns:
            v = plain[c][k] if c in plain else row.get(c)
            if c in later and v == later[c]:
                continue
            if c not in plain and not (v is None or isinstance(v, (str, bool, int))):
                v = _plain(v)
            body[c] = v
        text = dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        out.append(hashlib.sha256(text).hexdigest())
    return out


def row_key(table: str, row: Mapping[str, Any]) -> str:
    """The key an audited row is known by in the log, e.g. ``R0001|2025-01-02|phq9`` (a study
    visit adds its purpose and study: ``R0001|2026-01-02|phq9|study|rct_12m``)."""
    return "|".join(str(_plain(row.get(c))) for c in KEYS[table] if _kept(table, c, row.get(c)))


def _lock(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_LOCK_KEY})")
    # SQLite: every registry transaction already BEGINs IMMEDIATE, one writer at a time.


def append(connection: Connection, entries: Iterable[Mapping[str, Any]], *, user: str,
           at: dt.datetime) -> int:
    """Append entries (``action``, ``target_table``, ``target_key``, ``content_hash``, ``details``)
    to the chain inside the caller's transaction; returns how many were written."""
    _lock(connection)
    prev = connection.execute(sa.select(audit_log.c.entry_hash).order_by(audit_log.c.entry_id.desc())
                              .limit(1)).scalar() or GENESIS
    rows = []
    at_text = _plain(at)  # the same for every entry: made canonical once
    dumps, sha256 = json.dumps, hashlib.sha256
    for entry in entries:
        details = entry.get("details")
        body = {"at": at, "user_name": user, "action": entry["action"],
                "target_table": entry.get("target_table"), "target_key": entry.get("target_key"),
                "content_hash": entry.get("content_hash"),
                "details": dumps(details, sort_keys=True, ensure_ascii=False, default=str) if details is not None else None}
        text = dumps({**body, "at": at_text}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)  # = canonical
        entry_hash = sha256(prev.encode() + text.encode("utf-8")).hexdigest()
        rows.append({**body, "prev_hash": prev, "entry_hash": entry_hash})
        prev = entry_hash
    if rows:
        connection.execute(audit_log.insert(), rows)
    return len(rows)


class AuditReport(NamedTuple):
    """What :func:`verify` found: ``ok``, how much it checked, and the first problem if any."""

    ok: bool
    entries: int
    rows_checked: int
    problem: str | None


def verify(connection: Connection) -> AuditReport:
    """Check the chain, then that every stored resident and assessment matches its logged hash."""
    prev, count = GENESIS, 0
    recorded: dict[tuple[str, str], str] = {}
    result = connection.execution_options(yield_per=10_000).execute(
        sa.select(audit_log).order_by(audit_log.c.entry_id))
    for entry in result.mappings():
        count += 1
        body = {k: entry[k] for k in ("at", "user_name", "action", "target_table", "target_key",
                                      "content_hash", "details")}
        if entry["prev_hash"] != prev:
            return AuditReport(False, count, 0, f"audit_log entry {entry['entry_id']}: the chain is broken "
                                                f"(it does not follow entry {entry['entry_id'] - 1} as written)")
        expected = hashlib.sha256(prev.encode() + canonical(body)).hexdigest()
        if entry["entry_hash"] != expected:
            return AuditReport(False, count, 0, f"audit_log entry {entry['entry_id']}: its content was edited "
                                                f"after it was written")
        prev = entry["entry_hash"]
        if entry["content_hash"] and entry["target_table"] in HASHED:
            recorded[(entry["target_table"], entry["target_key"])] = entry["content_hash"]
    checked = 0
    for name, table in (("residents", residents), ("assessments", assessments)):
        order = [table.c[c] for c in KEYS[name]]
        rows = connection.execution_options(yield_per=10_000).execute(sa.select(table).order_by(*order))
        for row in rows.mappings():
            checked += 1
            key = row_key(name, row)
            logged = recorded.get((name, key))
            if logged is None:
                return AuditReport(False, count, checked, f"{name} {key}: stored without an audit entry")
            if row_hash(name, row) != logged or row["content_hash"] != logged:
                return AuditReport(False, count, checked, f"{name} {key}: differs from what was written "
                                                          f"(edited outside the registry)")
    return AuditReport(True, count, checked, None)
