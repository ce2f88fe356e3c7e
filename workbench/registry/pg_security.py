"""The database enforces roles on PostgreSQL: group roles, grants and row-level security.

Each registry user is a PostgreSQL login role of the same name, member of the NOLOGIN group role
of their registry role (:data:`GROUPS`). Staff connect as themselves (behind JupyterHub: peer
authentication over the Unix socket, no password stored); the schema owner, who runs the
migrations, is not used by staff. The Python checks (:mod:`workbench.registry.access`) stay; this
is the second wall, so that direct SQL cannot go around the API:

- counsellor, doctor: the rows of resident data (assessments, tier decisions, referrals,
  contacts, events, enrolments, consents, surveys, measurements, the SMD register, follow-ups and
  rehabilitation steps, literacy answers, wristband days, risk predictions) of residents on their caseload, approved for
  them by a second counsellor (until the approval expires), or that they entered themselves; they
  insert only rows entered under their own name; the residents' records (every staff role reads
  the basic record, as :meth:`Registry.residents` shows).
- social worker: the basic record only (column grants on ``residents``; the latest tier and next
  due date from ``tier_assignments``): never answers, flags, scores, notes or decisions' text.
- analyst: no table at all; the views of schema ``analyst``, one per table
  :func:`~workbench.registry.analysis.read_frames` reads, with its columns: every id and staff
  name a keyed pseudonym computed in the database exactly as
  :func:`~workbench.registry.analysis.pseudonymise` computes it (HMAC-SHA-256, pgcrypto, with a
  key in ``workbench_private.pseudonym_key`` that only the owner reads), birth dates as 1 July of
  the birth year, free text null, no names, phones or id numbers. The function computing a
  pseudonym from the key (``workbench_private.pseudonym``) is the admins' only.
- admin: every row; nobody but the owner updates, deletes or truncates ``audit_log``, and each
  staff member appends entries under their own name only (a name claimed in Python is refused).
- ``caseloads``: a clinician sees the lines they hold or assigned; inserts a line for another
  clinician, or for themselves only for a resident nothing about whom is stored by anyone else.
- ``access_approvals``: inserted only by a counsellor, for someone else, under their own name,
  dated now, expiring within 72 hours; never updated or deleted by staff.

:func:`install` runs in migration 0004 and is idempotent (:func:`install` again after a restore
re-creates what a restore into another cluster lacks: the group roles). It works on the schema
of the revision running it (a table or column of a later revision is left out until that
revision's migration runs it again: 0006 for ``measurements``, ``residents.ckd``, ``events.days``;
0007 for ``smd_register``, ``smd_followups``, ``smd_rehab``; 0008 for ``literacy`` and the
referrals' source and hospital dates: a clinician fills the two hospital dates of a referral they
may read, and the answers of a survey stored unanswered; 0009 for ``wearable_days`` and
``risk_predictions``: a clinician replaces a wristband day they may read, under their own name;
predictions are never updated by staff).
"""

from __future__ import annotations

from sqlalchemy.engine import Connection

__all__ = ["GROUPS", "RESIDENT_TABLES", "create_login", "install", "load_export_key", "set_active"]

#: registry role -> PostgreSQL group role (NOLOGIN)
GROUPS = {"social_worker": "workbench_social_worker", "counsellor": "workbench_counsellor",
          "doctor": "workbench_doctor", "analyst": "workbench_analyst", "admin": "workbench_admin"}
#: tables of resident data -> the column naming who wrote the row
RESIDENT_TABLES = {"assessments": "entered_by", "tier_assignments": "decided_by", "referrals": "created_by",
                   "contacts": "recorded_by", "events": "recorded_by", "enrolments": "recorded_by",
                   "consents": "recorded_by", "surveys": "recorded_by", "measurements": "recorded_by",
                   "smd_register": "recorded_by", "smd_followups": "recorded_by", "smd_rehab": "recorded_by",
                   "literacy": "recorded_by", "wearable_days": "recorded_by", "risk_predictions": "predicted_by"}
_STAFF = ", ".join(GROUPS.values())
_CLINICIANS = "workbench_counsellor, workbench_doctor"
_BASIC = "resident_id, name, phone, sex, birth_date, community, content_hash, created_by, created_at"
_TIER_BASIC = "assignment_id, resident_id, assessed_on, tier, next_contact_due, decided_at"
_USER_COLUMNS = "name, role, display_name, active, login"
_TABLES = ("users", "communities", "residents", *RESIDENT_TABLES, "caseloads", "access_approvals", "audit_log")

