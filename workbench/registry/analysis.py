"""The registry's rows as analysis tables, and analysis-shaped records stored as registry rows.

:meth:`Registry.analysis_tables <workbench.registry.store.Registry.analysis_tables>` reads with
:func:`read_frames`; the save path (:mod:`workbench.records`) produces assessments, scores and
decisions in the analysis shape, which :func:`assessment_rows` and :func:`decision_rows` turn into
the registry's rows (answers and flags as JSON, content hashes). :func:`pseudonymise` makes the
tables an analyst may take away.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import math
import secrets
from typing import Any, Iterable

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from workbench.params import Options, validate_params
from workbench.registry import audit
from workbench.registry.schema import (assessments, communities, consents, contacts, enrolments, events,
                                       literacy, measurements, referrals, residents, risk_predictions, smd_followups,
                                       smd_register, smd_rehab, surveys, tier_assignments, wearable_days)

__all__ = ["assessment_rows", "decision_rows", "in_random_order", "pseudonymise", "read_frames"]

_CONDITIONS = ("hypertension", "diabetes", "chd", "stroke", "copd", "asthma")

#: analysis table -> (registry table, {analysis column: registry column or None when computed})
_SIMPLE = {
    "communities": (communities, ["community", "community_type"]),
    "residents": (residents, ["resident_id", "sex", "birth_date", "community", "lives_alone", *_CONDITIONS, "ckd"]),
    "referrals": (referrals, ["referral_id", "resident_id", "referred_on", "tier", "rule", "destination", "ended_on",
                              "end_reason", "referral_source", "appointment_on", "hospital_seen_on"]),
    "contacts": (contacts, ["contact_id", "resident_id", "referral_id", "contact_on", "kind", "status", "recorded_by"]),
    "events": (events, ["event_id", "resident_id", "event_on", "kind", "source", "days"]),
    "enrolments": (enrolments, ["enrolment_id", "resident_id", "study", "arm", "enrolled_on"]),
    "surveys": (surveys, ["survey_id", "resident_id", "referral_id", "surveyed_on", "satisfied", "rating"]),
    "consents": (consents, ["consent_id", "resident_id", "purpose", "given", "given_on", "withdrawn_on"]),
    # HbA1c is stored in %: its mmol/mol column is computed when read (:func:`_with_ifcc`)
    "measurements": (measurements, [c.name for c in measurements.columns
                                    if c.name not in ("submission_id", "recorded_by", "recorded_at")]),
    # the SMD register, follow-ups (the suggestion stored at save and the outcome decided; the
    # reason for an outcome that differs is free text, kept in the registry) and rehabilitation
    "smd_register": (smd_register, [c.name for c in smd_register.columns if c.name != "recorded_at"]),
    "smd_followups": (smd_followups, [c.name for c in smd_followups.columns
                                      if c.name not in ("submission_id", "outcome_reason", "recorded_at")]),
    "smd_rehab": (smd_rehab, [c.name for c in smd_rehab.columns if c.name != "recorded_at"]),
    # literacy answers, and who recorded them (a staff pseudonym in exports)
    "literacy": (literacy, [c.name for c in literacy.columns if c.name != "recorded_at"]),
    # a wristband's days (who stored them stays in the registry) and the risk model's predictions
    # (who stored each: a staff pseudonym in exports)
    "wearable_days": (wearable_days, [c.name for c in wearable_days.columns if c.name not in ("recorded_by",
                                                                                              "recorded_at")]),
    "risk_predictions": (risk_predictions, [c.name for c in risk_predictions.columns if c.name != "recorded_at"]),
}
_DECISION_COLUMNS = ["resident_id", "assessed_on", "suggested_tier", "tier", "rule", "urgent", "needs_review",
                     "psych_status", "disease_category", "service_cell", "service", "next_contact_due", "policy_version",
                     "decided_by", "decided_at", "overridden", "override_reason"]
_ASSESSMENT_META = ["assessment_id", "resident_id", "assessed_on", "instrument", "instrument_version", "purpose",
                    "referral_id", "study", "visit", "mode", "language", "submission_id"]


def _select(conn: Connection, table: sa.Table, columns: list[sa.ColumnElement], allowed) -> pd.DataFrame:
    """The rows as the database driver gives them (no per-value processing by SQLAlchemy: at
    hundreds of thousands of rows that costs more than the query); typed by the caller."""
    query = sa.select(*columns)
    if allowed is not None and "resident_id" in table.c:
        query = query.where(table.c.resident_id.in_(list(allowed)))
    compiled = query.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    cursor = conn.connection.driver_connection.cursor()
    try:
        cursor.execute(str(compiled), compiled.params if conn.dialect.name != "sqlite"
                       else tuple(compiled.params[k] for k in compiled.positiontup or ()))
        rows = cursor.fetchall()
    finally:
        cursor.close()
    return pd.DataFrame.from_records(rows, columns=[c.name for c in query.selected_columns])


def _view(name: str, columns: list[str]) -> sa.TableClause:
    """The analysts' view ``analyst.<name>`` (:mod:`workbench.registry.pg_security`)."""
    return sa.table(name, *[sa.column(c) for c in columns], schema="analyst")


