from tests.events.conftest import any_db, pg_db, sqlite_db

__all__ = ["any_db", "pg_db", "sqlite_db"]
