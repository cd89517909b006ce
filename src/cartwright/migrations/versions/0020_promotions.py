"""Promotions: promotions with their counters, their codes (bulk single-use ones too),
redemptions by order, per-customer uses, and the codes applied to carts (ADR 0028; 0026
replaces that last table with a column of the cart).

Revision ID: 0020
Revises: 0022 (the lead rechains it after channels' migration when merging)
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0020"
down_revision = "0022"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "promotions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("code", sa.String(64), nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("value", sa.BigInteger, nullable=True),
        sa.Column("currency", sa.String(3), nullable=True),
        sa.Column("rule", _JSON, nullable=True),
        sa.Column("min_subtotal", sa.BigInteger, nullable=True),
        sa.Column("skus", _JSON, nullable=True),
        sa.Column("customer_groups", _JSON, nullable=True),
        sa.Column("stacking", sa.String(16), nullable=False),
        sa.Column("priority", sa.Integer, nullable=False, server_default="0"),
        sa.Column("starts_at", _TS, nullable=True),
        sa.Column("ends_at", _TS, nullable=True),
        sa.Column("usage_limit", sa.Integer, nullable=True),
        sa.Column("usage_limit_per_customer", sa.Integer, nullable=True),
        sa.Column("uses", sa.Integer, nullable=False, server_default="0"),
        sa.Column("budget", sa.BigInteger, nullable=True),
        sa.Column("granted", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
    )
    op.create_table(
        "promotion_codes",
        sa.Column("code", sa.String(64), primary_key=True),
        sa.Column("promotion_id", sa.String(64), sa.ForeignKey("promotions.id"), nullable=False),
        sa.Column("single_use", sa.Boolean, nullable=False),
        sa.Column("order_id", sa.String(64), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
    )
    op.create_index("ix_promotion_codes_promotion_id", "promotion_codes", ["promotion_id"])
    op.create_table(
        "promotion_redemptions",
        sa.Column("order_id", sa.String(64), primary_key=True),
        sa.Column("promotion_id", sa.String(64), sa.ForeignKey("promotions.id"), primary_key=True),
        sa.Column("code", sa.String(64), nullable=True),
        sa.Column("customer_id", sa.String(64), nullable=True),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("returned_at", _TS, nullable=True),
    )
    op.create_index(
        "ix_promotion_redemptions_promotion_id", "promotion_redemptions", ["promotion_id"]
    )
    op.create_table(
        "promotion_customer_uses",
        sa.Column("promotion_id", sa.String(64), sa.ForeignKey("promotions.id"), primary_key=True),
        sa.Column("customer_id", sa.String(64), primary_key=True),
        sa.Column("uses", sa.Integer, nullable=False),
    )
    op.create_table(
        "cart_promotion_codes",
        sa.Column("cart_id", sa.String(64), sa.ForeignKey("carts.id"), primary_key=True),
        sa.Column("code", sa.String(64), primary_key=True),
        sa.Column("created_at", _TS, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("cart_promotion_codes")
    op.drop_table("promotion_customer_uses")
    op.drop_table("promotion_redemptions")
    op.drop_table("promotion_codes")
    op.drop_table("promotions")
