import sqlalchemy as sa

from cartwright.kit.schema import Timestamp, metadata

# One row per (key holder, route, Idempotency-Key): claimed when the request starts,
# completed with the response that is replayed to every retry within 24 hours.
idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("owner", sa.String(64), primary_key=True),
    sa.Column("route", sa.String(300), primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("request_hash", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("response_status", sa.Integer, nullable=True),
    sa.Column("response_body", sa.Text, nullable=True),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("completed_at", Timestamp, nullable=True),
)