@validate_params({"source": Options("registry", "analyst")})
def read_frames(conn: Connection, *, allowed=None, source: str = "registry") -> dict[str, pd.DataFrame]:
    """Every analysis table's rows as stored (untyped), for residents in ``allowed`` (a SQL
    subquery or list of ids; None: everyone).

    ``source="analyst"`` (PostgreSQL): the same columns read from the analysts' views (schema
    ``analyst``), pseudonymised in the database as :func:`pseudonymise` does (every id and staff
    name, birth dates as 1 July, free text null), with its key that no staff role reads; for
    everyone (``allowed`` must be None).
    """
    from workbench.tables import ITEM_COLUMNS, _instrument_facts

    views = source == "analyst"
    if views and (allowed is not None or conn.dialect.name != "postgresql"):
        raise ValueError("the analysts' views (source='analyst') are on PostgreSQL only, and for everyone "
                         "(allowed=None)")
    frames: dict[str, pd.DataFrame] = {}
    for name, (table, names) in _SIMPLE.items():
        table = _view(name, names) if views else table
        frames[name] = _select(conn, table, [table.c[c] for c in names], allowed)
    if allowed is not None:  # the communities of the residents shown
        frames["communities"] = frames["communities"][
            frames["communities"]["community"].isin(set(frames["residents"]["community"]))]
    if views:
        d = _view("decisions", ["decision_id", *_DECISION_COLUMNS])
        frames["decisions"] = _select(conn, d, list(d.c), None)
    else:
        d = tier_assignments
        frames["decisions"] = _select(conn, d, [d.c.assignment_id.label("decision_id"),
                                                *[d.c[c] for c in _DECISION_COLUMNS]], allowed)
    a = _view("assessments", [*_ASSESSMENT_META, "answers", "score", "band", "n_answered", "prorated", "flags",
                              "derived", "scoring_version"]) if views else assessments
    stored = _select(conn, a, [a.c[c] for c in _ASSESSMENT_META] + [a.c.answers, a.c.score, a.c.band, a.c.n_answered,
                                                                     a.c.prorated, a.c.flags, a.c.derived,
                                                                     a.c.scoring_version], allowed)
    facts = _instrument_facts()

    def parsed(texts: pd.Series, keys: list[str], kind, prefix: str = "") -> pd.DataFrame:
        """The JSON objects of ``texts`` as columns ``keys`` (others ignored), parsed at once by
        Arrow's JSON reader (measured: a third of the time of json.loads and from_records)."""
        if not len(texts) or not keys:
            return pd.DataFrame(index=texts.index, columns=[f"{prefix}{k}" for k in keys], dtype=object)
        import pyarrow as pa
        import pyarrow.json as pa_json

        lines = "\n".join(t if t else "{}" for t in texts).encode("utf-8")
        schema = pa.schema([(k, kind) for k in keys])
        table = pa_json.read_json(pa.BufferReader(lines), read_options=pa_json.ReadOptions(block_size=1 << 24),
                                  parse_options=pa_json.ParseOptions(explicit_schema=schema,
                                                                     unexpected_field_behavior="ignore"))
        out = table.select(keys).to_pandas()
        out.index, out.columns = texts.index, [f"{prefix}{k}" for k in keys]
        return out

    import pyarrow as pa

    items = parsed(stored["answers"], [c.removeprefix("item_") for c in ITEM_COLUMNS], pa.float64(), "item_")
    flags = parsed(stored["flags"], facts["flags"], pa.bool_())
    derived = parsed(stored["derived"], facts["derived"], pa.float64())
    frames["assessments"] = pd.concat([stored[_ASSESSMENT_META], items], axis=1)
    frames["scores"] = pd.concat(
        [stored[["assessment_id", "resident_id", "assessed_on", "instrument", "score", "band", "n_answered", "prorated"]],
         flags, derived, stored[["scoring_version"]]], axis=1)
    for name in ("assessments", "scores", "decisions", "events", "enrolments", "consents", "measurements"):
        key = f"{name[:-1]}_id" if name != "scores" else "assessment_id"
        frames[name][key] = frames[name][key].astype(str)
    for name, key in (("smd_followups", "followup_id"), ("smd_rehab", "rehab_id"), ("literacy", "literacy_id"),
                      ("risk_predictions", "decision_id")):
        frames[name][key] = frames[name][key].astype(str)
    frames["measurements"] = _with_ifcc(frames["measurements"])
    return frames


