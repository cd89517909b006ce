"""The sandbox's own books, on its own `MetaData`: the server creates them when it starts
(they are no part of the platform's schema or migrations, as another company's database
would not be). Embedded, they sit in the platform's database beside its tables."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.schema import CreateIndex, CreateTable

from cartwright.kit.db import Database, Dialect
from cartwright.kit.schema import Timestamp

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
    }
)

payments = sa.Table(
    "sandbox_payments",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    # NULL for a tombstone (a void by merchant reference of a payment never seen).
    sa.Column("idempotency_key", sa.String(255), nullable=True, unique=True),
    sa.Column("request_hash", sa.String(64), nullable=True),
    # One payment per merchant reference: a tombstone holds it so nothing can charge later.
    sa.Column("merchant_reference", sa.String(255), nullable=False, unique=True),
    sa.Column("method", sa.String(16), nullable=False),  # card, three_d_secure, redirect
    # What the token did (a decline's reason, or a redirect that will fail); never the token.
    sa.Column("decline_code", sa.String(64), nullable=True),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=True),
    sa.Column("status", sa.String(24), nullable=False),
    sa.Column("capture", sa.Boolean, nullable=False),
    sa.Column("amount_captured", sa.BigInteger, nullable=False),
    sa.Column("amount_refunded", sa.BigInteger, nullable=False),
    # The capture that came with the authorization (capture=true), settled as one.
    sa.Column("captured_at", Timestamp, nullable=True),
    # No capture may follow (a final capture, or the rest voided).
    sa.Column("closed", sa.Boolean, nullable=False),
    sa.Column("return_url", sa.String(2048), nullable=True),
    sa.Column("created_at", Timestamp, nullable=False),
)

# Captures after the authorization, and refunds.
operations = sa.Table(
    "sandbox_operations",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("idempotency_key", sa.String(255), nullable=False, unique=True),
    sa.Column("request_hash", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # capture, refund
    sa.Column("payment_id", sa.String(64), nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("fee", sa.BigInteger, nullable=False),
    sa.Column("reason", sa.String(255), nullable=True),
    sa.Column("created_at", Timestamp, nullable=False, index=True),
)

# Disputes a test opened on a captured payment (`POST /_sandbox/disputes`): the chargeback
# takes `amount` back, and a fee, on the day it is opened; one won gives the amount back.
disputes = sa.Table(
    "sandbox_disputes",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("payment_id", sa.String(64), nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("fee", sa.BigInteger, nullable=False),
    sa.Column("reason", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # opened, won, lost
    sa.Column("created_at", Timestamp, nullable=False, index=True),
    sa.Column("decided_at", Timestamp, nullable=True, index=True),
)

# Keys of the POSTs that create nothing of their own (confirm, void): a key reused with
# another body is refused.
idempotency_keys = sa.Table(
    "sandbox_idempotency_keys",
    metadata,
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("request_hash", sa.String(64), nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
)

# The webhook outbox: one row per delivery (a duplicated event has two), leased by the
# sender that is delivering it so two servers on one database never both send a row.
webhook_deliveries = sa.Table(
    "sandbox_webhook_deliveries",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("event_id", sa.String(64), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("due_at", Timestamp, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("leased_until", Timestamp, nullable=True),
    sa.Column("delivered_at", Timestamp, nullable=True),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Index(
        "ix_sandbox_webhook_deliveries_due",
        "due_at",
        postgresql_where=sa.text("delivered_at IS NULL"),
        sqlite_where=sa.text("delivered_at IS NULL"),
    ),
)


async def create_tables(db: Database) -> None:
    """Create the books if they are missing (safe on every start, and from two servers)."""
    dialect: sa.Dialect = (
        postgresql.dialect()  # type: ignore[no-untyped-call]
        if db.dialect is Dialect.POSTGRES
        else sqlite.dialect()
    )
    statements = [
        str(CreateTable(table, if_not_exists=True).compile(dialect=dialect))
        for table in metadata.sorted_tables
    ] + [
        str(CreateIndex(index, if_not_exists=True).compile(dialect=dialect))
        for table in metadata.sorted_tables
        for index in table.indexes
    ]
    async with db.transaction() as conn:
        if db.dialect is Dialect.POSTGRES:
            # Two servers starting at once must not race on the catalog.
            await conn.execute("SELECT pg_advisory_xact_lock(7268436172)")
        for statement in statements:
            await conn.execute(statement)
