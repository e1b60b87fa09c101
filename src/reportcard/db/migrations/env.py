"""Alembic environment: runs against the connection handed over by reportcard.db.migrate."""

from __future__ import annotations

from alembic import context

from reportcard.db.functions import comparable
from reportcard.db.schema import metadata

config = context.config
connection = config.attributes.get("connection")

if connection is None:  # pragma: no cover - offline SQL generation
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=metadata)
    with context.begin_transaction():
        context.run_migrations()
else:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        include_object=comparable(connection.dialect.name),
    )
    with context.begin_transaction():
        context.run_migrations()
