"""The event feed and the broker relay: each outbox row remembers the transaction that
wrote it (PostgreSQL: `txid`, a column default, so writers are unchanged), the feed's
indexes, the relay's lease and cursor, the consumers' inbox and the first consumer's table.

Events written before this migration get `txid` 0: they all committed long ago.

Revision ID: 0017
Revises: 0016
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("txid", sa.BigInteger(), nullable=True))
    if postgres:
        op.execute("UPDATE events SET txid = 0")
        # The id of the inserting transaction, as a 64-bit number (epoch and xid): taken
        # once per transaction, so a checkout's single INSERT stays one INSERT.
        op.execute(
            "ALTER TABLE events ALTER COLUMN txid SET DEFAULT (pg_current_xact_id()::text)::bigint"
        )
    op.drop_index("ix_events_type_seq", table_name="events")
    op.create_index("ix_events_txid_seq", "events", ["txid", "seq"])
    op.create_index("ix_events_type_txid_seq", "events", ["type", "txid", "seq"])
    op.create_table(
        "event_relay_leases",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cursor_txid", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("cursor_seq", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_event_relay_leases")),
    )
    op.create_table(
        "event_inbox",
        sa.Column("consumer", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("consumer", "event_id", name=op.f("pk_event_inbox")),
    )
    op.create_table(
        "customer_order_counts",
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("orders_placed", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_customer_order_counts")),
    )


def downgrade() -> None:
    op.drop_table("customer_order_counts")
    op.drop_table("event_inbox")
    op.drop_table("event_relay_leases")
    op.drop_index("ix_events_type_txid_seq", table_name="events")
    op.drop_index("ix_events_txid_seq", table_name="events")
    op.create_index("ix_events_type_seq", "events", ["type", "seq"])
    with op.batch_alter_table("events") as batch:
        batch.drop_column("txid")
