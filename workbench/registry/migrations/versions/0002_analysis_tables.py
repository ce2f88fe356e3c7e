"""the registry holds what the analysis tables need

Communities (and their type) as a table; why each questionnaire was taken (purpose, the
referral of a review, the study and visit of a study visit) and its derived values; the whole
tier decision (psychological status, disease category, service); satisfaction surveys.
Existing rows keep their content hashes: a screening's new columns hold their defaults.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('communities',
    sa.Column('community', sa.String(length=100), nullable=False),
    sa.Column('community_type', sa.String(length=40), nullable=True),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['users.name'], name=op.f('fk_communities_created_by_users')),
    sa.PrimaryKeyConstraint('community', name=op.f('pk_communities'))
    )
    # every community a stored resident lives in, with its type unknown until someone records it
    op.execute("INSERT INTO communities (community, community_type, created_by, created_at) "
               "SELECT DISTINCT r.community, NULL, 'admin', CURRENT_TIMESTAMP FROM residents r "
               "WHERE EXISTS (SELECT 1 FROM users u WHERE u.name = 'admin')")
    # (no foreign key from residents.community: on SQLite it would mean rebuilding the residents
    # table, which every other table refers to; the registry adds a resident's community itself)

    with op.batch_alter_table('assessments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('purpose', sa.String(length=20), server_default='screening', nullable=False))
        batch_op.add_column(sa.Column('referral_id', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('study', sa.String(length=60), nullable=True))
        batch_op.add_column(sa.Column('visit', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('derived', sa.Text(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_assessments_referral_id_referrals'), 'referrals',
                                    ['referral_id'], ['referral_id'])
        batch_op.create_check_constraint(batch_op.f('ck_assessments_purpose'),
                                         "purpose IN ('screening', 'review', 'study')")
        batch_op.drop_constraint('uq_assessments_screening', type_='unique')
    op.create_index('uq_assessments_taken', 'assessments',
                    ['resident_id', 'assessed_on', 'instrument', 'purpose', sa.text("coalesce(study, '')")],
                    unique=True)

    with op.batch_alter_table('tier_assignments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('psych_status', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('disease_category', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('service', sa.Text(), nullable=True))

    op.create_table('surveys',
    sa.Column('survey_id', sa.String(length=64), nullable=False),
    sa.Column('resident_id', sa.String(length=64), nullable=False),
    sa.Column('referral_id', sa.String(length=64), nullable=True),
    sa.Column('surveyed_on', sa.Date(), nullable=False),
    sa.Column('satisfied', sa.Boolean(), nullable=True),
    sa.Column('rating', sa.Integer(), nullable=True),
    sa.Column('recorded_by', sa.String(length=64), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('rating IS NULL OR rating BETWEEN 1 AND 5', name=op.f('ck_surveys_rating')),
    sa.ForeignKeyConstraint(['recorded_by'], ['users.name'], name=op.f('fk_surveys_recorded_by_users')),
    sa.ForeignKeyConstraint(['referral_id'], ['referrals.referral_id'], name=op.f('fk_surveys_referral_id_referrals')),
    sa.ForeignKeyConstraint(['resident_id'], ['residents.resident_id'], name=op.f('fk_surveys_resident_id_residents')),
    sa.PrimaryKeyConstraint('survey_id', name=op.f('pk_surveys'))
    )


def downgrade() -> None:
    op.drop_table('surveys')
    with op.batch_alter_table('tier_assignments', schema=None) as batch_op:
        batch_op.drop_column('service')
        batch_op.drop_column('disease_category')
        batch_op.drop_column('psych_status')
    op.drop_index('uq_assessments_taken', table_name='assessments')
    with op.batch_alter_table('assessments', schema=None) as batch_op:
        batch_op.create_unique_constraint('uq_assessments_screening', ['resident_id', 'assessed_on', 'instrument'])
        batch_op.drop_constraint(batch_op.f('ck_assessments_purpose'), type_='check')
        batch_op.drop_constraint(batch_op.f('fk_assessments_referral_id_referrals'), type_='foreignkey')
        batch_op.drop_column('derived')
        batch_op.drop_column('visit')
        batch_op.drop_column('study')
        batch_op.drop_column('referral_id')
        batch_op.drop_column('purpose')
    op.drop_table('communities')
