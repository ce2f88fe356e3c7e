"""the registry holds the severe-mental-disorder register, its follow-ups and the rehabilitation ladder (issue 16)

Three tables: ``smd_register`` (one row per registered patient: diagnosis among the six disorders,
dates, the guardian's relation, consent, leaving the register), ``smd_followups`` (one per patient
and day: mode, risk grade 0-5 -- blank: not assessed, never 0 --, the answers, medication, what
the SMD policy suggested when the follow-up was saved and what staff decided, with the reason
when the two differ, referral, next due date) and ``smd_rehab`` (steps on the five-level
community rehabilitation ladder). Codes as ``workbench.smd`` declares them, kept by CHECKs. On
PostgreSQL the security install runs again: the new tables' row policies and grants (a clinician
reads the rows of residents on their caseload, approved for them, or stored by them), and the
analysts' views. Existing rows are not changed.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from alembic import op
import sqlalchemy as sa

from workbench.registry import pg_security


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

# the codes as of this revision (workbench.smd; a later change of codes is a later revision)
_DISORDERS = ("schizophrenia", "schizoaffective", "delusional", "bipolar", "epilepsy_mental",
              "intellectual_disability_mental")
_GUARDIANS = ("parent", "spouse", "child", "sibling", "other", "none")
_LEFT = ("moved", "died", "diagnosis_revised", "other")
_MODES = ("face_to_face", "phone")
_ITEMS = {"symptoms": ("remitted", "residual", "marked"), "insight": ("full", "partial", "none"),
          "social_function": ("fair", "poor"), "adverse_reaction": ("none", "mild", "acute"),
          "physical_illness": ("none", "mild", "serious")}
_REGULARITY = ("regular", "intermittent", "none")
_STABILITIES = ("stable", "basically_stable", "unstable")


def _in(column, values, blank=True):
    listed = ", ".join(f"'{v}'" for v in values)
    return f"{column} IS NULL OR {column} IN ({listed})" if blank else f"{column} IN ({listed})"


def _who(table, prefix="recorded"):
    return [sa.Column(f'{prefix}_by', sa.String(length=64), nullable=False),
            sa.Column(f'{prefix}_at', sa.DateTime(timezone=True), nullable=False),
            sa.ForeignKeyConstraint([f'{prefix}_by'], ['users.name'], name=op.f(f'fk_{table}_{prefix}_by_users'))]


def upgrade() -> None:
    op.create_table('smd_register',
    sa.Column('resident_id', sa.String(length=64), nullable=False),
    sa.Column('diagnosis', sa.String(length=40), nullable=False),
    sa.Column('diagnosed_on', sa.Date(), nullable=True),
    sa.Column('registered_on', sa.Date(), nullable=False),
    sa.Column('guardian', sa.String(length=20), nullable=True),
    sa.Column('consent', sa.Boolean(), nullable=True),
    sa.Column('consent_on', sa.Date(), nullable=True),
    sa.Column('left_on', sa.Date(), nullable=True),
    sa.Column('left_reason', sa.String(length=30), nullable=True),
    *_who('smd_register'),
    sa.CheckConstraint(_in('diagnosis', _DISORDERS, blank=False), name=op.f('ck_smd_register_diagnosis')),
    sa.CheckConstraint(_in('guardian', _GUARDIANS), name=op.f('ck_smd_register_guardian')),
    sa.CheckConstraint(_in('left_reason', _LEFT), name=op.f('ck_smd_register_left_reason')),
    sa.CheckConstraint('(left_on IS NULL) = (left_reason IS NULL)', name=op.f('ck_smd_register_left_with_reason')),
    sa.CheckConstraint('left_on IS NULL OR left_on >= registered_on',
                       name=op.f('ck_smd_register_left_after_registered')),
    sa.CheckConstraint('diagnosed_on IS NULL OR diagnosed_on <= registered_on',
                       name=op.f('ck_smd_register_diagnosed_before_registered')),
    sa.ForeignKeyConstraint(['resident_id'], ['residents.resident_id'],
                            name=op.f('fk_smd_register_resident_id_residents')),
    sa.PrimaryKeyConstraint('resident_id', name=op.f('pk_smd_register'))
    )
    op.create_table('smd_followups',
    sa.Column('followup_id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('submission_id', sa.String(length=100), nullable=True),
    sa.Column('resident_id', sa.String(length=64), nullable=False),
    sa.Column('followed_on', sa.Date(), nullable=False),
    sa.Column('mode', sa.String(length=20), nullable=False),
    sa.Column('risk_grade', sa.SmallInteger(), nullable=True),
    *[sa.Column(item, sa.String(length=20), nullable=True) for item in _ITEMS],
    sa.Column('on_medication', sa.Boolean(), nullable=True),
    sa.Column('medication_regularity', sa.String(length=20), nullable=True),
    sa.Column('suggested_outcome', sa.String(length=20), nullable=True),
    sa.Column('rule', sa.String(length=60), nullable=True),
    sa.Column('outcome', sa.String(length=20), nullable=True),
    sa.Column('outcome_reason', sa.Text(), nullable=True),
    sa.Column('referred', sa.Boolean(), nullable=True),
    sa.Column('next_due', sa.Date(), nullable=True),
    sa.Column('policy_version', sa.String(length=60), nullable=True),
    *_who('smd_followups'),
    sa.CheckConstraint(_in('mode', _MODES, blank=False), name=op.f('ck_smd_followups_mode')),
    sa.CheckConstraint('risk_grade IS NULL OR risk_grade BETWEEN 0 AND 5', name=op.f('ck_smd_followups_risk_grade')),
    *[sa.CheckConstraint(_in(item, values), name=op.f(f'ck_smd_followups_{item}')) for item, values in _ITEMS.items()],
    sa.CheckConstraint(_in('medication_regularity', _REGULARITY),
                       name=op.f('ck_smd_followups_medication_regularity')),
    sa.CheckConstraint(_in('suggested_outcome', _STABILITIES), name=op.f('ck_smd_followups_suggested_outcome')),
    sa.CheckConstraint(_in('outcome', _STABILITIES), name=op.f('ck_smd_followups_outcome')),
    sa.ForeignKeyConstraint(['resident_id'], ['smd_register.resident_id'],
                            name=op.f('fk_smd_followups_resident_id_smd_register')),
    sa.PrimaryKeyConstraint('followup_id', name=op.f('pk_smd_followups')),
    sa.UniqueConstraint('resident_id', 'followed_on', name='uq_smd_followups_visit')
    )
    op.create_index('uq_smd_followups_submission', 'smd_followups', ['submission_id'], unique=True)
    op.create_table('smd_rehab',
    sa.Column('rehab_id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('resident_id', sa.String(length=64), nullable=False),
    sa.Column('level', sa.SmallInteger(), nullable=False),
    sa.Column('entered_on', sa.Date(), nullable=False),
    sa.Column('left_on', sa.Date(), nullable=True),
    *_who('smd_rehab'),
    sa.CheckConstraint('level BETWEEN 1 AND 5', name=op.f('ck_smd_rehab_level')),
    sa.CheckConstraint('left_on IS NULL OR left_on >= entered_on', name=op.f('ck_smd_rehab_left_after_entered')),
    sa.ForeignKeyConstraint(['resident_id'], ['smd_register.resident_id'],
                            name=op.f('fk_smd_rehab_resident_id_smd_register')),
    sa.PrimaryKeyConstraint('rehab_id', name=op.f('pk_smd_rehab')),
    sa.UniqueConstraint('resident_id', 'level', 'entered_on', name='uq_smd_rehab_step')
    )
    pg_security.install(op.get_bind())


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for view in ('smd_rehab', 'smd_followups', 'smd_register'):
            op.execute(f"DROP VIEW IF EXISTS analyst.{view}")
    op.drop_table('smd_rehab')
    op.drop_index('uq_smd_followups_submission', table_name='smd_followups')
    op.drop_table('smd_followups')
    op.drop_table('smd_register')
