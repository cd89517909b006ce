"""No secret at rest: order tokens are derived, payment tokens are not kept.

- `orders.access_token_hash` and `checkouts.access_token` go: an order's access token is an
  HMAC of its id under `CARTWRIGHT_SECRET_KEY` (kit/crypto.py), stored nowhere. Tokens
  handed out before this migration were random and stop opening their orders (ADR 0007).
- `payments.token` goes, and the sandbox provider keeps the decline code a token caused
  instead of the token.
- Stored idempotent answers lose the secrets they held: `access_token` is taken out of
  stored checkout answers (it is added again, derived, when they are replayed), and the
  stored answers of `POST /v1/api-keys`, which held new keys in clear, are deleted.

Revision ID: 0006
Revises: 0005
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("access_token_hash")
    with op.batch_alter_table("checkouts") as batch:
        batch.drop_column("access_token")
    with op.batch_alter_table("payments") as batch:
        batch.drop_column("token")
    with op.batch_alter_table("sandbox_psp_payments") as batch:
        batch.add_column(sa.Column("decline_code", sa.String(64), nullable=True))
    op.execute(
        "UPDATE sandbox_psp_payments SET decline_code = CASE token"
        " WHEN 'tok_declined' THEN 'card_declined'"
        " WHEN 'tok_insufficient_funds' THEN 'insufficient_funds'"
        " ELSE 'invalid_token' END WHERE status = 'declined'"
    )
    with op.batch_alter_table("sandbox_psp_payments") as batch:
        batch.drop_column("token")

    conn = op.get_bind()
    conn.execute(sa.text("DELETE FROM idempotency_keys WHERE route = 'POST /v1/api-keys'"))
    rows = conn.execute(
        sa.text(
            "SELECT owner, route, key, response_body FROM idempotency_keys"
            " WHERE response_body LIKE '%access_token%'"
        )
    ).fetchall()
    for owner, route, key, body in rows:
        answer = json.loads(body)
        if isinstance(answer, dict) and answer.pop("access_token", None) is not None:
            conn.execute(
                sa.text(
                    "UPDATE idempotency_keys SET response_body = :body"
                    " WHERE owner = :owner AND route = :route AND key = :key"
                ),
                {
                    "body": json.dumps(answer, separators=(",", ":")),
                    "owner": owner,
                    "route": route,
                    "key": key,
                },
            )


def downgrade() -> None:
    # The secrets are gone for good: columns come back empty.
    with op.batch_alter_table("sandbox_psp_payments") as batch:
        batch.add_column(sa.Column("token", sa.String(200), nullable=False, server_default=""))
        batch.drop_column("decline_code")
    with op.batch_alter_table("payments") as batch:
        batch.add_column(sa.Column("token", sa.String(200), nullable=False, server_default=""))
    with op.batch_alter_table("checkouts") as batch:
        batch.add_column(
            sa.Column("access_token", sa.String(64), nullable=False, server_default="")
        )
    with op.batch_alter_table("orders") as batch:
        batch.add_column(
            sa.Column("access_token_hash", sa.String(64), nullable=False, server_default="")
        )
