"""The append-only, keyed hash chain of the audit log, its signed checkpoints, and checking that
nothing was edited, deleted or removed behind its back.

Every entry holds the previous entry's hash and its own: HMAC-SHA256 with the audit key over the
previous hash and the entry's content, so removing, reordering or editing an entry breaks the chain,
and rewriting the whole log needs the key, which is kept outside the database
(:func:`key_file`: ``WORKBENCH_AUDIT_KEY_FILE``, default ``audit.key`` beside the export key,
created 0600 on first use). Every write records, per row, the hash of the stored row in every table
but the log itself (:data:`COVERED`, :data:`HASHED`, known by :data:`KEYS`; an ``update`` entry
replaces a row's hash); :func:`verify` recomputes every stored row's hash, and names rows edited,
deleted or stored without an entry. Registries written when only residents and assessments were
hashed are sealed once at ``Registry.init``/``upgrade`` (:func:`seal`: a ``baseline`` entry per row
as it then stood), and the report says how many rows were sealed and when.

Removing the last entries (truncation) leaves a valid chain, so after every write transaction the
registry appends a signed checkpoint of the chain's length and head to a file outside the database
(:func:`checkpoints_file`: ``WORKBENCH_AUDIT_CHECKPOINTS``, default ``audit-checkpoints.jsonl``
beside the key), in the style of Certificate Transparency's signed tree heads; :func:`verify`
compares the chain with them. Permissions: the checkpoint file and the key must be readable and
writable by every OS account that writes to the registry (one person: 0600, made so on creation;
several staff on PostgreSQL: a folder and files owned by a group the writing accounts share,
0660/2770, set up by whoever deploys; appends are serialised with an exclusive ``flock`` on the
file). A restore appends a signed ``restored`` checkpoint, and ``Registry.init`` of a new registry
(empty log) a ``created`` one: checkpoints before it describe a history that was replaced.

Registries written before the key (plain SHA-256 entries): a leading run of such entries is
accepted and counted (:attr:`AuditReport.unkeyed`); every entry after the first keyed one must be
keyed. A chain that is entirely unkeyed could have been rewritten by anyone: it verifies, but
:attr:`AuditReport.unkeyed` says so, and the first write after the upgrade seals it (its keyed
entry and checkpoint cover the whole prefix).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path
from typing import Any, Iterable, Mapping, NamedTuple

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from workbench.registry import schema
from workbench.registry.schema import assessments, audit_log, residents

__all__ = ["COVERED", "GENESIS", "AuditReport", "append", "canonical", "checkpoint", "checkpoints_file", "key_file",
           "entries_for", "load_key", "registry_id", "row_hash", "row_hashes", "row_key", "seal", "verify"]

#: The "previous hash" of the first entry.
GENESIS = "0" * 64
_LOCK_KEY = 73510001  # PostgreSQL advisory lock serialising appends to the chain

#: Every table whose rows the log covers (all but ``audit_log``), in the order :func:`verify` checks them.
COVERED = ("users", "communities", "residents", "assessments", "tier_assignments", "referrals", "contacts", "events",
           "enrolments", "consents", "surveys", "measurements", "smd_register", "smd_followups", "smd_rehab", "literacy",
           "wearable_days", "risk_predictions", "caseloads", "access_approvals")
#: Generated ids: numbers the database hands out, not part of what a row says (a row is known by
#: :data:`KEYS` instead).
_GENERATED = {"assessments": "assessment_id", "tier_assignments": "assignment_id", "events": "event_id",
              "enrolments": "enrolment_id", "consents": "consent_id", "measurements": "measurement_id",
              "smd_followups": "followup_id", "smd_rehab": "rehab_id", "literacy": "literacy_id",
              "access_approvals": "approval_id"}
#: Write times left out of the hash: residents and assessments were hashed without them from the
#: start (their entries' own time records when). Every other write time round-trips exactly (UTC,
#: whole seconds or microseconds, on SQLite and PostgreSQL) and is hashed: backdating a decision shows.
_UNHASHED_TIMES = {"residents": "created_at", "assessments": "entered_at"}
#: Columns of each audited table that its content hash covers (everything stored, except
#: generated ids, the hash itself and the write times above).
HASHED = {name: [c.name for c in schema.metadata.tables[name].columns
                 if c.name not in ("content_hash", _GENERATED.get(name), _UNHASHED_TIMES.get(name))]
          for name in COVERED}
#: The key a row is known by in the log (``target_key``: the values joined by ``|``). Tables
#: without a unique natural key (decisions, events, consents, access approvals) are keyed by a
#: natural composite, and :func:`verify` compares the multiset of row hashes per key (two ER
#: visits on the same day are two rows with the same key).
KEYS = {"users": ["name"], "communities": ["community"], "residents": ["resident_id"],
        "assessments": ["resident_id", "assessed_on", "instrument", "purpose", "study"],
        "tier_assignments": ["resident_id", "assessed_on"], "referrals": ["referral_id"], "contacts": ["contact_id"],
        "events": ["resident_id", "event_on", "kind"], "enrolments": ["resident_id", "study"],
        "consents": ["resident_id", "purpose", "given_on"], "surveys": ["survey_id"],
        "measurements": ["resident_id", "measured_on", "setting"], "smd_register": ["resident_id"],
        "smd_followups": ["resident_id", "followed_on"], "smd_rehab": ["resident_id", "level", "entered_on"],
        "literacy": ["resident_id", "asked_on", "questionnaire"], "wearable_days": ["resident_id", "day"],
        "risk_predictions": ["prediction_id"], "caseloads": ["user_name", "resident_id"], "access_approvals": ["user_name", "resident_id"]}
#: Tables covered before every table was (their rows were hashed from the first write): the
#: others' rows written before are sealed by :func:`seal` at the upgrade.
FIRST_COVERED = ("residents", "assessments")
#: Columns added after a table's first version, with their defaults: a value equal to its default
#: is left out of the hash and the key, so rows written before the column existed still verify.
LATER = {"residents": {"ckd": None}, "assessments": {"purpose": "screening", "referral_id": None, "study": None,
                                                     "visit": None, "derived": None},
         "events": {"days": None},
         "referrals": {"referral_source": None, "appointment_on": None, "hospital_seen_on": None}}


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):  # numpy scalars from data frames: their Python value
        value = value.item()
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
    later = LATER.get(table, {})
    return column not in later or value != later[column]


def row_hash(table: str, row: Mapping[str, Any]) -> str:
    """Content hash of a stored (or about to be stored) row of ``table``, one of :data:`COVERED`:
    the SHA-256 of :func:`canonical` of its :data:`HASHED` columns."""
    return hashlib.sha256(canonical({c: row.get(c) for c in HASHED[table] if _kept(table, c, row.get(c))})).hexdigest()


def row_hashes(table: str, rows: list[Mapping[str, Any]], *, plain: Mapping[str, list] | None = None) -> list[str]:
    """:func:`row_hash` of many rows, faster: ``plain`` gives columns already in their canonical
    form (dates as ISO text, whole floats as int); the other columns must hold JSON-ready values
    (str, int, float, bool, None) or they go through the same conversion as :func:`row_hash`."""
    plain = plain or {}
    columns = HASHED[table]
    later = LATER.get(table, {})
    out = []
    dumps = json.dumps
    for k, row in enumerate(rows):
        body = {}
        for c in columns:
            v = plain[c][k] if c in plain else row.get(c)
            if c in later and v == later[c]:
                continue
            if c not in plain and not (v is None or type(v) in (str, bool, int)):
                v = _plain(v)
            body[c] = v
        text = dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        out.append(hashlib.sha256(text).hexdigest())
    return out


def row_key(table: str, row: Mapping[str, Any]) -> str:
    """The key an audited row is known by in the log, e.g. ``R0001|2025-01-02|phq9`` (a study
    visit adds its purpose and study: ``R0001|2026-01-02|phq9|study|rct_12m``)."""
    return "|".join(str(_plain(row.get(c))) for c in KEYS[table] if _kept(table, c, row.get(c)))


def key_file() -> Path:
    """Where the audit key is kept: ``WORKBENCH_AUDIT_KEY_FILE``, else ``audit.key`` in the folder
    of the export key's default location (outside the database)."""
    if os.environ.get("WORKBENCH_AUDIT_KEY_FILE"):
        return Path(os.environ["WORKBENCH_AUDIT_KEY_FILE"])
    from platformdirs import user_data_dir

    return Path(user_data_dir("workbench", appauthor=False)) / "audit.key"


