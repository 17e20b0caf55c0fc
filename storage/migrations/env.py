"""Alembic environment: migrations run on the connection handed over by storage.migrate."""

from alembic import context

import storage.all_models  # noqa: F401  (registers every table on Base.metadata)
from storage.db import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("Run migrations through `python bot.py db upgrade`, not the alembic CLI.")

context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
