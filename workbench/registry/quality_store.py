"""Storing the quality indicators' data from files: the hospital's dates of fast-track referrals,
psychiatric discharges, literacy answers and satisfaction surveys (issue 16).

The registry's side of ``workbench import hospital-appointments | discharges | literacy | surveys``
(:meth:`Registry.import_hospital_appointments <workbench.registry.store.Registry.import_hospital_appointments>`
and its siblings). As the SMD imports do, a file is checked cell by cell first (every problem as
``line, column, value, rule``, the header being line 1; a blank cell is never read as 0), then
against the registry (the resident or referral is stored, a row stored before is the same or
refused: nothing is overwritten), then written in the caller's transaction with one audit entry
per row, or nothing is. Importing the same file again writes nothing.

Dates are ``YYYY-MM-DD``, also with a midnight time (an Excel date cell read as text:
``2026-03-02 00:00:00``); a day after today is refused for what has happened (a discharge, a day
seen, answers given). Counts are whole numbers (``5`` or ``5.0``, never ``五`` or ``5.5``).
"""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import re

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from workbench.registry import audit
from workbench.registry.schema import events, literacy, referrals, residents, surveys, users

__all__ = ["APPOINTMENT_COLUMNS", "DISCHARGE_COLUMNS", "LITERACY_COLUMNS", "SURVEY_COLUMNS", "Prepared", "Stored",
           "prepare", "store_appointments", "store_discharges", "store_literacy", "store_surveys"]

#: column -> (kind, required) of each kind of file; kinds: id, text, date, past (a date not after
#: today), count (whole number), bool
APPOINTMENT_COLUMNS = {"referral_id": ("id", True), "appointment_on": ("date", False),
                       "hospital_seen_on": ("past", False)}
DISCHARGE_COLUMNS = {"resident_id": ("id", True), "discharged_on": ("past", True), "days": ("count", False),
                     "source": ("text", False)}
LITERACY_COLUMNS = {"resident_id": ("id", True), "asked_on": ("past", True), "questionnaire": ("text", True),
                    "n_asked": ("count", True), "n_correct": ("count", False), "recorded_by": ("id", False)}
SURVEY_COLUMNS = {"survey_id": ("id", False), "resident_id": ("id", True), "referral_id": ("id", False),
                  "surveyed_on": ("past", True), "satisfied": ("bool", False), "rating": ("count", False)}
#: the files and their columns, by the name the command line gives them
FILES = {"hospital-appointments": APPOINTMENT_COLUMNS, "discharges": DISCHARGE_COLUMNS,
         "literacy": LITERACY_COLUMNS, "surveys": SURVEY_COLUMNS}
#: bounds of counts: (low, high, what they are)
_BOUNDS = {"days": (0, 3650, "days in hospital"), "n_asked": (1, 127, "questions asked"),
           "n_correct": (0, 127, "questions answered correctly"), "rating": (1, 5, "a rating")}
#: the longest text each column holds (ids: 64)
_LENGTHS = {"questionnaire": 60, "source": 100}
_TRUE = {"true", "1", "yes", "y", "t", "是", "满意"}
_FALSE = {"false", "0", "no", "n", "f", "否", "不满意"}
_DAY = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:[ T]00:00(?::00(?:\.0+)?)?)?$")
#: the event kind a discharge is stored as
DISCHARGE = "psychiatric_discharge"


# The same checked-rows and stored-rows results as the SMD imports (one shape for every import).
from workbench.registry.smd_store import Prepared, Stored, _blank  # noqa: E402


