"""Reconciliation: runs of providers' settlement reports, every provider line reconciled
(once, by the provider's id of it), the discrepancies found (once per problem), and which
run found which.

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _money(name: str) -> sa.Column[int]:
    return sa.Column(name, sa.BigInteger(), server_default="0", nullable=False)


def upgrade() -> None:
    op.create_table(
        "reconciliation_runs",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("format", sa.String(32), nullable=False),
        sa.Column("file_sha256", sa.String(64), nullable=False),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lines", sa.Integer(), nullable=False),
        sa.Column("matched", sa.Integer(), nullable=False),
        sa.Column("discrepancies", JSON, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconciliation_runs")),
    )
    op.create_index(
        "ix_reconciliation_runs_provider_created_at",
        "reconciliation_runs",
        ["provider", "created_at"],
    )
    op.create_table(
        "reconciliation_lines",
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("line_id", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("our_reference", sa.String(255), nullable=True),
        sa.Column("provider_payment", sa.String(255), nullable=True),
        sa.Column("currency", sa.String(3), nullable=False),
        _money("gross"),
        _money("fee"),
        _money("net"),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("subject_id", sa.String(64), nullable=True),
        sa.Column("first_run_id", sa.String(64), nullable=False),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("provider", "line_id", name=op.f("pk_reconciliation_lines")),
    )
    op.create_index("ix_reconciliation_lines_subject_id", "reconciliation_lines", ["subject_id"])
    op.create_table(
        "reconciliation_discrepancies",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("key", sa.String(400), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("line_id", sa.String(255), nullable=True),
        sa.Column("our_reference", sa.String(255), nullable=True),
        sa.Column("provider_reference", sa.String(255), nullable=True),
        sa.Column("currency", sa.String(3), nullable=True),
        sa.Column("expected", JSON, nullable=True),
        sa.Column("actual", JSON, nullable=True),
        sa.Column("detail", sa.String(500), nullable=False),
        sa.Column("first_run_id", sa.String(64), nullable=False),
        sa.Column("resolution", sa.String(32), nullable=True),
        sa.Column("note", sa.String(1000), nullable=True),
        sa.Column("resolved_by", sa.String(64), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconciliation_discrepancies")),
        sa.UniqueConstraint(
            "provider", "key", name=op.f("uq_reconciliation_discrepancies_provider_key")
        ),
    )
    op.create_index(
        "ix_reconciliation_discrepancies_status_kind",
        "reconciliation_discrepancies",
        ["status", "kind"],
    )
    op.create_table(
        "reconciliation_findings",
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("discrepancy_id", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint(
            "run_id", "discrepancy_id", name=op.f("pk_reconciliation_findings")
        ),
    )


def downgrade() -> None:
    op.drop_table("reconciliation_findings")
    op.drop_index(
        "ix_reconciliation_discrepancies_status_kind", table_name="reconciliation_discrepancies"
    )
    op.drop_table("reconciliation_discrepancies")
    op.drop_index("ix_reconciliation_lines_subject_id", table_name="reconciliation_lines")
    op.drop_table("reconciliation_lines")
    op.drop_index("ix_reconciliation_runs_provider_created_at", table_name="reconciliation_runs")
    op.drop_table("reconciliation_runs")
