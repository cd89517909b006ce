import sqlalchemy as sa

from cartwright.kit.schema import Timestamp, id_column, metadata

# What the screening refuses on sight: an email, an email's domain, a client address or a
# card fingerprint (`kind`), its value normalized (lower case, trimmed).
risk_denylist = sa.Table(
    "risk_denylist",
    metadata,
    id_column(),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("value", sa.String(320), nullable=False),
    sa.Column("note", sa.String(500), nullable=True),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.UniqueConstraint("kind", "value", name="uq_risk_denylist_kind_value"),
)
