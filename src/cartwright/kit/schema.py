"""The one SQLAlchemy MetaData every module's `models.py` declares its tables on.

Tables are declared with SQLAlchemy so Alembic can create them on PostgreSQL and SQLite;
queries are plain SQL in each module's `repository.py` (see `kit.db`).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# JSON documents: jsonb on PostgreSQL, text on SQLite. Repositories (de)serialise them.
Json = sa.JSON().with_variant(JSONB(), "postgresql")
# An auto-numbered 64-bit key: SQLite only auto-numbers an INTEGER PRIMARY KEY.
Serial = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Timestamp = sa.DateTime(timezone=True)


def id_column(name: str = "id") -> sa.Column[str]:
    return sa.Column(name, sa.String(64), primary_key=True)


def money_columns(*names: str) -> list[sa.Column[int]]:
    return [sa.Column(n, sa.BigInteger, nullable=False, server_default="0") for n in names]


def timestamps() -> list[sa.Column[object]]:
    return [
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
    ]
