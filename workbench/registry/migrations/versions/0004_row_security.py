"""the database enforces roles on PostgreSQL: group roles, grants, row-level security

On PostgreSQL: a NOLOGIN group role per registry role, a login role per registry user in its
group, nothing granted to PUBLIC, and row-level security policies on the tables of resident data,
caseloads and approvals (see ``workbench/registry/pg_security.py``). On SQLite nothing changes.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from alembic import op

from workbench.registry import pg_security


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

_SECURED = ("residents", *pg_security.RESIDENT_TABLES, "caseloads", "access_approvals", "audit_log")


def upgrade() -> None:
    pg_security.install(op.get_bind())


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    for table in _SECURED:
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
        for name in ("owner_and_admin", "staff_read", "staff_insert", "clinician_read", "clinician_insert",
                     "social_worker_read", "counsellor_approves",
                     "owner_all", "own_entries"):
            op.execute(f"DROP POLICY IF EXISTS {name} ON {table}")
    op.execute("DROP SCHEMA IF EXISTS analyst CASCADE")
    op.execute("DROP SCHEMA IF EXISTS workbench_private CASCADE")
    # the roles stay (they belong to the cluster, and may hold grants in other databases)