def checkpoints_file() -> Path:
    """Where signed checkpoints are kept: ``WORKBENCH_AUDIT_CHECKPOINTS``, else
    ``audit-checkpoints.jsonl`` beside the audit key."""
    if os.environ.get("WORKBENCH_AUDIT_CHECKPOINTS"):
        return Path(os.environ["WORKBENCH_AUDIT_CHECKPOINTS"])
    return key_file().with_name("audit-checkpoints.jsonl")


class MissingKey(FileNotFoundError):
    """The audit key file is missing: the chain cannot be checked (or extended) without it."""


_KEYS: dict[str, bytes] = {}


def load_key(path: str | Path | None = None, *, create: bool = True) -> bytes:
    """The audit key (32 random bytes, hex in a 0600 file); made on first use when ``create``."""
    path = Path(path) if path is not None else key_file()
    cached = _KEYS.get(str(path))
    if cached is not None and path.exists():
        return cached
    if not path.exists():
        if not create:
            raise MissingKey(f"The audit key {path} is missing: the audit chain cannot be checked without it "
                             f"(restore the key file, or set WORKBENCH_AUDIT_KEY_FILE to where it is kept).")
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32))
    key = bytes.fromhex(path.read_text().strip())
    _KEYS[str(path)] = key
    return key


def _mac(key: bytes, data: bytes) -> str:
    return hmac.new(key, data, hashlib.sha256).hexdigest()


