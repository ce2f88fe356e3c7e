"""the registry holds a wristband's daily features and the risk model's predictions (issue 17)

Two tables, as the analysis tables ``wearable_days`` and ``risk_predictions`` declare them
(:mod:`workbench.tables`):

- ``wearable_days``: one row per resident and local day (primary key), the day's features
  against the person's own baseline, the wear state and the alert state (``flag`` is
  ``alert_state = 'flag'``, a CHECK; ``nights_low <= nights_valid``), the policy rule, who stored it
  and when. Features computed again for a day replace the row (an audited update).
- ``risk_predictions``: one row per prediction (``prediction_id``), about a tier decision
  (``decision_id`` -> ``tier_assignments``), beside it and never replacing it; one per decision and
  model (id@version, UNIQUE): a new model version adds a row. ``risk`` in [0, 1], ``band`` low,
  medium or high, up to three reasons, who stored it (``predicted_by``) and when.

Both tables are made with all their CHECKs on SQLite and PostgreSQL. The audit log covers them
from their first row (the tables are new: nothing to seal). On PostgreSQL the security install
runs again: clinicians read the rows of residents on their caseload, approved for them, or
stored by them (social workers nothing), update a wearable day they may read, and insert under
their own name; the analysts' views ``analyst.wearable_days`` and ``analyst.risk_predictions``
(ids, devices and staff pseudonymised). Existing rows are not changed.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from alembic import op
import sqlalchemy as sa

from workbench.registry import pg_security


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

# the codes as of this revision (workbench.tables; a later change of codes is a later revision)
_WEAR = ("worn", "low_wear", "not_worn")
_ALERT = ("flag", "clear", "low_wear", "no_baseline")
_BANDS = ("low", "medium", "high")


def _among(column, values):
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def _within(column, low, high):
    return f"{column} IS NULL OR {column} BETWEEN {low} AND {high}"


def upgrade() -> None:
    op.create_table('wearable_days',
    sa.Column('resident_id', sa.String(length=64), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('device_id', sa.String(length=64), nullable=True),
    sa.Column('wear_minutes', sa.SmallInteger(), nullable=False),
    sa.Column('night_wear_minutes', sa.SmallInteger(), nullable=False),
    sa.Column('resting_hr', sa.Float(), nullable=True),
    sa.Column('rmssd', sa.Float(), nullable=True),
    sa.Column('steps', sa.Integer(), nullable=True),
    sa.Column('sleep_minutes', sa.SmallInteger(), nullable=True),
    sa.Column('sleep_midpoint', sa.Float(), nullable=True),
    sa.Column('sleep_regularity', sa.Float(), nullable=True),
    sa.Column('baseline_days', sa.SmallInteger(), nullable=False),
    sa.Column('rmssd_z', sa.Float(), nullable=True),
    sa.Column('resting_hr_z', sa.Float(), nullable=True),
    sa.Column('steps_z', sa.Float(), nullable=True),
    sa.Column('sleep_z', sa.Float(), nullable=True),
    sa.Column('wear_state', sa.String(length=12), nullable=False),
    sa.Column('alert_state', sa.String(length=12), nullable=False),
    sa.Column('flag', sa.Boolean(), nullable=False),
    sa.Column('nights_low', sa.SmallInteger(), nullable=True),
    sa.Column('nights_valid', sa.SmallInteger(), nullable=True),
    sa.Column('rule', sa.String(length=120), nullable=True),
    sa.Column('recorded_by', sa.String(length=64), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('wear_minutes BETWEEN 0 AND 1440', name=op.f('ck_wearable_days_wear_minutes')),
    sa.CheckConstraint('night_wear_minutes BETWEEN 0 AND 1440', name=op.f('ck_wearable_days_night_wear_minutes')),
    sa.CheckConstraint(_within('resting_hr', 20, 250), name=op.f('ck_wearable_days_resting_hr')),
    sa.CheckConstraint(_within('rmssd', 0, 1000), name=op.f('ck_wearable_days_rmssd')),
    sa.CheckConstraint(_within('steps', 0, 200000), name=op.f('ck_wearable_days_steps')),
    sa.CheckConstraint(_within('sleep_minutes', 0, 1440), name=op.f('ck_wearable_days_sleep_minutes')),
    sa.CheckConstraint(_within('sleep_midpoint', -24, 24), name=op.f('ck_wearable_days_sleep_midpoint')),
    sa.CheckConstraint(_within('sleep_regularity', 0, 1440), name=op.f('ck_wearable_days_sleep_regularity')),
    sa.CheckConstraint('baseline_days BETWEEN 0 AND 28', name=op.f('ck_wearable_days_baseline_days')),
    sa.CheckConstraint(_among('wear_state', _WEAR), name=op.f('ck_wearable_days_wear_state')),
    sa.CheckConstraint(_among('alert_state', _ALERT), name=op.f('ck_wearable_days_alert_state')),
    sa.CheckConstraint("flag = (alert_state = 'flag')", name=op.f('ck_wearable_days_flag')),
    sa.CheckConstraint('nights_low IS NULL OR nights_low >= 0', name=op.f('ck_wearable_days_nights_low')),
    sa.CheckConstraint('nights_valid IS NULL OR nights_valid BETWEEN 0 AND 127',
                       name=op.f('ck_wearable_days_nights_valid')),
    sa.CheckConstraint('nights_low IS NULL OR nights_valid IS NULL OR nights_low <= nights_valid',
                       name=op.f('ck_wearable_days_nights_low_of_valid')),
    sa.ForeignKeyConstraint(['recorded_by'], ['users.name'], name=op.f('fk_wearable_days_recorded_by_users')),
    sa.ForeignKeyConstraint(['resident_id'], ['residents.resident_id'],
                            name=op.f('fk_wearable_days_resident_id_residents')),
    sa.PrimaryKeyConstraint('resident_id', 'day', name=op.f('pk_wearable_days'))
    )
    op.create_table('risk_predictions',
    sa.Column('prediction_id', sa.String(length=64), nullable=False),
    sa.Column('decision_id', sa.Integer(), nullable=False),
    sa.Column('resident_id', sa.String(length=64), nullable=False),
    sa.Column('assessed_on', sa.Date(), nullable=False),
    sa.Column('model', sa.String(length=80), nullable=False),
    sa.Column('data_version', sa.String(length=80), nullable=False),
    sa.Column('outcome', sa.String(length=60), nullable=False),
    sa.Column('risk', sa.Float(), nullable=False),
    sa.Column('band', sa.String(length=10), nullable=False),
    sa.Column('reason_1', sa.String(length=80), nullable=True),
    sa.Column('reason_2', sa.String(length=80), nullable=True),
    sa.Column('reason_3', sa.String(length=80), nullable=True),
    sa.Column('predicted_on', sa.Date(), nullable=False),
    sa.Column('predicted_by', sa.String(length=64), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('risk >= 0 AND risk <= 1', name=op.f('ck_risk_predictions_risk')),
    sa.CheckConstraint(_among('band', _BANDS), name=op.f('ck_risk_predictions_band')),
    sa.CheckConstraint('predicted_on >= assessed_on', name=op.f('ck_risk_predictions_predicted_after_screening')),
    sa.ForeignKeyConstraint(['decision_id'], ['tier_assignments.assignment_id'],
                            name=op.f('fk_risk_predictions_decision_id_tier_assignments')),
    sa.ForeignKeyConstraint(['predicted_by'], ['users.name'], name=op.f('fk_risk_predictions_predicted_by_users')),
    sa.ForeignKeyConstraint(['resident_id'], ['residents.resident_id'],
                            name=op.f('fk_risk_predictions_resident_id_residents')),
    sa.PrimaryKeyConstraint('prediction_id', name=op.f('pk_risk_predictions')),
    sa.UniqueConstraint('decision_id', 'model', name='uq_risk_predictions_decision_model')
    )
    pg_security.install(op.get_bind())


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        for view in ("wearable_days", "risk_predictions"):
            op.execute(f"DROP VIEW IF EXISTS analyst.{view}")
    op.drop_table('risk_predictions')
    op.drop_table('wearable_days')
    pg_security.install(bind)  # PostgreSQL: grants, policies and views as of 0008 (a no-op elsewhere)
