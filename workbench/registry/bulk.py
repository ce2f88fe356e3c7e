"""Importing whole analysis tables into the registry (``workbench import tables FOLDER``).

For moving a community's records from another system or another workbench, and for filling the
sample registry from the sample's tables. Everything goes in one transaction, after every check:

- the tables must keep their declared shape (:meth:`workbench.tables.Tables.validate`);
- answers are scored again by the declared rules, here, as every save does, and a stored score
  that differs from that is refused, naming the row (a score is never taken on trust);
- a row already in the registry with the same content is left as it is (importing the same
  folder twice writes nothing new); one with different content is refused, never overwritten;
- decisions are kept as the people who made them recorded them (who, when, the policy version).

Pseudonymised tables are refused: a registry holds the real identifiers; so is a resident with a
blank sex, birth date or community (an export leaves small groups blank), each named.
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from workbench.registry import audit
from workbench.registry.analysis import _clean, _day, assessment_rows, decision_rows, existing_assessments, same_answers
from workbench.registry.schema import (communities, consents, contacts, enrolments, events, literacy, measurements,
                                       referrals, residents, risk_predictions, smd_followups, smd_register, smd_rehab,
                                       surveys, tier_assignments, wearable_days)

__all__ = ["REQUIRED_IN_REGISTRY", "TablesImport", "blank_resident_facts", "import_tables"]


class TablesImport(NamedTuple):
    """Rows written per table, rows already stored unchanged per table."""

    written: dict[str, int]
    unchanged: dict[str, int]


#: analysis table -> (registry table, natural key in the registry, who-column prefix, columns written)
_TABLES = {
    "referrals": (referrals, ("referral_id",), "created",
                  ["referral_id", "resident_id", "referred_on", "tier", "rule", "destination", "ended_on", "end_reason",
                   "referral_source", "appointment_on", "hospital_seen_on"]),
    "contacts": (contacts, ("contact_id",), "recorded",
                 ["contact_id", "resident_id", "referral_id", "contact_on", "kind", "status", "recorded_by"]),
    "events": (events, ("resident_id", "event_on", "kind"), "recorded",
               ["resident_id", "event_on", "kind", "source", "days"]),
    "enrolments": (enrolments, ("resident_id", "study"), "recorded", ["resident_id", "study", "arm", "enrolled_on"]),
    "surveys": (surveys, ("survey_id",), "recorded",
                ["survey_id", "resident_id", "referral_id", "surveyed_on", "satisfied", "rating"]),
    "consents": (consents, ("resident_id", "purpose", "given_on"), "recorded",
                 ["resident_id", "purpose", "given", "given_on", "withdrawn_on"]),
    # HbA1c in % only: its mmol/mol column is computed from it (Tables.validate checks they agree)
    "measurements": (measurements, ("resident_id", "measured_on", "setting"), "recorded",
                     [c.name for c in measurements.columns if c.name not in ("measurement_id", "submission_id",
                                                                             "recorded_by", "recorded_at")]),
    # the SMD register, then its follow-ups (stored as given: the suggestion made when each was
    # saved, and the outcome decided) and rehabilitation steps; in this order (they refer to it)
    "smd_register": (smd_register, ("resident_id",), "recorded",
                     [c.name for c in smd_register.columns if c.name != "recorded_at"]),
    "smd_followups": (smd_followups, ("resident_id", "followed_on"), "recorded",
                      [c.name for c in smd_followups.columns if c.name not in ("followup_id", "submission_id",
                                                                               "outcome_reason", "recorded_at")]),
    "smd_rehab": (smd_rehab, ("resident_id", "level", "entered_on"), "recorded",
                  [c.name for c in smd_rehab.columns if c.name not in ("rehab_id", "recorded_at")]),
    # literacy answers (ids the registry's own; known by resident, day and questionnaire)
    "literacy": (literacy, ("resident_id", "asked_on", "questionnaire"), "recorded",
                 [c.name for c in literacy.columns if c.name not in ("literacy_id", "recorded_at")]),
    # a wristband's days (one per resident and day); who stored them is the person importing
    "wearable_days": (wearable_days, ("resident_id", "day"), "recorded",
                      [c.name for c in wearable_days.columns if c.name not in ("recorded_by", "recorded_at")]),
}
#: a row of each table in words (default: the table's name without its last letter)
_ONE = {"literacy": "literacy answer set", "wearable_days": "wristband day"}
_DATE_COLUMNS = {"referred_on", "ended_on", "contact_on", "event_on", "enrolled_on", "surveyed_on", "given_on",
                 "withdrawn_on", "birth_date", "diagnosed_on", "registered_on", "consent_on", "left_on", "followed_on",
                 "next_due", "entered_on", "appointment_on", "hospital_seen_on", "asked_on", "day", "assessed_on",
                 "predicted_on"}
_CONDITIONS = ("hypertension", "diabetes", "chd", "stroke", "copd", "asthma")


def _value(column: str, value):
    value = _clean(value)
    if value is not None and column in _DATE_COLUMNS:
        return _day(value)
    return value


def _records(frame: pd.DataFrame, columns: list[str]) -> list[dict]:
    values = {}
    for c in columns:
        column = frame[c]
        if pd.api.types.is_datetime64_any_dtype(column):
            values[c] = [None if v is pd.NaT or v is None else v for v in column.dt.date.astype(object)]
        else:
            values[c] = [None if v is None or v is pd.NA or (isinstance(v, float) and v != v) else
                         (v.item() if isinstance(v, np.generic) else v) for v in column.astype(object).to_numpy()]
    return [dict(zip(columns, row)) for row in zip(*values.values())]


def _stored(conn: Connection, table: sa.Table, key: tuple[str, ...], columns: list[str], keys: list[tuple]) -> dict:
    """Stored rows of ``table`` whose ``key`` is among ``keys``: key -> {column: value}."""
    found = {}
    residents_wanted = sorted({k[0] for k in keys}) if key[0] == "resident_id" else None
    ids_wanted = sorted({k[0] for k in keys}) if key[0] != "resident_id" else None
    wanted = residents_wanted if residents_wanted is not None else ids_wanted
    first = table.c[key[0]]
    for start in range(0, len(wanted), 5000):
        part = wanted[start:start + 5000]
        for row in conn.execute(sa.select(*[table.c[c] for c in dict.fromkeys([*key, *columns])])
                                .where(first.in_(part))).mappings():
            found[tuple(row[c] for c in key)] = dict(row)
    return found


def _comparable(value):
    if isinstance(value, dt.datetime):
        return value.date() if value.time() == dt.time(0) and value.tzinfo is None else value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


#: Columns of ``residents`` a registry needs for every resident, though an export may leave them blank
#: (suppressed for k-anonymity: :func:`workbench.registry.disclosure.anonymise`).
REQUIRED_IN_REGISTRY = ("sex", "birth_date", "community")


def blank_resident_facts(residents: pd.DataFrame) -> list[tuple]:
    """A problem (``table, row, column, value, rule``) for each blank sex, birth date or community
    of a resident (:data:`REQUIRED_IN_REGISTRY`): the analysis tables allow them (an export
    suppresses small groups), a registry does not. The row is named by its resident id.

    >>> people = pd.DataFrame({"resident_id": ["R1", "R2"], "sex": ["female", None],
    ...                        "birth_date": pd.to_datetime(["1950-07-01", None]), "community": ["A", "A"]})
    >>> [(row, column) for _, row, column, _, _ in blank_resident_facts(people)]
    [('R2', 'sex'), ('R2', 'birth_date')]
    """
    problems = []
    for column in REQUIRED_IN_REGISTRY:
        if column not in residents.columns:
            continue
        blank = residents[column].isna().to_numpy()
        ids = residents["resident_id"] if "resident_id" in residents.columns else pd.Series(residents.index)
        problems.extend(("residents", rid if pd.notna(rid) else label, column, None,
                         f"is blank: a registry needs every resident's {column.replace('_', ' ')} (an export "
                         "leaves small groups blank; import the registry's own records instead)")
                        for label, rid in zip(residents.index[blank], ids[blank]))
    return problems


def import_tables(conn: Connection, tables, *, by: str, at: dt.datetime, source: str) -> TablesImport:
    """Write ``tables`` (see the module docstring) inside the caller's transaction.

    Raises :class:`workbench.tables.TablesError` naming every problem; nothing is written then.
    """
    from workbench.records import score_assessments
    from workbench.tables import TablesError

    refused = [(None, None, None, True, "pseudonymised tables cannot be imported: a registry holds the real "
                                        "identifiers")] if tables.attrs.get("pseudonymised") else []
    refused += blank_resident_facts(tables.residents)
    if refused:
        raise TablesError(refused, context=source)
    tables.validate()
    problems: list[tuple] = []
    written: dict[str, int] = {}
    unchanged: dict[str, int] = {}

    # scores: computed again here, as every save does; a different stored score is refused
    a, s = tables.assessments.reset_index(drop=True), tables.scores
    rescored = score_assessments(a, tables.residents)
    given = s.set_index("assessment_id").reindex(a["assessment_id"])
    for column in [c for c in rescored.columns if c not in ("assessment_id", "resident_id", "assessed_on", "instrument",
                                                            "scoring_version")]:
        mine, theirs = rescored[column].reset_index(drop=True), given[column].reset_index(drop=True)
        both_blank = mine.isna().to_numpy() & theirs.isna().to_numpy()
        if pd.api.types.is_numeric_dtype(mine) and not pd.api.types.is_bool_dtype(mine):
            equal = (mine.astype("float64") - theirs.astype("float64")).abs().lt(1e-9).fillna(False).to_numpy()
        else:
            equal = (mine.astype(object) == theirs.astype(object)).fillna(False).to_numpy(dtype=bool)
        for k in np.flatnonzero(~(equal | both_blank)):
            problems.append(("scores", a["assessment_id"].iloc[k], column, theirs.iloc[k],
                             f"differs from what the declared rules give ({mine.iloc[k]!r})"))

    # communities and residents
    known = {r.community: r.community_type for r in conn.execute(sa.select(communities))}
    new_communities = []
    for rec in tables.communities.to_dict("records"):
        kind = _clean(rec["community_type"])
        if rec["community"] in known:
            if known[rec["community"]] not in (None, kind) and kind is not None:
                problems.append(("communities", rec["community"], "community_type", kind,
                                 f"differs from the stored type ({known[rec['community']]!r})"))
            continue
        new_communities.append({"community": rec["community"], "community_type": kind, "created_by": by, "created_at": at})
    res_cols = ["resident_id", "sex", "birth_date", "community", "lives_alone", *_CONDITIONS, "ckd"]
    res = _records(tables.residents, res_cols)
    stored_res = dict(_lookup_hash(conn, [r["resident_id"] for r in res]))
    new_residents = []
    for r in res:
        row = {**r, "name": None, "phone": None, "id_number": None, "created_by": by}
        row["content_hash"] = audit.row_hash("residents", row)
        if r["resident_id"] in stored_res:
            if stored_res[r["resident_id"]] != row["content_hash"]:
                problems.append(("residents", r["resident_id"], "resident_id", r["resident_id"],
                                 "is already in the registry with different details; nothing is overwritten"))
            continue
        new_residents.append({**row, "created_at": at})
    unchanged["residents"] = len(res) - len(new_residents)

    # assessments
    rows = assessment_rows(a, rescored, by=by)
    keys = [(r["resident_id"], r["assessed_on"], r["instrument"], r["purpose"], r["study"]) for r in rows]
    stored_a = existing_assessments(conn, keys)
    new_assessments = []
    for key, row, aid in zip(keys, rows, a["assessment_id"]):
        if key in stored_a:
            if not (same_answers(stored_a[key][0], row["answers"]) and stored_a[key][1] == row["instrument_version"]):
                problems.append(("assessments", aid, "item_*", None, "differs from the stored assessment of this "
                                                                     "resident, date and questionnaire"))
            continue
        new_assessments.append({**row, "entered_at": at})
    unchanged["assessments"] = len(rows) - len(new_assessments)

    # decisions: as recorded; the same decision (resident, screening, when) stored before is left
    d = decision_rows(tables.decisions)
    stored_d = {(r.resident_id, r.assessed_on, _utc(r.decided_at)) for r in conn.execute(
        sa.select(tier_assignments.c.resident_id, tier_assignments.c.assessed_on, tier_assignments.c.decided_at))}
    new_decisions = [r for r in d if (r["resident_id"], r["assessed_on"], _utc(r["decided_at"])) not in stored_d]
    unchanged["decisions"] = len(d) - len(new_decisions)

    # who decided and who recorded must be users of this registry
    from workbench.registry.schema import users

    staff = set(conn.execute(sa.select(users.c.name)).scalars())
    for name, column in (("decisions", "decided_by"), ("contacts", "recorded_by"), ("measurements", "measured_by"),
                         ("smd_register", "recorded_by"), ("smd_followups", "recorded_by"),
                         ("smd_rehab", "recorded_by"), ("literacy", "recorded_by"),
                         ("risk_predictions", "predicted_by")):
        frame = tables[name]
        unknown = frame[column].notna() & ~frame[column].isin(staff)
        problems.extend((name, frame.iloc[k, 0], column, frame[column].iloc[k], "is not a user of this registry: add "
                         "them with 'workbench users add' first") for k in np.flatnonzero(unknown.to_numpy()))

    # rules between columns the analysis tables declare in words (the database keeps them too, but
    # for referrals on an upgraded SQLite registry: migration 0008)
    problems.extend(cross_field_problems(tables))

    # the other tables
    plain: dict[str, list[dict]] = {}
    for name, (table, key, who, columns) in _TABLES.items():
        frame = tables[name]
        recs = _records(frame, columns)
        ids = frame.iloc[:, 0].tolist()
        found = _stored(conn, table, key, columns, [tuple(r[c] for c in key) for r in recs]) if recs else {}
        new = []
        for rec, label in zip(recs, ids):
            if rec.get(f"{who}_by", "") is None:  # not said: the person importing recorded it
                rec[f"{who}_by"] = by
            k = tuple(rec[c] for c in key)
            if k in found:
                differs = [c for c in columns if _comparable(found[k].get(c)) != _comparable(rec[c])]
                if differs:
                    problems.append((name, label, differs[0], rec[differs[0]],
                                     f"differs from the stored {_ONE.get(name, name[:-1])} ({found[k].get(differs[0])!r}); "
                                     "nothing is overwritten"))
                continue
            new.append({f"{who}_by": by, **rec, f"{who}_at": at})
        plain[name] = new
        unchanged[name] = len(recs) - len(new)
    if problems:
        raise TablesError(problems, context=source)

    audit._lock(conn)
    if new_communities:
        conn.execute(communities.insert(), new_communities)
    for table, new in ((residents, new_residents), (referrals, plain["referrals"])):
        if new:
            conn.execute(table.insert(), new)
    if new_assessments:
        from workbench.registry.schema import assessments

        conn.execute(assessments.insert(), new_assessments)
    if new_decisions:
        conn.execute(tier_assignments.insert(), new_decisions)
    for name in ("contacts", "events", "enrolments", "surveys", "consents", "measurements", "smd_register",
                 "smd_followups", "smd_rehab", "literacy", "wearable_days"):
        if plain[name]:
            conn.execute(_TABLES[name][0].insert(), plain[name])
    # predictions: about decisions now stored (their registry ids looked up); refused as a whole
    # (the transaction rolled back) when one differs from a stored prediction
    new_predictions, unchanged["risk_predictions"], problems = _predictions(conn, tables, by=by, at=at)
    if problems:
        raise TablesError(problems, context=source)
    if new_predictions:
        conn.execute(risk_predictions.insert(), new_predictions)
    plain["risk_predictions"] = new_predictions
    written = {"communities": len(new_communities), "residents": len(new_residents), "assessments": len(new_assessments),
               "decisions": len(new_decisions), **{name: len(v) for name, v in plain.items()}}
    # one entry per row written, with its content hash, in every table
    entries = audit.entries_for("communities", new_communities)
    entries += audit.entries_for("residents", new_residents, hashes=[r["content_hash"] for r in new_residents])
    entries += audit.entries_for("assessments", new_assessments, hashes=[r["content_hash"] for r in new_assessments])
    entries += audit.entries_for("tier_assignments", new_decisions)
    for name in ("referrals", "contacts", "events", "enrolments", "surveys", "consents", "measurements",
                 "smd_register", "smd_followups", "smd_rehab", "literacy", "wearable_days"):
        entries += audit.entries_for(_TABLES[name][0].name, plain[name])
    entries += audit.entries_for("risk_predictions", new_predictions)
    entries.append({"action": "import", "target_table": "(analysis tables)",
                    "details": {"source": source, "written": written, "unchanged": unchanged}})
    audit.append(conn, entries, user=by, at=at)
    return TablesImport(written, unchanged)


_PREDICTION_COLUMNS = [c.name for c in risk_predictions.columns if c.name != "recorded_at"]


def _predictions(conn: Connection, tables, *, by: str, at: dt.datetime) -> tuple[list[dict], int, list[tuple]]:
    """The rows of ``risk_predictions`` to write, with each ``decision_id`` the registry's id of the
    same decision (resident, screening, when decided; the decisions are stored by now), how many
    are stored unchanged, and problems: a prediction stored with other content, or another
    prediction stored for the same decision and model (append-only: nothing is overwritten)."""
    rp = tables.risk_predictions
    if not len(rp):
        return [], 0, []
    d = tables.decisions
    when = {i: (r, _day(a), _utc(t)) for i, r, a, t in zip(d["decision_id"], d["resident_id"], d["assessed_on"],
                                                             d["decided_at"])}
    wanted = sorted(set(rp["resident_id"]))
    ids = {}
    for start in range(0, len(wanted), 5000):
        for r in conn.execute(sa.select(tier_assignments.c.assignment_id, tier_assignments.c.resident_id,
                                        tier_assignments.c.assessed_on, tier_assignments.c.decided_at)
                              .where(tier_assignments.c.resident_id.in_(wanted[start:start + 5000]))):
            ids[(r.resident_id, r.assessed_on, _utc(r.decided_at))] = r.assignment_id
    recs = _records(rp, _PREDICTION_COLUMNS)
    for rec in recs:
        rec["decision_id"] = ids[when[rec["decision_id"]]]  # validated links: every decision is stored now
        if rec["predicted_by"] is None:
            rec["predicted_by"] = by
    found = _stored(conn, risk_predictions, ("prediction_id",), _PREDICTION_COLUMNS,
                    [(r["prediction_id"],) for r in recs])
    pairs = {(r.decision_id, r.model): r.prediction_id for r in conn.execute(
        sa.select(risk_predictions.c.decision_id, risk_predictions.c.model, risk_predictions.c.prediction_id)
        .where(risk_predictions.c.decision_id.in_(sorted({r["decision_id"] for r in recs}))))}
    new, problems = [], []
    for rec in recs:
        old = found.get((rec["prediction_id"],))
        if old is not None:
            differs = [c for c in _PREDICTION_COLUMNS if _comparable(old.get(c)) != _comparable(rec[c])]
            if differs:
                problems.append(("risk_predictions", rec["prediction_id"], differs[0], rec[differs[0]],
                                 f"differs from the stored prediction ({old.get(differs[0])!r}); nothing is "
                                 "overwritten"))
            continue
        other = pairs.get((rec["decision_id"], rec["model"]))
        if other is not None:
            problems.append(("risk_predictions", rec["prediction_id"], "model", rec["model"],
                             f"a prediction of this model for this decision is stored already ({other}); a "
                             "prediction is never replaced (a new model version adds one)"))
            continue
        new.append({**rec, "recorded_at": at})
    return new, len(recs) - len(new) - len(problems), problems


def cross_field_problems(tables) -> list[tuple]:
    """Problems (``table, row, column, value, rule``; the row named by its id) with the rules between
    columns of the quality indicators' data: a referral's hospital appointment or seen date before
    the referral, a literacy answer set with more correct answers than questions asked."""
    problems: list[tuple] = []
    r = tables.referrals
    for column in ("appointment_on", "hospital_seen_on"):
        if column not in r.columns:
            continue
        before = (pd.to_datetime(r[column]) < pd.to_datetime(r["referred_on"])).fillna(False).to_numpy(dtype=bool)
        problems.extend(("referrals", r["referral_id"].iloc[k], column, str(pd.Timestamp(r[column].iloc[k]).date()),
                         f"is before the referral (referred_on {pd.Timestamp(r['referred_on'].iloc[k]).date()})")
                        for k in np.flatnonzero(before))
    lit = tables.literacy
    if len(lit):
        over = (lit["n_correct"].astype("Float64") > lit["n_asked"].astype("Float64")).fillna(False).to_numpy(dtype=bool)
        problems.extend(("literacy", lit["literacy_id"].iloc[k], "n_correct", int(lit["n_correct"].iloc[k]),
                         f"is more than the questions asked (n_asked {int(lit['n_asked'].iloc[k])})")
                        for k in np.flatnonzero(over))
    return problems


def _utc(value) -> dt.datetime:
    value = pd.Timestamp(value)
    value = value.tz_localize("UTC") if value.tzinfo is None else value.tz_convert("UTC")
    return value.to_pydatetime().replace(microsecond=0)


def _lookup_hash(conn: Connection, ids: list[str]):
    wanted = sorted(set(ids))
    for start in range(0, len(wanted), 5000):
        yield from conn.execute(sa.select(residents.c.resident_id, residents.c.content_hash)
                                .where(residents.c.resident_id.in_(wanted[start:start + 5000])))
