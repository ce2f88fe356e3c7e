"""the registry holds physiological measurements (issue 15)

A table ``measurements``: one row per resident, day and setting (clinic, home, device), with blood
pressure, heart rate, glucose, HbA1c (in %; mmol/mol is computed when read), weight, height, BMI,
waist, cholesterol, smoking, adherence and the facts of a follow-up visit; who measured it and
who stored it. ``residents.ckd`` (chronic kidney disease; blank: not recorded) and ``events.days``
(a hospital stay's length) are added blank: rows stored before keep their content hashes (a
blank new column is left out of the hash, ``audit.LATER``). On PostgreSQL the security install
runs again: the measurements' row policies and grants, and the analysts' views of every analysis
table with the new columns and the ``measurements`` view. Existing rows are not changed.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from alembic import op
import sqlalchemy as sa

from workbench.registry import pg_security


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # plain ADD COLUMN of nullable columns: on SQLite no rebuild of tables every other one refers to
    op.add_column('residents', sa.Column('ckd', sa.Boolean(), nullable=True))
    op.add_column('events', sa.Column('days', sa.SmallInteger(), nullable=True))
    # (the CHECK days >= 0 of the new schema is kept by the registry's checks on an upgraded SQLite
    # registry: adding a constraint there means rebuilding the table)
    if op.get_bind().dialect.name == "postgresql":
        op.create_check_constraint(op.f('ck_events_days'), 'events', 'days IS NULL OR days >= 0')
    op.create_table('measurements',
    sa.Column('measurement_id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('submission_id', sa.String(length=100), nullable=True),
    sa.Column('resident_id', sa.String(length=64), nullable=False),
    sa.Column('measured_on', sa.Date(), nullable=False),
    sa.Column('setting', sa.String(length=20), nullable=False),
    sa.Column('measured_by', sa.String(length=64), nullable=True),
    sa.Column('sbp', sa.SmallInteger(), nullable=True),
    sa.Column('dbp', sa.SmallInteger(), nullable=True),
    sa.Column('heart_rate', sa.SmallInteger(), nullable=True),
    sa.Column('fasting_glucose', sa.Float(), nullable=True),
    sa.Column('random_glucose', sa.Float(), nullable=True),
    sa.Column('hba1c', sa.Float(), nullable=True),
    sa.Column('weight_kg', sa.Float(), nullable=True),
    sa.Column('height_cm', sa.Float(), nullable=True),
    sa.Column('bmi', sa.Float(), nullable=True),
    sa.Column('waist_cm', sa.Float(), nullable=True),
    sa.Column('total_cholesterol', sa.Float(), nullable=True),
    sa.Column('ldl', sa.Float(), nullable=True),
    sa.Column('smoking', sa.String(length=20), nullable=True),
    sa.Column('adherence', sa.String(length=20), nullable=True),
    sa.Column('adverse_reaction', sa.Boolean(), nullable=True),
    sa.Column('complication', sa.Boolean(), nullable=True),
    sa.Column('alarm_symptoms', sa.Boolean(), nullable=True),
    sa.Column('recorded_by', sa.String(length=64), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('(sbp IS NULL) = (dbp IS NULL)', name=op.f('ck_measurements_bp_pair')),
    sa.CheckConstraint('sbp IS NULL OR dbp < sbp', name=op.f('ck_measurements_dbp_below_sbp')),
    sa.ForeignKeyConstraint(['measured_by'], ['users.name'], name=op.f('fk_measurements_measured_by_users')),
    sa.ForeignKeyConstraint(['recorded_by'], ['users.name'], name=op.f('fk_measurements_recorded_by_users')),
    sa.ForeignKeyConstraint(['resident_id'], ['residents.resident_id'],
                            name=op.f('fk_measurements_resident_id_residents')),
    sa.PrimaryKeyConstraint('measurement_id', name=op.f('pk_measurements')),
    sa.UniqueConstraint('resident_id', 'measured_on', 'setting', name='uq_measurements_reading')
    )
    op.create_index('uq_measurements_submission', 'measurements', ['submission_id'], unique=True)
    pg_security.install(op.get_bind())


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("DROP VIEW IF EXISTS analyst.measurements")
    op.drop_index('uq_measurements_submission', table_name='measurements')
    op.drop_table('measurements')
    with op.batch_alter_table('events', schema=None) as batch_op:
        if bind.dialect.name == "postgresql":
            batch_op.drop_constraint(op.f('ck_events_days'), type_='check')
        batch_op.drop_column('days')
    with op.batch_alter_table('residents', schema=None) as batch_op:
        batch_op.drop_column('ckd')
