import sqlalchemy as sa

from cartwright.kit.schema import Json, Timestamp, id_column, metadata

# Append-only (triggers refuse UPDATE, DELETE and TRUNCATE) and chained: `hash` is
# sha256(prev_hash | seq | sha256(canonical row)), so an edited, removed or reordered row
# breaks the chain at that row (`cartwright audit verify`; ADR 0008).
audit_events = sa.Table(
    "audit_events",
    metadata,
    id_column(),
    sa.Column("seq", sa.BigInteger, nullable=False, unique=True),
    sa.Column("action", sa.String(100), nullable=False),
    sa.Column("actor_key_id", sa.String(64), nullable=False),
    sa.Column("request_id", sa.String(64), nullable=True),
    sa.Column("client_address", sa.String(64), nullable=True),
    sa.Column("target_type", sa.String(50), nullable=False),
    sa.Column("target_id", sa.String(255), nullable=False),
    sa.Column("changes", Json, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=True),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Index(None, "action", "seq"),
    sa.Index(None, "target_type", "target_id", "seq"),
)