#: a resident the current user may read in full: on their caseload or approved, unexpired
_MAY_READ = ("(resident_id IN (SELECT c.resident_id FROM caseloads c WHERE c.user_name = current_user) "
             "OR resident_id IN (SELECT a.resident_id FROM access_approvals a "
             "WHERE a.user_name = current_user AND a.expires_at > now()))")

_FUNCTIONS = """
CREATE SCHEMA IF NOT EXISTS workbench_private;
REVOKE ALL ON SCHEMA workbench_private FROM PUBLIC;
GRANT USAGE ON SCHEMA workbench_private TO {staff};
-- whether anything about a resident is stored by someone other than who (SECURITY DEFINER: it
-- looks past the caller's row policies, and answers only yes or no)
CREATE OR REPLACE FUNCTION workbench_private.stored_by_others(rid text, who text) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT EXISTS (SELECT 1 FROM residents WHERE resident_id = rid AND created_by <> who)
      OR EXISTS (SELECT 1 FROM assessments WHERE resident_id = rid AND entered_by <> who)
      OR EXISTS (SELECT 1 FROM tier_assignments WHERE resident_id = rid AND decided_by <> who)
      OR EXISTS (SELECT 1 FROM referrals WHERE resident_id = rid AND created_by <> who)
      OR EXISTS (SELECT 1 FROM contacts WHERE resident_id = rid AND recorded_by <> who){more_stored}
      OR EXISTS (SELECT 1 FROM caseloads WHERE resident_id = rid AND user_name <> who)
$$;
-- an admin adds a registry user: their login role (no password: peer authentication), in the
-- group of their role; run as the owner (SECURITY DEFINER), so admins need no CREATEROLE
-- (no percent signs in this SQL: the driver reads them as placeholders)
CREATE OR REPLACE FUNCTION workbench_private.create_login(who text, registry_role text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE grp text := 'workbench_' || registry_role;
BEGIN
  IF registry_role NOT IN ('social_worker', 'counsellor', 'doctor', 'analyst', 'admin') THEN
    RAISE EXCEPTION USING MESSAGE = 'not a registry role: ' || registry_role;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM users WHERE name = who AND role = registry_role) THEN
    RAISE EXCEPTION USING MESSAGE = 'no registry user ' || who || ' with role ' || registry_role;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = who) THEN
    EXECUTE 'CREATE ROLE ' || quote_ident(who) || ' LOGIN';
  END IF;
  EXECUTE 'GRANT ' || quote_ident(grp) || ' TO ' || quote_ident(who);
END $$;
REVOKE ALL ON FUNCTION workbench_private.create_login(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION workbench_private.create_login(text, text) TO workbench_admin;
-- an admin deactivates or reactivates a registry user: their login role NOLOGIN or LOGIN, as their
-- users row (updated first, in the same transaction) says; run as the owner, so admins need no
-- CREATEROLE; never a role that is no such registry user, a superuser or the owner
CREATE OR REPLACE FUNCTION workbench_private.set_active(who text, allowed boolean) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM users WHERE name = who AND active = allowed) THEN
    RAISE EXCEPTION USING MESSAGE = 'no registry user ' || who || ' who is '
      || CASE WHEN allowed THEN 'active' ELSE 'inactive' END;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = who AND rolcanlogin = allowed) THEN
    RETURN;
  END IF;
  IF who = current_user OR EXISTS (SELECT 1 FROM pg_roles WHERE rolname = who AND rolsuper) THEN
    RAISE EXCEPTION USING MESSAGE = 'the login role ' || who || ' is the owner or a superuser: not changed';
  END IF;
  EXECUTE 'ALTER ROLE ' || quote_ident(who) || CASE WHEN allowed THEN ' LOGIN' ELSE ' NOLOGIN' END;
END $$;
REVOKE ALL ON FUNCTION workbench_private.set_active(text, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION workbench_private.set_active(text, boolean) TO workbench_admin;
REVOKE ALL ON FUNCTION workbench_private.stored_by_others(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION workbench_private.stored_by_others(text, text) TO {clinicians};
"""


