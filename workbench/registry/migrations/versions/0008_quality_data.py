"""the registry holds the data of the quality indicators (issue 16): where a referral came from, the
hospital's dates of a fast-track referral, psychiatric emergencies and discharges, literacy answers

``referrals`` gains ``referral_source`` (screening, self, family, staff, hospital, other; blank:
not recorded), ``appointment_on`` and ``hospital_seen_on`` (the hospital's appointment and the day
it saw the resident; blank: none booked, not seen or not reported), all added blank: rows stored
before keep their content hashes (a blank new column is left out of the hash, ``audit.LATER``).
``events.kind`` takes ``psychiatric_emergency`` and ``psychiatric_discharge`` (``event_on`` the day
of discharge, ``days`` the stay). A table ``literacy``: one set of answers to a literacy
questionnaire per resident, day and questionnaire (``n_asked`` >= 1, ``n_correct`` from 0 to
``n_asked``, blank: not recorded, never 0), who recorded it.

Constraints: on PostgreSQL the referral CHECKs (a known source; the hospital's dates not before the
referral) are added and the events' kind CHECK replaced. On SQLite, adding or changing a CHECK
means rebuilding the table: ``events`` (referred to by no other table) is rebuilt with the new
kinds (and the ``days >= 0`` CHECK 0006 left to the registry there; its rows and ids are copied as
they are); ``referrals``, which assessments, contacts and surveys refer to, is not rebuilt: its new
CHECKs are kept by the registry's own checks on that dialect (``Registry.record`` and the imports),
as 0006 did for ``events.days``. ``literacy`` is made with all its CHECKs on both.

The audit log covers ``literacy`` from its first row (nothing to seal: the table is new, and a
registry sealed before stays sealed). On PostgreSQL the security install runs again: the literacy
rows' policies and grants (a clinician reads the rows of residents on their caseload, approved for
them, or stored by them), a clinician may fill the two hospital dates of a referral they may read
and the answers of a survey stored unanswered, and the analysts' views (``analyst.referrals`` with
the new columns, ``analyst.literacy``).
Existing rows are not changed.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from alembic import op
import sqlalchemy as sa

from workbench.registry import pg_security


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

# the codes as of this revision (workbench.tables; a later change of codes is a later revision)
_SOURCES = ("screening", "self", "family", "staff", "hospital", "other")
_OLD_KINDS = ("er_visit", "crisis", "cardiovascular_event", "hospitalisation", "death")
_KINDS = _OLD_KINDS + ("psychiatric_emergency", "psychiatric_discharge")
_REFERRAL_CHECKS = {
    'referral_source': "referral_source IS NULL OR referral_source IN (" + ", ".join(f"'{v}'" for v in _SOURCES) + ")",
    'appointment_after_referral': "appointment_on IS NULL OR appointment_on >= referred_on",
    'seen_after_referral': "hospital_seen_on IS NULL OR hospital_seen_on >= referred_on",
}


def _kinds(kinds):
    return "kind IN (" + ", ".join(f"'{v}'" for v in kinds) + ")"


def _events(kinds, days_check: bool) -> sa.Table:
    """The events table as it stands after 0006, with the kind CHECK of ``kinds`` (SQLite rebuild)."""
    checks = [sa.CheckConstraint(_kinds(kinds), name=op.f('ck_events_kind'))]
    if days_check:
        checks.append(sa.CheckConstraint('days IS NULL OR days >= 0', name=op.f('ck_events_days')))
    return sa.Table(
        'events', sa.MetaData(),
        sa.Column('event_id', sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column('resident_id', sa.String(length=64), sa.ForeignKey('residents.resident_id',
                                                                     name=op.f('fk_events_resident_id_residents')),
                  nullable=False),
        sa.Column('event_on', sa.Date(), nullable=False),
        sa.Column('kind', sa.String(length=30), nullable=False),
        sa.Column('source', sa.String(length=100), nullable=True),
        sa.Column('recorded_by', sa.String(length=64), sa.ForeignKey('users.name',
                                                                     name=op.f('fk_events_recorded_by_users')),
                  nullable=False),
        sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('days', sa.SmallInteger(), nullable=True),
        *checks)


def _set_kinds(kinds, days_check: bool) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint(op.f('ck_events_kind'), 'events', type_='check')
        op.create_check_constraint(op.f('ck_events_kind'), 'events', _kinds(kinds))
        return
    # SQLite: rebuilt from this definition, rows (and ids) copied as they are
    with op.batch_alter_table('events', recreate='always', copy_from=_events(kinds, days_check)):
        pass


def upgrade() -> None:
    bind = op.get_bind()
    # plain ADD COLUMN of nullable columns: on SQLite no rebuild of a table others refer to
    op.add_column('referrals', sa.Column('referral_source', sa.String(length=20), nullable=True))
    op.add_column('referrals', sa.Column('appointment_on', sa.Date(), nullable=True))
    op.add_column('referrals', sa.Column('hospital_seen_on', sa.Date(), nullable=True))
    if bind.dialect.name == "postgresql":
        for name, text in _REFERRAL_CHECKS.items():
            op.create_check_constraint(op.f(f'ck_referrals_{name}'), 'referrals', text)
    _set_kinds(_KINDS, days_check=True)
    op.create_table('literacy',
    sa.Column('literacy_id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('resident_id', sa.String(length=64), nullable=False),
    sa.Column('asked_on', sa.Date(), nullable=False),
    sa.Column('questionnaire', sa.String(length=60), nullable=False),
    sa.Column('n_asked', sa.SmallInteger(), nullable=False),
    sa.Column('n_correct', sa.SmallInteger(), nullable=True),
    sa.Column('recorded_by', sa.String(length=64), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('n_asked BETWEEN 1 AND 127', name=op.f('ck_literacy_n_asked')),
    sa.CheckConstraint('n_correct IS NULL OR (n_correct >= 0 AND n_correct <= n_asked)',
                       name=op.f('ck_literacy_n_correct')),
    sa.ForeignKeyConstraint(['recorded_by'], ['users.name'], name=op.f('fk_literacy_recorded_by_users')),
    sa.ForeignKeyConstraint(['resident_id'], ['residents.resident_id'], name=op.f('fk_literacy_resident_id_residents')),
    sa.PrimaryKeyConstraint('literacy_id', name=op.f('pk_literacy')),
    sa.UniqueConstraint('resident_id', 'asked_on', 'questionnaire', name='uq_literacy_asked')
    )
    pg_security.install(bind)


def downgrade() -> None:
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    stored = bind.execute(sa.text("SELECT count(*) FROM events WHERE kind IN ('psychiatric_emergency', "
                                  "'psychiatric_discharge')")).scalar()
    if stored:
        raise RuntimeError(f"{stored} psychiatric emergency or discharge event(s) are stored: revision 0007 cannot "
                           "hold them (nothing was changed)")
    if postgres:
        op.execute("DROP VIEW IF EXISTS analyst.literacy")
        op.execute("DROP VIEW IF EXISTS analyst.referrals")  # made again below without the new columns
        op.execute("DROP POLICY IF EXISTS clinician_hospital_dates ON referrals")
        op.execute("DROP POLICY IF EXISTS clinician_answers ON surveys")
    op.drop_table('literacy')
    _set_kinds(_OLD_KINDS, days_check=postgres)
    if postgres:
        for name in _REFERRAL_CHECKS:
            op.drop_constraint(op.f(f'ck_referrals_{name}'), 'referrals', type_='check')
    for column in ('hospital_seen_on', 'appointment_on', 'referral_source'):
        # plain DROP COLUMN (SQLite 3.35+): no rebuild of a table others refer to
        op.execute(f"ALTER TABLE referrals DROP COLUMN {column}")
    pg_security.install(bind)  # PostgreSQL: grants, policies and views as of 0007 (a no-op elsewhere)
