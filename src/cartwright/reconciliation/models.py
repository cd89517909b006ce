import sqlalchemy as sa

from cartwright.kit.schema import Json, Timestamp, id_column, metadata, money_columns, timestamps

# One reconciliation of a provider's report: what it held and what was found. A run is
# written whole in one transaction, so it is never half done.
reconciliation_runs = sa.Table(
    "reconciliation_runs",
    metadata,
    id_column(),
    sa.Column("provider", sa.String(32), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # matched, discrepancies
    sa.Column("format", sa.String(32), nullable=False),
    sa.Column("file_sha256", sa.String(64), nullable=False),
    # The UTC days the run covers: [period_start, period_end).
    sa.Column("period_start", Timestamp, nullable=True),
    sa.Column("period_end", Timestamp, nullable=True),
    sa.Column("lines", sa.Integer, nullable=False),
    sa.Column("matched", sa.Integer, nullable=False),
    sa.Column("discrepancies", Json, nullable=False),  # counts by kind
    sa.Column("created_by", sa.String(64), nullable=True),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Index("ix_reconciliation_runs_provider_created_at", "provider", "created_at"),
)

# Every provider line ever reconciled, once, by the provider's own id of it: a report run
# again finds its lines here, and nothing it leads to (a ledger posting) happens twice.
reconciliation_lines = sa.Table(
    "reconciliation_lines",
    metadata,
    sa.Column("provider", sa.String(32), primary_key=True),
    sa.Column("line_id", sa.String(255), primary_key=True),
    sa.Column("kind", sa.String(24), nullable=False),
    sa.Column("our_reference", sa.String(255), nullable=True),
    sa.Column("provider_payment", sa.String(255), nullable=True),
    sa.Column("currency", sa.String(3), nullable=False),
    *money_columns("gross", "fee", "net"),
    sa.Column("occurred_at", Timestamp, nullable=False),
    # Ours it was matched to (an operation's or a payment's id); None when nothing was.
    sa.Column("subject_id", sa.String(64), nullable=True, index=True),
    sa.Column("first_run_id", sa.String(64), nullable=False),
    # When its fee and payout went to the ledger (None: not yet, or not to be).
    sa.Column("posted_at", Timestamp, nullable=True),
    sa.Column("created_at", Timestamp, nullable=False),
)

# A problem found, once per problem: `key` names it (the line and the kind, or our
# operation and the kind), so a run repeated finds the same row instead of a second one.
reconciliation_discrepancies = sa.Table(
    "reconciliation_discrepancies",
    metadata,
    id_column(),
    sa.Column("provider", sa.String(32), nullable=False),
    sa.Column("key", sa.String(400), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # open, resolved
    sa.Column("line_id", sa.String(255), nullable=True),
    sa.Column("our_reference", sa.String(255), nullable=True),
    sa.Column("provider_reference", sa.String(255), nullable=True),
    sa.Column("currency", sa.String(3), nullable=True),
    sa.Column("expected", Json, nullable=True),
    sa.Column("actual", Json, nullable=True),
    sa.Column("detail", sa.String(500), nullable=False),
    sa.Column("first_run_id", sa.String(64), nullable=False),
    sa.Column("resolution", sa.String(32), nullable=True),
    sa.Column("note", sa.String(1000), nullable=True),
    sa.Column("resolved_by", sa.String(64), nullable=True),
    sa.Column("resolved_at", Timestamp, nullable=True),
    *timestamps(),
    sa.UniqueConstraint("provider", "key"),
    sa.Index("ix_reconciliation_discrepancies_status_kind", "status", "kind"),
)

# Which discrepancies each run found (a run repeated finds the ones already known).
reconciliation_findings = sa.Table(
    "reconciliation_findings",
    metadata,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("discrepancy_id", sa.String(64), primary_key=True),
)