#: the analysts' views (schema ``analyst``): view -> (registry table, its columns as
#: :func:`workbench.registry.analysis.read_frames` selects them, in SQL). Every id and staff name
#: pseudonymised as :func:`workbench.registry.analysis.pseudonymise` does (``{id[kind]}``: the
#: keyed pseudonym of that column), birth date as 1 July of the birth year, free text null; no
#: names, phones or id numbers.
_ANALYST_VIEWS = {
    "communities": ("communities", "community, community_type"),
    "residents": ("residents", "{id[resident_id]} AS resident_id, sex, "
                               "make_date(CAST(extract(year FROM birth_date) AS integer), 7, 1) AS birth_date, "
                               "community, lives_alone, hypertension, diabetes, chd, stroke, copd, asthma, ckd"),
    "assessments": ("assessments", "{id[assessment_id]} AS assessment_id, {id[resident_id]} AS resident_id, "
                                   "assessed_on, instrument, instrument_version, purpose, "
                                   "{id[referral_id]} AS referral_id, study, visit, mode, language, "
                                   "{id[submission_id]} AS submission_id, answers, score, band, n_answered, "
                                   "prorated, flags, derived, scoring_version"),
    "decisions": ("tier_assignments", "{id[decision_id]} AS decision_id, {id[resident_id]} AS resident_id, "
                                      "assessed_on, suggested_tier, tier, rule, urgent, needs_review, psych_status, "
                                      "disease_category, service_cell, service, next_contact_due, policy_version, "
                                      "{id[staff]} AS decided_by, decided_at, overridden, "
                                      "CAST(NULL AS text) AS override_reason"),
    "referrals": ("referrals", "{id[referral_id]} AS referral_id, {id[resident_id]} AS resident_id, referred_on, "
                               "tier, rule, destination, ended_on, end_reason, referral_source, appointment_on, "
                               "hospital_seen_on"),
    "contacts": ("contacts", "{id[contact_id]} AS contact_id, {id[resident_id]} AS resident_id, "
                             "{id[referral_id]} AS referral_id, contact_on, kind, status, "
                             "{id[staff]} AS recorded_by"),
    "events": ("events", "{id[event_id]} AS event_id, {id[resident_id]} AS resident_id, event_on, kind, source, days"),
    "enrolments": ("enrolments", "{id[enrolment_id]} AS enrolment_id, {id[resident_id]} AS resident_id, study, arm, "
                                 "enrolled_on"),
    "surveys": ("surveys", "{id[survey_id]} AS survey_id, {id[resident_id]} AS resident_id, "
                           "{id[referral_id]} AS referral_id, surveyed_on, satisfied, rating"),
    "consents": ("consents", "{id[consent_id]} AS consent_id, {id[resident_id]} AS resident_id, purpose, given, "
                             "given_on, withdrawn_on"),
    "measurements": ("measurements", "{id[measurement_id]} AS measurement_id, {id[resident_id]} AS resident_id, "
                                     "measured_on, setting, {id[staff]} AS measured_by, {measures}"),
    "smd_register": ("smd_register", "{id[resident_id]} AS resident_id, diagnosis, diagnosed_on, registered_on, "
                                     "guardian, consent, consent_on, left_on, left_reason, "
                                     "{id[staff]} AS recorded_by"),
    "smd_followups": ("smd_followups", "{id[followup_id]} AS followup_id, {id[resident_id]} AS resident_id, "
                                       "followed_on, mode, risk_grade, symptoms, insight, social_function, "
                                       "adverse_reaction, physical_illness, on_medication, medication_regularity, "
                                       "suggested_outcome, rule, outcome, referred, next_due, policy_version, "
                                       "{id[staff]} AS recorded_by"),
    "smd_rehab": ("smd_rehab", "{id[rehab_id]} AS rehab_id, {id[resident_id]} AS resident_id, level, entered_on, "
                               "left_on, {id[staff]} AS recorded_by"),
    "literacy": ("literacy", "{id[literacy_id]} AS literacy_id, {id[resident_id]} AS resident_id, asked_on, "
                             "questionnaire, n_asked, n_correct, {id[staff]} AS recorded_by"),
    "wearable_days": ("wearable_days", "{id[resident_id]} AS resident_id, day, {id[device_id]} AS device_id, "
                                       "wear_minutes, night_wear_minutes, resting_hr, rmssd, steps, sleep_minutes, "
                                       "sleep_midpoint, sleep_regularity, baseline_days, rmssd_z, resting_hr_z, "
                                       "steps_z, sleep_z, wear_state, alert_state, flag, nights_low, nights_valid, "
                                       "rule"),
    "risk_predictions": ("risk_predictions", "{id[prediction_id]} AS prediction_id, "
                                             "{id[decision_id]} AS decision_id, {id[resident_id]} AS resident_id, "
                                             "assessed_on, model, data_version, outcome, risk, band, reason_1, "
                                             "reason_2, reason_3, predicted_on, {id[staff]} AS predicted_by"),
}
#: the registry column holding each kind of id in a view's table (the decision's id is the
#: tier assignment's; the staff name is the table's ``*_by`` column)
_ID_COLUMNS = {"decision_id": {"tier_assignments": "assignment_id", "risk_predictions": "decision_id"},
               "staff": {"tier_assignments": "decided_by", "contacts": "recorded_by",
                                                          "measurements": "measured_by", "smd_register": "recorded_by",
                                                          "smd_followups": "recorded_by", "smd_rehab": "recorded_by",
                                                          "literacy": "recorded_by",
                                                          "risk_predictions": "predicted_by"}}


