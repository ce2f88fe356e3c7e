"""The registry's tables (SQLAlchemy Core). Migrations in ``migrations/`` create and upgrade them.

Item-level answers are always stored (``assessments.answers``, JSON text); scores are stored
beside them with the version of the rules that computed them, never instead of them.
"""

from __future__ import annotations

import sqlalchemy as sa

__all__ = ["ALERT_STATES", "EVENT_KINDS", "REFERRAL_SOURCES", "RISK_BANDS", "ROLES", "WEAR_STATES", "metadata"]

metadata = sa.MetaData(naming_convention={
    "ix": "ix_%(column_0_label)s", "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s", "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s"})

#: Roles, from least to most access (DESIGN.md, privacy).
ROLES = ("social_worker", "counsellor", "doctor", "analyst", "admin")
#: Kinds of event the registry records (as ``workbench.tables.EVENT_KINDS``; the last two since
#: migration 0008: an emergency visit for a mental-health crisis, a discharge from a psychiatric ward).
EVENT_KINDS = ("er_visit", "crisis", "cardiovascular_event", "hospitalisation", "death", "psychiatric_emergency",
               "psychiatric_discharge")
#: Where a referral came from (``referrals.referral_source``, migration 0008; as ``workbench.tables``).
REFERRAL_SOURCES = ("screening", "self", "family", "staff", "hospital", "other")

_conditions = [sa.Column(name, sa.Boolean, nullable=False, server_default=sa.false())
               for name in ("hypertension", "diabetes", "chd", "stroke", "copd", "asthma")]


def _who(prefix: str) -> list[sa.Column]:
    return [sa.Column(f"{prefix}_by", sa.String(64), sa.ForeignKey("users.name"), nullable=False),
            sa.Column(f"{prefix}_at", sa.DateTime(timezone=True), nullable=False)]


users = sa.Table(
    "users", metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("display_name", sa.String(200)),
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    # the operating-system (or JupyterHub) login this registry user signs in as; unique
    sa.Column("login", sa.String(64)),
    sa.Column("created_by", sa.String(64)),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("uq_users_login", "login", unique=True),
    sa.CheckConstraint("role IN ('social_worker', 'counsellor', 'doctor', 'analyst', 'admin')", name="role"),
)

communities = sa.Table(
    "communities", metadata,
    sa.Column("community", sa.String(100), primary_key=True),
    sa.Column("community_type", sa.String(40)),
    *_who("created"),
)

