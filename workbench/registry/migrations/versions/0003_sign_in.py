"""staff sign in as themselves; out-of-caseload approvals are time-limited

Each registry user may be tied to the login they sign in with (the operating system's, or
JupyterHub's): the command line and the apps act under that login's registry user, never under a
name typed. An approval to read a resident outside one's caseload now ends: approvals stored
before this revision end when they were given (a new one must be asked for).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # (a plain ADD COLUMN and a unique index: on SQLite, rebuilding users, which every table
    # refers to, would fail its foreign keys)
    op.add_column('users', sa.Column('login', sa.String(length=64), nullable=True))
    op.create_index('uq_users_login', 'users', ['login'], unique=True)
    with op.batch_alter_table('access_approvals', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE access_approvals SET expires_at = approved_at")
    with op.batch_alter_table('access_approvals', schema=None) as batch_op:
        batch_op.alter_column('expires_at', existing_type=sa.DateTime(timezone=True), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table('access_approvals', schema=None) as batch_op:
        batch_op.drop_column('expires_at')
    op.drop_index('uq_users_login', table_name='users')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('login')