def _kinds() -> dict[str, tuple[str, str | None]]:
    from workbench.registry.analysis import _ID_KINDS  # the one definition of prefixes and domains

    return _ID_KINDS


def _pseudonym_functions() -> list[str]:
    """The keyed pseudonym in SQL, exactly :func:`workbench.registry.analysis._pseudonym`: the
    prefix of the kind of id + the first 16 hex digits of HMAC-SHA-256(key, "domain:value") (the
    resident's: HMAC(key, value)).

    ``keyed_pseudonym(key, kind, value)`` is a plain function of its arguments (useless without the
    key, which no staff role reads; inlined by the planner into the views, which read the key with
    the owner's rights). ``pseudonym(kind, value)`` takes the key from
    ``workbench_private.pseudonym_key`` (SECURITY DEFINER) and is the admins' only: an analyst who
    could call it on guessed ids would undo the pseudonyms.
    """
    kinds = _kinds()
    prefix = " ".join(f"WHEN '{kind}' THEN '{p}'" for kind, (p, _) in kinds.items())
    domain = " ".join(f"WHEN '{kind}' THEN '{d}:'" for kind, (_, d) in kinds.items() if d is not None)
    names = ", ".join(f"'{kind}'" for kind in kinds)
    return [
        "CREATE OR REPLACE FUNCTION workbench_private.keyed_pseudonym(key bytea, kind text, value text) RETURNS text "
        "LANGUAGE sql STABLE PARALLEL SAFE AS $$ "  # STABLE as convert_to is: inlined into the views
        f"SELECT (CASE kind {prefix} END) || pg_catalog.left(pg_catalog.encode(workbench_private.hmac("
        f"pg_catalog.convert_to((CASE kind {domain} ELSE '' END) || value, 'UTF8'), key, 'sha256'), 'hex'), 16) $$",
        "CREATE OR REPLACE FUNCTION workbench_private.pseudonym(kind text, value text) RETURNS text "
        "LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$ BEGIN "
        f"IF kind IS NULL OR kind NOT IN ({names}) THEN "
        "RAISE EXCEPTION USING MESSAGE = 'not a kind of id: ' || coalesce(kind, 'null'); END IF; "
        "RETURN workbench_private.keyed_pseudonym((SELECT k.key FROM workbench_private.pseudonym_key k), kind, value); "
        "END $$",
        "REVOKE ALL ON FUNCTION workbench_private.pseudonym(text, text) FROM PUBLIC",
        "GRANT EXECUTE ON FUNCTION workbench_private.pseudonym(text, text) TO workbench_admin",
    ]


def _measures() -> str:
    """The measurements' measure and answer columns (HbA1c in %: mmol/mol is computed when read)."""
    from workbench.registry.schema import measurements

    return ", ".join(c.name for c in measurements.columns if c.name not in (
        "measurement_id", "submission_id", "resident_id", "measured_on", "setting", "measured_by", "recorded_by",
        "recorded_at"))


def _top_level(columns: str) -> list[str]:
    """``columns`` (SQL) split at the commas outside parentheses."""
    out, depth, start = [], 0, 0
    for k, ch in enumerate(columns):
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            out.append(columns[start:k].strip())
            start = k + 1
    return out + [columns[start:].strip()]


