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
    # After it, the key no longer authenticates (set on create, or by a roll's overlap).
    sa.Column("expires_at", Timestamp, nullable=True),
    # Written at most once a minute per key, off the request's path.
    sa.Column("last_used_at", Timestamp, nullable=True),
    # The key this one replaced (`POST /v1/api-keys/{id}/roll`).
    sa.Column("rolled_from", sa.String(64), nullable=True),
    # The channel a publishable key sells in (a secret key names one per request).
    sa.Column("channel", sa.String(64), nullable=False, server_default="default"),
)