def registry_id(url: Any) -> str:
    """The name a registry's checkpoints are filed under: its SQLite file's absolute path, or
    ``postgresql://host:port/database``."""
    url = sa.engine.make_url(str(url) if not isinstance(url, sa.engine.URL) else url)
    if url.get_backend_name() == "sqlite":
        return str(Path(url.database).resolve())
    return f"postgresql://{url.host or 'localhost'}:{url.port or 5432}/{url.database}"


def head(connection: Connection) -> tuple[int, str]:
    """The chain's length (the last entry's id) and head (its hash); ``(0, GENESIS)`` when empty."""
    last = connection.execute(sa.select(audit_log.c.entry_id, audit_log.c.entry_hash)
                              .order_by(audit_log.c.entry_id.desc()).limit(1)).first()
    return (int(last[0]), last[1]) if last else (0, GENESIS)


def checkpoint(registry: str, length: int, head_hash: str, *, kind: str = "write", path: str | Path | None = None,
               key: bytes | None = None, at: dt.datetime | None = None) -> None:
    """Append a signed checkpoint of ``registry``'s chain (``length`` entries ending in ``head_hash``)
    to the checkpoints file, under an exclusive lock; ``kind`` ``restored`` starts a new history."""
    path = Path(path) if path is not None else checkpoints_file()
    key = key if key is not None else load_key()
    at = at or dt.datetime.now(dt.timezone.utc)
    body = {"registry": registry, "length": int(length), "head": head_hash, "kind": kind,
            "at": at.astimezone(dt.timezone.utc).isoformat(timespec="seconds")}
    line = json.dumps({**body, "sig": _mac(key, canonical(body))}, sort_keys=True) + "\n"
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, line.encode("utf-8"))
    finally:
        os.close(fd)  # releases the lock


