"""Promotions in carts and orders: the codes a cart holds move onto the cart (read with it,
no query more per quote), beside the promotions the shopper was last shown; each order line
keeps its share of the discount and the order the promotions it got; a promotion may be
limited to channels (ADR 0028).

Revision ID: 0026
Revises: 0020
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0026"
down_revision = "0020"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("carts") as batch:
        batch.add_column(sa.Column("promotion_codes", _JSON, nullable=True))
        batch.add_column(sa.Column("promotions_shown", _JSON, nullable=True))
    with op.batch_alter_table("order_lines") as batch:
        batch.add_column(sa.Column("discount", sa.BigInteger, nullable=False, server_default="0"))
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("promotions", _JSON, nullable=True))
    with op.batch_alter_table("promotions") as batch:
        batch.add_column(sa.Column("channels", _JSON, nullable=True))
    op.drop_table("cart_promotion_codes")


def downgrade() -> None:
    op.create_table(
        "cart_promotion_codes",
        sa.Column("cart_id", sa.String(64), sa.ForeignKey("carts.id"), primary_key=True),
        sa.Column("code", sa.String(64), primary_key=True),
        sa.Column("created_at", _TS, nullable=False),
    )
    with op.batch_alter_table("promotions") as batch:
        batch.drop_column("channels")
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("promotions")
    with op.batch_alter_table("order_lines") as batch:
        batch.drop_column("discount")
    with op.batch_alter_table("carts") as batch:
        batch.drop_column("promotions_shown")
        batch.drop_column("promotion_codes")