def _cell(column: str, kind: str, value, today: dt.date):
    """(value, rule or None) of one cell; blank -> (None, None), never 0."""
    if _blank(value):
        return None, None
    if isinstance(value, np.generic):
        value = value.item()
    if kind in ("id", "text"):
        text = str(value).strip()
        longest = _LENGTHS.get(column, 64)
        return (text, None) if len(text) <= longest else (None, f"is longer than {longest} characters")
    if kind in ("date", "past"):
        if isinstance(value, (dt.date, pd.Timestamp)) and not isinstance(value, dt.datetime):
            day = value
        else:
            text = value.isoformat(sep=" ") if isinstance(value, (dt.datetime, pd.Timestamp)) else str(value).strip()
            match = _DAY.match(text)
            day = pd.to_datetime(match.group(1), format="%Y-%m-%d", errors="coerce") if match else pd.NaT
            if pd.isna(day):
                return None, "is not a date (YYYY-MM-DD)"
            day = day.date()
        if kind == "past" and day > today:
            return None, f"is after today ({today}): a day that has not come yet"
        return day, None
    if kind == "bool":
        if isinstance(value, bool):
            return value, None
        text = str(value).strip().lower()
        if text in _TRUE or text in _FALSE:
            return text in _TRUE, None
        return None, "must be True or False (是/否; blank: not answered)"
    low, high, what = _BOUNDS[column]
    rule = f"must be a whole number from {low} to {high} ({what}; blank: not recorded, never 0)"
    if isinstance(value, bool):
        return None, rule
    try:
        number = float(str(value).strip())
    except ValueError:
        return None, rule
    if not number.is_integer() or not low <= number <= high:
        return None, rule
    return int(number), None


def prepare(frame: pd.DataFrame, kind: str, *, today: dt.date | None = None, line_of=None) -> Prepared:
    """Check a file of ``kind`` (a key of :data:`FILES`) cell by cell, and the rules within a row
    and within the file: the columns known (an unknown one named with the known column it is
    closest to), required cells given, the hospital's dates not both blank, ``n_correct`` not above
    ``n_asked``, one row per referral / resident and day / resident, day and questionnaire /
    survey."""
    columns = FILES[kind]
    today = today or dt.date.today()
    line_of = line_of or (lambda k: k + 2)  # the header is line 1
    frame = frame.reset_index(drop=True).rename(columns=lambda c: str(c).strip())
    problems: list[tuple] = []
    missing = [c for c, (_, required) in columns.items() if required and c not in frame.columns]
    if missing:
        needed = ", ".join(c for c, (_, r) in columns.items() if r)
        problems.append((None, ", ".join(missing), None,
                         f"{'is' if len(missing) == 1 else 'are'} missing: a {kind} file needs {needed}"))
    for c in frame.columns:
        if c not in columns:
            absent = [k for k in columns if k not in frame.columns]
            close = difflib.get_close_matches(c.lower(), absent, n=1, cutoff=0.5)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append((None, c, None, f"is not a column of a {kind} file{hint}: its columns are "
                                            f"{', '.join(columns)}"))
    dates = ("appointment_on", "hospital_seen_on")
    if kind == "hospital-appointments" and not missing and not set(dates) & set(frame.columns):
        problems.append((None, "appointment_on, hospital_seen_on", None, "are both absent: the file has nothing to "
                                                                         "record"))
    if problems:
        return Prepared([], [], problems)
    rows, lines, seen = [], [], {}
    for k, record in enumerate(frame.astype(object).to_dict("records")):
        line = line_of(k)
        row = {}
        for column, (cell_kind, required) in columns.items():
            raw = record.get(column)
            value, rule = _cell(column, cell_kind, raw, today)
            if rule is not None:
                problems.append((line, column, raw, rule))
            elif value is None and required:
                problems.append((line, column, None, "is blank but required"))
            row[column] = value
        if kind == "hospital-appointments" and all(_blank(record.get(c)) for c in dates):
            problems.append((line, "appointment_on", None, "is blank and so is hospital_seen_on: the row records "
                                                           "nothing"))
        if kind == "literacy" and None not in (row["n_correct"], row["n_asked"]) and row["n_correct"] > row["n_asked"]:
            hint = " (a percentage? give the number of questions answered correctly)" if row["n_correct"] <= 100 else ""
            problems.append((line, "n_correct", record.get("n_correct"),
                             f"is more than the questions asked (n_asked {row['n_asked']}){hint}"))
        key = {"hospital-appointments": ("referral_id",), "discharges": ("resident_id", "discharged_on"),
               "literacy": ("resident_id", "asked_on", "questionnaire"),
               "surveys": ("survey_id",) if row.get("survey_id") else ("resident_id", "surveyed_on",
                                                                        "referral_id")}[kind]
        values = tuple(row.get(c) for c in key)
        if all(v is not None for v in values[:2]):
            if values in seen:
                problems.append((line, key[-1] if kind != "surveys" else key[0], str(values[-1] if kind != "surveys"
                                                                                     else values[0]),
                                 f"repeats line {seen[values]}: one row per {' and '.join(key)}"))
            seen.setdefault(values, line)
        rows.append(row)
        lines.append(line)
    return Prepared(rows, lines, problems)


