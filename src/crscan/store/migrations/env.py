"""Alembic environment: run by `Store.migrate()` with a live connection, no alembic.ini involved."""

from alembic import context

from crscan.store.schema import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata)
with context.begin_transaction():
    context.run_migrations()
