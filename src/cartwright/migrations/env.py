"""Alembic environment: runs the migrations on the configured database (sync drivers)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from cartwright.migrations.tables import metadata

config = context.config


def run() -> None:
    url = config.get_main_option("sqlalchemy.url")
    assert url, "sqlalchemy.url is set by cartwright.migrations.runner"
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run()
