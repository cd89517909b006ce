import sqlalchemy as sa

from cartwright.kit.schema import Json, Timestamp, id_column, metadata, timestamps

# A promotion (contract "Promotions"). `value`: percent or minor units of `currency`; for
# buy_x_get_y `rule` holds {"buy", "get", "skus"?}. `uses` and `granted` (minor units) are
# taken by guarded UPDATEs in checkout's batch, against `usage_limit` and `budget`.
promotions = sa.Table(
    "promotions",
    metadata,
    id_column(),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("code", sa.String(64), nullable=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("value", sa.BigInteger, nullable=True),
    sa.Column("currency", sa.String(3), nullable=True),
    sa.Column("rule", Json, nullable=True),
    sa.Column("min_subtotal", sa.BigInteger, nullable=True),
    sa.Column("skus", Json, nullable=True),
    sa.Column("customer_groups", Json, nullable=True),
    # Channel codes the promotion is limited to (None: every channel).
    sa.Column("channels", Json, nullable=True),
    sa.Column("stacking", sa.String(16), nullable=False),
    sa.Column("priority", sa.Integer, nullable=False, server_default="0"),
    sa.Column("starts_at", Timestamp, nullable=True),
    sa.Column("ends_at", Timestamp, nullable=True),
    sa.Column("usage_limit", sa.Integer, nullable=True),
    sa.Column("usage_limit_per_customer", sa.Integer, nullable=True),
    sa.Column("uses", sa.Integer, nullable=False, server_default="0"),
    sa.Column("budget", sa.BigInteger, nullable=True),
    sa.Column("granted", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    *timestamps(),
)

# Every code that brings a promotion to a cart: the promotion's own `code` (many uses) and
# the single-use codes generated in bulk (`order_id` set once used).
promotion_codes = sa.Table(
    "promotion_codes",
    metadata,
    sa.Column("code", sa.String(64), primary_key=True),
    sa.Column("promotion_id", sa.String(64), sa.ForeignKey("promotions.id"), nullable=False),
    sa.Column("single_use", sa.Boolean, nullable=False),
    sa.Column("order_id", sa.String(64), nullable=True),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Index(None, "promotion_id"),
)

# What an order got of a promotion; `returned_at` once a cancel or full refund gave it back.
promotion_redemptions = sa.Table(
    "promotion_redemptions",
    metadata,
    sa.Column("order_id", sa.String(64), primary_key=True),
    sa.Column("promotion_id", sa.String(64), sa.ForeignKey("promotions.id"), primary_key=True),
    sa.Column("code", sa.String(64), nullable=True),
    sa.Column("customer_id", sa.String(64), nullable=True),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("returned_at", Timestamp, nullable=True),
    sa.Index(None, "promotion_id"),
)

# A customer's uses of a promotion, one row each, for `usage_limit_per_customer` (an upsert
# guarded by the limit; a count over redemptions would not hold under concurrency).
promotion_customer_uses = sa.Table(
    "promotion_customer_uses",
    metadata,
    sa.Column("promotion_id", sa.String(64), sa.ForeignKey("promotions.id"), primary_key=True),
    sa.Column("customer_id", sa.String(64), primary_key=True),
    sa.Column("uses", sa.Integer, nullable=False),
)