def _with_ifcc(frame: pd.DataFrame) -> pd.DataFrame:
    """Stored measurements with ``hba1c_mmol_mol`` computed exactly from ``hba1c`` (in %), after it."""
    from workbench.measurements import hba1c_to_ifcc

    out = frame.copy()
    out.insert(out.columns.get_loc("hba1c") + 1, "hba1c_mmol_mol",
               hba1c_to_ifcc(pd.to_numeric(out["hba1c"], errors="coerce").astype("float64")))
    return out


def typed_tables(frames: dict[str, pd.DataFrame], *, attrs: dict):
    """Frames read by :func:`read_frames` as typed :class:`~workbench.tables.Tables`, sorted by key."""
    from workbench.tables import TABLES, Tables, coerce

    typed = {}
    for name, frame in frames.items():
        out, problems = coerce(name, frame, clean_text=False)  # stored text is already clean
        if problems:  # the database's own types and constraints make this a bug, not bad data
            raise RuntimeError(f"registry table {name} does not read as its analysis table: {problems[:5]}")
        typed[name] = out.sort_values(list(TABLES[name].key), ignore_index=True, kind="stable")
    return Tables(attrs=attrs, **typed)


# --- pseudonyms ----------------------------------------------------------------------------

def _pseudonym(prefix: str, kind: str | None, key: bytes, value: str) -> str:
    message = value if kind is None else f"{kind}:{value}"
    return prefix + hmac.digest(key, message.encode("utf-8"), "sha256").hex()[:16]


def _pseudonyms(prefix: str, kind: str | None, key: bytes, values: list[str]) -> list[str]:
    """:func:`_pseudonym` of each of ``values``, computed as HMAC is defined (RFC 2104) from two
    keyed SHA-256 states copied per value: about twice as fast as ``hmac.digest`` per call.

    >>> key = b"k" * 80  # longer than a block: hashed first, as HMAC does
    >>> _pseudonyms("A", "assessment", key, ["1", "x"]) == [_pseudonym("A", "assessment", key, v) for v in ["1", "x"]]
    True
    """
    block = key if len(key) <= 64 else hashlib.sha256(key).digest()
    block = block.ljust(64, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in block)).copy
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in block)).copy
    head = b"" if kind is None else f"{kind}:".encode("utf-8")
    out = []
    for value in values:
        i = inner()
        i.update(head + value.encode("utf-8"))
        o = outer()
        o.update(i.digest())
        out.append(prefix + o.hexdigest()[:16])
    return out


