"""The tables the modules declare are exactly what the migrations build, on both databases."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from cartwright.kit.db import sqlalchemy_url
from cartwright.migrations.tables import metadata
from cartwright.sandbox_psp import tables as sandbox_books

# Built by migrations only, for a dialect's lack (SQLite has no sequences).
MIGRATION_ONLY = {"order_number_blocks"}
# The embedded sandbox provider creates its own books in the platform's database.
NOT_THE_PLATFORMS = set(sandbox_books.metadata.tables)


@pytest.mark.parametrize("database", ["pg_database", "sqlite_database"])
def test_models_match_migrations(database: str, request: pytest.FixtureRequest) -> None:
    engine = create_engine(sqlalchemy_url(request.getfixturevalue(database)))
    try:
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), metadata)
    finally:
        engine.dispose()
    ignored = MIGRATION_ONLY | NOT_THE_PLATFORMS
    differences = [d for d in differences if not any(t in str(d) for t in ignored)]
    assert differences == []
