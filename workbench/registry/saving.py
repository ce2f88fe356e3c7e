"""Storing questionnaires: the registry's side of the save path (:mod:`workbench.records`).

A screening saved in the app and a file of questionnaires imported go the same way: the forms
are checked (every bad cell named by line and column), made into assessments, scored once by the
declared rules, and every new screening session gets its tier decision from the policy in force,
confirmed by the person saving or changed with a reason. All of it is written in one transaction,
audited, or nothing is.
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from workbench.registry import audit
from workbench.registry.analysis import assessment_rows, decision_rows, existing_assessments, same_answers
from workbench.registry.schema import assessments, residents, tier_assignments

__all__ = ["Prepared", "prepare", "store"]

_CONDITIONS = ("hypertension", "diabetes", "chd", "stroke", "copd", "asthma")


class Prepared(NamedTuple):
    """Checked forms as analysis-shaped assessments, each with its file line (scored by :func:`store`,
    which knows the residents)."""

    assessments: pd.DataFrame
    lines: np.ndarray
    problems: list[tuple]


def prepare(frame: pd.DataFrame) -> Prepared:
    """Check a file (or one app form) of questionnaires and score its valid rows.

    ``frame``: one row per sitting, text or typed cells: ``resident_id``, ``assessed_on``, the item
    columns ``{instrument}_{n}``, optionally ``mode``, ``language``, ``submission_id`` and, for
    other than screenings, ``purpose`` (``screening``, ``review``, ``study``) with ``referral_id``
    (a review) or ``study`` and ``visit`` (a study visit). Problems: ``(line, column, value, rule)``.
    """
    from workbench.records import assessments_from_forms
    from workbench.registry.imports import check_assessment_file, collapse_problems

    frame = frame.rename(columns=str)
    problems, purposes = check_assessment_file(frame)
    bad = {p[0] for p in problems}
    if any(line is None for line in bad):
        valid = frame.iloc[0:0]
    else:
        lines = np.arange(len(frame)) + 2
        valid = frame[~pd.Series(lines, index=frame.index).isin(bad).to_numpy()]
    forms = valid.copy()
    for column in ("resident_id", "assessed_on"):  # a file without them has only file-level problems, no rows
        if column not in forms.columns:
            forms[column] = pd.Series(dtype=object)
    for column in ("resident_id", "submission_id", "mode", "language", "referral_id", "study"):
        if column in forms.columns:
            forms[column] = forms[column].astype("string").str.strip()
    forms["assessed_on"] = pd.to_datetime(forms["assessed_on"].astype("string").str.strip(), format="%Y-%m-%d") \
        if len(forms) else pd.Series(dtype="datetime64[ns]")
    if "visit" in forms.columns:
        forms["visit"] = pd.to_numeric(forms["visit"], errors="coerce")
    shaped, labels = assessments_from_forms(forms, purpose=purposes.loc[forms.index] if len(forms) else "screening",
                                            table="forms", with_forms=True)
    position = {label: k for k, label in enumerate(frame.index)}
    form_lines = np.array([position[label] + 2 for label in labels], dtype=np.int64)
    return Prepared(shaped, form_lines, collapse_problems(problems, len(frame)))


def _known_residents(conn: Connection, ids: list[str]) -> pd.DataFrame:
    out = []
    wanted = sorted(set(ids))
    for start in range(0, len(wanted), 5000):
        part = wanted[start:start + 5000]
        out += conn.execute(sa.select(residents.c.resident_id, residents.c.sex, *[residents.c[c] for c in _CONDITIONS])
                            .where(residents.c.resident_id.in_(part))).all()
    return pd.DataFrame(out, columns=["resident_id", "sex", *_CONDITIONS])


def _decided_sessions(conn: Connection, keys: list[tuple[str, dt.date]]) -> set[tuple[str, dt.date]]:
    ids = sorted({k[0] for k in keys})
    found = set()
    for start in range(0, len(ids), 5000):
        part = ids[start:start + 5000]
        found |= {(r.resident_id, r.assessed_on) for r in conn.execute(
            sa.select(tier_assignments.c.resident_id, tier_assignments.c.assessed_on)
            .where(tier_assignments.c.resident_id.in_(part)))}
    return found


class Stored(NamedTuple):
    """What :func:`store` wrote: assessment rows, decision rows, rows already stored unchanged,
    and the problems found (``line, column, value, rule``)."""

    assessments: int
    decisions: pd.DataFrame
    unchanged: int
    problems: list[tuple]


def store(conn: Connection, prepared: Prepared, *, by: str, at: dt.datetime, source: str, policy="default",
          overrides: pd.DataFrame | None = None, skip_invalid: bool = False, new_session_only: bool = False) -> Stored:
    """Write ``prepared`` assessments not stored yet, and a decision for each new screening session.

    An assessment already stored with the same answers is left as it is (a re-import writes
    nothing); one stored with different answers, a resident not in the registry and a repeated row
    are problems. With problems nothing is written unless ``skip_invalid`` (then rows with a
    problem are left out, whole forms at a time). ``new_session_only``: any assessment of the
    session already stored is a problem (an app's save never adds to a stored screening).
    """
    from workbench.records import decide_screenings, score_assessments

    shaped, lines = prepared.assessments, prepared.lines
    problems = list(prepared.problems)
    ids = shaped["resident_id"].astype(str).tolist()
    people = _known_residents(conn, ids)
    scores = score_assessments(shaped, people)  # scored once, here, as it is stored
    known = set(people["resident_id"])
    days = [d.date() for d in pd.to_datetime(shaped["assessed_on"])]
    keys = [(r, d, i, p, (None if pd.isna(s) else s)) for r, d, i, p, s in
            zip(ids, days, shaped["instrument"], shaped["purpose"], shaped["study"].astype(object))]
    stored = existing_assessments(conn, keys)
    rows = assessment_rows(shaped, scores, by=by)
    keep = np.ones(len(shaped), dtype=bool)
    unchanged, seen = 0, {}
    for k, (key, row, line) in enumerate(zip(keys, rows, lines)):
        if key[0] not in known:
            problems.append((int(line), "resident_id", key[0], "is not in the registry: import the resident first"))
            keep[k] = False
            continue
        if key in seen:
            problems.append((int(line), key[2], None, f"repeats line {seen[key]} (same resident, date, questionnaire "
                                                      "and purpose)"))
            keep[k] = False
            continue
        seen[key] = int(line)
        if key in stored:
            keep[k] = False
            same = same_answers(stored[key][0], row["answers"]) and stored[key][1] == row["instrument_version"]
            if new_session_only and same:
                problems.append((int(line), "assessed_on", str(key[1]),
                                 f"{key[2]} is already stored for this resident and date"))
            elif same:
                unchanged += 1
            else:
                problems.append((int(line), key[2], None, "differs from the stored assessment for this resident and "
                                                          "date; nothing is overwritten"))
    refused = {p[0] for p in problems}
    if problems and not skip_invalid:
        return Stored(0, None, unchanged, problems)
    keep &= ~np.isin(lines, [r for r in refused if r is not None])
    new = shaped[keep].reset_index(drop=True)
    new_scores = scores[keep].reset_index(drop=True)
    new_rows = [row for row, k in zip(rows, keep) if k]
    decided = _decided_sessions(conn, [(r, d) for r, d in zip(new["resident_id"], [x.date() for x in
                                                                                     pd.to_datetime(new["assessed_on"])])])
    screening = new[(new["purpose"] == "screening").to_numpy()]
    fresh = ~pd.Series([(r, d.date()) in decided for r, d in zip(screening["resident_id"],
                                                                  pd.to_datetime(screening["assessed_on"]))],
                       index=screening.index, dtype=bool)
    decisions = None
    if fresh.any():
        mask = pd.Series(True, index=new.index)
        mask[screening.index[~fresh.to_numpy()]] = False
        decisions = decide_screenings(new[mask.to_numpy()], new_scores[mask.to_numpy()], people, by=by, at=at,
                                      policy=policy, overrides=overrides)
    if new_rows:
        conn.execute(assessments.insert(), [{**row, "entered_at": at} for row in new_rows])
        audit.append(conn, [{"action": "insert", "target_table": "assessments",
                             "target_key": audit.row_key("assessments", row), "content_hash": row["content_hash"]}
                            for row in new_rows]
                     + [{"action": "import", "target_table": "assessments",
                         "details": {"source": source, "written": len(new_rows)}}], user=by, at=at)
    if decisions is not None and len(decisions):
        decisions = insert_decisions(conn, decisions, by=by, at=at, with_ids=new_session_only)
    return Stored(len(new_rows), decisions, unchanged, problems)


def insert_decisions(conn: Connection, decisions: pd.DataFrame, *, by: str, at: dt.datetime,
                     with_ids: bool = True) -> pd.DataFrame:
    """Insert decisions (analysis shape) and audit them; returns them with their stored ids
    (``with_ids=False``: without asking the database for them, faster for a whole file)."""
    rows = decision_rows(decisions)
    if with_ids:
        ids = conn.execute(tier_assignments.insert().returning(tier_assignments.c.assignment_id,
                                                               sort_by_parameter_order=True), rows).scalars().all()
    else:
        conn.execute(tier_assignments.insert(), rows)
        ids = [None] * len(rows)
    audit.append(conn, [{**e, "details": {"tier": r["tier"], "suggested_tier": r["suggested_tier"],
                                          "overridden": r["overridden"], "policy_version": r["policy_version"]}}
                        for r, e in zip(rows, audit.entries_for("tier_assignments", rows))], user=by, at=at)
    out = decisions.copy()
    out["decision_id"] = pd.array([None if i is None else str(i) for i in ids], dtype="string")
    return out
