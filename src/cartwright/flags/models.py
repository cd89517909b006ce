import sqlalchemy as sa

from cartwright.kit.schema import Timestamp, id_column, metadata

# A feature flag or kill switch set by an operator (flags/known.py lists the flags and their
# defaults; a flag without a row takes its default). `key` is unique now; a per-channel
# override adds a `channel` column later and makes (key, channel) the unique pair, which is
# why the row has an id of its own rather than the key as its primary key (ADR 0023).
feature_flags = sa.Table(
    "feature_flags",
    metadata,
    id_column(),
    sa.Column("key", sa.String(100), nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("description", sa.String(500), nullable=True),
    sa.Column("updated_at", Timestamp, nullable=False),
    # Who set it: the API key's id, `admin` or `cli`.
    sa.Column("updated_by", sa.String(64), nullable=True),
    sa.UniqueConstraint("key"),
)
