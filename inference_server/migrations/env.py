"""Alembic environment: runs on the connection `inference_server.db.upgrade` hands it (no alembic.ini)."""

from alembic import context
from sqlmodel import SQLModel

from inference_server import tables  # noqa: F401  (registers the tables on SQLModel.metadata)

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=SQLModel.metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
