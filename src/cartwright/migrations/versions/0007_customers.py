"""Signed-in customers: the customers table, and the customer a cart or order belongs to.

- `customers`: one row per (issuer, subject) of the merchant's OpenID Connect provider.
- `carts.customer_id`, `orders.customer_id`: nullable (guests' carts and orders have none).
- `events(aggregate_id, seq)`: the events about one thing, for a customer's export and
  erasure.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "customers",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("issuer", sa.String(length=500), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
        sa.UniqueConstraint("issuer", "subject", name=op.f("uq_customers_issuer_subject")),
    )
    op.create_index("ix_customers_email", "customers", ["email"], unique=False)
    with op.batch_alter_table("carts") as batch:
        batch.add_column(sa.Column("customer_id", sa.String(length=64), nullable=True))
        batch.create_index("ix_carts_customer_id", ["customer_id"], unique=False)
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("customer_id", sa.String(length=64), nullable=True))
        batch.create_index("ix_orders_customer_id_id", ["customer_id", "id"], unique=False)
    op.create_index("ix_events_aggregate_id_seq", "events", ["aggregate_id", "seq"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_events_aggregate_id_seq", table_name="events")
    with op.batch_alter_table("orders") as batch:
        batch.drop_index("ix_orders_customer_id_id")
        batch.drop_column("customer_id")
    with op.batch_alter_table("carts") as batch:
        batch.drop_index("ix_carts_customer_id")
        batch.drop_column("customer_id")
    op.drop_index("ix_customers_email", table_name="customers")
    op.drop_table("customers")