def _view_sql(view: str, present: set[str] | None = None) -> str:
    """The view ``analyst.<view>``; ``present``: the columns its table has now (a column added by a
    later revision reads as NULL in a revision before it; the later revision's install makes
    the view again with it)."""
    table, columns = _ANALYST_VIEWS[view]
    if present is not None:
        parts = [p if not p.isidentifier() or p in present else f"NULL AS {p}" for p in _top_level(
            columns.replace("{measures}", _measures()))]
        columns = ", ".join(parts).replace("{measures}", "")

    class _Ids(dict):
        def __missing__(self, kind):
            column = _ID_COLUMNS.get(kind, kind)
            column = column[table] if isinstance(column, dict) else column
            return (f"workbench_private.keyed_pseudonym((SELECT k.key FROM workbench_private.pseudonym_key k), "
                    f"'{kind}', CAST(t.{column} AS text))")  # the key read once per query (an init plan)

    # ordered by the first column, a keyed pseudonym (communities: the name): a table's physical
    # order is the order rows were written in, which would give the pseudonyms of residents
    # R0000001, R0000002 ... away by their rank, as exports' shuffled rows are meant to prevent
    return (f"CREATE VIEW analyst.{view} WITH (security_barrier) AS SELECT {columns.format(id=_Ids(), measures=_measures())} "
            f"FROM public.{table} t ORDER BY 1")


def _analyst_views(schema: dict[str, set[str]]) -> list[str]:
    out = ["CREATE EXTENSION IF NOT EXISTS pgcrypto SCHEMA workbench_private",
           "CREATE TABLE IF NOT EXISTS workbench_private.pseudonym_key (key bytea NOT NULL)",
           "REVOKE ALL ON workbench_private.pseudonym_key FROM PUBLIC",
           "INSERT INTO workbench_private.pseudonym_key SELECT workbench_private.gen_random_bytes(32) "
           "WHERE NOT EXISTS (SELECT 1 FROM workbench_private.pseudonym_key)",
           *_pseudonym_functions(),
           "CREATE SCHEMA IF NOT EXISTS analyst", "REVOKE ALL ON SCHEMA analyst FROM PUBLIC",
           "GRANT USAGE ON SCHEMA analyst TO workbench_analyst, workbench_admin"]
    # dropped and made again: the columns change between revisions (0004's views had others)
    out += [f"DROP VIEW IF EXISTS analyst.{view}" for view in _ANALYST_VIEWS]
    for view in _ANALYST_VIEWS:
        if _ANALYST_VIEWS[view][0] not in schema:  # a table of a later revision (its install makes the view)
            continue
        out.append(_view_sql(view, schema[_ANALYST_VIEWS[view][0]]))
        out.append(f"GRANT SELECT ON analyst.{view} TO workbench_analyst, workbench_admin")
    return out


def load_export_key(connection: Connection, key: bytes) -> None:
    """Make ``key`` the database's pseudonym key (run by the schema owner; a no-op elsewhere):
    migration 0005 loads the export key file of a registry exported before pseudonyms were
    computed in the database, so that earlier exports' pseudonyms stay the same."""
    if connection.dialect.name != "postgresql":
        return
    if len(key) < 16:
        raise ValueError(f"a pseudonym key of {len(key)} bytes is too short (at least 16)")
    connection.exec_driver_sql("UPDATE workbench_private.pseudonym_key SET key = %(k)s", {"k": key})


