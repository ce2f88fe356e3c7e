"""The registry's Python API: every write in one transaction, audited; every read checked by role.

Staff apps, notebooks and the command line all go through :class:`Registry`; nothing else
writes SQL against the registry.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from typing import Iterable, NamedTuple

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError

from workbench.params import Instance, NonEmptyStr, Options, Predicate, validate_params
from workbench.problems import ProblemsError
from workbench.registry import audit, migrate
from workbench.registry.access import AccessDenied, can_read_answers, require_role
from workbench.registry import pg_security
from workbench.registry.engine import make_engine
from workbench.registry.imports import CONDITIONS, ImportProblems, validate_residents
from workbench.registry.record_problems import RecordProblems
from workbench.registry.schema import (EVENT_KINDS, REFERRAL_SOURCES, ROLES, access_approvals, assessments, caseloads,
                                       communities, consents, contacts, enrolments, events, literacy, measurements,
                                       referrals, residents, risk_predictions, smd_followups, smd_register, smd_rehab,
                                       surveys, tier_assignments, users, wearable_days)

__all__ = ["FollowUpData", "ImportResult", "RecordProblems", "Registry", "SavedFollowUp", "SavedScreening",
           "SavedVisit"]

#: How long a second counsellor's approval to read a resident outside one's caseload lasts.
APPROVAL_HOURS = 72

BASIC_COLUMNS = ["resident_id", "name", "phone", "sex", "birth_date", "community"]


class FollowUpData(NamedTuple):
    """The tables of one user's follow-up list (:meth:`Registry.follow_up_data`); ``wearables``
    and ``risk``: each listed resident's latest wristband day and latest risk prediction (the
    ``wearable_days`` and ``risk_predictions`` columns; None when not read)."""

    residents: pd.DataFrame
    decisions: pd.DataFrame
    referrals: pd.DataFrame
    contacts: pd.DataFrame
    scores: pd.DataFrame
    wearables: pd.DataFrame | None = None
    risk: pd.DataFrame | None = None


class ImportResult(NamedTuple):
    """What an import did: rows written, rows already stored unchanged, and the refused rows'
    problems (``table`` = the source, ``row`` = its line, ``column``, ``value``, ``rule``)."""

    written: int
    unchanged: int
    problems: pd.DataFrame


class SavedScreening(NamedTuple):
    """What :meth:`Registry.save_screening` did: ``written`` (False when this submission was
    already saved: nothing new is written) and ``decision``, the stored decision row (the
    ``decisions`` analysis table's shape, with its ``decision_id``)."""

    written: bool
    decision: pd.DataFrame


class SavedVisit(NamedTuple):
    """What :meth:`Registry.save_visit` did: ``written`` (False when this submission was already
    saved: nothing new is written), ``measurement`` (the stored reading, one row in the
    ``measurements`` analysis table's shape, with its ``measurement_id``) and ``decision`` (the
    stored tier decision of the visit's screening, or None when no screening was given)."""

    written: bool
    measurement: pd.DataFrame
    decision: pd.DataFrame | None


class SavedFollowUp(NamedTuple):
    """What :meth:`Registry.save_smd_followup` did: ``written`` (False when this submission was
    already saved: nothing new is written) and ``followup`` (the stored follow-up, one row in the
    ``smd_followups`` analysis table's shape, with its ``followup_id``)."""

    written: bool
    followup: pd.DataFrame


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def _one_submission(answers) -> bool:
    if not isinstance(answers, pd.DataFrame) or len(answers) != 1 or "submission_id" not in answers.columns:
        return False
    submission = answers["submission_id"].iloc[0]
    return isinstance(submission, str) and bool(submission.strip())


class Registry:
    """The registry at ``url`` (SQLite file path or URL, or PostgreSQL URL; default
    ``WORKBENCH_DB`` or a file under the user's data folder)."""

    def __init__(self, url: str | None = None, *, engine: Engine | None = None):
        self.engine = engine or make_engine(url)
        self._checkpointed: tuple[int, str] | None = None  # the chain last checkpointed by this object

    def __repr__(self) -> str:
        return f"Registry({self.engine.url.render_as_string(hide_password=True)!r})"

    # --- schema and users ------------------------------------------------------------------

    def init(self, *, admin: str = "admin", login: str | None = None) -> None:
        """Create or upgrade the schema; make sure the ``admin`` user exists, signing in as
        ``login`` (the operating-system login of whoever sets the registry up) when given."""
        migrate.upgrade(self.engine)
        with self.engine.connect() as conn:
            created = audit.head(conn) == (0, audit.GENESIS)  # a new registry: its history starts here
        with self._write() as conn:
            # a registry written before every table was audited: its rows as they are now, sealed once
            audit.seal(conn, user=admin, at=_now())
            if conn.execute(sa.select(users.c.name).where(users.c.name == admin)).first() is None:
                if login is not None and conn.execute(sa.select(users.c.name).where(users.c.login == login)).first():
                    login = None  # that login already signs in as another user
                now = _now()
                conn.execute(users.insert().values(name=admin, role="admin", login=login, created_by=None,
                                                   created_at=now))
                pg_security.create_login(conn, admin, "admin")
                audit.append(conn, [{"action": "add_user", "target_table": "users", "target_key": admin,
                                     "content_hash": _stored_hash(conn, users, admin),
                                     "details": {"role": "admin", "login": login}}], user=admin, at=now)
        if created:  # checkpoints of an earlier registry at this place (deleted, rebuilt) do not apply
            with self.engine.connect() as conn:
                audit.checkpoint(audit.registry_id(self.engine.url), *audit.head(conn), kind="created")

    def upgrade(self) -> str:
        """Apply pending migrations, and seal the rows of a registry written before every table was
        audited (:func:`audit.seal`); returns the schema revision."""
        migrate.upgrade(self.engine)
        with self._write() as conn:
            audit.seal(conn, user="(upgrade)", at=_now())
        return migrate.current_revision(self.engine)

    @validate_params({"role": Options(*ROLES)})
    def add_user(self, name: str, role: str, *, by: str, display_name: str | None = None,
                 login: str | None = None) -> None:
        """Add a user with a role (admins only); ``login``: the operating-system or JupyterHub
        login they sign in as (unique)."""
        with self._write() as conn:
            require_role(conn, by, {"admin"}, "add users")
            if conn.execute(sa.select(users.c.name).where(users.c.name == name)).first():
                raise ValueError(f"A user named {name!r} already exists.")
            if login is not None and conn.execute(sa.select(users.c.name).where(users.c.login == login)).first():
                raise ValueError(f"The login {login!r} already belongs to another registry user.")
            now = _now()
            conn.execute(users.insert().values(name=name, role=role, display_name=display_name, login=login,
                                               created_by=by, created_at=now))
            pg_security.create_login(conn, name, role)  # PostgreSQL: their own login role, in their role's group
            audit.append(conn, [{"action": "add_user", "target_table": "users", "target_key": name,
                                 "content_hash": _stored_hash(conn, users, name),
                                 "details": {"role": role, "login": login}}], user=by, at=now)

    def assign_caseload(self, user: str, resident_ids: Iterable[str], *, by: str) -> None:
        """Put residents on a counsellor's or doctor's caseload.

        A caseload opens the residents' item-level answers, so it takes two people: an admin, or
        a second counsellor or doctor, assigns them; nobody assigns residents to themself.
        """
        with self._write() as conn:
            require_role(conn, by, {"admin", "counsellor", "doctor"}, "assign caseloads")
            if by == user:
                raise AccessDenied(f"{by!r} may not put residents on their own caseload: an admin or a second "
                                   "counsellor or doctor must assign them")
            require_role(conn, user, {"counsellor", "doctor"}, "hold a caseload")
            _add_to_caseload(conn, user, resident_ids, by=by, at=_now())

    @validate_params({"reason": NonEmptyStr()})
    def approve_access(self, user: str, resident_id: str, *, by: str, reason: str) -> None:
        """A second counsellor approves ``user``'s access to a resident outside their caseload."""
        with self._write() as conn:
            require_role(conn, by, {"counsellor"}, "approve access outside a caseload")
            if by == user:
                raise AccessDenied("access outside a caseload needs a second person's approval, not one's own")
            now = _now()
            row = {"user_name": user, "resident_id": resident_id, "reason": reason.strip(), "approved_by": by,
                   "approved_at": now, "expires_at": now + dt.timedelta(hours=APPROVAL_HOURS)}
            conn.execute(access_approvals.insert().values(**row))
            audit.append(conn, [{**e, "action": "approve_access", "details": {"reason": reason.strip()}}
                                for e in audit.entries_for("access_approvals", [row])], user=by, at=now)

    @validate_params({"active": Instance(bool, name="True or False")})
    def set_user_active(self, name: str, active: bool, *, by: str) -> bool:
        """Deactivate (``active=False``) or reactivate a user (admins only).

        An inactive user can do nothing: every role check refuses them, the command line and the
        apps refuse to sign them in, and on PostgreSQL their login role may no longer connect
        (NOLOGIN). What they did stays, under their name. An admin does not deactivate themself:
        another admin does, so the registry always keeps an active admin.

        Returns
        -------
        bool
            False when the user already was so (nothing is written), else True (the ``users`` row
            updated and one audit entry, in one transaction).
        """
        with self._write() as conn:
            require_role(conn, by, {"admin"}, "activate or deactivate users")
            row = _user_row(conn, name)
            if bool(row["active"]) == active:
                return False
            if not active and name == by:
                others = conn.execute(sa.select(sa.func.count()).select_from(users).where(
                    users.c.role == "admin", users.c.active == sa.true(), users.c.name != by)).scalar()
                last = "" if others else f", and {by!r} is the last active admin: add another admin first"
                raise AccessDenied(f"{by!r} may not deactivate themself: another admin must{last}")
            conn.execute(users.update().where(users.c.name == name).values(active=active))
            pg_security.set_active(conn, name, active)  # PostgreSQL: their login role LOGIN / NOLOGIN
            _log_user_change(conn, name, by, {"active": {"from": bool(row["active"]), "to": active}})
        return True

    @validate_params({"login": NonEmptyStr()})
    def set_user_login(self, name: str, login: str, *, by: str) -> bool:
        """Change the operating-system or JupyterHub login a user signs in as (admins only).

        A login that signs in as another user is refused, naming them: another user's ``login``,
        or the name of a user who has no other login (:meth:`user_for_login`).

        Returns
        -------
        bool
            False when it already was their login (nothing is written), else True (the ``users``
            row updated and one audit entry, in one transaction).
        """
        login = login.strip()
        with self._write() as conn:
            require_role(conn, by, {"admin"}, "change users' logins")
            row = _user_row(conn, name)
            if row["login"] == login:
                return False
            holder = conn.execute(sa.select(users.c.name).where(users.c.login == login)).scalar()
            if holder is not None:
                raise ValueError(f"The login {login!r} already belongs to registry user {holder!r}.")
            holder = conn.execute(sa.select(users.c.name).where(users.c.name == login, users.c.login.is_(None),
                                                                users.c.name != name)).scalar()
            if holder is not None:
                raise ValueError(f"The login {login!r} is how registry user {holder!r} signs in (their name, with no "
                                 f"other login): give {holder!r} another login first.")
            conn.execute(users.update().where(users.c.name == name).values(login=login))
            _log_user_change(conn, name, by, {"login": {"from": row["login"], "to": login}})
        return True

    # --- writes ----------------------------------------------------------------------------

    def _write(self):
        """A write transaction (SQLite: BEGIN IMMEDIATE, retried while another writer holds the lock)."""
        registry = self

        class _Txn:
            def __enter__(self):
                for attempt in range(8):
                    try:
                        self._ctx = registry.engine.begin()
                        self._conn = self._ctx.__enter__()
                        return self._conn
                    except OperationalError as exc:  # database is locked beyond the busy timeout
                        if "locked" not in str(exc) or attempt == 7:
                            raise
                        time.sleep(0.2 * (attempt + 1))

            def __exit__(self, *exc):
                chain = None
                if exc[0] is None:
                    chain = audit.head(self._conn)  # inside the transaction: what this commit leaves
                result = self._ctx.__exit__(*exc)
                if chain is not None and chain != registry._checkpointed:
                    # committed: a signed checkpoint of the chain's length and head, outside the database
                    audit.checkpoint(audit.registry_id(registry.engine.url), *chain)
                    registry._checkpointed = chain
                return result

        return _Txn()

    def import_residents(self, frame: pd.DataFrame, *, by: str, skip_invalid: bool = False,
                         source: str = "data", codes: dict | None = None) -> ImportResult:
        """Validate, then write residents in one transaction (see ``workbench import residents``).
        ``codes``: declared code maps, e.g. ``{"sex": "gb2261"}`` (:func:`imports.apply_codes`)."""
        typed, problems = validate_residents(frame, codes=codes)
        with self._write() as conn:
            require_role(conn, by, {"admin", "counsellor", "doctor", "social_worker"}, "import residents")
            audit._lock(conn)
            stored = dict(_lookup(conn, residents.c.resident_id, residents.c.content_hash,
                                  values=typed["resident_id"].tolist()))
            now, rows, conflicts = _now(), [], []
            for label, rec in zip(typed.index, typed.to_dict("records")):
                row = {**rec, "created_by": by}
                row["content_hash"] = audit.row_hash("residents", row)
                if rec["resident_id"] in stored:
                    if stored[rec["resident_id"]] != row["content_hash"]:
                        conflicts.append((int(label) + 2, "resident_id", rec["resident_id"],
                                          "is already in the registry with different details; "
                                          "correct it in the registry, not by re-import"))
                    continue
                rows.append({**row, "created_at": now})
            problems = _combine(problems, conflicts)
            if len(problems) and not skip_invalid:
                raise ImportProblems(source, problems)
            kinds = {}
            if "community_type" in frame.columns:
                for rec in frame.loc[typed.index, ["community", "community_type"]].dropna().to_dict("records"):
                    kinds.setdefault(str(rec["community"]).strip(), str(rec["community_type"]).strip())
            _add_communities(conn, [r["community"] for r in rows], kinds, by=by, at=now)
            _insert_imported(conn, residents, rows, by=by, at=now, source=source)
        return ImportResult(len(rows), len(typed) - len(rows) - len(conflicts), ImportProblems(source, problems).problems)

    def import_tables(self, tables, *, by: str, source: str = "tables"):
        """Write whole analysis tables (:class:`workbench.tables.Tables`, e.g. read with
        :func:`workbench.tables.read`) in one transaction: admins only. Answers are scored again
        here and must match the scores given; rows already stored unchanged are skipped; anything
        that differs from what is stored is refused. See :mod:`workbench.registry.bulk`.
        Returns the rows written and left unchanged per table."""
        from workbench.registry.bulk import import_tables

        with self._write() as conn:
            require_role(conn, by, {"admin"}, "import whole analysis tables")
            return import_tables(conn, tables, by=by, at=_now(), source=source)

    def import_assessments(self, frame: pd.DataFrame, *, by: str, skip_invalid: bool = False,
                           source: str = "data", policy="default") -> ImportResult:
        """Check, score and write questionnaires in one transaction; re-imports write nothing.

        Each new screening session gets its tier decision from ``policy``, the suggested tier
        recorded as decided by ``by`` (change it in the screening app, with a reason). Reviews
        and study visits (``purpose`` column) are stored and scored, not decided on.
        """
        from workbench.registry import saving

        prepared = saving.prepare(frame)
        with self._write() as conn:
            require_role(conn, by, {"admin", "counsellor", "doctor"}, "import assessments")
            audit._lock(conn)
            result = saving.store(conn, prepared, by=by, at=_now(), source=source, policy=policy,
                                  skip_invalid=skip_invalid)
            problems = _problem_lines(result.problems)
            if len(problems) and not skip_invalid:
                raise ImportProblems(source, problems)
        return ImportResult(result.assessments, result.unchanged, ImportProblems(source, problems).problems)

    def preview_screening(self, answers: pd.DataFrame, resident: dict, *, policy="default") -> pd.DataFrame:
        """What :meth:`save_screening` would store for ``answers``, without storing anything: the
        scores of each questionnaire and the suggested decision (one row: ``{instrument}_score``,
        ``_band``, ``_n_answered``, ``_prorated``, flags, then the decision's columns). For the
        screening app's live card. ``resident``: the resident's record (its chronic conditions)."""
        return preview_screening(answers, resident, policy=policy)

    @validate_params({"answers": Predicate(_one_submission, "one screening: a frame of one row with a non-empty "
                                                            "'submission_id'")})
    def save_screening(self, answers: pd.DataFrame, *, by: str, tier: int | None = None, reason: str | None = None,
                       add_to_caseload: bool = False, policy="default") -> SavedScreening:
        """Store one screening session in one transaction: its questionnaires (item-level
        answers, scored once by the declared rules) and the tier decision on it.

        Parameters
        ----------
        answers : DataFrame
            One row: ``resident_id``, ``assessed_on``, ``submission_id`` (required: it identifies
            this session), optionally ``language`` and ``mode``, and the item columns of every
            questionnaire given (a questionnaire with no answer at all was not given).
        by : str
            The user saving (a counsellor, doctor or admin); they decide the tier.
        tier, reason : int and str, optional
            The tier decided when it differs from the policy's suggestion, and why (required then).
            None: the suggestion is confirmed.
        add_to_caseload : bool
            Also put the resident on ``by``'s follow-up caseload: allowed only when nothing about
            the resident is stored yet by anyone else (``by`` registered them and this screening
            is their first record), so ``by`` opens only what they entered themself; otherwise
            :class:`AccessDenied` before anything is written (a second person assigns them with
            :meth:`assign_caseload`).
        policy : str, path or Policy
            The stepped-care policy in force.

        Returns
        -------
        SavedScreening
            ``written`` (False when this ``submission_id`` was already saved: a double-clicked
            Save saves once) and the stored ``decision`` row.

        Raises
        ------
        ImportProblems
            Any bad answer or date, an unknown resident, a bad tier or a missing reason, or a
            questionnaire already stored for this resident and date; nothing is written.
        AccessDenied
            ``by`` may not save screenings, or may not add this resident to their own caseload
            (see ``add_to_caseload``); nothing is written.
        """
        submission = answers["submission_id"].iloc[0].strip()
        prepared, overrides = _prepare_screening(answers, tier, reason)
        with self._write() as conn:
            require_role(conn, by, {"admin", "counsellor", "doctor"}, "save screenings")
            audit._lock(conn)
            done = _saved_screening(conn, submission)
            if done is not None:
                return SavedScreening(False, self._stored_decision(conn, done.resident_id, done.assessed_on))
            if add_to_caseload:
                _only_own_records(conn, str(answers["resident_id"].iloc[0]).strip(), by)
            now = _now()
            decisions = _store_screening(conn, prepared, overrides, by=by, at=now, submission=submission, tier=tier,
                                         policy=policy)
            if add_to_caseload:
                _add_to_caseload(conn, by, [str(answers["resident_id"].iloc[0]).strip()], by=by, at=now)
        return SavedScreening(True, decisions)

    def save_visit(self, visit, answers: pd.DataFrame | None = None, *, by: str, tier: int | None = None,
                   reason: str | None = None, policy="default") -> SavedVisit:
        """Store one family doctor's visit in one transaction: its reading (blood pressure, glucose,
        weight, adherence ...) and, when given, the screening taken at it with its tier decision.

        Parameters
        ----------
        visit : DataFrame of one row, or dict
            ``resident_id``, ``measured_on``, ``submission_id`` (required: it identifies this visit;
            a double-clicked Save saves once), optionally ``setting`` (clinic, home; default
            clinic), then measure and answer columns as ``workbench import measurements`` takes
            them (other units converted, e.g. ``fasting_glucose_mg_dl``; blank: not measured).
        answers : DataFrame of one row, optional
            The screening as :meth:`save_screening` takes it (e.g. PHQ-2 + GAD-2, or PHQ-9 +
            GAD-7), with the same ``submission_id`` and ``resident_id``, taken on the visit's day.
        by : str
            The user saving (admin, doctor or counsellor); they measured the reading
            (``measured_by``) and decide the tier.
        tier, reason, policy
            As :meth:`save_screening`.

        Returns
        -------
        SavedVisit
            ``written`` (False when this ``submission_id`` was already saved: nothing new is
            written, the stored rows are returned), the stored ``measurement`` row and the
            screening's ``decision`` (None without ``answers``).

        Raises
        ------
        ImportProblems
            Any implausible value (row, column, value, rule), an unknown resident, a reading already
            stored for this resident, date and setting, a bad screening answer, tier or reason; the
            reading and the screening are written together or not at all.
        AccessDenied
            ``by`` may not save visits; nothing is written.
        """
        from workbench.params import check
        from workbench.registry import measuring

        form = check("save_visit", "visit", visit, Predicate(_one_visit, "one visit: a frame of one row (or a dict) "
                                                                         "with a non-empty 'submission_id'"))
        form = pd.DataFrame([form]) if isinstance(form, dict) else form.reset_index(drop=True)
        submission = str(form["submission_id"].iloc[0]).strip()
        if answers is not None:
            check("save_visit", "answers", answers, Predicate(
                lambda a: _one_submission(a) and str(a["submission_id"].iloc[0]).strip() == submission,
                f"None, or one screening: a frame of one row with the visit's 'submission_id' ({submission!r})"))
        if "setting" in form.columns and str(form["setting"].iloc[0]).strip().lower() == "device":
            raise ImportProblems("visit", _problem_lines([(None, "setting", "device", "a visit is at the clinic or a "
                                                                                        "home visit, not a device")]))
        prepared = measuring.prepare_file(form.drop(columns=["measured_by"], errors="ignore"), line_of=lambda _: None)
        problems = list(prepared.problems)
        if answers is not None and not problems:
            same = (str(answers["resident_id"].iloc[0]).strip() == prepared.readings["resident_id"].iloc[0]
                    and str(answers["assessed_on"].iloc[0]).strip()[:10]
                    == str(prepared.readings["measured_on"].iloc[0].date()))
            if not same:
                problems.append((None, "assessed_on", str(answers["assessed_on"].iloc[0]),
                                 "the screening must be of the visit's resident and day"))
        if problems:
            raise ImportProblems("visit", _problem_lines(problems))
        screening = _prepare_screening(answers, tier, reason) if answers is not None else None
        with self._write() as conn:
            require_role(conn, by, {"admin", "counsellor", "doctor"}, "save visits")
            audit._lock(conn)
            done = conn.execute(sa.select(measurements.c.measurement_id, measurements.c.resident_id)
                                .where(measurements.c.submission_id == submission)).first()
            if done is not None:
                saved = _saved_screening(conn, submission)
                return SavedVisit(False, self._stored_measurement(conn, done.resident_id, done.measurement_id),
                                  None if saved is None else self._stored_decision(conn, saved.resident_id,
                                                                                   saved.assessed_on))
            now = _now()
            stored = measuring.store(conn, prepared, by=by, at=now, source=f"visit {submission}", new_only=True,
                                     with_ids=True)
            if stored.problems:
                raise ImportProblems("visit", _problem_lines(stored.problems))
            decisions = None
            if screening is not None:  # in the same transaction: a refused screening leaves no reading
                decisions = _store_screening(conn, *screening, by=by, at=now, submission=submission, tier=tier,
                                             policy=policy)
            row = stored.rows[0]
            measurement = self._stored_measurement(conn, row["resident_id"], row["measurement_id"])
        return SavedVisit(True, measurement, decisions)

    def import_measurements(self, frame: pd.DataFrame, *, by: str, skip_invalid: bool = False, source: str = "data",
                            codes: dict | None = None) -> ImportResult:
        """Check, convert and write readings in one transaction (``workbench import measurements``);
        re-imports write nothing.

        ``frame``: one row per reading or visit (:func:`workbench.measurements.prepare`):
        ``resident_id``, ``measured_on``, optionally ``setting`` (default clinic) and
        ``measured_by`` (a registry user; blank: ``by``, or nobody for a resident's device), then
        any measures (other units converted: ``fasting_glucose_mg_dl``, ``hba1c_mmol_mol`` ...)
        and answers. ``codes``: declared code maps, e.g. ``{"adherence": "form"}`` (1 regular,
        2 intermittent, 3 none, as the national follow-up forms code it), ``{"smoking": "zh"}``.

        Every problem is named (line, column, value, rule) and nothing is written, unless
        ``skip_invalid``: a refused value (implausible, a DBP above the SBP, a glucose in mg/dL
        under the mmol/L column, two units disagreeing), an unknown resident or measurer, a row
        repeating another's resident, date and setting, or a reading stored before with other
        values (nothing is overwritten). A reading stored before with the same values is left as
        it is (``unchanged``). Admins, doctors and counsellors.
        """
        from workbench.registry import measuring

        prepared = measuring.prepare_file(frame, codes=codes)
        with self._write() as conn:
            require_role(conn, by, {"admin", "counsellor", "doctor"}, "import measurements")
            audit._lock(conn)
            result = measuring.store(conn, prepared, by=by, at=_now(), source=source, skip_invalid=skip_invalid)
            problems = _problem_lines(result.problems)
            if len(problems) and not skip_invalid:
                raise ImportProblems(source, problems)
        return ImportResult(len(result.rows), result.unchanged, ImportProblems(source, problems).problems)

    # --- severe mental disorders (workbench.registry.smd_store) ---------------------------------

    def import_smd_register(self, frame: pd.DataFrame, *, by: str, source: str = "data") -> ImportResult:
        """Check and write an SMD register file in one transaction (``workbench import
        smd-register``): all or nothing, every problem named (line, column, value, rule);
        registrations stored before with the same details are left as they are (``unchanged``),
        with other details refused (nothing is overwritten). Admins and doctors.

        Columns: :data:`workbench.registry.smd_store.REGISTER_COLUMNS` (resident_id, diagnosis,
        registered_on required; ``recorded_by`` blank: ``by``).
        """
        from workbench.registry import smd_store

        prepared = smd_store.prepare_register(frame)
        with self._write() as conn:
            role = require_role(conn, by, {"admin", "doctor"}, "register patients with a severe mental disorder")
            _only_permitted(conn, by, role, [r["resident_id"] for r in prepared.rows])
            audit._lock(conn)
            result = smd_store.store_register(conn, prepared, by=by, at=_now(), source=source)
            if result.problems:
                raise ImportProblems(source, _problem_lines(result.problems))
        return ImportResult(len(result.rows), result.unchanged, ImportProblems(source, _problem_lines([])).problems)

    def import_smd_followups(self, frame: pd.DataFrame, *, by: str, source: str = "data",
                             policy="default") -> ImportResult:
        """Check, classify and write SMD follow-ups in one transaction (``workbench import
        smd-followups``): all or nothing, every problem named (line, column, value, rule).

        Each follow-up is classified with :func:`workbench.smd.classify` under ``policy``
        (``suggested_outcome``, ``rule``, ``policy_version`` stored); the file's ``outcome`` is what
        staff decided (blank stays blank: not judged), ``next_due`` (blank: the earlier of the
        suggestion's and the outcome's). A patient not on the SMD register, a follow-up before
        their registration, a risk grade that is not a whole number from 0 to 5 (blank: not
        assessed, never 0) are refused; a follow-up stored before for the patient and day with
        the same answers is left as it is, with others refused. Admins, doctors and counsellors.
        """
        from workbench.registry import smd_store

        prepared = smd_store.prepare_followups(frame, policy=policy)
        with self._write() as conn:
            role = require_role(conn, by, {"admin", "counsellor", "doctor"}, "import SMD follow-ups")
            _only_permitted(conn, by, role, [r["resident_id"] for r in prepared.rows])
            audit._lock(conn)
            result = smd_store.store_followups(conn, prepared, by=by, at=_now(), source=source)
            if result.problems:
                raise ImportProblems(source, _problem_lines(result.problems))
        return ImportResult(len(result.rows), result.unchanged, ImportProblems(source, _problem_lines([])).problems)

    # --- the quality indicators' data (workbench.registry.quality_store) ------------------------

    def _import_quality(self, frame: pd.DataFrame, kind: str, *, by: str, source: str) -> ImportResult:
        """Check ``frame`` as a ``kind`` file and store it in one transaction, all or nothing
        (:mod:`workbench.registry.quality_store`); admins, doctors and counsellors, a clinician
        only about residents they may read (checked before anything about them is looked up)."""
        from workbench.registry import quality_store

        prepared = quality_store.prepare(frame, kind)
        store = {"discharges": quality_store.store_discharges, "literacy": quality_store.store_literacy,
                 "surveys": quality_store.store_surveys}
        with self._write() as conn:
            role = require_role(conn, by, {"admin", "counsellor", "doctor"}, f"import {kind}")
            audit._lock(conn)
            if kind == "hospital-appointments":
                stored = {r["referral_id"]: r for r in quality_store._rows_of(
                    conn, referrals, "referral_id", [r["referral_id"] for r in prepared.rows])}
                if role != "admin":
                    permitted = set(can_read_answers(conn, by, role, None))
                    refused = sorted({r["referral_id"] for r in prepared.rows if r["referral_id"] is not None
                                      and (r["referral_id"] not in stored
                                           or stored[r["referral_id"]]["resident_id"] not in permitted)})
                    if refused:  # an unknown referral and another's are refused alike: nothing is told
                        raise AccessDenied(f"{by!r} may not record hospital dates of referral(s) {refused[:10]}"
                                           f"{' ...' if len(refused) > 10 else ''}: not referrals of residents on "
                                           "their caseload (or approved for them); nothing was written")
                result = quality_store.store_appointments(conn, prepared, by=by, at=_now(), source=source,
                                                          stored=stored)
            else:
                _only_permitted(conn, by, role, [r["resident_id"] for r in prepared.rows],
                                what={"discharges": "psychiatric discharges", "literacy": "literacy answers",
                                      "surveys": "surveys"}[kind])
                result = store[kind](conn, prepared, by=by, at=_now(), source=source)
            if result.problems:
                raise ImportProblems(source, _problem_lines(result.problems))
        return ImportResult(len(result.rows), result.unchanged, ImportProblems(source, _problem_lines([])).problems)

    def import_hospital_appointments(self, frame: pd.DataFrame, *, by: str, source: str = "data") -> ImportResult:
        """Fill the hospital's dates of stored referrals from the hospital's reply (``workbench import
        hospital-appointments``): columns ``referral_id``, ``appointment_on`` (the appointment booked),
        ``hospital_seen_on`` (the day the hospital saw the resident); a blank cell leaves the stored
        date as it is. All or nothing, every problem named (line, column, value, rule): an unknown
        referral, a date before the referral, a seen date after today, a seen date other than the
        one stored, a new appointment after the resident was seen, a referral twice in the file.
        The same dates again are ``unchanged``; each referral filled is an audited update.
        Admins, doctors and counsellors (a clinician: referrals of residents they may read; an
        unknown referral is refused alike, :class:`AccessDenied`)."""
        return self._import_quality(frame, "hospital-appointments", by=by, source=source)

    def import_discharges(self, frame: pd.DataFrame, *, by: str, source: str = "data") -> ImportResult:
        """Store discharges from psychiatric wards (``workbench import discharges``) as ``events`` of
        kind ``psychiatric_discharge``: columns ``resident_id``, ``discharged_on`` (the event's day),
        ``days`` (the stay, optional; blank: not known, never 0), ``source`` (optional). One per
        resident and day: the same again is ``unchanged``, another stay or source for it refused.
        All or nothing, every problem named; admins, doctors and counsellors (a clinician: residents
        they may read, checked before anything about them is looked up)."""
        return self._import_quality(frame, "discharges", by=by, source=source)

    def import_literacy(self, frame: pd.DataFrame, *, by: str, source: str = "data") -> ImportResult:
        """Store mental-health literacy answers (``workbench import literacy``): columns
        ``resident_id``, ``asked_on``, ``questionnaire``, ``n_asked`` (1-127), ``n_correct`` (0 to
        ``n_asked``; blank: not recorded, never 0), optionally ``recorded_by`` (a registry user;
        blank: ``by``). One per resident, day and questionnaire: the same again is ``unchanged``,
        other counts refused. All or nothing, every problem named; admins, doctors and counsellors
        (a clinician: residents they may read)."""
        return self._import_quality(frame, "literacy", by=by, source=source)

    def import_surveys(self, frame: pd.DataFrame, *, by: str, source: str = "data") -> ImportResult:
        """Store satisfaction surveys (``workbench import surveys``): columns ``resident_id``,
        ``surveyed_on``, optionally ``referral_id`` (the resident's own, begun by that day),
        ``satisfied`` (True/False, 是/否), ``rating`` (1-5) and ``survey_id`` (blank: one made from
        the resident, day and referral, :func:`workbench.registry.quality_store.survey_id`). Both
        answers blank: a survey sent and not answered (never 0). A survey stored unanswered gets
        the answers of a later file (an audited update); the same again is ``unchanged``; other
        differences are refused. All or nothing, every problem named; admins, doctors and
        counsellors (a clinician: residents they may read)."""
        return self._import_quality(frame, "surveys", by=by, source=source)

    def register_smd(self, row, *, by: str) -> pd.DataFrame:
        """Put one resident on the SMD register (admins and doctors); returns the stored row (the
        ``smd_register`` analysis table's shape). ``row``: a dict or a one-row frame with the
        columns of :meth:`import_smd_register`. The same registration again writes nothing;
        other details for a registered patient are refused (:class:`ImportProblems`)."""
        from workbench.params import check
        from workbench.registry import smd_store

        form = check("register_smd", "row", row, Predicate(_one_row, "one registration: a dict or a frame of one row"))
        form = pd.DataFrame([form]) if isinstance(form, dict) else form
        prepared = smd_store.prepare_register(form, line_of=lambda _: None)
        if prepared.problems:
            raise ImportProblems("registration", _problem_lines(prepared.problems))
        with self._write() as conn:
            role = require_role(conn, by, {"admin", "doctor"}, "register patients with a severe mental disorder")
            _only_permitted(conn, by, role, [r["resident_id"] for r in prepared.rows])
            audit._lock(conn)
            result = smd_store.store_register(conn, prepared, by=by, at=_now(), source="registration")
            if result.problems:
                raise ImportProblems("registration", _problem_lines(result.problems))
            return self._stored_smd(conn, "smd_register", prepared.rows[0]["resident_id"])

    def save_smd_followup(self, row, *, by: str, outcome: str | None = None, reason: str | None = None,
                          policy="default") -> SavedFollowUp:
        """Store one SMD follow-up form in one transaction, classified once.

        Parameters
        ----------
        row : dict or DataFrame of one row
            ``submission_id`` (required: it identifies this form; a double-clicked Save saves
            once), ``resident_id``, ``followed_on``, ``mode`` (face_to_face, phone), ``risk_grade``
            (0-5; blank: not assessed), the answers (symptoms, insight, social_function,
            adverse_reaction, physical_illness), ``on_medication``, ``medication_regularity``,
            optionally ``referred``. An ``outcome`` column is not read: pass ``outcome``.
        by : str
            The user saving (admin, doctor or counsellor); on PostgreSQL the database lets a
            clinician write only under their own name and read only their caseload's rows.
        outcome : str, optional
            The stability staff decided (stable, basically_stable, unstable) when it differs from
            the suggestion; None: the suggestion is confirmed (blank when the policy suggests none,
            e.g. no risk grade).
        reason : str, optional
            Why ``outcome`` differs from the suggestion: required then, stored
            (``smd_followups.outcome_reason``, free text kept in the registry).
        policy : str, path or SmdPolicy
            The SMD policy (:func:`workbench.smd.load_smd_policy`).

        Returns
        -------
        SavedFollowUp
            ``written`` (False when this ``submission_id`` was saved before: nothing new is
            written) and ``followup``: the stored row in the ``smd_followups`` analysis table's
            shape (``suggested_outcome``, ``rule``, ``policy_version``: the suggestion; ``outcome``
            and ``next_due``: as decided, the next due date the earlier of the suggestion's and
            the outcome's).

        Raises
        ------
        ImportProblems
            Any bad cell (row None, column, value, rule), a patient not on the SMD register or not
            registered that day, a follow-up already stored for the patient and day, an outcome that
            differs from the suggestion without a reason; nothing is written.
        AccessDenied
            ``by`` may not save follow-ups; nothing is written.
        """
        from workbench.params import check
        from workbench.registry import smd_store

        form = check("save_smd_followup", "row", row, Predicate(_one_visit, "one follow-up: a frame of one row (or a "
                                                                            "dict) with a non-empty 'submission_id'"))
        check("save_smd_followup", "outcome", outcome, Predicate(lambda v: v is None or v in smd_store.smd.STABILITIES,
                                                                 "None or one of stable, basically_stable, unstable"))
        check("save_smd_followup", "reason", reason, Predicate(lambda v: v is None or isinstance(v, str),
                                                               "None or text"))
        form = pd.DataFrame([form]) if isinstance(form, dict) else form.reset_index(drop=True)
        form = form.drop(columns=[c for c in ("outcome", "outcome_reason", "next_due") if c in form.columns])
        submission = str(form["submission_id"].iloc[0]).strip()
        prepared = smd_store.prepare_followups(form, policy=policy, line_of=lambda _: None)
        problems = list(prepared.problems)
        if not problems:
            saved = prepared.rows[0]
            suggested = saved["suggested_outcome"]
            decided = suggested if outcome is None else outcome
            why = reason.strip() if isinstance(reason, str) and reason.strip() else None
            if decided != suggested and why is None:
                problems.append((None, "reason", reason, f"is required: the outcome {decided!r} differs from the "
                                                         f"suggestion {suggested!r} (rule {saved['rule']})"))
            pol = smd_store.smd.load_smd_policy(policy)
            due = [d for d in (saved["next_due"], smd_store._outcome_due(pol, saved["followed_on"], decided))
                   if d is not None]
            saved.update(outcome=decided, outcome_reason=why, next_due=min(due) if due else None,
                         submission_id=submission)
        if problems:
            raise ImportProblems("follow-up", _problem_lines(problems))
        with self._write() as conn:
            role = require_role(conn, by, {"admin", "counsellor", "doctor"}, "save SMD follow-ups")
            _only_permitted(conn, by, role, [r["resident_id"] for r in prepared.rows])
            audit._lock(conn)
            done = conn.execute(sa.select(smd_followups.c.resident_id, smd_followups.c.followup_id)
                                .where(smd_followups.c.submission_id == submission)).first()
            if done is not None:
                return SavedFollowUp(False, self._stored_smd(conn, "smd_followups", done.resident_id,
                                                             done.followup_id))
            stored = smd_store.store_followups(conn, prepared, by=by, at=_now(), source=f"follow-up {submission}",
                                               new_only=True)
            if stored.problems:
                raise ImportProblems("follow-up", _problem_lines(stored.problems))
            row = stored.rows[0]
            return SavedFollowUp(True, self._stored_smd(conn, "smd_followups", row["resident_id"], row["followup_id"]))

    def set_rehab_level(self, resident_id: str, level: int, *, on, by: str) -> pd.DataFrame:
        """Move a registered patient to ``level`` (1-5) of the community rehabilitation ladder from
        the day ``on``: the open step is closed (``left_on`` = ``on``) and the new one opened in one
        transaction, audited (admins, doctors, counsellors). The same level again writes nothing.
        Returns the patient's steps (the ``smd_rehab`` analysis table's shape). :class:`ImportProblems`
        when the patient is not registered on ``on`` or ``on`` is before a recorded step."""
        from workbench.params import Date, check
        from workbench.registry import smd_store

        check("set_rehab_level", "resident_id", resident_id, NonEmptyStr())
        check("set_rehab_level", "level", level, Predicate(lambda v: isinstance(v, (int, np.integer))
                                                           and not isinstance(v, bool) and 1 <= v <= 5,
                                                           "a whole level from 1 to 5"))
        check("set_rehab_level", "on", on, Date())
        day = pd.Timestamp(on).date()
        with self._write() as conn:
            role = require_role(conn, by, {"admin", "counsellor", "doctor"}, "record rehabilitation steps")
            _only_permitted(conn, by, role, [resident_id.strip()])
            audit._lock(conn)
            problems = smd_store.set_level(conn, resident_id.strip(), int(level), day, by=by, at=_now())
            if problems:
                raise ImportProblems("rehabilitation step", _problem_lines(problems))
            return self._stored_smd(conn, "smd_rehab", resident_id.strip())

    def _stored_smd(self, conn: Connection, table: str, resident_id: str, row_id=None) -> pd.DataFrame:
        from workbench.registry.analysis import read_frames, typed_tables

        stored = typed_tables(read_frames(conn, allowed=[resident_id]), attrs={})[table]
        if row_id is not None:
            stored = stored[stored[stored.columns[0]] == str(row_id)]
        return stored.reset_index(drop=True)

    def _stored_measurement(self, conn: Connection, resident_id: str, measurement_id) -> pd.DataFrame:
        from workbench.registry.analysis import read_frames, typed_tables

        stored = typed_tables(read_frames(conn, allowed=[resident_id]), attrs={}).measurements
        return stored[stored["measurement_id"] == str(measurement_id)].reset_index(drop=True)

    def _stored_decision(self, conn: Connection, resident_id: str, assessed_on) -> pd.DataFrame:
        from workbench.registry.analysis import read_frames, typed_tables

        decisions = typed_tables(read_frames(conn, allowed=[resident_id]), attrs={}).decisions
        mine = decisions[decisions["assessed_on"] == pd.Timestamp(assessed_on)]
        return mine.sort_values("decided_at").tail(1).reset_index(drop=True)

    @validate_params({"table": Options(of=lambda: sorted(_RECORDABLE))})
    def record(self, table: str, frame: pd.DataFrame, *, by: str) -> int:
        """Store rows of ``referrals``, ``contacts``, ``events``, ``enrolments``, ``consents``, ``surveys`` or
        ``literacy``.

        Columns are those of the table (see ``workbench/registry/schema.py``); who recorded the
        rows and when is filled in. Every cell is checked first and every problem reported at
        once (:class:`RecordProblems`); then all rows are written in one transaction, audited.
        """
        target, roles, who = _RECORDABLE[table]
        rows = _typed_rows(target, frame, who, by)
        with self._write() as conn:
            require_role(conn, by, roles, f"record {table}")
            now = _now()
            if rows:
                rows = [{**r, f"{who}_at": now} for r in rows]
                conn.execute(target.insert(), rows)
                audit.append(conn, [{**e, "details": {c: v for c, v in r.items() if c in ("kind", "status", "study", "arm",
                                                                                          "purpose", "given", "tier")}}
                                    for r, e in zip(rows, audit.entries_for(table, rows))], user=by, at=now)
        return len(rows)

    # --- a wristband's days and the risk model's predictions (workbench.registry.early_warning_store)

    def _save_early_warning(self, kind: str, frame: pd.DataFrame, as_user: str):
        from workbench.registry import early_warning_store as ews

        ids = frame["resident_id"].dropna().astype(str).str.strip().tolist() if (
            isinstance(frame, pd.DataFrame) and "resident_id" in frame.columns) else []
        with self._write() as conn:
            role = require_role(conn, as_user, {"admin", "counsellor", "doctor"}, f"save {kind}")
            if role != "admin":
                _only_permitted(conn, as_user, role, ids, what={"wearable_days": "wristband days",
                                                                "risk_predictions": "risk predictions"}[kind])
            save = ews.save_wearable_days if kind == "wearable_days" else ews.save_risk_predictions
            return save(conn, frame, by=as_user, at=_now())

    def save_wearable_days(self, frame: pd.DataFrame, *, as_user: str):
        """Store a wristband's daily features (rows of the analysis table ``wearable_days``, e.g.
        from :func:`workbench.wearables.features.daily_features`), replacing the stored rows of
        the same resident and day (an audited update; the same content again is left as it is);
        other days are not touched. All or nothing: every problem is named by row, column, value
        and rule (:class:`RecordProblems`). Admins, counsellors and doctors (a clinician: residents
        they may read). Returns :class:`~workbench.registry.early_warning_store.Saved`."""
        return self._save_early_warning("wearable_days", frame, as_user)

    def save_risk_predictions(self, frame: pd.DataFrame, *, as_user: str):
        """Store the risk model's predictions (rows of the analysis table ``risk_predictions``),
        beside the tier decisions they are about (never replacing them). Append-only: one per
        decision and model (``id@version``): another for the same decision and model is refused,
        a new model version adds a row; the same prediction again is left as it is.
        ``predicted_by`` is ``as_user`` (blank: filled in). All or nothing, every problem named
        (:class:`RecordProblems`); admins, counsellors and doctors (a clinician: residents they
        may read). Returns :class:`~workbench.registry.early_warning_store.Saved`."""
        return self._save_early_warning("risk_predictions", frame, as_user)

    # --- reads -----------------------------------------------------------------------------

    def residents(self, *, as_user: str, health: bool = False) -> pd.DataFrame:
        """The basic record (identity, contact, latest tier and next due date) every staff role
        may see; analysts get pseudonymised exports instead. ``health=True`` adds
        ``lives_alone`` and the chronic conditions, for clinical roles (counsellor, doctor,
        admin), which stepped care needs to place a resident in the service matrix. Audited (who,
        which columns, how many rows)."""
        columns = BASIC_COLUMNS + (["lives_alone", *CONDITIONS] if health else [])
        with self._write() as conn:
            roles = {"counsellor", "doctor", "admin"} if health else {"social_worker", "counsellor", "doctor", "admin"}
            require_role(conn, as_user, roles, "read resident records" + (" with health details" if health else ""))
            latest = (sa.select(tier_assignments.c.resident_id, tier_assignments.c.tier,
                                tier_assignments.c.next_contact_due,
                                sa.func.row_number().over(partition_by=tier_assignments.c.resident_id,
                                                          order_by=tier_assignments.c.decided_at.desc()).label("n"))
                      .subquery())
            query = (sa.select(*[residents.c[c] for c in columns], latest.c.tier, latest.c.next_contact_due)
                     .select_from(residents.outerjoin(latest, sa.and_(latest.c.resident_id == residents.c.resident_id,
                                                                      latest.c.n == 1)))
                     .order_by(residents.c.resident_id))
            frame = pd.DataFrame(conn.execute(query).mappings().all(), columns=columns + ["tier", "next_contact_due"])
            audit.append(conn, [{"action": "read_residents", "target_table": "residents",
                                 "details": {"health": health, "rows": len(frame)}}], user=as_user, at=_now())
        frame["tier"] = frame["tier"].astype("Int8")
        for column in columns[len(BASIC_COLUMNS):]:
            frame[column] = frame[column].astype(bool)
        return frame

    def assessments(self, *, as_user: str, resident_ids: Iterable[str] | None = None) -> pd.DataFrame:
        """Full assessments with item-level answers (wide: ``{instrument}_{n}``), for residents the
        user may see: their caseload, or with a second counsellor's approval. Audited."""
        with self._write() as conn:
            role = require_role(conn, as_user, {"counsellor", "doctor", "admin"}, "read item-level answers")
            wanted = None if resident_ids is None else list(dict.fromkeys(resident_ids))
            allowed = can_read_answers(conn, as_user, role, wanted)
            query = sa.select(assessments).order_by(assessments.c.resident_id, assessments.c.assessed_on,
                                                    assessments.c.instrument)
            if allowed is not None:
                query = query.where(assessments.c.resident_id.in_(allowed))
            result = conn.execute(query)
            frame = pd.DataFrame.from_records(result.all(), columns=list(result.keys()))
            audit.append(conn, [{"action": "read_answers", "target_table": "assessments",
                                 "details": {"residents": sorted(set(frame["resident_id"])) if wanted else
                                             "all permitted", "rows": len(frame)}}], user=as_user, at=_now())
        return _wide(frame)

    def analysis_tables(self, *, as_user: str, pseudonymised: bool | None = None,
                        key_file: str | None = None):
        """The analysis tables (:class:`workbench.tables.Tables`) of what ``as_user`` may see.

        - ``admin``: every resident; ``pseudonymised=True`` for the form analysts get.
        - ``analyst``: every resident, pseudonymised only (asking for more is refused).
        - ``counsellor``, ``doctor``: the residents on their caseload (and any a second counsellor
          approved them to see), not pseudonymised.
        - ``social_worker``: refused (the basic record only, through :meth:`residents`).

        Pseudonymised tables replace every identifier by a keyed pseudonym (the key in
        ``key_file``, default :func:`workbench.registry.export.default_key_file`), give birth
        dates as 1 July of the birth year and leave free text out. Each read is audited.

        On PostgreSQL, an analyst's or admin's pseudonymised tables are read from the analysts'
        views (schema ``analyst``), pseudonymised inside the database with its own key (no
        ``key_file``): an analyst connected as their own database role reads them so, and they
        equal an export of the same registry (:func:`workbench.registry.export.export_tables`).
        """
        from workbench.registry.analysis import in_random_order, pseudonymise, read_frames, typed_tables

        with self._write() as conn:
            role = require_role(conn, as_user, {"admin", "analyst", "counsellor", "doctor"}, "read analysis tables")
            if role == "analyst" and pseudonymised is False:
                raise AccessDenied(f"{as_user!r} is an analyst: analysts read pseudonymised tables only")
            pseudonymised = bool(pseudonymised) or role == "analyst"
            allowed = None if role in ("admin", "analyst") else can_read_answers(conn, as_user, role, None)
            views = pseudonymised and allowed is None and conn.dialect.name == "postgresql"
            frames = read_frames(conn, allowed=allowed, source="analyst" if views else "registry")
            audit.append(conn, [{"action": "read_analysis_tables", "target_table": "(analysis tables)",
                                 "details": {"pseudonymised": pseudonymised, "scope": "all" if allowed is None
                                             else "caseload", "rows": {k: len(v) for k, v in frames.items()}}}],
                         user=as_user, at=_now())
        tables = typed_tables(frames, attrs={"source": "registry", "pseudonymised": False, "read_by": as_user,
                                             "read_at": _now().isoformat(),
                                             "registry": self.engine.url.render_as_string(hide_password=True)})
        if views:  # pseudonymised by the database already
            return in_random_order(tables)
        if pseudonymised:
            from workbench.registry.export import _key, default_key_file

            tables = pseudonymise(tables, _key(Path(key_file or default_key_file())))
        return tables

    def users(self) -> pd.DataFrame:
        """Users of the registry: ``name``, ``role``, ``display_name``, ``active``, ``login`` (no
        secrets are stored; who may sign in is decided by the operating system's or JupyterHub's
        login, mapped to a user by ``login``). Staff only, no resident's data: not audited."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(users.c.name, users.c.role, users.c.display_name, users.c.active,
                                          users.c.login).order_by(users.c.name)).all()
        return pd.DataFrame(rows, columns=["name", "role", "display_name", "active", "login"])

    def user_for_login(self, login: str) -> str | None:
        """The registry user who signs in as ``login``: the one whose ``login`` is it, else the one
        named so who has no other login; None when there is none."""
        with self.engine.connect() as conn:
            for where in (users.c.login == login, sa.and_(users.c.name == login, users.c.login.is_(None))):
                name = conn.execute(sa.select(users.c.name).where(where)).scalar()
                if name is not None:
                    return name
        return None

    def follow_up_data(self, *, as_user: str) -> "FollowUpData":
        """What a follow-up list needs for the residents on ``as_user``'s caseload (admins: every
        resident): the basic record, tier decisions, referrals, contacts and PHQ-9 totals (never
        item answers), and each one's latest wristband day (its wear and alert state and the
        numbers behind it) and latest risk prediction (band, risk, reasons, model). Audited. Pass
        the result to :func:`workbench.outcomes.follow_up_list`."""
        from workbench.registry.early_warning_store import latest_predictions, latest_wearable_days

        with self._write() as conn:
            role = require_role(conn, as_user, {"counsellor", "doctor", "admin"}, "read follow-up lists")
            mine = None if role == "admin" else sa.select(caseloads.c.resident_id).where(
                caseloads.c.user_name == as_user).scalar_subquery()

            def read(table: sa.Table, columns: list[str], *where) -> pd.DataFrame:
                query = sa.select(*[table.c[c] for c in columns])
                if mine is not None:
                    query = query.where(table.c.resident_id.in_(mine))
                for clause in where:
                    query = query.where(clause)
                return pd.DataFrame(conn.execute(query.order_by(table.c.resident_id)).all(), columns=columns)

            data = FollowUpData(
                residents=read(residents, BASIC_COLUMNS + ["lives_alone"]),
                decisions=read(tier_assignments, ["resident_id", "assessed_on", "tier", "rule", "urgent", "needs_review",
                                                  "service_cell", "next_contact_due", "decided_at"]),
                referrals=read(referrals, ["referral_id", "resident_id", "referred_on", "tier", "destination",
                                           "ended_on", "end_reason"]),
                contacts=read(contacts, ["contact_id", "resident_id", "referral_id", "contact_on", "kind", "status",
                                         "note"]),
                scores=read(assessments, ["resident_id", "assessed_on", "score"], assessments.c.instrument == "phq9"),
                wearables=latest_wearable_days(conn, mine), risk=latest_predictions(conn, mine),
            )
            audit.append(conn, [{"action": "read_follow_up", "target_table": "caseloads", "target_key": as_user,
                                 "details": {"residents": len(data.residents)}}], user=as_user, at=_now())
        for frame, columns in ((data.decisions, ["assessed_on", "next_contact_due"]),
                               (data.referrals, ["referred_on", "ended_on"]), (data.contacts, ["contact_on"]),
                               (data.scores, ["assessed_on"]), (data.residents, ["birth_date"])):
            for column in columns:
                frame[column] = pd.to_datetime(frame[column])
        data.decisions["decided_at"] = pd.to_datetime(data.decisions["decided_at"], utc=True)
        for column in ("tier",):
            data.decisions[column] = data.decisions[column].astype("Int8")
            data.referrals[column] = data.referrals[column].astype("Int8")
        data.scores["score"] = data.scores["score"].astype("float64")
        return data

    def verify_audit(self) -> audit.AuditReport:
        """Check the keyed audit chain, its signed checkpoints, and every stored row of every table
        against it (:func:`audit.verify`: names rows edited, deleted or unlogged)."""
        with self.engine.connect() as conn:
            return audit.verify(conn)


def _only_permitted(conn: Connection, by: str, role: str, resident_ids: Iterable[str], *,
                    what: str = "severe-mental-disorder details") -> None:
    """Severe-mental-disorder records are written only about residents ``by`` may read (their
    caseload, or a second counsellor's approval; admins: anyone), before anything about the
    resident is looked up: otherwise a refusal ("not on the register", "already followed up that
    day") would tell a clinician whether a neighbour has a severe mental disorder.
    :class:`AccessDenied` names the residents refused."""
    try:
        can_read_answers(conn, by, role, sorted({str(r) for r in resident_ids if r is not None}))
    except AccessDenied as err:
        refused = str(err).split(" may not read the answers of ", 1)[1].split(": ", 1)[0]
        raise AccessDenied(f"{by!r} may not record {what} of {refused}: not on their caseload "
                           "and no second counsellor has approved access; nothing was written") from None


def _stored_hash(conn: Connection, table: sa.Table, name: str) -> str:
    """The content hash of the row of ``table`` (``users``) named ``name``, as stored (with the
    database's defaults)."""
    return audit.row_hash(table.name, conn.execute(sa.select(table).where(table.c.name == name)).mappings().one())


def _add_to_caseload(conn: Connection, user: str, resident_ids: Iterable[str], *, by: str, at: dt.datetime) -> None:
    existing = set(conn.execute(sa.select(caseloads.c.resident_id).where(caseloads.c.user_name == user)).scalars())
    new = [r for r in dict.fromkeys(resident_ids) if r not in existing]
    if new:
        rows = [{"user_name": user, "resident_id": r, "assigned_by": by, "assigned_at": at} for r in new]
        conn.execute(caseloads.insert(), rows)
        audit.append(conn, audit.entries_for("caseloads", rows, action="assign_caseload"), user=by, at=at)


#: Tables of records about a resident, with the column naming who stored each row.
_ABOUT_RESIDENT = ((residents, "created_by"), (assessments, "entered_by"), (tier_assignments, "decided_by"),
                   (referrals, "created_by"), (contacts, "recorded_by"), (events, "recorded_by"),
                   (enrolments, "recorded_by"), (consents, "recorded_by"), (surveys, "recorded_by"),
                   (measurements, "recorded_by"), (smd_register, "recorded_by"), (smd_followups, "recorded_by"),
                   (smd_rehab, "recorded_by"), (literacy, "recorded_by"), (wearable_days, "recorded_by"),
                   (risk_predictions, "predicted_by"))


def _user_row(conn: Connection, name: str):
    """The ``users`` row of ``name`` (a mapping); ValueError naming them when there is none."""
    row = conn.execute(sa.select(users).where(users.c.name == name)).mappings().first()
    if row is None:
        raise ValueError(f"{name!r} is not a user of this registry.")
    return row


def _log_user_change(conn: Connection, name: str, by: str, details: dict) -> None:
    """One audit entry for an update of ``name``'s row: who changed what, and the row's hash after it."""
    after = conn.execute(sa.select(users).where(users.c.name == name)).mappings().one()
    audit.append(conn, [{"action": "update", "target_table": "users", "target_key": name,
                         "content_hash": audit.row_hash("users", after), "details": details}], user=by, at=_now())


def _only_own_records(conn: Connection, resident_id: str, by: str) -> None:
    """Refuse (:class:`AccessDenied`) to let ``by`` take ``resident_id`` onto their own caseload
    unless every record about the resident stored so far was stored by ``by``."""
    others = sa.union_all(*[sa.select(table.c.resident_id).where(table.c.resident_id == resident_id,
                                                                  table.c[who] != by)
                            for table, who in _ABOUT_RESIDENT])
    if conn.execute(sa.select(others.subquery()).limit(1)).first() is not None:
        raise AccessDenied(f"{by!r} may not add {resident_id!r} to their own caseload, as others have stored "
                           "records about this resident: a second person (an admin, counsellor or doctor) must "
                           "assign them")


def _insert_imported(conn: Connection, table: sa.Table, rows: list[dict], *, by: str, at: dt.datetime,
                     source: str) -> None:
    """Insert imported rows with one audit entry each (their content hash) and one for the import."""
    if not rows:
        return
    conn.execute(table.insert(), rows)
    hashes = [r["content_hash"] for r in rows] if "content_hash" in table.c else None
    audit.append(conn, audit.entries_for(table.name, rows, hashes=hashes)
                 + [{"action": "import", "target_table": table.name, "details": {"source": source, "written": len(rows)}}],
                 user=by, at=at)


_STAFF = {"admin", "counsellor", "doctor", "social_worker"}
_CLINICAL = {"admin", "counsellor", "doctor"}
#: table -> (Table, roles that may write it, who-column prefix); the audit log knows rows by
#: :data:`audit.KEYS`
_RECORDABLE = {
    "referrals": (referrals, _CLINICAL, "created"),
    "contacts": (contacts, _STAFF, "recorded"),
    "events": (events, _STAFF, "recorded"),
    "enrolments": (enrolments, _CLINICAL, "recorded"),
    "consents": (consents, _STAFF, "recorded"),
    "surveys": (surveys, _STAFF, "recorded"),
    "literacy": (literacy, _CLINICAL, "recorded"),
}
#: Allowed values of coded columns (the database enforces the same with CHECK constraints).
_CODES = {("contacts", "status"): ("planned", "attended", "missed"), ("events", "kind"): EVENT_KINDS,
          ("referrals", "referral_source"): REFERRAL_SOURCES}
#: Bounds of numeric columns, as the analysis tables declare them (an upgraded SQLite registry
#: lacks the CHECK constraint a new one has).
_BOUNDS = {("events", "days"): (0, 3650), ("literacy", "n_asked"): (1, 127), ("literacy", "n_correct"): (0, 127)}
#: Rules between two columns of a row (the database keeps them too, but for referrals on an
#: upgraded SQLite registry: migration 0008): (table, column, other, holds(value, other), rule).
_PAIRS = (("referrals", "appointment_on", "referred_on", lambda a, b: a >= b, "is before the referral (referred_on {})"),
          ("referrals", "hospital_seen_on", "referred_on", lambda a, b: a >= b,
           "is before the referral (referred_on {})"),
          ("literacy", "n_correct", "n_asked", lambda a, b: a <= b, "is more than the questions asked (n_asked {})"))


def _typed_rows(table: sa.Table, frame: pd.DataFrame, who: str, by: str) -> list[dict]:
    """Rows of ``frame`` as Python values of ``table``'s column types, checked cell by cell."""
    settable = [c for c in table.columns if not c.name.startswith(f"{who}_")
                and not (c.primary_key and c.autoincrement is True and isinstance(c.type, sa.Integer))]
    names = {c.name for c in settable}
    problems = [(None, c, None, f"is not a column of {table.name} (columns: {sorted(names)})")
                for c in frame.columns if c not in names]
    problems += [(None, c.name, None, "is required") for c in settable
                 if not c.nullable and c.server_default is None and c.name not in frame.columns]
    rows = []
    for label, rec in zip(frame.index, frame.astype(object).where(frame.notna(), None).to_dict("records")):
        row = {}
        for col in settable:
            value = rec.get(col.name)
            if value is None:
                if not col.nullable and col.server_default is None and col.name in frame.columns:
                    problems.append((label, col.name, None, "is blank but required"))
                row[col.name] = None if col.server_default is None else (value if value is not None else False)
                continue
            try:
                if isinstance(col.type, sa.Date):
                    value = pd.Timestamp(value).date()
                elif isinstance(col.type, sa.Boolean):
                    if str(value).strip().lower() not in ("true", "false", "1", "0"):
                        raise ValueError
                    value = str(value).strip().lower() in ("true", "1")
                elif isinstance(col.type, sa.Integer):
                    if float(value) != int(float(value)):
                        raise ValueError
                    value = int(float(value))
                else:
                    value = str(value).strip()
            except (ValueError, TypeError):
                problems.append((label, col.name, value, f"must be a {col.type.python_type.__name__}"))
                continue
            allowed = _CODES.get((table.name, col.name))
            if allowed and value not in allowed:
                problems.append((label, col.name, value, f"must be one of {list(allowed)}"))
            bounds = _BOUNDS.get((table.name, col.name))
            if bounds and not bounds[0] <= value <= bounds[1]:
                problems.append((label, col.name, value, f"must be from {bounds[0]} to {bounds[1]}"))
            row[col.name] = value
        for name, column, other, holds, rule in _PAIRS:
            if name == table.name and row.get(column) is not None and row.get(other) is not None \
                    and not holds(row[column], row[other]):
                problems.append((label, column, row[column], rule.format(row[other])))
        rows.append({**row, f"{who}_by": by})
    if problems:
        raise RecordProblems(table.name, problems)
    return rows


def _combine(problems: pd.DataFrame, extra: list[tuple]) -> pd.DataFrame:
    if not extra:
        return problems
    table = pd.concat([problems, pd.DataFrame(extra, columns=problems.columns)], ignore_index=True)
    table = table.drop_duplicates(ignore_index=True)  # e.g. an unknown resident, once per row
    return table.sort_values("line", na_position="first", kind="stable", ignore_index=True)


def _lookup(conn: Connection, key: sa.Column, value: sa.Column, *, values: list, chunk: int = 5000):
    """(key, value) pairs of the rows whose ``key`` is in ``values``, asked in chunks (SQLite
    limits the number of parameters in one statement)."""
    wanted = sorted(set(values))
    for start in range(0, len(wanted), chunk):
        yield from conn.execute(sa.select(key, value).where(key.in_(wanted[start:start + chunk])))


def _problem_lines(problems: list[tuple]) -> pd.DataFrame:
    """``(line, column, value, rule)`` problems as a table sorted by line (file-level first)."""
    table = pd.DataFrame(list(problems), columns=["line", "column", "value", "rule"], dtype=object)
    table = table.drop_duplicates(ignore_index=True)
    order = table["line"].map(lambda v: -1 if v is None or v != v else v)
    return table.iloc[np.argsort(order.to_numpy(), kind="stable")].reset_index(drop=True)


def _one_row(row) -> bool:
    return (isinstance(row, dict) and bool(row)) or (isinstance(row, pd.DataFrame) and len(row) == 1)


def _one_visit(visit) -> bool:
    if isinstance(visit, dict):
        visit = pd.DataFrame([visit])
    if not isinstance(visit, pd.DataFrame) or len(visit) != 1 or "submission_id" not in visit.columns:
        return False
    submission = visit["submission_id"].iloc[0]
    return isinstance(submission, str) and bool(submission.strip())


def _prepare_screening(answers: pd.DataFrame, tier, reason):
    """One screening form checked and shaped for :func:`_store_screening` (before the transaction):
    (prepared, overrides); :class:`ImportProblems` naming every bad answer."""
    from workbench.registry import saving

    form = answers.drop(columns=[c for c in ("purpose", "referral_id", "study", "visit") if c in answers.columns])
    prepared = saving.prepare(form.reset_index(drop=True))
    if prepared.problems:
        raise ImportProblems("screening", _problem_lines(prepared.problems))
    overrides = None
    if tier is not None:
        overrides = pd.DataFrame({"resident_id": [str(answers["resident_id"].iloc[0]).strip()],
                                  "assessed_on": [prepared.assessments["assessed_on"].iloc[0]],
                                  "tier": [tier], "reason": [reason]})
    return prepared, overrides


def _saved_screening(conn: Connection, submission: str):
    """The (resident_id, assessed_on) of the screening saved from ``submission``, or None."""
    return conn.execute(sa.select(assessments.c.resident_id, assessments.c.assessed_on)
                        .where(assessments.c.submission_id == submission).limit(1)).first()


def _store_screening(conn: Connection, prepared, overrides, *, by: str, at: dt.datetime, submission: str, tier,
                     policy) -> pd.DataFrame:
    """Write one prepared screening and its decision inside the caller's transaction (the one code
    path of :meth:`Registry.save_screening` and :meth:`Registry.save_visit`); returns the stored
    decision. :class:`ImportProblems` when anything is wrong (the caller's transaction rolls back)."""
    from workbench.registry import saving

    try:
        result = saving.store(conn, prepared, by=by, at=at, source=f"screening {submission}", policy=policy,
                              overrides=overrides, new_session_only=True)
    except (ProblemsError, ValueError) as err:  # a bad tier or reason: a problem of the form, named
        rows = ([(None, p.column, p.value, p.rule) for p in err.problems.itertuples(index=False)]
                if hasattr(err, "problems") and "table" in err.problems.columns else
                [(None, "tier", tier, str(err).splitlines()[-1].lstrip("- "))])
        raise ImportProblems("screening", _problem_lines(rows)) from None
    if result.problems:
        raise ImportProblems("screening", _problem_lines(result.problems))
    return result.decisions


def preview_screening(answers: pd.DataFrame, resident: dict, *, policy="default") -> pd.DataFrame:
    """See :meth:`Registry.preview_screening` (needs no database)."""
    from workbench.instruments import get_instrument
    from workbench.records import assessments_from_forms, decide_screenings, score_assessments

    rid = str(resident["resident_id"])
    form = answers.copy()
    form["resident_id"] = rid
    shaped = assessments_from_forms(form.reset_index(drop=True), purpose="screening", table="screening")
    people = pd.DataFrame([{"resident_id": rid, "sex": resident.get("sex"),
                            **{c: bool(resident.get(c, False)) for c in CONDITIONS}}])
    scores = score_assessments(shaped, people)
    wide = {}
    for row in scores.to_dict("records"):
        flags = [c.flag for c in get_instrument(row["instrument"]).critical_items]
        for column in ("score", "band", "n_answered", "prorated", *flags):
            wide[f"{row['instrument']}_{column}"] = [row[column]]
    decision = decide_screenings(shaped, scores, people, by="(preview)", at=_now(), policy=policy)
    return pd.concat([pd.DataFrame(wide, index=[0]), decision.drop(columns=["decision_id"]).reset_index(drop=True)],
                     axis=1)


def _add_communities(conn: Connection, names: Iterable[str], kinds: dict[str, str], *, by: str,
                     at: dt.datetime) -> None:
    """Add the communities among ``names`` that the registry lacks (with their type when known)."""
    wanted = sorted(set(names))
    if not wanted:
        return
    present = set(conn.execute(sa.select(communities.c.community).where(communities.c.community.in_(wanted))).scalars())
    new = [{"community": c, "community_type": kinds.get(c), "created_by": by, "created_at": at}
           for c in wanted if c not in present]
    if new:
        conn.execute(communities.insert(), new)
        audit.append(conn, [{**e, "details": {"community_type": r["community_type"]}}
                            for r, e in zip(new, audit.entries_for("communities", new))], user=by, at=at)
def _wide(frame: pd.DataFrame) -> pd.DataFrame:
    """Stored rows as one row per assessment: metadata, flags and item columns ``{instrument}_{n}``."""
    base = ["resident_id", "assessed_on", "instrument", "instrument_version", "language", "mode", "score", "band",
            "n_answered", "prorated", "scoring_version", "entered_by", "entered_at"]
    if frame.empty:
        return pd.DataFrame(columns=base)
    out = [frame[base]]
    for kind in ("flags", "answers"):
        parsed = [json.loads(text) for text in frame[kind]]
        columns: dict[str, np.ndarray] = {}
        for inst_id, positions in frame.groupby("instrument", sort=True).indices.items():
            keys = sorted(parsed[positions[0]], key=lambda k: (len(k), k))
            for key in keys:
                values = np.full(len(frame), None, dtype=object)
                values[positions] = [parsed[i].get(key) for i in positions]
                columns[f"{inst_id}_{key}"] = values
        part = pd.DataFrame(columns, index=frame.index)
        out.append(part.astype("boolean") if kind == "flags" else part.astype("Int8"))
    return pd.concat(out, axis=1)
