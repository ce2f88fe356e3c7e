"""analysts on PostgreSQL read the analysis tables through pseudonymised views

Re-runs :func:`workbench.registry.pg_security.install` (idempotent): the ``analyst`` schema's
views cover every analysis table, pseudonymised inside the database exactly as
:func:`workbench.registry.analysis.pseudonymise` does, with the key only the owner reads
(``workbench_private.pseudonym_key``); 0004's views, whose columns differ, are dropped first.

Exports made before this revision took their pseudonyms from the export key file. When this
migration runs as the owner and that file is readable (``WORKBENCH_EXPORT_KEY_FILE``, else
:func:`workbench.registry.export.default_key_file`), its key becomes the database's pseudonym
key, so earlier exports' pseudonyms stay the same; otherwise the database keeps the random key
0004 made. On SQLite nothing changes (exports keep using the key file).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

import os

from alembic import op

from workbench.registry import pg_security


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def _export_key() -> bytes | None:
    """The export key file's key, when the file is there and readable (never created here)."""
    from workbench.registry.export import default_key_file

    path = default_key_file()
    if not (path.is_file() and os.access(path, os.R_OK)):
        return None
    text = path.read_text(encoding="ascii", errors="replace").strip()
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise ValueError(f"The export key file {path} does not hold a hexadecimal key: repair it, or point "
                         "WORKBENCH_EXPORT_KEY_FILE at the key earlier exports used, then upgrade again "
                         "(nothing was changed).") from None


def upgrade() -> None:
    bind = op.get_bind()
    pg_security.install(bind)
    if bind.dialect.name == "postgresql":
        key = _export_key()
        if key is not None:
            pg_security.load_export_key(bind, key)


def downgrade() -> None:
    """The views stay as this revision made them (0004's install makes the same); nothing to undo."""