#: id column -> (prefix, kind) of its pseudonyms; the resident's keep the ``P`` + HMAC(id) form of
#: earlier exports so that pseudonyms stay stable. Every other kind is hashed with its own kind in
#: the message (domain separation) and has its own prefix, so two kinds of id never collide.
_ID_KINDS = {"resident_id": ("P", None), "assessment_id": ("A", "assessment"), "referral_id": ("F", "referral"),
             "contact_id": ("C", "contact"), "decision_id": ("D", "decision"), "event_id": ("V", "event"),
             "enrolment_id": ("E", "enrolment"), "survey_id": ("S", "survey"), "consent_id": ("K", "consent"),
             "submission_id": ("B", "submission"), "staff": ("U", "staff"), "measurement_id": ("M", "measurement"),
             "followup_id": ("Q", "smd_followup"), "rehab_id": ("L", "smd_rehab"),
             "literacy_id": ("Y", "literacy"), "device_id": ("W", "device"), "prediction_id": ("X", "prediction")}
#: Identifying columns besides the declared ids (:attr:`TableSpec.ids`): the app submission an
#: assessment came from, and the staff user names of the ``*_by`` columns (one pseudonym per user,
#: the same in every table).
_MORE_IDS = {"assessments": {"submission_id": "submission_id"}, "decisions": {"decided_by": "staff"},
             "contacts": {"recorded_by": "staff"}, "measurements": {"measured_by": "staff"},
             **{name: {"recorded_by": "staff"} for name in ("smd_register", "smd_followups", "smd_rehab", "literacy")},
             "risk_predictions": {"predicted_by": "staff"}}
#: Free-text columns (left out unless asked for).
FREE_TEXT = {"decisions": ("override_reason",)}


def _database_pseudonyms(conn: Connection, kind: str, values: list[str]) -> list[str]:
    """:func:`_pseudonym` of each of ``values`` computed by the PostgreSQL registry at ``conn``
    with its own key (``workbench_private.pseudonym``: admins and the owner only)."""
    if not values:
        return []
    rows = conn.exec_driver_sql(
        "SELECT workbench_private.pseudonym(%(kind)s, t.v) FROM unnest(CAST(%(values)s AS text[])) "
        "WITH ORDINALITY AS t(v, i) ORDER BY t.i", {"kind": kind, "values": values}).all()
    return [r[0] for r in rows]


def in_random_order(tables, *, include_free_text: bool = False, seed=None):
    """Pseudonymised ``tables`` (by :func:`pseudonymise`, or read from the analysts' views of a
    PostgreSQL registry) with each table's rows in a fresh random order (``seed`` for tests only)
    and the attributes saying how they were pseudonymised."""
    rng = np.random.default_rng(seed if seed is not None else secrets.randbits(128))
    frames = {name: frame.take(rng.permutation(len(frame))).reset_index(drop=True) for name, frame in tables.items()}
    attrs = {**tables.attrs, "pseudonymised": True,
             "pseudonymisation": "keyed HMAC-SHA256 ids and staff names; birth dates as 1 July of the birth year; "
                                 + ("free text included (asked for)" if include_free_text else "free text left out")
                                 + "; rows in random order"}
    return type(tables)(attrs=attrs, **frames)


