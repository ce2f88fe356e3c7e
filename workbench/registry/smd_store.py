"""Storing the severe-mental-disorder (SMD) register, its follow-ups and rehabilitation steps.

The registry's side of ``workbench import smd-register`` / ``smd-followups`` and of
:meth:`Registry.register_smd`, :meth:`Registry.save_smd_followup` and
:meth:`Registry.set_rehab_level <workbench.registry.store.Registry.set_rehab_level>`. A file or a
form is checked here cell by cell (every problem as ``line, column, value, rule``; a form has no
line), then against the registry (the resident is registered in the registry, a follow-up's
patient is on the SMD register on that day, a row stored before is the same or refused: nothing is
overwritten), then written in the caller's transaction with one audit entry per row, or nothing is.

Each follow-up is classified once, when it is stored, by :func:`workbench.smd.classify`: the
suggestion (``suggested_outcome``, ``rule``, ``policy_version``) is stored beside what staff
decided (``outcome``; a blank outcome in a file stays blank, never taken as the suggestion), and
analyses read the stored columns. ``classify`` reads only the follow-up's own answers (the default
policy needs no history), so earlier follow-ups are not consulted. The next due date, unless a file
gives it, is the earlier of the suggestion's and the decided outcome's (as
:func:`workbench.smd.due_list` takes it: safety first).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import NamedTuple

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from workbench import smd
from workbench.registry import audit
from workbench.registry.schema import residents, smd_followups, smd_register, smd_rehab, users

__all__ = ["FOLLOWUP_COLUMNS", "REGISTER_COLUMNS", "Prepared", "Stored", "prepare_followups", "prepare_register",
           "set_level", "store_followups", "store_register"]

_GRADE_RULE = "must be a whole risk grade from 0 to 5 (blank: not assessed, never 0)"
#: column -> (kind, allowed values or None, required) of a register file
REGISTER_COLUMNS = {
    "resident_id": ("text", None, True), "diagnosis": ("text", smd.DISORDERS, True),
    "diagnosed_on": ("date", None, False), "registered_on": ("date", None, True),
    "guardian": ("text", smd.GUARDIANS, False), "consent": ("bool", None, False), "consent_on": ("date", None, False),
    "left_on": ("date", None, False), "left_reason": ("text", smd.LEFT_REASONS, False),
    "recorded_by": ("text", None, False),
}
#: column -> (kind, allowed values or None, required) of a follow-ups file
FOLLOWUP_COLUMNS = {
    "resident_id": ("text", None, True), "followed_on": ("date", None, True), "mode": ("text", smd.MODES, True),
    "risk_grade": ("grade", None, False), **{item: ("text", values, False) for item, values in smd.ITEM_VALUES.items()},
    "on_medication": ("bool", None, False), "medication_regularity": ("text", smd.REGULARITY, False),
    "outcome": ("text", smd.STABILITIES, False), "outcome_reason": ("free", None, False),
    "referred": ("bool", None, False), "next_due": ("date", None, False), "recorded_by": ("text", None, False),
    "submission_id": ("free", None, False),
}
_TRUE = {"true", "1", "yes", "y", "t", "是", "有"}
_FALSE = {"false", "0", "no", "n", "f", "否", "无"}
#: Chinese words for codes the SMD policy does not label (its disorders, answers and stability
#: classes are taken in its own zh labels too: :func:`_zh_labels`); medication as the national
#: follow-up forms write it (as ``workbench import measurements`` takes ``adherence=zh``)
_ZH = {"mode": {"面访": "face_to_face", "电话": "phone"},
       "medication_regularity": {"规律": "regular", "间断": "intermittent", "不服药": "none"}}
#: the columns a stored follow-up is compared on (what was observed and decided)
_COMPARED = ["mode", "risk_grade", *smd.ITEM_VALUES, "on_medication", "medication_regularity", "outcome", "referred"]


class Prepared(NamedTuple):
    """Checked rows (registry column -> Python value), each with its line (None: a form), and the
    problems found (``line, column, value, rule``)."""

    rows: list[dict]
    lines: list
    problems: list[tuple]


class Stored(NamedTuple):
    """Rows written (registry rows, with generated ids), rows already stored unchanged, problems."""

    rows: list[dict]
    unchanged: int
    problems: list[tuple]


def _blank(v) -> bool:
    return v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and math.isnan(v)) or (
        isinstance(v, str) and not v.strip())


def _zh_labels(policy) -> dict[str, dict[str, str]]:
    """column -> {Chinese label: code}: the SMD policy's own zh labels of the disorders, the
    answers and the stability classes (an exact label, e.g. 精神分裂症, 精神症状基本消失, 病情稳定),
    and :data:`_ZH`."""
    pol = smd.load_smd_policy(policy)
    out = {"diagnosis": {d["zh"]: code for code, d in pol.disorders.items()},
           **{item: {t["zh"]: level for level, t in levels.items()} for item, levels in pol.items.items()},
           "outcome": {s.zh: code for code, s in pol.stability.items()}, **_ZH}
    return out


def _cell(kind: str, values, value, zh: dict | None = None):
    """(value, rule or None) of one cell of ``kind``; blank -> (None, None). ``zh``: Chinese labels
    of the codes, taken as the codes."""
    if _blank(value):
        return None, None
    if isinstance(value, np.generic):
        value = value.item()
    if kind == "free":
        return str(value).strip(), None
    if kind == "text":
        text = str(value).strip()
        text = (zh or {}).get(text, text)
        if values is not None and text.lower() in values:
            text = text.lower()
        if values is not None and text not in values:
            return None, f"must be one of {', '.join(values)}"
        return text, None
    if kind == "bool":
        if isinstance(value, bool):
            return value, None
        text = str(value).strip().lower()
        if text in _TRUE or text in _FALSE:
            return text in _TRUE, None
        return None, "must be True or False (blank: not recorded)"
    if kind == "date":
        if isinstance(value, (dt.date, pd.Timestamp)):
            return pd.Timestamp(value).date(), None
        day = pd.to_datetime(str(value).strip()[:10], format="%Y-%m-%d", errors="coerce")
        return (None, "is not a date (YYYY-MM-DD)") if pd.isna(day) else (day.date(), None)
    # a risk grade: a whole number 0-5, never a Roman numeral or a word, never a blank read as 0
    if isinstance(value, bool):
        return None, _GRADE_RULE
    try:
        number = float(str(value).strip())
    except ValueError:
        return None, _GRADE_RULE
    if not number.is_integer() or not 0 <= number <= 5:
        return None, _GRADE_RULE
    return int(number), None


def _prepare(frame: pd.DataFrame, columns: dict, table: str, line_of, zh: dict) -> Prepared:
    frame = frame.reset_index(drop=True).rename(columns=lambda c: str(c).strip())
    problems: list[tuple] = []
    missing = [c for c, (_, _, required) in columns.items() if required and c not in frame.columns]
    unknown = [c for c in frame.columns if c not in columns]
    problems += [(None, c, None, f"is missing: a {table} file needs this column") for c in missing]
    problems += [(None, c, None, f"is not a column of a {table} file (known: {', '.join(columns)})") for c in unknown]
    if problems:
        return Prepared([], [], problems)
    rows, lines = [], []
    for k, record in enumerate(frame.to_dict("records")):
        line = line_of(k)
        row = {}
        for column, (kind, values, required) in columns.items():
            raw = record.get(column)
            value, rule = _cell(kind, values, raw, zh.get(column))
            if rule is not None:
                problems.append((line, column, raw, rule))
            elif value is None and required:
                problems.append((line, column, raw if not _blank(raw) else None, "is blank but required"))
            row[column] = value
        rows.append(row)
        lines.append(line)
    return Prepared(rows, lines, problems)


def _lines(line_of):
    if line_of is None:
        return lambda k: k + 2  # the header is line 1
    return line_of


def prepare_register(frame: pd.DataFrame, *, line_of=None) -> Prepared:
    """Check a register file (or one registration): :data:`REGISTER_COLUMNS` (a diagnosis also in
    the default SMD policy's Chinese label), then the rules between them (diagnosed before
    registered, left after registered, a reason with every leaving, one row per resident)."""
    prepared = _prepare(frame, REGISTER_COLUMNS, "smd-register", _lines(line_of), _zh_labels("default"))
    problems, seen = list(prepared.problems), {}
    for row, line in zip(prepared.rows, prepared.lines):
        reg, diag, left = row["registered_on"], row["diagnosed_on"], row["left_on"]
        if reg and diag and diag > reg:
            problems.append((line, "diagnosed_on", str(diag), f"is after registered_on ({reg}): a patient is "
                                                              "registered after the diagnosis"))
        if reg and left and left < reg:
            problems.append((line, "left_on", str(left), f"is before registered_on ({reg})"))
        if left and not row["left_reason"]:
            problems.append((line, "left_reason", None, "is blank but required when left_on is given"))
        if row["left_reason"] and not left:
            problems.append((line, "left_reason", row["left_reason"], "is given but left_on is blank"))
        rid = row["resident_id"]
        if rid is not None:
            if rid in seen:
                problems.append((line, "resident_id", rid, f"repeats line {seen[rid]}: one row per registered "
                                                           "patient"))
            seen.setdefault(rid, line)
    return Prepared(prepared.rows, prepared.lines, problems)


def prepare_followups(frame: pd.DataFrame, *, policy="default", line_of=None) -> Prepared:
    """Check a follow-ups file (or one form): :data:`FOLLOWUP_COLUMNS` (answers and outcome also in
    the policy's Chinese labels, mode 面访/电话, medication 规律/间断/不服药), medication consistent with
    its regularity, one follow-up per patient and day; then classify the rows without a problem
    with :func:`workbench.smd.classify` (``suggested_outcome``, ``rule``, ``policy_version`` and
    the next due date, unless given)."""
    pol = smd.load_smd_policy(policy)
    prepared = _prepare(frame, FOLLOWUP_COLUMNS, "smd-followups", _lines(line_of), _zh_labels(pol))
    problems, seen = list(prepared.problems), {}
    for row, line in zip(prepared.rows, prepared.lines):
        taking, regularity = row["on_medication"], row["medication_regularity"]
        if taking is False and regularity in ("regular", "intermittent"):
            problems.append((line, "medication_regularity", regularity, "contradicts on_medication False (not taking "
                                                                         "medication: regularity none or blank)"))
        if taking is True and regularity == "none":
            problems.append((line, "medication_regularity", regularity, "contradicts on_medication True (taking "
                                                                         "medication: regularity regular or "
                                                                         "intermittent)"))
        key = (row["resident_id"], row["followed_on"])
        if None not in key:
            if key in seen:
                problems.append((line, "followed_on", str(key[1]), f"repeats line {seen[key]} for this resident: one "
                                                                   "follow-up per patient and day"))
            seen.setdefault(key, line)
    if not prepared.rows:
        return Prepared([], [], problems)
    bad = {p[0] for p in problems}
    ok = [k for k, line in enumerate(prepared.lines) if line not in bad]
    if ok:
        rows = [prepared.rows[k] for k in ok]
        frame = pd.DataFrame({
            "followup_id": [str(k) for k in ok], "resident_id": [r["resident_id"] for r in rows],
            "followed_on": pd.to_datetime([r["followed_on"] for r in rows]).astype("datetime64[ns]"),
            "risk_grade": pd.array([r["risk_grade"] for r in rows], dtype="Int8"),
            **{item: pd.Series([r[item] for r in rows], dtype=object) for item in smd.ITEM_VALUES}})
        judged = smd.classify(frame, policy=pol)
        out_due = [_outcome_due(pol, r["followed_on"], r["outcome"]) for r in rows]
        for row, stab, rule, due, odue in zip(rows, judged["stability"].astype(object), judged["rule"].astype(object),
                                              judged["next_due"], out_due):
            row["suggested_outcome"] = None if pd.isna(stab) else str(stab)
            row["rule"] = None if pd.isna(rule) else str(rule)
            row["policy_version"] = pol.version
            if row["next_due"] is None:
                due = None if pd.isna(due) else pd.Timestamp(due).date()
                row["next_due"] = min(d for d in (due, odue) if d is not None) if (due or odue) else None
    return Prepared(prepared.rows, prepared.lines, problems)


def _outcome_due(pol, day, outcome) -> dt.date | None:
    """The next due date the decided ``outcome``'s interval gives (None: no outcome)."""
    if outcome is None or day is None:
        return None
    unit, count = pol.intervals[pol.stability[outcome].follow_up]
    stamp = pd.Timestamp(day)
    return (stamp + (pd.Timedelta(days=count) if unit == "days" else pd.DateOffset(months=count))).date()


def _known(conn: Connection, column: sa.Column, values) -> set:
    found: set = set()
    wanted = sorted({v for v in values if v is not None})
    for start in range(0, len(wanted), 5000):
        found |= set(conn.execute(sa.select(column).where(column.in_(wanted[start:start + 5000]))).scalars())
    return found


def _rows_of(conn: Connection, table: sa.Table, ids) -> list[dict]:
    out = []
    wanted = sorted(set(ids))
    for start in range(0, len(wanted), 5000):
        out += [dict(r) for r in conn.execute(sa.select(table).where(
            table.c.resident_id.in_(wanted[start:start + 5000]))).mappings()]
    return out


def _who(conn: Connection, prepared: Prepared, by: str, problems: list[tuple]) -> list[bool]:
    """Fill a blank ``recorded_by`` with ``by``; name one who is not a user. Whether each row is fine."""
    staff = _known(conn, users.c.name, [r["recorded_by"] for r in prepared.rows])
    ok = []
    for row, line in zip(prepared.rows, prepared.lines):
        if row["recorded_by"] is None:
            row["recorded_by"] = by
        fine = row["recorded_by"] == by or row["recorded_by"] in staff
        if not fine:
            problems.append((line, "recorded_by", row["recorded_by"], "is not a user of this registry: add them with "
                                                                       "'workbench users add' first"))
        ok.append(fine)
    return ok


def _differs(old: dict, new: dict, columns: list[str]) -> list[str]:
    return [c for c in columns if old.get(c) != new.get(c)]


def store_register(conn: Connection, prepared: Prepared, *, by: str, at: dt.datetime, source: str) -> Stored:
    """Write the registrations not stored yet (caller's transaction); a resident not in the
    registry, or registered before with other details, is a problem; the same details again are
    left as they are. A registered patient's row again with ``left_on`` and ``left_reason`` filled
    where they were blank records their leaving the register (an update, audited; their open
    rehabilitation step is closed that day), unless a follow-up or step is stored after that day.
    With problems nothing is written."""
    problems = list(prepared.problems)
    rows = [dict(r) for r in prepared.rows]
    fine = _who(conn, Prepared(rows, prepared.lines, []), by, problems)
    known = _known(conn, residents.c.resident_id, [r["resident_id"] for r in rows])
    stored = {r["resident_id"]: r for r in _rows_of(conn, smd_register, [r["resident_id"] for r in rows])}
    compared = [c for c in REGISTER_COLUMNS if c not in ("resident_id", "recorded_by")]
    new, leaving, unchanged = [], [], 0
    for row, line, ok in zip(rows, prepared.lines, fine):
        if not ok or row["resident_id"] is None:
            continue
        if row["resident_id"] not in known:
            problems.append((line, "resident_id", row["resident_id"], "is not in the registry: import the resident "
                                                                       "first"))
            continue
        old = stored.get(row["resident_id"])
        if old is not None:
            differs = _differs(old, row, compared)
            leaves = set(differs) <= {"left_on", "left_reason"} and old["left_on"] is None and row["left_on"]
            if differs and leaves:
                later = _after(conn, row["resident_id"], row["left_on"])
                if later:
                    problems.append((line, "left_on", str(row["left_on"]),
                                     f"is before {later} stored for this patient"))
                else:
                    leaving.append({**old, "left_on": row["left_on"], "left_reason": row["left_reason"]})
            elif differs:
                c = differs[0]
                problems.append((line, c, None if row[c] is None else str(row[c]),
                                 f"differs from the stored registration ({old[c]!s}"
                                 f"{'; and ' + ', '.join(differs[1:]) if differs[1:] else ''}); nothing is "
                                 "overwritten"))
            else:
                unchanged += 1
            continue
        new.append({**row, "recorded_at": at})
    if problems:
        return Stored([], unchanged, problems)
    entries = []
    if new:
        conn.execute(smd_register.insert(), new)
        entries += audit.entries_for("smd_register", new)
    for row in leaving:
        conn.execute(smd_register.update().where(smd_register.c.resident_id == row["resident_id"])
                     .values(left_on=row["left_on"], left_reason=row["left_reason"]))
        entries += audit.entries_for("smd_register", [row], action="update")
        for step in conn.execute(sa.select(smd_rehab).where(smd_rehab.c.resident_id == row["resident_id"],
                                                            smd_rehab.c.left_on.is_(None))).mappings().all():
            conn.execute(smd_rehab.update().where(smd_rehab.c.rehab_id == step["rehab_id"])
                         .values(left_on=row["left_on"]))
            entries += audit.entries_for("smd_rehab", [{**step, "left_on": row["left_on"]}], action="update")
    if entries:
        audit.append(conn, entries + [{"action": "import", "target_table": "smd_register",
                                       "details": {"source": source, "written": len(new), "left": len(leaving)}}],
                     user=by, at=at)
    return Stored(new + leaving, unchanged, problems)


def _after(conn: Connection, resident_id: str, day: dt.date) -> str | None:
    """What is stored for the patient after ``day`` (a follow-up, a rehabilitation step), or None."""
    f = conn.execute(sa.select(sa.func.max(smd_followups.c.followed_on))
                     .where(smd_followups.c.resident_id == resident_id)).scalar()
    r = conn.execute(sa.select(sa.func.max(smd_rehab.c.entered_on))
                     .where(smd_rehab.c.resident_id == resident_id)).scalar()
    if f is not None and f > day:
        return f"a follow-up of {f}"
    if r is not None and r > day:
        return f"a rehabilitation step from {r}"
    return None


def store_followups(conn: Connection, prepared: Prepared, *, by: str, at: dt.datetime, source: str,
                    new_only: bool = False) -> Stored:
    """Write the classified follow-ups not stored yet (caller's transaction). A patient not on the
    SMD register, a follow-up before their registration or after they left, or one stored before
    for this patient and day with other answers or outcome is a problem (nothing is overwritten);
    the same again is left as it is (``new_only``: a problem, a form adds a follow-up). With
    problems nothing is written."""
    problems = list(prepared.problems)
    rows = [dict(r) for r in prepared.rows]
    fine = _who(conn, Prepared(rows, prepared.lines, []), by, problems)
    ids = [r["resident_id"] for r in rows if r["resident_id"] is not None]
    register = {r["resident_id"]: r for r in _rows_of(conn, smd_register, ids)}
    stored = {(r["resident_id"], r["followed_on"]): r for r in _rows_of(conn, smd_followups, ids)}
    new, unchanged = [], 0
    for row, line, ok in zip(rows, prepared.lines, fine):
        if not ok or row["resident_id"] is None or row["followed_on"] is None:
            continue
        reg = register.get(row["resident_id"])
        if reg is None:
            problems.append((line, "resident_id", row["resident_id"], "is not on the SMD register: register the "
                                                                       "patient first (workbench import smd-register)"))
            continue
        day = row["followed_on"]
        if day < reg["registered_on"]:
            problems.append((line, "followed_on", str(day), f"is before the patient's registration "
                                                            f"(registered_on {reg['registered_on']})"))
            continue
        if reg["left_on"] is not None and day > reg["left_on"]:
            problems.append((line, "followed_on", str(day), f"is after the patient left the register "
                                                            f"(left_on {reg['left_on']})"))
            continue
        old = stored.get((row["resident_id"], day))
        if old is not None:
            differs = _differs(old, row, _COMPARED)
            if new_only:
                problems.append((line, "followed_on", str(day), "a follow-up is already stored for this patient and "
                                                                "day"))
            elif differs:
                c = differs[0]
                problems.append((line, c, None if row[c] is None else str(row[c]),
                                 f"differs from the follow-up stored for this patient and day ({old[c]!s}"
                                 f"{'; and ' + ', '.join(differs[1:]) if differs[1:] else ''}); nothing is "
                                 "overwritten"))
            else:
                unchanged += 1
            continue
        new.append({**row, "recorded_at": at})
    if problems:
        return Stored([], unchanged, problems)
    if new:
        ids = conn.execute(smd_followups.insert().returning(smd_followups.c.followup_id, sort_by_parameter_order=True),
                           new).scalars().all()
        for row, i in zip(new, ids):
            row["followup_id"] = i
        audit.append(conn, audit.entries_for("smd_followups", new)
                     + [{"action": "import", "target_table": "smd_followups",
                         "details": {"source": source, "written": len(new)}}], user=by, at=at)
    return Stored(new, unchanged, problems)


def set_level(conn: Connection, resident_id: str, level: int, on: dt.date, *, by: str, at: dt.datetime) -> list[tuple]:
    """Close the patient's open rehabilitation step (``left_on`` = ``on``) and open ``level`` from
    ``on``, in the caller's transaction; problems (``None, column, value, rule``) instead when the
    patient is not registered on ``on``, ``on`` is before the open step began, or ``level`` is the
    open step's already (then nothing is written and no problem: returns ``[]``)."""
    reg = conn.execute(sa.select(smd_register).where(smd_register.c.resident_id == resident_id)).mappings().first()
    if reg is None:
        return [(None, "resident_id", resident_id, "is not on the SMD register: register the patient first")]
    if on < reg["registered_on"] or (reg["left_on"] is not None and on > reg["left_on"]):
        return [(None, "on", str(on), f"is not while the patient is registered (registered_on {reg['registered_on']}"
                                      f"{', left_on ' + str(reg['left_on']) if reg['left_on'] else ''})")]
    steps = conn.execute(sa.select(smd_rehab).where(smd_rehab.c.resident_id == resident_id)).mappings().all()
    open_ = [dict(s) for s in steps if s["left_on"] is None]
    if open_ and open_[0]["level"] == level:
        return []
    if any(s["entered_on"] > on for s in steps) or (open_ and on < open_[0]["entered_on"]):
        return [(None, "on", str(on), "is before a step already recorded for this patient: steps are recorded in "
                                      "order")]
    if any(s["level"] == level and s["entered_on"] == on for s in steps):
        return [(None, "level", level, f"a step on level {level} from {on} is already recorded")]
    entries = []
    for step in open_:
        conn.execute(smd_rehab.update().where(smd_rehab.c.rehab_id == step["rehab_id"]).values(left_on=on))
        entries += audit.entries_for("smd_rehab", [{**step, "left_on": on}], action="update")
    new = {"resident_id": resident_id, "level": int(level), "entered_on": on, "left_on": None, "recorded_by": by,
           "recorded_at": at}
    new["rehab_id"] = conn.execute(smd_rehab.insert().returning(smd_rehab.c.rehab_id), [new]).scalar_one()
    entries += audit.entries_for("smd_rehab", [new])
    audit.append(conn, entries, user=by, at=at)
    return []
