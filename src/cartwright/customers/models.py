import sqlalchemy as sa

from cartwright.kit.schema import Timestamp, id_column, metadata, timestamps

# A shopper signed in through the merchant's OpenID Connect provider: one row per
# (issuer, subject), made the first time a token names it. No password is ever held.
customers = sa.Table(
    "customers",
    metadata,
    id_column(),
    sa.Column("issuer", sa.String(500), nullable=False),
    # The token's `sub`; replaced by `erased:<id>` when the customer is erased, so a later
    # token for the same person makes a new customer that holds nothing of the old one.
    sa.Column("subject", sa.String(300), nullable=False),
    sa.Column("email", sa.String(320), nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    *timestamps(),
    sa.Column("erased_at", Timestamp, nullable=True),
    sa.UniqueConstraint("issuer", "subject"),
    sa.Index("ix_customers_email", "email"),
    # The customer's group, which price lists and promotions match on (None: no group).
    # The API calls it `group`, an SQL keyword, hence the column's name.
    sa.Column("customer_group", sa.String(64), nullable=True),
)