def pseudonymise(tables, key: bytes | Connection, *, include_free_text: bool = False, seed=None):
    """The tables an analyst may take away: every identifier (resident, record and submission ids,
    staff user names) replaced by a keyed pseudonym (the same id always gets the same pseudonym
    under the same key, so the links between tables hold), birth dates reduced to 1 July of the
    birth year, free text (:data:`FREE_TEXT`) left out unless ``include_free_text``, and each
    table's rows in a fresh random order (``seed`` for tests only): neither the order the rows
    were written in nor any order that sorting could undo.

    ``key``: the HMAC key, or a connection to a PostgreSQL registry (as an admin or its owner),
    whose database computes each pseudonym with its own key: the pseudonyms of its analysts'
    views (:func:`read_frames` with ``source="analyst"``).
    """
    from workbench.tables import TABLES

    def identifying(name: str) -> dict[str, str]:
        return {**{c: c for c in TABLES[name].ids}, **_MORE_IDS.get(name, {})}

    # Each distinct id is hashed once, whichever tables it appears in (a resident's id is in all of
    # them); the tables look their pseudonyms up. Measured at 100,000 residents: 8.8 s before
    # (2.1 million hashes), 3.5 s after.
    found: dict[str, list] = {}
    for name, frame in tables.items():
        for column, kind in identifying(name).items():
            found.setdefault(kind, []).append(frame[column].dropna().astype(str).to_numpy(dtype=object))
    lookup: dict[str, tuple[pd.Index, np.ndarray]] = {}
    for kind, parts in found.items():
        prefix, domain = _ID_KINDS[kind]
        uniques = pd.unique(np.concatenate(parts))
        names = (_database_pseudonyms(key, kind, uniques.tolist()) if isinstance(key, Connection)
                 else _pseudonyms(prefix, domain, key, uniques.tolist()))
        lookup[kind] = (pd.Index(uniques), np.array(names + [None], dtype=object))  # -1 (a blank): None

    frames = {}
    for name, frame in tables.items():
        out = frame.copy()
        for column, kind in identifying(name).items():
            values = out[column]
            codes = lookup[kind][0].get_indexer(values.astype(str).where(values.notna(), None))
            out[column] = pd.Series(lookup[kind][1][codes], index=out.index, dtype="string")
        if name == "residents":
            out["birth_date"] = pd.to_datetime(out["birth_date"].dt.year.astype("Int64").astype(str) + "-07-01",
                                               errors="coerce").astype("datetime64[ns]")
        if not include_free_text:
            for column in FREE_TEXT.get(name, ()):
                out[column] = pd.Series(pd.NA, index=out.index, dtype="string")
        frames[name] = out
    return in_random_order(type(tables)(attrs=tables.attrs, **frames), include_free_text=include_free_text, seed=seed)


# --- analysis rows -> registry rows ------------------------------------------------------------

def _clean(value: Any) -> Any:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _day(value) -> dt.date | None:
    value = _clean(value)
    return None if value is None else pd.Timestamp(value).date()


def _objects(values: pd.Series) -> list:
    """A column as Python values, blanks as None (fast: no per-value pandas boxing)."""
    out = values.astype(object).to_numpy()
    return [None if v is None or v is pd.NA or (isinstance(v, float) and v != v) else v for v in out]


def _json_objects(keys: list[str], matrix: np.ndarray, kind) -> list[str]:
    """One JSON object per row of ``matrix`` (NaN -> null), exactly as ``json.dumps(..., sort_keys=True)``."""
    order = sorted(range(len(keys)), key=lambda k: keys[k])
    names = [json.dumps(keys[k]) for k in order]
    columns = matrix[:, order]
    rows = []
    for values in columns:
        parts = []
        for name, v in zip(names, values):
            parts.append(f"{name}: {'null' if v != v else kind(v)}")
        rows.append("{" + ", ".join(parts) + "}")
    return rows


def _int_text(v) -> str:
    return str(int(v))


def _bool_text(v) -> str:
    return "true" if v else "false"


def _float_text(v) -> str:
    return json.dumps(float(v))