residents = sa.Table(
    "residents", metadata,
    sa.Column("resident_id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200)),
    sa.Column("phone", sa.String(50)),
    sa.Column("id_number", sa.String(50)),
    sa.Column("sex", sa.String(10), nullable=False),
    sa.Column("birth_date", sa.Date, nullable=False),
    sa.Column("community", sa.String(100), nullable=False),  # in communities (added by the registry)
    sa.Column("lives_alone", sa.Boolean, nullable=False),
    *_conditions,
    sa.Column("ckd", sa.Boolean),  # chronic kidney disease; blank: not recorded (migration 0006)
    sa.Column("content_hash", sa.String(64), nullable=False),
    *_who("created"),
    sa.CheckConstraint("sex IN ('female', 'male')", name="sex"),
)

assessments = sa.Table(
    "assessments", metadata,
    sa.Column("assessment_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("submission_id", sa.String(100)),  # the form or app submission it came from
    sa.Column("resident_id", sa.String(64), sa.ForeignKey("residents.resident_id"), nullable=False),
    sa.Column("assessed_on", sa.Date, nullable=False),
    sa.Column("instrument", sa.String(20), nullable=False),
    sa.Column("instrument_version", sa.String(20), nullable=False),
    # why it was taken: a screening (decided on), a review during a referral, or a study visit
    sa.Column("purpose", sa.String(20), nullable=False, server_default="screening"),
    sa.Column("referral_id", sa.String(64), sa.ForeignKey("referrals.referral_id")),
    sa.Column("study", sa.String(60)),
    sa.Column("visit", sa.Integer),
    sa.Column("language", sa.String(5)),
    sa.Column("mode", sa.String(20)),
    sa.Column("answers", sa.Text, nullable=False),            # JSON {"1": 2, "2": null, ...}
    sa.Column("score", sa.Float),
    sa.Column("band", sa.String(40)),
    sa.Column("n_answered", sa.Integer, nullable=False),
    sa.Column("prorated", sa.Boolean, nullable=False),
    sa.Column("flags", sa.Text, nullable=False),              # JSON {"self_harm": true/false/null}
    sa.Column("derived", sa.Text),                            # JSON {"percent": 72.0} (WHO-5)
    sa.Column("scoring_version", sa.String(60), nullable=False),
    sa.Column("content_hash", sa.String(64), nullable=False),
    *_who("entered"),
    sa.CheckConstraint("mode IS NULL OR mode IN ('self', 'interviewer')", name="mode"),
    sa.CheckConstraint("purpose IN ('screening', 'review', 'study')", name="purpose"),
)
sa.Index("ix_assessments_resident", assessments.c.resident_id, assessments.c.assessed_on)
#: One questionnaire per resident, day, purpose and study (a screening and a study visit the same
#: day are two records; the same screening twice is one).
sa.Index("uq_assessments_taken", assessments.c.resident_id, assessments.c.assessed_on, assessments.c.instrument,
         assessments.c.purpose, sa.func.coalesce(assessments.c.study, ""), unique=True)

referrals = sa.Table(
    "referrals", metadata,
    sa.Column("referral_id", sa.String(64), primary_key=True),
    sa.Column("resident_id", sa.String(64), sa.ForeignKey("residents.resident_id"), nullable=False),
    sa.Column("referred_on", sa.Date, nullable=False),
    sa.Column("tier", sa.Integer),
    sa.Column("rule", sa.String(60)),
    sa.Column("destination", sa.String(200)),
    sa.Column("ended_on", sa.Date),
    sa.Column("end_reason", sa.String(40)),
    *_who("created"),
    # migration 0008 (blank: not recorded; the hospital's dates of a fast-track referral, from the hospital)
    sa.Column("referral_source", sa.String(20)),
    sa.Column("appointment_on", sa.Date),
    sa.Column("hospital_seen_on", sa.Date),
    sa.CheckConstraint("referral_source IS NULL OR referral_source IN ("
                       + ", ".join(f"'{v}'" for v in REFERRAL_SOURCES) + ")", name="referral_source"),
    sa.CheckConstraint("appointment_on IS NULL OR appointment_on >= referred_on", name="appointment_after_referral"),
    sa.CheckConstraint("hospital_seen_on IS NULL OR hospital_seen_on >= referred_on", name="seen_after_referral"),
)

tier_assignments = sa.Table(
    "tier_assignments", metadata,
    sa.Column("assignment_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("resident_id", sa.String(64), sa.ForeignKey("residents.resident_id"), nullable=False),
    sa.Column("assessed_on", sa.Date, nullable=False),
    sa.Column("suggested_tier", sa.Integer),
    sa.Column("tier", sa.Integer),
    sa.Column("rule", sa.String(60), nullable=False),
    sa.Column("policy_version", sa.String(80), nullable=False),
    sa.Column("urgent", sa.Boolean, nullable=False),
    sa.Column("needs_review", sa.Boolean, nullable=False),
    sa.Column("psych_status", sa.String(20)),
    sa.Column("disease_category", sa.String(20)),
    sa.Column("service_cell", sa.String(40)),
    sa.Column("service", sa.Text),
    sa.Column("next_contact_due", sa.Date),
    sa.Column("overridden", sa.Boolean, nullable=False),
    sa.Column("override_reason", sa.Text),
    *_who("decided"),
    sa.CheckConstraint("NOT overridden OR override_reason IS NOT NULL", name="override_reason"),
)

contacts = sa.Table(
    "contacts", metadata,
    sa.Column("contact_id", sa.String(64), primary_key=True),
    sa.Column("resident_id", sa.String(64), sa.ForeignKey("residents.resident_id"), nullable=False),
    sa.Column("referral_id", sa.String(64), sa.ForeignKey("referrals.referral_id")),
    sa.Column("contact_on", sa.Date, nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("note", sa.Text),
    *_who("recorded"),
    sa.CheckConstraint("status IN ('planned', 'attended', 'missed')", name="status"),
)

events = sa.Table(
    "events", metadata,
    sa.Column("event_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("resident_id", sa.String(64), sa.ForeignKey("residents.resident_id"), nullable=False),
    sa.Column("event_on", sa.Date, nullable=False),
    sa.Column("kind", sa.String(30), nullable=False),
    sa.Column("source", sa.String(100)),
    *_who("recorded"),
    sa.Column("days", sa.SmallInteger),  # a hospital stay's length; blank otherwise (migration 0006)
    sa.CheckConstraint("kind IN (" + ", ".join(f"'{v}'" for v in EVENT_KINDS) + ")", name="kind"),
    sa.CheckConstraint("days IS NULL OR days >= 0", name="days"),
)


def _measure_columns() -> list[sa.Column]:
    """The measures and answers of ``workbench/data/measurements.yaml`` as columns (HbA1c stored in %
    only: mmol/mol is computed exactly when read). Units, ranges and allowed values are checked by
    :mod:`workbench.measurements` before anything is stored, as data a site may change; the
    database keeps the cross-field rules on blood pressure."""
    from workbench.tables import _measures

    facts = _measures()
    kinds = {"Int16": sa.SmallInteger, "Float": sa.Float}
    out = [sa.Column(name, kinds[d["dtype"]]) for name, d in facts["measures"].items()]
    out += [sa.Column(name, sa.Boolean if d["values"] == "boolean" else sa.String(20))
            for name, d in facts["answers"].items()]
    return out


#: Physiological measurements and follow-up visits: one row per resident, day and setting.
measurements = sa.Table(
    "measurements", metadata,
    sa.Column("measurement_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("submission_id", sa.String(100)),  # the visit form it came from (a double-clicked Save saves once)
    sa.Column("resident_id", sa.String(64), sa.ForeignKey("residents.resident_id"), nullable=False),
    sa.Column("measured_on", sa.Date, nullable=False),
    sa.Column("setting", sa.String(20), nullable=False),
    sa.Column("measured_by", sa.String(64), sa.ForeignKey("users.name")),  # blank: the resident's own device
    *_measure_columns(),
    *_who("recorded"),
    sa.UniqueConstraint("resident_id", "measured_on", "setting", name="uq_measurements_reading"),
    sa.Index("uq_measurements_submission", "submission_id", unique=True),
    sa.CheckConstraint("(sbp IS NULL) = (dbp IS NULL)", name="bp_pair"),
    sa.CheckConstraint("sbp IS NULL OR dbp < sbp", name="dbp_below_sbp"),
)


def _in(column: str, values: tuple, *, blank: bool = True) -> str:
    """SQL: ``column`` is one of ``values`` (or blank)."""
    listed = ", ".join(f"'{v}'" for v in values)
    return f"{column} IS NULL OR {column} IN ({listed})" if blank else f"{column} IN ({listed})"


# The severe-mental-disorder (SMD) register, its follow-ups and the rehabilitation ladder (issue 16,
# migration 0007). Codes as workbench.smd (and the analysis tables) declare them; the stability
# is suggested once, at save, by workbench.smd.classify and decided by a person: both are stored.
_SMD_DISORDERS = ("schizophrenia", "schizoaffective", "delusional", "bipolar", "epilepsy_mental",
                  "intellectual_disability_mental")
_SMD_GUARDIANS = ("parent", "spouse", "child", "sibling", "other", "none")
_SMD_LEFT = ("moved", "died", "diagnosis_revised", "other")
_SMD_MODES = ("face_to_face", "phone")
_SMD_ITEMS = {"symptoms": ("remitted", "residual", "marked"), "insight": ("full", "partial", "none"),
              "social_function": ("fair", "poor"), "adverse_reaction": ("none", "mild", "acute"),
              "physical_illness": ("none", "mild", "serious")}
_SMD_REGULARITY = ("regular", "intermittent", "none")
_SMD_STABILITIES = ("stable", "basically_stable", "unstable")

#: One row per registered patient (在册 from ``registered_on`` until ``left_on``).
smd_register = sa.Table(
    "smd_register", metadata,
    sa.Column("resident_id", sa.String(64), sa.ForeignKey("residents.resident_id"), primary_key=True),
    sa.Column("diagnosis", sa.String(40), nullable=False),
    sa.Column("diagnosed_on", sa.Date),
    sa.Column("registered_on", sa.Date, nullable=False),
    sa.Column("guardian", sa.String(20)),  # the guardian's relation, never a name
    sa.Column("consent", sa.Boolean),  # blank: not recorded
    sa.Column("consent_on", sa.Date),
    sa.Column("left_on", sa.Date),
    sa.Column("left_reason", sa.String(30)),
    *_who("recorded"),
    sa.CheckConstraint(_in("diagnosis", _SMD_DISORDERS, blank=False), name="diagnosis"),
    sa.CheckConstraint(_in("guardian", _SMD_GUARDIANS), name="guardian"),
    sa.CheckConstraint(_in("left_reason", _SMD_LEFT), name="left_reason"),
    sa.CheckConstraint("(left_on IS NULL) = (left_reason IS NULL)", name="left_with_reason"),
    sa.CheckConstraint("left_on IS NULL OR left_on >= registered_on", name="left_after_registered"),
    sa.CheckConstraint("diagnosed_on IS NULL OR diagnosed_on <= registered_on", name="diagnosed_before_registered"),
)

#: One follow-up per registered patient and day: the answers, what the SMD policy suggested when
#: it was saved (``suggested_outcome``, ``rule``, ``policy_version``) and what staff decided
#: (``outcome``; ``outcome_reason`` when it differs from the suggestion; ``next_due``).
smd_followups = sa.Table(
    "smd_followups", metadata,
    sa.Column("followup_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("submission_id", sa.String(100)),  # the form it came from (a double-clicked Save saves once)
    sa.Column("resident_id", sa.String(64), sa.ForeignKey("smd_register.resident_id"), nullable=False),
    sa.Column("followed_on", sa.Date, nullable=False),
    sa.Column("mode", sa.String(20), nullable=False),
    sa.Column("risk_grade", sa.SmallInteger),  # blank: not assessed, never grade 0
    *[sa.Column(item, sa.String(20)) for item in _SMD_ITEMS],
    sa.Column("on_medication", sa.Boolean),
    sa.Column("medication_regularity", sa.String(20)),
    sa.Column("suggested_outcome", sa.String(20)),
    sa.Column("rule", sa.String(60)),
    sa.Column("outcome", sa.String(20)),
    sa.Column("outcome_reason", sa.Text),  # why the outcome differs from the suggestion (free text)
    sa.Column("referred", sa.Boolean),
    sa.Column("next_due", sa.Date),
    sa.Column("policy_version", sa.String(60)),
    *_who("recorded"),
    sa.UniqueConstraint("resident_id", "followed_on", name="uq_smd_followups_visit"),
    sa.Index("uq_smd_followups_submission", "submission_id", unique=True),
    sa.CheckConstraint(_in("mode", _SMD_MODES, blank=False), name="mode"),
    sa.CheckConstraint("risk_grade IS NULL OR risk_grade BETWEEN 0 AND 5", name="risk_grade"),
    *[sa.CheckConstraint(_in(item, values), name=item) for item, values in _SMD_ITEMS.items()],
    sa.CheckConstraint(_in("medication_regularity", _SMD_REGULARITY), name="medication_regularity"),
    sa.CheckConstraint(_in("suggested_outcome", _SMD_STABILITIES), name="suggested_outcome"),
    sa.CheckConstraint(_in("outcome", _SMD_STABILITIES), name="outcome"),
)

#: Steps on the five-level community rehabilitation ladder (one open step, ``left_on`` blank, at a time).
smd_rehab = sa.Table(
    "smd_rehab", metadata,
    sa.Column("rehab_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("resident_id", sa.String(64), sa.ForeignKey("smd_register.resident_id"), nullable=False),
    sa.Column("level", sa.SmallInteger, nullable=False),
    sa.Column("entered_on", sa.Date, nullable=False),
    sa.Column("left_on", sa.Date),
    *_who("recorded"),
    sa.UniqueConstraint("resident_id", "level", "entered_on", name="uq_smd_rehab_step"),
    sa.CheckConstraint("level BETWEEN 1 AND 5", name="level"),
    sa.CheckConstraint("left_on IS NULL OR left_on >= entered_on", name="left_after_entered"),
)

#: Mental-health literacy questions asked (migration 0008): one answer set per resident, day and
#: questionnaire, scored when saved (``n_correct`` blank: the answers were not recorded, never 0).
literacy = sa.Table(
    "literacy", metadata,
    sa.Column("literacy_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("resident_id", sa.String(64), sa.ForeignKey("residents.resident_id"), nullable=False),
    sa.Column("asked_on", sa.Date, nullable=False),
    sa.Column("questionnaire", sa.String(60), nullable=False),
    sa.Column("n_asked", sa.SmallInteger, nullable=False),
    sa.Column("n_correct", sa.SmallInteger),
    *_who("recorded"),
    sa.UniqueConstraint("resident_id", "asked_on", "questionnaire", name="uq_literacy_asked"),
    sa.CheckConstraint("n_asked BETWEEN 1 AND 127", name="n_asked"),
    sa.CheckConstraint("n_correct IS NULL OR (n_correct >= 0 AND n_correct <= n_asked)", name="n_correct"),
)

#: A wristband's wear on a day, its alert state, a prediction's band (as ``workbench.tables``; migration 0009).
WEAR_STATES = ("worn", "low_wear", "not_worn")
ALERT_STATES = ("flag", "clear", "low_wear", "no_baseline")
RISK_BANDS = ("low", "medium", "high")


def _among(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def _within(column: str, low, high) -> str:
    return f"{column} IS NULL OR {column} BETWEEN {low} AND {high}"


#: A wristband's features per resident and local day (migration 0009; the analysis table
#: ``wearable_days``): one row per resident and day, replaced as a whole when the day's features
#: are computed again (an audited update); blank features: their wear requirement not met, never 0.
wearable_days = sa.Table(
    "wearable_days", metadata,
    sa.Column("resident_id", sa.String(64), sa.ForeignKey("residents.resident_id"), primary_key=True),
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("device_id", sa.String(64)),
    sa.Column("wear_minutes", sa.SmallInteger, nullable=False),
    sa.Column("night_wear_minutes", sa.SmallInteger, nullable=False),
    sa.Column("resting_hr", sa.Float),
    sa.Column("rmssd", sa.Float),
    sa.Column("steps", sa.Integer),
    sa.Column("sleep_minutes", sa.SmallInteger),
    sa.Column("sleep_midpoint", sa.Float),
    sa.Column("sleep_regularity", sa.Float),
    sa.Column("baseline_days", sa.SmallInteger, nullable=False),
    sa.Column("rmssd_z", sa.Float),
    sa.Column("resting_hr_z", sa.Float),
    sa.Column("steps_z", sa.Float),
    sa.Column("sleep_z", sa.Float),
    sa.Column("wear_state", sa.String(12), nullable=False),
    sa.Column("alert_state", sa.String(12), nullable=False),
    sa.Column("flag", sa.Boolean, nullable=False),
    sa.Column("nights_low", sa.SmallInteger),
    sa.Column("nights_valid", sa.SmallInteger),
    sa.Column("rule", sa.String(120)),
    *_who("recorded"),
    sa.CheckConstraint("wear_minutes BETWEEN 0 AND 1440", name="wear_minutes"),
    sa.CheckConstraint("night_wear_minutes BETWEEN 0 AND 1440", name="night_wear_minutes"),
    sa.CheckConstraint(_within("resting_hr", 20, 250), name="resting_hr"),
    sa.CheckConstraint(_within("rmssd", 0, 1000), name="rmssd"),
    sa.CheckConstraint(_within("steps", 0, 200000), name="steps"),
    sa.CheckConstraint(_within("sleep_minutes", 0, 1440), name="sleep_minutes"),
    sa.CheckConstraint(_within("sleep_midpoint", -24, 24), name="sleep_midpoint"),
    sa.CheckConstraint(_within("sleep_regularity", 0, 1440), name="sleep_regularity"),
    sa.CheckConstraint("baseline_days BETWEEN 0 AND 28", name="baseline_days"),
    sa.CheckConstraint(_among("wear_state", WEAR_STATES), name="wear_state"),
    sa.CheckConstraint(_among("alert_state", ALERT_STATES), name="alert_state"),
    sa.CheckConstraint("flag = (alert_state = 'flag')", name="flag"),
    sa.CheckConstraint("nights_low IS NULL OR nights_low >= 0", name="nights_low"),
    sa.CheckConstraint("nights_valid IS NULL OR nights_valid BETWEEN 0 AND 127", name="nights_valid"),
    sa.CheckConstraint("nights_low IS NULL OR nights_valid IS NULL OR nights_low <= nights_valid",
                       name="nights_low_of_valid"),
)

#: The risk model's predictions at a screening (migration 0009; the analysis table
#: ``risk_predictions``), beside the tier decision (never replacing it): append-only, one per
#: decision and model (id@version): a new model version adds a row.
risk_predictions = sa.Table(
    "risk_predictions", metadata,
    sa.Column("prediction_id", sa.String(64), primary_key=True),
    sa.Column("decision_id", sa.Integer, sa.ForeignKey("tier_assignments.assignment_id"), nullable=False),
    sa.Column("resident_id", sa.String(64), sa.ForeignKey("residents.resident_id"), nullable=False),
    sa.Column("assessed_on", sa.Date, nullable=False),
    sa.Column("model", sa.String(80), nullable=False),
    sa.Column("data_version", sa.String(80), nullable=False),
    sa.Column("outcome", sa.String(60), nullable=False),
    sa.Column("risk", sa.Float, nullable=False),
    sa.Column("band", sa.String(10), nullable=False),
    sa.Column("reason_1", sa.String(80)),
    sa.Column("reason_2", sa.String(80)),
    sa.Column("reason_3", sa.String(80)),
    sa.Column("predicted_on", sa.Date, nullable=False),
    sa.Column("predicted_by", sa.String(64), sa.ForeignKey("users.name"), nullable=False),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("decision_id", "model", name="uq_risk_predictions_decision_model"),
    sa.CheckConstraint("risk >= 0 AND risk <= 1", name="risk"),
    sa.CheckConstraint(_among("band", RISK_BANDS), name="band"),
    sa.CheckConstraint("predicted_on >= assessed_on", name="predicted_after_screening"),
)


enrolments = sa.Table(
    "enrolments", metadata,
    sa.Column("enrolment_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("resident_id", sa.String(64), sa.ForeignKey("residents.resident_id"), nullable=False),
    sa.Column("study", sa.String(60), nullable=False),
    sa.Column("arm", sa.String(60)),
    sa.Column("enrolled_on", sa.Date, nullable=False),
    *_who("recorded"),
    sa.UniqueConstraint("resident_id", "study", name="uq_enrolments_resident_study"),
)

consents = sa.Table(
    "consents", metadata,
    sa.Column("consent_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("resident_id", sa.String(64), sa.ForeignKey("residents.resident_id"), nullable=False),
    sa.Column("purpose", sa.String(60), nullable=False),
    sa.Column("given", sa.Boolean, nullable=False),
    sa.Column("given_on", sa.Date, nullable=False),
    sa.Column("withdrawn_on", sa.Date),
    *_who("recorded"),
)

surveys = sa.Table(
    "surveys", metadata,
    sa.Column("survey_id", sa.String(64), primary_key=True),
    sa.Column("resident_id", sa.String(64), sa.ForeignKey("residents.resident_id"), nullable=False),
    sa.Column("referral_id", sa.String(64), sa.ForeignKey("referrals.referral_id")),
    sa.Column("surveyed_on", sa.Date, nullable=False),
    sa.Column("satisfied", sa.Boolean),
    sa.Column("rating", sa.Integer),
    *_who("recorded"),
    sa.CheckConstraint("rating IS NULL OR rating BETWEEN 1 AND 5", name="rating"),
)

caseloads = sa.Table(
    "caseloads", metadata,
    sa.Column("user_name", sa.String(64), sa.ForeignKey("users.name"), primary_key=True),
    sa.Column("resident_id", sa.String(64), sa.ForeignKey("residents.resident_id"), primary_key=True),
    *_who("assigned"),
)

access_approvals = sa.Table(
    "access_approvals", metadata,
    sa.Column("approval_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("user_name", sa.String(64), sa.ForeignKey("users.name"), nullable=False),
    sa.Column("resident_id", sa.String(64), sa.ForeignKey("residents.resident_id"), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    *_who("approved"),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),  # time-limited
    sa.CheckConstraint("approved_by <> user_name", name="second_person"),
)

audit_log = sa.Table(
    "audit_log", metadata,
    sa.Column("entry_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("user_name", sa.String(64), nullable=False),
    sa.Column("action", sa.String(40), nullable=False),
    sa.Column("target_table", sa.String(40)),
    sa.Column("target_key", sa.String(200)),
    sa.Column("content_hash", sa.String(64)),
    sa.Column("details", sa.Text),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("entry_hash", sa.String(64), nullable=False, unique=True),
)