def checkpoints(registry: str, *, path: str | Path | None = None, key: bytes | None = None) -> tuple[list[dict], list[str]]:
    """``registry``'s checkpoints since it was last restored or created (that checkpoint included), and problems
    (a line whose signature does not match: written or edited without the key)."""
    path = Path(path) if path is not None else checkpoints_file()
    key = key if key is not None else load_key()
    found: list[dict] = []
    problems: list[str] = []
    if not path.exists():
        return found, problems
    with open(path, encoding="utf-8") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_SH)
        for number, line in enumerate(handle, start=1):
            if json.dumps(registry) not in line:
                continue
            try:
                item = json.loads(line)
                body = {k: item[k] for k in ("registry", "length", "head", "kind", "at")}
                good = hmac.compare_digest(item["sig"], _mac(key, canonical(body)))
            except (ValueError, KeyError, TypeError):
                good, item = False, {}
            if item.get("registry") != registry and good:
                continue
            if not good:
                problems.append(f"checkpoint line {number} of {path} is not signed with the audit key "
                                f"(written or edited without it)")
                continue
            if item["kind"] in ("restored", "created"):
                found = []
            found.append(item)
    return found, problems


def _lock(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_LOCK_KEY})")
    # SQLite: every registry transaction already BEGINs IMMEDIATE, one writer at a time.


def append(connection: Connection, entries: Iterable[Mapping[str, Any]], *, user: str,
           at: dt.datetime, key: bytes | None = None) -> int:
    """Append entries (``action``, ``target_table``, ``target_key``, ``content_hash``, ``details``)
    to the chain inside the caller's transaction, each hash keyed with the audit key (``key``, else
    :func:`load_key`); returns how many were written."""
    key = key if key is not None else load_key()
    _lock(connection)
    prev = connection.execute(sa.select(audit_log.c.entry_hash).order_by(audit_log.c.entry_id.desc())
                              .limit(1)).scalar() or GENESIS
    rows = []
    at_text = _plain(at)  # the same for every entry: made canonical once
    # encoders made once (json.dumps makes one per call): text equal to json.dumps with these options
    canon = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode  # = canonical
    detail = json.JSONEncoder(sort_keys=True, ensure_ascii=False, default=str).encode
    keyed = hmac.new(key, digestmod=hashlib.sha256)
    for entry in entries:
        details = entry.get("details")
        body = {"at": at, "user_name": user, "action": entry["action"],
                "target_table": entry.get("target_table"), "target_key": entry.get("target_key"),
                "content_hash": entry.get("content_hash"),
                "details": detail(details) if details is not None else None}
        text = canon({**body, "at": at_text})
        mac = keyed.copy()
        mac.update(prev.encode() + text.encode("utf-8"))
        entry_hash = mac.hexdigest()
        rows.append({**body, "prev_hash": prev, "entry_hash": entry_hash})
        prev = entry_hash
    if rows and connection.dialect.name == "sqlite":
        # the driver's executemany, the time bound once: SQLAlchemy's per-row parameter handling
        # cost more than the hashing for a bulk import's hundreds of thousands of entries
        bind = audit_log.c["at"].type.dialect_impl(connection.dialect).bind_processor(connection.dialect)
        at_bound = bind(at) if bind else at
        columns = ("user_name", "action", "target_table", "target_key", "content_hash", "details", "prev_hash",
                   "entry_hash")
        connection.exec_driver_sql(
            f"INSERT INTO audit_log (at, {', '.join(columns)}) VALUES ({', '.join('?' * (len(columns) + 1))})",
            [(at_bound, *(r[c] for c in columns)) for r in rows])
    elif rows:
        connection.execute(audit_log.insert(), rows)
    return len(rows)


def entries_for(table: str, rows: list[Mapping[str, Any]], *, action: str = "insert",
                hashes: list[str] | None = None) -> list[dict]:
    """Audit entries of rows just written to ``table``: one per row, keyed by :func:`row_key`, with
    its content hash (``hashes``, else :func:`row_hashes` of the rows as they are stored)."""
    hashes = hashes if hashes is not None else row_hashes(table, rows)
    return [{"action": action, "target_table": table, "target_key": row_key(table, r), "content_hash": h}
            for r, h in zip(rows, hashes)]