def assessment_rows(assessments_: pd.DataFrame, scores: pd.DataFrame, *, by: str) -> list[dict]:
    """Registry rows of ``assessments`` (analysis shape) with their ``scores`` (same order).

    Vectorised by questionnaire: a whole city's import goes through here."""
    from workbench.instruments import get_instrument

    n = len(assessments_)
    if n == 0:
        return []
    a = assessments_.reset_index(drop=True)
    s = scores.reset_index(drop=True)
    answers = [None] * n
    flags = [None] * n
    derived: list = [None] * n
    for inst_id, positions in a.groupby("instrument", sort=False, observed=True).indices.items():
        inst = get_instrument(inst_id)
        keys = [c.rsplit("_", 1)[1] for c in list(inst.item_columns) + list(inst.supplementary_columns)]
        matrix = a.loc[positions, [f"item_{k}" for k in keys]].astype("float64").to_numpy()
        for p, text in zip(positions, _json_objects(keys, matrix, _int_text)):
            answers[p] = text
        names = [c.flag for c in inst.critical_items]
        fmatrix = s.loc[positions, names].astype("float64").to_numpy() if names else np.zeros((len(positions), 0))
        for p, text in zip(positions, _json_objects(names, fmatrix, _bool_text)):
            flags[p] = text
        if inst.derived:
            dnames = list(inst.derived)
            dmatrix = s.loc[positions, dnames].astype("float64").to_numpy()
            for p, text in zip(positions, _json_objects(dnames, dmatrix, _float_text)):
                derived[p] = text
    days = pd.to_datetime(a["assessed_on"])
    visit = a["visit"].astype("Float64")
    score = s["score"].astype("float64").to_numpy()
    columns = {
        "resident_id": a["resident_id"].astype(str).tolist(), "assessed_on": days.dt.date.tolist(),
        "instrument": a["instrument"].astype(str).tolist(), "instrument_version": a["instrument_version"].astype(str).tolist(),
        "purpose": a["purpose"].astype(str).tolist(), "referral_id": _objects(a["referral_id"]),
        "study": _objects(a["study"]), "visit": [None if v is None else int(v) for v in _objects(visit)],
        "submission_id": _objects(a["submission_id"]), "language": _objects(a["language"]), "mode": _objects(a["mode"]),
        "answers": answers, "score": [None if v != v else float(v) for v in score],
        "band": _objects(s["band"]), "n_answered": [int(v) for v in s["n_answered"].astype("int64")],
        "prorated": [bool(v) for v in s["prorated"]], "flags": flags, "derived": derived,
        "scoring_version": s["scoring_version"].astype(str).tolist(), "entered_by": [by] * n,
    }
    names = list(columns)
    rows = [dict(zip(names, values)) for values in zip(*columns.values())]
    hashes = audit.row_hashes("assessments", rows, plain={"assessed_on": days.dt.strftime("%Y-%m-%d").tolist(),
                                                          "score": [None if v != v else (int(v) if float(v).is_integer()
                                                                                         else float(v)) for v in score]})
    for row, digest in zip(rows, hashes):
        row["content_hash"] = digest
    return rows


def decision_rows(decisions: pd.DataFrame) -> list[dict]:
    """Registry rows (``tier_assignments``) of decisions in the analysis shape."""
    if len(decisions) == 0:
        return []
    d = decisions.reset_index(drop=True)
    columns = {}
    for c in _DECISION_COLUMNS:
        values = d[c]
        if c in ("assessed_on", "next_contact_due"):
            columns[c] = [None if v is pd.NaT else v for v in pd.to_datetime(values).dt.date.astype(object)]
        elif c == "decided_at":
            stamps = pd.to_datetime(values, utc=True)
            columns[c] = [v.to_pydatetime() for v in stamps]
        elif c in ("suggested_tier", "tier"):
            columns[c] = [None if v is None else int(v) for v in _objects(values)]
        elif c in ("urgent", "needs_review", "overridden"):
            columns[c] = [bool(v) for v in values.astype(bool)]
        else:
            columns[c] = _objects(values)
    return [dict(zip(_DECISION_COLUMNS, row)) for row in zip(*columns.values())]


def same_answers(stored: str, new: str) -> bool:
    """Whether two stored answer sets are the same (an item absent from one is blank)."""
    a, b = json.loads(stored), json.loads(new)
    return all(a.get(k) == b.get(k) for k in set(a) | set(b))


def existing_assessments(conn: Connection, keys: Iterable[tuple]) -> dict[tuple, tuple[str, str]]:
    """Stored ``answers`` and ``instrument_version`` by (resident, day, instrument, purpose, study)
    for the residents among ``keys``."""
    wanted = sorted({k[0] for k in keys})
    out = {}
    for start in range(0, len(wanted), 5000):
        part = wanted[start:start + 5000]
        for r in conn.execute(sa.select(assessments.c.resident_id, assessments.c.assessed_on, assessments.c.instrument,
                                        assessments.c.purpose, assessments.c.study, assessments.c.answers,
                                        assessments.c.instrument_version)
                              .where(assessments.c.resident_id.in_(part))):
            out[(r.resident_id, r.assessed_on, r.instrument, r.purpose, r.study)] = (r.answers, r.instrument_version)
    return out