# --- against the registry ---------------------------------------------------------------------

def _rows_of(conn: Connection, table: sa.Table, column: str, ids, *where) -> list[dict]:
    out = []
    wanted = sorted({i for i in ids if i is not None})
    for start in range(0, len(wanted), 5000):
        query = sa.select(table).where(table.c[column].in_(wanted[start:start + 5000]), *where)
        out += [dict(r) for r in conn.execute(query).mappings()]
    return out


def _known_residents(conn: Connection, ids) -> set:
    return {r["resident_id"] for r in _rows_of(conn, residents, "resident_id", ids)}


def _good(prepared: Prepared):
    """(row, line) of the rows without a problem of their own."""
    bad = {p[0] for p in prepared.problems}
    return [(row, line) for row, line in zip(prepared.rows, prepared.lines) if line not in bad]


def _finish(conn: Connection, table: sa.Table, new: list[dict], updated: list[dict], *, by: str, at: dt.datetime,
            source: str, unchanged: int, problems: list[tuple], columns: tuple[str, ...] = ()) -> Stored:
    """Write ``new`` rows and the ``updated`` ones (whole rows as they are after the update: only
    ``columns`` are set, the only ones a clinician may update on PostgreSQL) with their audit
    entries, unless there are problems (then nothing)."""
    if problems:
        return Stored([], unchanged, problems)
    entries: list[dict] = []
    if new:
        conn.execute(table.insert(), new)
        entries += audit.entries_for(table.name, new)
    for row in updated:
        key = list(table.primary_key.columns)
        conn.execute(table.update().where(*[k == row[k.name] for k in key]).values(**{c: row[c] for c in columns}))
        entries += audit.entries_for(table.name, [row], action="update")
    if entries:
        audit.append(conn, entries + [{"action": "import", "target_table": table.name,
                                       "details": {"source": source, "written": len(new), "updated": len(updated)}}],
                     user=by, at=at)
    return Stored(new + updated, unchanged, problems)


def store_appointments(conn: Connection, prepared: Prepared, *, by: str, at: dt.datetime, source: str,
                       stored: dict[str, dict]) -> Stored:
    """Fill the hospital's dates of stored referrals (``stored``: referral id -> its row, looked up
    by the caller after the permission check). An unknown referral, a date before the referral, a
    seen date other than one stored, or a new appointment for a resident already seen is a problem;
    a blank cell leaves the stored date as it is; the same dates again are unchanged."""
    problems = list(prepared.problems)
    updated, unchanged = [], 0
    for row, line in _good(prepared):
        old = stored.get(row["referral_id"])
        if old is None:
            problems.append((line, "referral_id", row["referral_id"], "is not a referral in the registry"))
            continue
        after = dict(old)
        bad = False
        for column in ("appointment_on", "hospital_seen_on"):
            day = row[column]
            if day is None:
                continue
            if day < old["referred_on"]:
                problems.append((line, column, str(day), f"is before the referral (referred_on {old['referred_on']})"))
                bad = True
            elif old[column] is not None and old[column] != day and (
                    column == "hospital_seen_on" or old["hospital_seen_on"] is not None):
                why = ("the hospital saw the resident on the stored day" if column == "hospital_seen_on" else
                       f"the resident was seen on {old['hospital_seen_on']}: the appointment is past")
                problems.append((line, column, str(day), f"differs from the stored {column} ({old[column]}): {why}; "
                                                         "nothing is overwritten"))
                bad = True
            after[column] = day
        if bad:
            continue
        if after == old:
            unchanged += 1
        else:
            updated.append(after)
    return _finish(conn, referrals, [], updated, by=by, at=at, source=source, unchanged=unchanged, problems=problems,
                   columns=("appointment_on", "hospital_seen_on"))