def _converter(column: sa.Column):
    """How a stored value of ``column`` is made canonical (as :func:`_plain` does, without asking
    its type each time); None: as stored (text, whole numbers, booleans)."""
    kind = column.type
    if isinstance(kind, sa.DateTime):
        return _plain
    if isinstance(kind, sa.Date):
        return dt.date.isoformat
    if isinstance(kind, sa.Float):
        return lambda v: int(v) if type(v) is float and v.is_integer() else v
    return None


def _stored_digests(connection: Connection, table: str, *, size: int = 10_000):
    """Every stored row of ``table`` as (key, content hash, whether its stored ``content_hash``
    column agrees), in batches, ordered by key (rows with the same key together). The same
    hash as :func:`row_hash`, computed from plain tuples with each column's converter chosen once."""
    t = schema.metadata.tables[table]
    names = [c.name for c in t.columns]
    later = LATER.get(table, {})
    spec = [(c, names.index(c), _converter(t.c[c]), c in later, later.get(c)) for c in sorted(HASHED[table])]
    key_spec = [(names.index(c), _converter(t.c[c]), c in later, later.get(c)) for c in KEYS[table]]
    stored = names.index("content_hash") if "content_hash" in names else None
    encode, sha256 = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode, hashlib.sha256
    # the option on this statement only: Connection.execution_options would set it on the
    # connection for good (SQLAlchemy 2), and a later executemany (seal's append) fails on a
    # server-side cursor on PostgreSQL
    result = connection.execute(sa.select(*t.columns).order_by(*[t.c[c] for c in KEYS[table]]),
                                execution_options={"yield_per": size})
    for part in result.partitions():
        out = []
        for row in part:
            body = {}
            for c, i, convert, optional, default in spec:
                v = row[i]
                if optional and v == default:
                    continue
                body[c] = v if convert is None or v is None else convert(v)
            h = sha256(encode(body).encode("utf-8")).hexdigest()  # body in sorted order: = canonical
            row_id = "|".join(str(row[i] if convert is None or row[i] is None else convert(row[i]))
                              for i, convert, optional, default in key_spec if not (optional and row[i] == default))
            out.append((row_id, h, stored is None or row[stored] == h))
        yield out


