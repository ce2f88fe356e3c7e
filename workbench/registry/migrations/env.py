"""Alembic environment: the registry passes its own connection (see workbench.registry.migrate)."""

from alembic import context

from workbench.registry.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True,
                  compare_type=True)
with context.begin_transaction():
    context.run_migrations()