def _who(conn: Connection, rows: list[tuple[dict, int]], by: str, problems: list[tuple]) -> list[tuple[dict, int]]:
    """Rows with a blank ``recorded_by`` filled with ``by``; one that is not a user is a problem."""
    staff = {r["name"] for r in _rows_of(conn, users, "name", [row.get("recorded_by") for row, _ in rows])}
    out = []
    for row, line in rows:
        row = dict(row)
        row["recorded_by"] = row.get("recorded_by") or by
        if row["recorded_by"] != by and row["recorded_by"] not in staff:
            problems.append((line, "recorded_by", row["recorded_by"], "is not a user of this registry: add them with "
                                                                       "'workbench users add' first"))
            continue
        out.append((row, line))
    return out


def _unknown_resident(line, rid) -> tuple:
    return (line, "resident_id", rid, "is not in the registry: import the resident first")


def store_discharges(conn: Connection, prepared: Prepared, *, by: str, at: dt.datetime, source: str) -> Stored:
    """Write discharges as ``events`` of kind ``psychiatric_discharge`` (``event_on`` the day of
    discharge, ``days`` the stay), one per resident and day: the same again is unchanged, another
    stay length or source for a stored one is a problem."""
    problems = list(prepared.problems)
    good = _good(prepared)
    known = _known_residents(conn, [r["resident_id"] for r, _ in good])
    stored = {(r["resident_id"], r["event_on"]): r for r in _rows_of(
        conn, events, "resident_id", [r["resident_id"] for r, _ in good], events.c.kind == DISCHARGE)}
    new, unchanged = [], 0
    for row, line in good:
        if row["resident_id"] not in known:
            problems.append(_unknown_resident(line, row["resident_id"]))
            continue
        event = {"resident_id": row["resident_id"], "event_on": row["discharged_on"], "kind": DISCHARGE,
                 "source": row["source"], "days": row["days"], "recorded_by": by, "recorded_at": at}
        old = stored.get((row["resident_id"], row["discharged_on"]))
        if old is not None:
            differs = [c for c in ("days", "source") if old[c] != event[c]]
            if differs:
                c = differs[0]
                problems.append((line, "days" if c == "days" else "source", event[c],
                                 f"differs from the discharge stored for this resident and day ({old[c]!s}); nothing "
                                 "is overwritten"))
            else:
                unchanged += 1
            continue
        new.append(event)
    return _finish(conn, events, new, [], by=by, at=at, source=source, unchanged=unchanged, problems=problems)


def store_literacy(conn: Connection, prepared: Prepared, *, by: str, at: dt.datetime, source: str) -> Stored:
    """Write literacy answer sets, one per resident, day and questionnaire: the same again is
    unchanged, other counts for a stored one are a problem (nothing is overwritten)."""
    problems = list(prepared.problems)
    good = _who(conn, _good(prepared), by, problems)
    known = _known_residents(conn, [r["resident_id"] for r, _ in good])
    stored = {(r["resident_id"], r["asked_on"], r["questionnaire"]): r
              for r in _rows_of(conn, literacy, "resident_id", [r["resident_id"] for r, _ in good])}
    new, unchanged = [], 0
    for row, line in good:
        if row["resident_id"] not in known:
            problems.append(_unknown_resident(line, row["resident_id"]))
            continue
        old = stored.get((row["resident_id"], row["asked_on"], row["questionnaire"]))
        if old is not None:
            differs = [c for c in ("n_asked", "n_correct") if old[c] != row[c]]
            if differs:
                c = differs[0]
                problems.append((line, c, row[c], f"differs from the answers stored for this resident, day and "
                                                  f"questionnaire ({old[c]!s}); nothing is overwritten"))
            else:
                unchanged += 1
            continue
        new.append({**row, "recorded_at": at})
    return _finish(conn, literacy, new, [], by=by, at=at, source=source, unchanged=unchanged, problems=problems)


