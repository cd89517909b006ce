"""The ledger's tables: a double-entry journal, append-only.

`ledger_entries` is one fact about money (an order placed, a capture, a refund...), keyed by
`source`, the fact's own identity (`capture:<operation id>`), so posting it twice writes it
once. `ledger_lines` are its postings: each debits or credits one account by a positive
amount. Neither table is ever updated or deleted (triggers refuse it, migration 0014): a
correction is a new entry.
"""

import sqlalchemy as sa

from cartwright.kit.schema import Timestamp, id_column, metadata

ledger_entries = sa.Table(
    "ledger_entries",
    metadata,
    id_column(),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("order_id", sa.String(64), nullable=True),
    sa.Column("payment_id", sa.String(64), nullable=True),
    sa.Column("source", sa.Text, nullable=False, unique=True),
    sa.Column("memo", sa.String(500), nullable=True),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Index("ix_ledger_entries_order_id", "order_id"),
    sa.Index("ix_ledger_entries_payment_id", "payment_id"),
    sa.Index("ix_ledger_entries_created_at_id", "created_at", "id"),
)

ledger_lines = sa.Table(
    "ledger_lines",
    metadata,
    sa.Column("entry_id", sa.String(64), sa.ForeignKey("ledger_entries.id"), primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True),
    sa.Column("account", sa.String(32), nullable=False),
    # Whose account it is where an account has one balance per counterparty: the payment
    # provider for `provider_clearing`; empty otherwise.
    sa.Column("party", sa.String(64), nullable=False, server_default=""),
    # The entry's currency, repeated so balances are one scan of the lines.
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("debit", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("credit", sa.BigInteger, nullable=False, server_default="0"),
    sa.CheckConstraint("debit >= 0 AND credit >= 0", name="amounts_not_negative"),
    sa.CheckConstraint("(debit > 0 AND credit = 0) OR (credit > 0 AND debit = 0)", name="one_side"),
    sa.Index("ix_ledger_lines_account_party_currency", "account", "party", "currency"),
)
