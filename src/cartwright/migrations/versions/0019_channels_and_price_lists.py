"""Channels and price lists: the `channels` table with its `default` channel (today's
behaviour), the channel of carts, orders and API keys, customers' groups, and price lists
with their prices per SKU, currency and quantity tier (ADR 0021).

Revision ID: 0019
Revises: 0018
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _timestamps() -> list[sa.Column[object]]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    ]


def _channel_column() -> sa.Column[str]:
    return sa.Column("channel", sa.String(64), nullable=False, server_default="default")


def upgrade() -> None:
    channels = op.create_table(
        "channels",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("currencies", _JSON, nullable=False),
        sa.Column("prices_include_tax", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("capture_method", sa.String(16), nullable=True),
        sa.Column("price_list_id", sa.String(64), nullable=True),
        sa.Column("warehouses", _JSON, nullable=False),
        sa.Column("shipping_methods", _JSON, nullable=False),
        sa.Column("fraud_failure_mode", sa.String(16), nullable=False, server_default="open"),
        *_timestamps(),
        sa.UniqueConstraint("code", name="uq_channels_code"),
    )
    now = datetime.now(UTC)
    op.bulk_insert(
        channels,
        [
            {
                "id": "chn_default",
                "code": "default",
                "name": "Default",
                "currencies": [],
                "prices_include_tax": False,
                "capture_method": None,  # the setting CARTWRIGHT_CAPTURE_METHOD
                "price_list_id": None,
                "warehouses": [],
                "shipping_methods": [],
                "fraud_failure_mode": "open",
                "created_at": now,
                "updated_at": now,
            }
        ],
    )
    op.create_table(
        "price_lists",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("channel", sa.String(64), nullable=True),
        sa.Column("customer_group", sa.String(64), nullable=True),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("priority", sa.Integer, nullable=False, server_default="0"),
        *_timestamps(),
    )
    op.create_table(
        "price_list_prices",
        sa.Column(
            "price_list_id",
            sa.String(64),
            sa.ForeignKey("price_lists.id", name="fk_price_list_prices_price_list_id_price_lists"),
            primary_key=True,
        ),
        sa.Column("sku", sa.String(100), primary_key=True),
        sa.Column("currency", sa.String(3), primary_key=True),
        sa.Column("min_quantity", sa.BigInteger, primary_key=True, server_default="1"),
        sa.Column("amount", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_price_list_prices_sku_currency", "price_list_prices", ["sku", "currency"])
    for table in ("carts", "orders", "api_keys"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(_channel_column())
    with op.batch_alter_table("customers") as batch:
        batch.add_column(sa.Column("customer_group", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("customers") as batch:
        batch.drop_column("customer_group")
    for table in ("api_keys", "orders", "carts"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("channel")
    op.drop_index("ix_price_list_prices_sku_currency", "price_list_prices")
    op.drop_table("price_list_prices")
    op.drop_table("price_lists")
    op.drop_table("channels")