def _logged(connection: Connection, tables: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Per table, the content hashes logged for each key: a hash, or a list of them when several
    rows share the key; an ``update`` entry replaces what was logged for its key."""
    tables = list(tables)
    out: dict[str, dict[str, Any]] = {t: {} for t in tables}
    result = connection.execute(
        sa.select(audit_log.c.action, audit_log.c.target_table, audit_log.c.target_key, audit_log.c.content_hash)
        .where(audit_log.c.content_hash.is_not(None), audit_log.c.target_table.in_(tables))
        .order_by(audit_log.c.entry_id), execution_options={"yield_per": 10_000})
    for action, table, row_id, content in result:
        _record(out[table], action, row_id, content)
    return out


def _record(logged: dict[str, Any], action: str, row_id: str, content: str) -> None:
    if action == "update":
        logged[row_id] = content
        return
    before = logged.get(row_id)
    if before is None:
        logged[row_id] = content
    elif isinstance(before, list):
        before.append(content)
    else:
        logged[row_id] = [before, content]


def seal(connection: Connection, *, user: str, at: dt.datetime, key: bytes | None = None) -> int:
    """Seal a registry written before every table was covered (:data:`COVERED`): once, at
    ``Registry.init`` or ``upgrade``, append a ``baseline`` entry with the content hash of every
    row of the newly covered tables that has no logged hash yet (hashed as it is now), then one
    summary ``baseline`` entry (no table) counting them. From then on :func:`verify` requires
    every row to be logged. A new registry (empty log) gets the summary entry only. Does nothing
    when the log already holds a baseline. Returns how many rows were sealed."""
    _lock(connection)
    if connection.execute(sa.select(audit_log.c.entry_id).where(audit_log.c.action == "baseline",
                                                                audit_log.c.target_table.is_(None)).limit(1)).first():
        return 0
    new = head(connection) == (0, GENESIS)
    tables = [t for t in COVERED if t not in FIRST_COVERED]
    logged = {} if new else _logged(connection, tables)
    entries: list[dict] = []
    counts: dict[str, int] = {}
    for table in ([] if new else tables):
        mine = logged[table]
        before = len(entries)
        for part in _stored_digests(connection, table):
            for row_id, h, _ in part:
                known = mine.get(row_id)
                if known == h:
                    del mine[row_id]
                elif isinstance(known, list) and h in known:
                    known.remove(h)
                else:
                    entries.append({"action": "baseline", "target_table": table, "target_key": row_id,
                                    "content_hash": h})
        counts[table] = len(entries) - before
    entries.append({"action": "baseline", "details": {"rows": len(entries), "tables": counts,
                                                      "new_registry": new}})
    append(connection, entries, user=user, at=at, key=key)
    return len(entries) - 1


#: At most this many problems are named in a report (the rest are counted).
SHOWN = 50


class AuditReport(NamedTuple):
    """What :func:`verify` found: ``ok``, how much it checked, the first problem if any, every
    problem named (at most :data:`SHOWN`), how many there were in all, how many leading entries
    were written before the chain was keyed, the rows checked per table, how many rows were
    sealed unchecked when the registry was upgraded to cover every table (and when, UTC ISO
    text), and how many rows are not yet sealed (a registry written before that upgrade, not
    upgraded yet: their changes cannot be told until ``workbench db upgrade``)."""

    ok: bool
    entries: int
    rows_checked: int
    problem: str | None
    problems: tuple[str, ...] = ()
    problem_count: int = 0
    unkeyed: int = 0
    tables: Mapping[str, int] | None = None
    sealed: int = 0
    sealed_at: str | None = None
    unsealed: int = 0


def verify(connection: Connection, *, registry: str | None = None, key: bytes | None = None,
           checkpoints_path: str | Path | None = None, prefix: bool = False) -> AuditReport:
    """Check the keyed chain, the signed checkpoints of ``registry`` (default: the connection's
    database), then every stored row of every covered table (:data:`COVERED`) against its logged
    hashes (the latest, for a row updated).

    Names every problem: an entry edited or out of chain, entries removed from the end (fewer than a
    checkpoint recorded, or another head at a checkpointed length), a row edited, deleted or stored
    without an entry (``tier_assignments R0001|2025-01-02: edited ...``). Rows sharing a key
    (two ER visits the same day) are compared as a multiset of hashes. Until an older registry is
    sealed (:func:`seal`), rows of the tables covered since then that have no logged hash are
    counted (:attr:`AuditReport.unsealed`), not named. ``prefix``: the chain may be shorter than the
    checkpoints (a backup being restored: it must agree with them up to its own length). Raises
    :class:`MissingKey` when the audit key file is missing.
    """
    key = key if key is not None else load_key(create=False)
    registry = registry or registry_id(connection.engine.url)
    marks, problems = checkpoints(registry, path=checkpoints_path, key=key)
    at_length: dict[int, list[dict]] = {}
    for mark in marks:
        at_length.setdefault(int(mark["length"]), []).append(mark)

    def problem(text: str) -> None:
        problems.append(text)

    prev, count, unkeyed, keyed_seen, last_id, broken = GENESIS, 0, 0, False, 0, False
    recorded: dict[str, dict[str, Any]] = {t: {} for t in COVERED}
    sealed, sealed_at, baselined = 0, None, False
    keyed = hmac.new(key, digestmod=hashlib.sha256)
    encode = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode
    result = connection.execute(sa.select(audit_log).order_by(audit_log.c.entry_id),
                                execution_options={"yield_per": 10_000})
    for entry in result.mappings():
        count += 1
        last_id = entry["entry_id"]
        body = {k: entry[k] for k in ("at", "user_name", "action", "target_table", "target_key",
                                      "content_hash", "details")}
        if not broken:
            if entry["prev_hash"] != prev:
                problem(f"audit_log entry {last_id}: the chain is broken there (it does not follow the entry "
                        f"before it as written: entries were removed or reordered)")
                broken = True
            else:
                # = canonical(body): every field but the time is text or None as stored
                data = prev.encode() + encode({**body, "at": _plain(body["at"])}).encode("utf-8")
                mac = keyed.copy()
                mac.update(data)
                if hmac.compare_digest(entry["entry_hash"], mac.hexdigest()):
                    keyed_seen = True
                elif not keyed_seen and entry["entry_hash"] == hashlib.sha256(data).hexdigest():
                    unkeyed += 1  # written before the chain was keyed
                else:
                    problem(f"audit_log entry {last_id}: its content was edited after it was written "
                            f"(it does not match the audit key)")
                    broken = True
        for mark in at_length.get(last_id, ()):
            if mark["head"] != entry["entry_hash"]:
                problem(f"audit_log entry {last_id}: the log was rewritten: a checkpoint of {mark['at']} recorded "
                        f"another entry at this length")
        prev = entry["entry_hash"]
        if entry["content_hash"]:
            if entry["target_table"] in recorded:
                _record(recorded[entry["target_table"]], entry["action"], entry["target_key"], entry["content_hash"])
        elif entry["action"] == "baseline" and entry["target_table"] is None and not baselined:
            baselined = True
            summary = json.loads(entry["details"] or "{}")
            sealed = int(summary.get("rows", 0))
            sealed_at = None if summary.get("new_registry") else _plain(entry["at"])[:19]
    if marks:
        longest = max(marks, key=lambda m: int(m["length"]))
        if int(longest["length"]) > last_id and not prefix:
            problem(f"audit_log: the last {int(longest['length']) - last_id:,} audit entries were removed: a "
                    f"checkpoint of {longest['at']} recorded {int(longest['length']):,}, the log has {last_id:,}")
    checked, unsealed, per_table = 0, 0, {}
    for name in COVERED:
        logged = recorded.pop(name)
        lenient = not baselined and name not in FIRST_COVERED  # rows written before this table was covered
        group_key, group = None, []

        def settle(row_id: str, rows: list[tuple[str, bool]]) -> int:
            """Compare the rows stored under ``row_id`` with the hashes logged for it; returns how
            many rows were taken as not yet sealed."""
            hashes = logged.pop(row_id, None)
            if hashes is None:
                if lenient:
                    return len(rows)
                for _ in rows:
                    problem(f"{name} {row_id}: stored without an audit entry")
                return 0
            if isinstance(hashes, str):
                if len(rows) == 1:
                    if rows[0][1] and rows[0][0] == hashes:
                        return 0
                    problem(f"{name} {row_id}: edited (differs from what was written and logged)")
                    return 0
                hashes = [hashes]
            left = list(hashes)
            unmatched = 0
            for h, consistent in rows:
                if consistent and h in left:
                    left.remove(h)
                else:
                    unmatched += 1
            for _ in range(min(unmatched, len(left))):
                problem(f"{name} {row_id}: edited (differs from what was written and logged)")
            extra = max(unmatched - len(left), 0)
            if not lenient:
                for _ in range(extra):
                    problem(f"{name} {row_id}: stored without an audit entry (one more row with this key than logged)")
            for _ in range(len(left) - unmatched):
                problem(f"{name} {row_id}: deleted (logged as written, no longer stored)")
            return extra if lenient else 0

        n = 0
        for part in _stored_digests(connection, name):
            n += len(part)
            for row_id, h, consistent in part:
                if row_id != group_key:
                    if group:
                        unsealed += settle(group_key, group)
                    group_key, group = row_id, []
                group.append((h, consistent))
        if group:
            unsealed += settle(group_key, group)
        checked += n
        per_table[name] = n
        for row_id in sorted(logged):
            hashes = logged[row_id]
            for _ in range(1 if isinstance(hashes, str) else len(hashes)):
                problem(f"{name} {row_id}: deleted (logged as written, no longer stored)")
    first = problems[0] if problems else None
    if len(problems) > 1:
        first = f"{first} (and {len(problems) - 1:,} more problem(s))"
    return AuditReport(not problems, count, checked, first, tuple(problems[:SHOWN]), len(problems), unkeyed,
                       per_table, sealed, sealed_at, unsealed)