def survey_id(resident_id: str, day: dt.date, referral_id: str | None) -> str:
    """The id of a survey a file gives without one: ``S`` + 15 hex digits of the SHA-256 of its
    resident, day and referral (the same survey always gets the same id, so a re-import writes
    nothing).

    >>> survey_id("R1", dt.date(2026, 3, 2), None) == survey_id("R1", dt.date(2026, 3, 2), None)
    True
    """
    text = f"{resident_id}|{day.isoformat()}|{referral_id or ''}"
    return "S" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:15]


def store_surveys(conn: Connection, prepared: Prepared, *, by: str, at: dt.datetime, source: str) -> Stored:
    """Write surveys sent (``satisfied`` and ``rating`` blank: not answered, never 0) and answered.
    A referral must be the resident's own and begun by the survey's day. A survey stored before
    with the same content is unchanged; one stored unanswered gets the file's answers (an audited
    update: answered after it was sent); other differences are problems (nothing is overwritten)."""
    problems = list(prepared.problems)
    good = _good(prepared)
    ids = [r["resident_id"] for r, _ in good]
    known = _known_residents(conn, ids)
    refs = {r["referral_id"]: r for r in _rows_of(conn, referrals, "referral_id", [r["referral_id"] for r, _ in good])}
    mine = _rows_of(conn, surveys, "resident_id", ids)
    by_id = {r["survey_id"]: r for r in mine}
    given = _rows_of(conn, surveys, "survey_id", [r["survey_id"] for r, _ in good if r["survey_id"]])
    by_id.update({r["survey_id"]: r for r in given})
    by_key = {(r["resident_id"], r["surveyed_on"], r["referral_id"]): r for r in mine}
    new, updated, unchanged = [], [], 0
    for row, line in good:
        rid = row["resident_id"]
        if rid not in known:
            problems.append(_unknown_resident(line, rid))
            continue
        if row["referral_id"] is not None:
            ref = refs.get(row["referral_id"])
            if ref is None or ref["resident_id"] != rid:
                problems.append((line, "referral_id", row["referral_id"], f"is not a referral of resident {rid} in the "
                                                                          "registry"))
                continue
            if row["surveyed_on"] < ref["referred_on"]:
                problems.append((line, "surveyed_on", str(row["surveyed_on"]), f"is before the referral (referred_on "
                                                                               f"{ref['referred_on']})"))
                continue
        sid = row["survey_id"] or survey_id(rid, row["surveyed_on"], row["referral_id"])
        survey = {"survey_id": sid, "resident_id": rid, "referral_id": row["referral_id"],
                  "surveyed_on": row["surveyed_on"], "satisfied": row["satisfied"], "rating": row["rating"],
                  "recorded_by": by, "recorded_at": at}
        old = by_id.get(sid) if row["survey_id"] else by_id.get(sid, by_key.get((rid, row["surveyed_on"],
                                                                                row["referral_id"])))
        if old is None:
            new.append(survey)
            continue
        same_sent = all(old[c] == survey[c] for c in ("resident_id", "referral_id", "surveyed_on"))
        answers = [c for c in ("satisfied", "rating") if old[c] != survey[c]]
        if old["resident_id"] != rid:  # another resident's survey: nothing of it is told
            problems.append((line, "survey_id", sid, "is the id of another stored survey; nothing is overwritten"))
        elif not same_sent:
            c = next(c for c in ("referral_id", "surveyed_on") if old[c] != survey[c])
            problems.append((line, c, None if survey[c] is None else str(survey[c]),
                             f"differs from the stored survey {old['survey_id']} ({old[c]!s}); nothing is overwritten"))
        elif not answers:
            unchanged += 1
        elif old["satisfied"] is None and old["rating"] is None:
            updated.append({**old, "satisfied": survey["satisfied"], "rating": survey["rating"]})
        else:
            c = answers[0]
            problems.append((line, c, survey[c], f"differs from the answer stored for survey {old['survey_id']} "
                                                 f"({old[c]!s}); nothing is overwritten"))
    return _finish(conn, surveys, new, updated, by=by, at=at, source=source, unchanged=unchanged, problems=problems,
                   columns=("satisfied", "rating"))
