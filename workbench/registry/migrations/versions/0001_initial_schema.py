"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-26 (generated from workbench.registry.schema, then reviewed)
"""

from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_log',
    sa.Column('entry_id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('user_name', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=40), nullable=False),
    sa.Column('target_table', sa.String(length=40), nullable=True),
    sa.Column('target_key', sa.String(length=200), nullable=True),
    sa.Column('content_hash', sa.String(length=64), nullable=True),
    sa.Column('details', sa.Text(), nullable=True),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('entry_hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('entry_id', name=op.f('pk_audit_log')),
    sa.UniqueConstraint('entry_hash', name=op.f('uq_audit_log_entry_hash'))
    )
    op.create_table('users',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('display_name', sa.String(length=200), nullable=True),
    sa.Column('active', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("role IN ('social_worker', 'counsellor', 'doctor', 'analyst', 'admin')", name=op.f('ck_users_role')),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_users'))
    )
    op.create_table('residents',
    sa.Column('resident_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=True),
    sa.Column('phone', sa.String(length=50), nullable=True),
    sa.Column('id_number', sa.String(length=50), nullable=True),
    sa.Column('sex', sa.String(length=10), nullable=False),
    sa.Column('birth_date', sa.Date(), nullable=False),
    sa.Column('community', sa.String(length=100), nullable=False),
    sa.Column('lives_alone', sa.Boolean(), nullable=False),
    sa.Column('hypertension', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('diabetes', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('chd', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('stroke', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('copd', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('asthma', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("sex IN ('female', 'male')", name=op.f('ck_residents_sex')),
    sa.ForeignKeyConstraint(['created_by'], ['users.name'], name=op.f('fk_residents_created_by_users')),
    sa.PrimaryKeyConstraint('resident_id', name=op.f('pk_residents'))
    )
    op.create_table('access_approvals',
    sa.Column('approval_id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('user_name', sa.String(length=64), nullable=False),
    sa.Column('resident_id', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('approved_by', sa.String(length=64), nullable=False),
    sa.Column('approved_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('approved_by <> user_name', name=op.f('ck_access_approvals_second_person')),
    sa.ForeignKeyConstraint(['approved_by'], ['users.name'], name=op.f('fk_access_approvals_approved_by_users')),
    sa.ForeignKeyConstraint(['resident_id'], ['residents.resident_id'], name=op.f('fk_access_approvals_resident_id_residents')),
    sa.ForeignKeyConstraint(['user_name'], ['users.name'], name=op.f('fk_access_approvals_user_name_users')),
    sa.PrimaryKeyConstraint('approval_id', name=op.f('pk_access_approvals'))
    )
    op.create_table('assessments',
    sa.Column('assessment_id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('submission_id', sa.String(length=100), nullable=True),
    sa.Column('resident_id', sa.String(length=64), nullable=False),
    sa.Column('assessed_on', sa.Date(), nullable=False),
    sa.Column('instrument', sa.String(length=20), nullable=False),
    sa.Column('instrument_version', sa.String(length=20), nullable=False),
    sa.Column('language', sa.String(length=5), nullable=True),
    sa.Column('mode', sa.String(length=20), nullable=True),
    sa.Column('answers', sa.Text(), nullable=False),
    sa.Column('score', sa.Float(), nullable=True),
    sa.Column('band', sa.String(length=40), nullable=True),
    sa.Column('n_answered', sa.Integer(), nullable=False),
    sa.Column('prorated', sa.Boolean(), nullable=False),
    sa.Column('flags', sa.Text(), nullable=False),
    sa.Column('scoring_version', sa.String(length=60), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('entered_by', sa.String(length=64), nullable=False),
    sa.Column('entered_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("mode IS NULL OR mode IN ('self', 'interviewer')", name=op.f('ck_assessments_mode')),
    sa.ForeignKeyConstraint(['entered_by'], ['users.name'], name=op.f('fk_assessments_entered_by_users')),
    sa.ForeignKeyConstraint(['resident_id'], ['residents.resident_id'], name=op.f('fk_assessments_resident_id_residents')),
    sa.PrimaryKeyConstraint('assessment_id', name=op.f('pk_assessments')),
    sa.UniqueConstraint('resident_id', 'assessed_on', 'instrument', name='uq_assessments_screening')
    )
    with op.batch_alter_table('assessments', schema=None) as batch_op:
        batch_op.create_index('ix_assessments_resident', ['resident_id', 'assessed_on'], unique=False)

    op.create_table('caseloads',
    sa.Column('user_name', sa.String(length=64), nullable=False),
    sa.Column('resident_id', sa.String(length=64), nullable=False),
    sa.Column('assigned_by', sa.String(length=64), nullable=False),
    sa.Column('assigned_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['assigned_by'], ['users.name'], name=op.f('fk_caseloads_assigned_by_users')),
    sa.ForeignKeyConstraint(['resident_id'], ['residents.resident_id'], name=op.f('fk_caseloads_resident_id_residents')),
    sa.ForeignKeyConstraint(['user_name'], ['users.name'], name=op.f('fk_caseloads_user_name_users')),
    sa.PrimaryKeyConstraint('user_name', 'resident_id', name=op.f('pk_caseloads'))
    )
    op.create_table('consents',
    sa.Column('consent_id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('resident_id', sa.String(length=64), nullable=False),
    sa.Column('purpose', sa.String(length=60), nullable=False),
    sa.Column('given', sa.Boolean(), nullable=False),
    sa.Column('given_on', sa.Date(), nullable=False),
    sa.Column('withdrawn_on', sa.Date(), nullable=True),
    sa.Column('recorded_by', sa.String(length=64), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['recorded_by'], ['users.name'], name=op.f('fk_consents_recorded_by_users')),
    sa.ForeignKeyConstraint(['resident_id'], ['residents.resident_id'], name=op.f('fk_consents_resident_id_residents')),
    sa.PrimaryKeyConstraint('consent_id', name=op.f('pk_consents'))
    )
    op.create_table('enrolments',
    sa.Column('enrolment_id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('resident_id', sa.String(length=64), nullable=False),
    sa.Column('study', sa.String(length=60), nullable=False),
    sa.Column('arm', sa.String(length=60), nullable=True),
    sa.Column('enrolled_on', sa.Date(), nullable=False),
    sa.Column('recorded_by', sa.String(length=64), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['recorded_by'], ['users.name'], name=op.f('fk_enrolments_recorded_by_users')),
    sa.ForeignKeyConstraint(['resident_id'], ['residents.resident_id'], name=op.f('fk_enrolments_resident_id_residents')),
    sa.PrimaryKeyConstraint('enrolment_id', name=op.f('pk_enrolments')),
    sa.UniqueConstraint('resident_id', 'study', name='uq_enrolments_resident_study')
    )
    op.create_table('events',
    sa.Column('event_id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('resident_id', sa.String(length=64), nullable=False),
    sa.Column('event_on', sa.Date(), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('source', sa.String(length=100), nullable=True),
    sa.Column('recorded_by', sa.String(length=64), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('er_visit', 'crisis', 'cardiovascular_event', 'hospitalisation', 'death')", name=op.f('ck_events_kind')),
    sa.ForeignKeyConstraint(['recorded_by'], ['users.name'], name=op.f('fk_events_recorded_by_users')),
    sa.ForeignKeyConstraint(['resident_id'], ['residents.resident_id'], name=op.f('fk_events_resident_id_residents')),
    sa.PrimaryKeyConstraint('event_id', name=op.f('pk_events'))
    )
    op.create_table('referrals',
    sa.Column('referral_id', sa.String(length=64), nullable=False),
    sa.Column('resident_id', sa.String(length=64), nullable=False),
    sa.Column('referred_on', sa.Date(), nullable=False),
    sa.Column('tier', sa.Integer(), nullable=True),
    sa.Column('rule', sa.String(length=60), nullable=True),
    sa.Column('destination', sa.String(length=200), nullable=True),
    sa.Column('ended_on', sa.Date(), nullable=True),
    sa.Column('end_reason', sa.String(length=40), nullable=True),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['users.name'], name=op.f('fk_referrals_created_by_users')),
    sa.ForeignKeyConstraint(['resident_id'], ['residents.resident_id'], name=op.f('fk_referrals_resident_id_residents')),
    sa.PrimaryKeyConstraint('referral_id', name=op.f('pk_referrals'))
    )
    op.create_table('tier_assignments',
    sa.Column('assignment_id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('resident_id', sa.String(length=64), nullable=False),
    sa.Column('assessed_on', sa.Date(), nullable=False),
    sa.Column('suggested_tier', sa.Integer(), nullable=True),
    sa.Column('tier', sa.Integer(), nullable=True),
    sa.Column('rule', sa.String(length=60), nullable=False),
    sa.Column('policy_version', sa.String(length=80), nullable=False),
    sa.Column('urgent', sa.Boolean(), nullable=False),
    sa.Column('needs_review', sa.Boolean(), nullable=False),
    sa.Column('service_cell', sa.String(length=40), nullable=True),
    sa.Column('next_contact_due', sa.Date(), nullable=True),
    sa.Column('overridden', sa.Boolean(), nullable=False),
    sa.Column('override_reason', sa.Text(), nullable=True),
    sa.Column('decided_by', sa.String(length=64), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('NOT overridden OR override_reason IS NOT NULL', name=op.f('ck_tier_assignments_override_reason')),
    sa.ForeignKeyConstraint(['decided_by'], ['users.name'], name=op.f('fk_tier_assignments_decided_by_users')),
    sa.ForeignKeyConstraint(['resident_id'], ['residents.resident_id'], name=op.f('fk_tier_assignments_resident_id_residents')),
    sa.PrimaryKeyConstraint('assignment_id', name=op.f('pk_tier_assignments'))
    )
    op.create_table('contacts',
    sa.Column('contact_id', sa.String(length=64), nullable=False),
    sa.Column('resident_id', sa.String(length=64), nullable=False),
    sa.Column('referral_id', sa.String(length=64), nullable=True),
    sa.Column('contact_on', sa.Date(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('recorded_by', sa.String(length=64), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('planned', 'attended', 'missed')", name=op.f('ck_contacts_status')),
    sa.ForeignKeyConstraint(['recorded_by'], ['users.name'], name=op.f('fk_contacts_recorded_by_users')),
    sa.ForeignKeyConstraint(['referral_id'], ['referrals.referral_id'], name=op.f('fk_contacts_referral_id_referrals')),
    sa.ForeignKeyConstraint(['resident_id'], ['residents.resident_id'], name=op.f('fk_contacts_resident_id_residents')),
    sa.PrimaryKeyConstraint('contact_id', name=op.f('pk_contacts'))
    )


def downgrade() -> None:
    op.drop_table('contacts')
    op.drop_table('tier_assignments')
    op.drop_table('referrals')
    op.drop_table('events')
    op.drop_table('enrolments')
    op.drop_table('consents')
    op.drop_table('caseloads')
    with op.batch_alter_table('assessments', schema=None) as batch_op:
        batch_op.drop_index('ix_assessments_resident')

    op.drop_table('assessments')
    op.drop_table('access_approvals')
    op.drop_table('residents')
    op.drop_table('users')
    op.drop_table('audit_log')
