import sqlalchemy as sa

from cartwright.kit.schema import Json, Timestamp, id_column, metadata

api_keys = sa.Table(
    "api_keys",
    metadata,
    id_column(),
    sa.Column("type", sa.String(16), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("scopes", Json, nullable=False),
    # sha256 of the key: keys carry 130+ random bits, so a fast hash is enough.
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("key_prefix", sa.String(16), nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("revoked_at", Timestamp, nullable=True),
)
