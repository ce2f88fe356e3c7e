"""analysts on PostgreSQL read the analysis tables through pseudonymised views

Re-runs :func:`workbench.registry.pg_security.install` (idempotent): the ``analyst`` schema's
views cover every analysis table, pseudonymised inside the database with the key only the owner
reads. On SQLite nothing changes.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from alembic import op

from workbench.registry import pg_security


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pg_security.install(op.get_bind())


def downgrade() -> None:
    """The views of revision 0004 come back when 0004's install runs again; nothing to undo here."""
