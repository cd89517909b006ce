"""Audit log (append-only, hash-chained) and the API-key lifecycle columns.

- `audit_events`: one row per change made with a secret key, the admin key or the CLI.
  PostgreSQL: a BEFORE INSERT trigger takes the chain's advisory lock, numbers the row
  after the last one and chains its hash; triggers refuse UPDATE, DELETE and TRUNCATE.
  SQLite: the inserting statement chains the row itself (the write lock serialises it);
  triggers refuse UPDATE and DELETE. See ADR 0008.
- `api_keys`: `expires_at`, `last_used_at`, `rolled_from`.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
Timestamp = sa.DateTime(timezone=True)

# pg_advisory_xact_lock key of the chain: any fixed number no other lock uses ("audit").
CHAIN_LOCK = 0x61756469_74

PG_FUNCTIONS = f"""
CREATE FUNCTION audit_events_chain() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    last_seq bigint;
    last_hash text;
BEGIN
    -- One writer at a time extends the chain; released when the transaction ends.
    PERFORM pg_advisory_xact_lock({CHAIN_LOCK});
    SELECT seq, hash INTO last_seq, last_hash FROM audit_events ORDER BY seq DESC LIMIT 1;
    NEW.seq := COALESCE(last_seq, 0) + 1;
    NEW.prev_hash := last_hash;
    -- The inserted `hash` is the digest of the row's canonical JSON (audit.service).
    NEW.hash := encode(sha256(convert_to(
        COALESCE(last_hash, '') || '|' || NEW.seq::text || '|' || NEW.hash, 'UTF8')), 'hex');
    RETURN NEW;
END $$;

CREATE FUNCTION audit_events_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER audit_events_chain BEFORE INSERT ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_chain();
CREATE TRIGGER audit_events_no_update BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_refuse();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_refuse();
"""

SQLITE_TRIGGERS = [
    "CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events"
    " BEGIN SELECT RAISE(ABORT, 'audit_events is append-only: UPDATE refused'); END",
    "CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events"
    " BEGIN SELECT RAISE(ABORT, 'audit_events is append-only: DELETE refused'); END",
]


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
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
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
        sa.UniqueConstraint("seq", name=op.f("uq_audit_events_seq")),
    )
    op.create_index(
        op.f("ix_audit_events_action_seq"), "audit_events", ["action", "seq"], unique=False
    )
    op.create_index(
        op.f("ix_audit_events_target_type_target_id_seq"),
        "audit_events",
        ["target_type", "target_id", "seq"],
        unique=False,
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_FUNCTIONS)
    else:
        for trigger in SQLITE_TRIGGERS:
            op.execute(trigger)
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("expires_at", Timestamp, nullable=True))
        batch.add_column(sa.Column("last_used_at", Timestamp, nullable=True))
        batch.add_column(sa.Column("rolled_from", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("rolled_from")
        batch.drop_column("last_used_at")
        batch.drop_column("expires_at")
    op.drop_table("audit_events")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION audit_events_chain()")
        op.execute("DROP FUNCTION audit_events_refuse()")