def _statements(schema: dict[str, set[str]]) -> list[str]:
    """The statements of :func:`install` for a database whose tables (and their columns) are
    ``schema``: migrations 0004 and 0005 run it on the schema of their revision, before the tables
    of later revisions exist (each later revision that adds a table runs it again)."""
    resident_tables = {t: who for t, who in RESIDENT_TABLES.items() if t in schema}
    more_stored = "".join(f"\n      OR EXISTS (SELECT 1 FROM {t} WHERE resident_id = rid AND {who} <> who)"
                          for t, who in resident_tables.items()
                          if t in ("measurements", "smd_register", "smd_followups", "smd_rehab", "literacy",
                                   "wearable_days", "risk_predictions"))
    # (the others are checked in Python only, as before)
    out = [f"""DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{group}') THEN
    CREATE ROLE {group} NOLOGIN;
  END IF;
END $$""" for group in GROUPS.values()]
    out.append(_FUNCTIONS.format(staff=_STAFF, clinicians=_CLINICIANS, more_stored=more_stored))
    out += ["REVOKE CREATE ON SCHEMA public FROM PUBLIC", f"GRANT USAGE ON SCHEMA public TO {_STAFF}"]
    out += _analyst_views(schema)
    for table in [t for t in _TABLES if t in schema]:
        out.append(f"REVOKE ALL ON {table} FROM PUBLIC, {_STAFF}")
    out.append(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {_STAFF}")
    # who is who: every staff role reads names and roles (the apps show display names)
    out.append(f"GRANT SELECT ({_USER_COLUMNS}) ON users TO {_STAFF}")
    out.append("GRANT SELECT, INSERT, UPDATE ON users TO workbench_admin")  # the whole row: its audit hash
    # the audit chain: everyone appends and reads what chaining needs; only admins read it all
    out.append(f"GRANT INSERT, SELECT (entry_id, prev_hash, entry_hash) ON audit_log TO {_STAFF}")
    out.append("GRANT SELECT ON audit_log TO workbench_admin")
    # admins: every row of every other table
    for table in ("communities", "residents", *resident_tables, "caseloads", "access_approvals"):
        out.append(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO workbench_admin")
    out.append(f"GRANT SELECT, INSERT ON communities TO {_CLINICIANS}, workbench_social_worker")
    out.append(f"GRANT SELECT, INSERT ON residents TO {_CLINICIANS}")
    out.append(f"GRANT SELECT ({_BASIC}), INSERT ON residents TO workbench_social_worker")
    for table in resident_tables:
        out.append(f"GRANT SELECT, INSERT ON {table} TO {_CLINICIANS}")
    out.append(f"GRANT SELECT ({_TIER_BASIC}) ON tier_assignments TO workbench_social_worker")
    out.append(f"GRANT SELECT, INSERT ON caseloads, access_approvals TO {_CLINICIANS}")

    # row-level security (FORCE: the owner too; the owner's and admins' policy lets them see all)
    def policy(table: str, name: str, text: str) -> None:
        out.append(f"DROP POLICY IF EXISTS {name} ON {table}")
        out.append(f"CREATE POLICY {name} ON {table} {text}")

    for table in ("residents", *resident_tables, "caseloads", "access_approvals"):
        out.append(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        out.append(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        policy(table, "owner_and_admin", "FOR ALL TO workbench_admin, CURRENT_USER USING (true) WITH CHECK (true)")
    # the audit chain: entries under one's own name only; the chain's hashes readable by all staff
    out.append("ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY")
    out.append("ALTER TABLE audit_log FORCE ROW LEVEL SECURITY")
    policy("audit_log", "owner_all", "FOR ALL TO CURRENT_USER USING (true) WITH CHECK (true)")
    policy("audit_log", "staff_read", f"FOR SELECT TO {_STAFF} USING (true)")
    policy("audit_log", "own_entries", f"FOR INSERT TO {_STAFF} WITH CHECK (user_name = current_user)")
    policy("residents", "staff_read", f"FOR SELECT TO {_CLINICIANS}, workbench_social_worker USING (true)")
    policy("residents", "staff_insert", f"FOR INSERT TO {_CLINICIANS}, workbench_social_worker "
                                        "WITH CHECK (created_by = current_user)")
    for table, who in resident_tables.items():
        policy(table, "clinician_read", f"FOR SELECT TO {_CLINICIANS} USING ({who} = current_user OR {_MAY_READ})")
        policy(table, "clinician_insert", f"FOR INSERT TO {_CLINICIANS} WITH CHECK ({who} = current_user)")
    if "smd_rehab" in resident_tables:
        # a step on the rehabilitation ladder is closed (left_on) when the next opens: by a
        # clinician who may read the patient's rows; nothing else of the row changes
        out.append(f"GRANT UPDATE (left_on) ON smd_rehab TO {_CLINICIANS}")
        # a patient leaves the register (left_on, left_reason filled once; doctors, by the API)
        out.append(f"GRANT UPDATE (left_on, left_reason) ON smd_register TO {_CLINICIANS}")
        policy("smd_register", "clinician_leave",
               f"FOR UPDATE TO {_CLINICIANS} USING (recorded_by = current_user OR {_MAY_READ}) WITH CHECK (true)")
        policy("smd_rehab", "clinician_close", f"FOR UPDATE TO {_CLINICIANS} "
                                               f"USING (recorded_by = current_user OR {_MAY_READ}) WITH CHECK (true)")
    if "hospital_seen_on" in schema.get("referrals", ()):
        # the hospital's appointment and seen dates of a fast-track referral, filled from the
        # hospital's reply by a clinician who may read the referral; nothing else of the row changes
        out.append(f"GRANT UPDATE (appointment_on, hospital_seen_on) ON referrals TO {_CLINICIANS}")
        policy("referrals", "clinician_hospital_dates",
               f"FOR UPDATE TO {_CLINICIANS} USING (created_by = current_user OR {_MAY_READ}) WITH CHECK (true)")
        # a survey sent and stored unanswered gets its answers when they come back
        out.append(f"GRANT UPDATE (satisfied, rating) ON surveys TO {_CLINICIANS}")
        policy("surveys", "clinician_answers",
               f"FOR UPDATE TO {_CLINICIANS} USING (recorded_by = current_user OR {_MAY_READ}) WITH CHECK (true)")
    if "wearable_days" in resident_tables:
        # a wristband day computed again replaces the stored one (an audited update), under the
        # clinician's own name, for a resident they may read; predictions are append-only
        out.append(f"GRANT UPDATE ON wearable_days TO {_CLINICIANS}")
        policy("wearable_days", "clinician_replace", f"FOR UPDATE TO {_CLINICIANS} "
                                                     f"USING (recorded_by = current_user OR {_MAY_READ}) "
                                                     "WITH CHECK (recorded_by = current_user)")
    policy("tier_assignments", "social_worker_read", "FOR SELECT TO workbench_social_worker USING (true)")
    policy("caseloads", "clinician_read", f"FOR SELECT TO {_CLINICIANS} "
                                          "USING (user_name = current_user OR assigned_by = current_user)")
    policy("caseloads", "clinician_insert",
           f"FOR INSERT TO {_CLINICIANS} WITH CHECK (assigned_by = current_user AND (user_name <> current_user "
           "OR NOT workbench_private.stored_by_others(resident_id, current_user)))")
    policy("access_approvals", "clinician_read", f"FOR SELECT TO {_CLINICIANS} "
                                                 "USING (user_name = current_user OR approved_by = current_user)")
    policy("access_approvals", "counsellor_approves",
           "FOR INSERT TO workbench_counsellor WITH CHECK (approved_by = current_user AND user_name <> current_user "
           "AND approved_at BETWEEN now() - interval '1 minute' AND clock_timestamp() + interval '1 minute' "
           "AND expires_at <= approved_at + interval '72 hours')")
    return out


def install(connection: Connection) -> None:
    """Create the group roles (if absent), the grants and the row-level security policies.

    Idempotent; a no-op on any database other than PostgreSQL. Run by the schema owner (it
    needs CREATEROLE, or the group roles made beforehand by a superuser).
    """
    if connection.dialect.name != "postgresql":
        return
    import sqlalchemy as sa

    inspector = sa.inspect(connection)
    schema = {t: {c["name"] for c in inspector.get_columns(t)} for t in inspector.get_table_names()}
    for statement in _statements(schema):
        connection.exec_driver_sql(statement)
    users = connection.exec_driver_sql("SELECT name, role, active FROM users ORDER BY name").all()
    for name, role, active in users:  # registry users made before this revision
        create_login(connection, name, role)
        set_active(connection, name, active)


def create_login(connection: Connection, name: str, role: str) -> None:
    """Make the registry user ``name`` a PostgreSQL login role in the group of ``role`` (creating
    it if absent), through ``workbench_private.create_login``: it runs as the schema owner, so an
    admin needs no CREATEROLE, and it refuses anyone not a registry user with that role. No
    password is set: staff connect as themselves by peer authentication. A no-op elsewhere.
    """
    if connection.dialect.name != "postgresql":
        return
    connection.exec_driver_sql("SELECT workbench_private.create_login(%(n)s, %(r)s)", {"n": name, "r": role})


def set_active(connection: Connection, name: str, active: bool) -> None:
    """Allow (``active``) or refuse the login role ``name`` its sign-in, as the registry user's
    ``users.active`` (already updated, in the same transaction) says, through
    ``workbench_private.set_active``: it runs as the schema owner, so an admin needs no
    CREATEROLE, and it refuses a role that is no registry user in that state, a superuser or the
    owner. A no-op elsewhere.
    """
    if connection.dialect.name != "postgresql":
        return
    connection.exec_driver_sql("SELECT workbench_private.set_active(%(n)s, %(a)s)", {"n": name, "a": bool(active)})
