"""Alembic environment: migrations run on the connection truthloop hands over (see db.py)."""

from alembic import context

from truthloop.storage.tables import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
