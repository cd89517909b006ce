"""The sandbox payment provider: a simulated PSP with test tokens for every outcome.

It keeps its own books (table `sandbox_psp_payments`) on its own connections, as a real
provider would on its own servers, so a lookup by idempotency key finds what it did even
when the merchant's process died. For now it runs inside the platform's process; a later
step moves it behind its own HTTP server, with the connector speaking HTTP to it.

| token                  | outcome                                                    |
| tok_visa               | authorized (captured when asked to)                        |
| tok_declined           | declined, `card_declined`                                  |
| tok_insufficient_funds | declined, `insufficient_funds`                             |
| tok_3ds_required       | requires_action; authorized once confirmed                 |
| tok_processing_error   | a server error, every time                                 |
| tok_timeout            | authorized, but the answer comes after `slow_response_s`   |
"""

from __future__ import annotations

import asyncio
from typing import Any

from cartwright.kit import clock, ids
from cartwright.kit.db import Database, Row

_COLUMNS = "reference, decline_code, amount, currency, status, amount_captured"


class SandboxServerError(Exception):
    """Stands for an HTTP 5xx from the provider."""


DECLINES = {"tok_declined": "card_declined", "tok_insufficient_funds": "insufficient_funds"}
KNOWN_TOKENS = {"tok_visa", "tok_3ds_required", "tok_processing_error", "tok_timeout", *DECLINES}


class SandboxProvider:
    def __init__(self, db: Database, *, slow_response_s: float) -> None:
        self._db = db
        self.slow_response_s = slow_response_s

    async def authorize(
        self, *, idempotency_key: str, token: str, amount: int, currency: str, capture: bool
    ) -> dict[str, Any]:
        if token == "tok_processing_error":
            raise SandboxServerError("500 Internal Server Error")
        decline_code = None
        if token in DECLINES or token not in KNOWN_TOKENS:
            status = "declined"
            decline_code = DECLINES.get(token, "invalid_token")
        elif token == "tok_3ds_required":
            status = "requires_action"
        else:
            status = "captured" if capture else "authorized"
        # Like a real provider's, its books keep what the token did, never the token.
        row = await self._insert(idempotency_key, decline_code, amount, currency, status, capture)
        if token == "tok_timeout":
            await asyncio.sleep(self.slow_response_s)
        return self._wire(row)

    async def retrieve(self, idempotency_key: str) -> dict[str, Any] | None:
        row = await self._get(idempotency_key)
        return None if row is None else self._wire(row)

    async def confirm(self, idempotency_key: str) -> dict[str, Any] | None:
        """Completes a 3-D Secure challenge (the shopper passed it)."""
        async with self._db.transaction() as conn:
            row = await conn.fetchrow(
                "UPDATE sandbox_psp_payments SET status = CASE WHEN amount_captured > 0"
                " THEN 'captured' ELSE 'authorized' END"
                " WHERE idempotency_key = $1 AND status = 'requires_action' RETURNING *",
                idempotency_key,
            )
        return self._wire(row) if row is not None else await self.retrieve(idempotency_key)

    async def cancel(self, idempotency_key: str) -> dict[str, Any] | None:
        """Cancel what is not captured. An unknown key gets a canceled tombstone, so a
        late authorization with that key can no longer charge."""
        async with self._db.transaction() as conn:
            await conn.execute(
                "INSERT INTO sandbox_psp_payments (idempotency_key, reference, amount,"
                " currency, status, created_at) VALUES ($1, $2, 0, 'XXX', 'canceled', $3)"
                " ON CONFLICT (idempotency_key) DO UPDATE SET status = 'canceled'"
                " WHERE sandbox_psp_payments.status IN ('requires_action', 'authorized')",
                idempotency_key,
                ids.new_id("sbx"),
                clock.utcnow(),
            )
        return await self.retrieve(idempotency_key)

    async def _get(self, idempotency_key: str) -> Row | None:
        async with self._db.connection() as conn:
            return await conn.fetchrow(
                "SELECT * FROM sandbox_psp_payments WHERE idempotency_key = $1", idempotency_key
            )

    async def _insert(
        self,
        key: str,
        decline_code: str | None,
        amount: int,
        currency: str,
        status: str,
        capture: bool,
    ) -> Row:
        # For a 3-D Secure payment `amount_captured` records the capture asked for, applied
        # when the challenge is passed.
        # A retry with the same key finds the first row: the same answer, no second charge.
        captured = amount if capture and status in ("captured", "requires_action") else 0
        async with self._db.connection() as conn:
            row = await conn.fetchrow(
                "INSERT INTO sandbox_psp_payments (idempotency_key, reference, decline_code,"
                " amount, currency, status, amount_captured, created_at)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING"
                f" RETURNING {_COLUMNS}",
                key,
                ids.new_id("sbx"),
                decline_code,
                amount,
                currency,
                status,
                captured,
                clock.utcnow(),
            )
            if row is None:
                row = await conn.fetchrow(
                    f"SELECT {_COLUMNS} FROM sandbox_psp_payments WHERE idempotency_key = $1",
                    key,
                )
        assert row is not None
        return row

    @staticmethod
    def _wire(row: Row) -> dict[str, Any]:
        status = row["status"]
        body: dict[str, Any] = {
            "id": row["reference"],
            "status": status,
            "amount": row["amount"],
            "amount_captured": row["amount_captured"] if status == "captured" else 0,
            "currency": row["currency"],
        }
        if status == "declined":
            body["decline_code"] = row["decline_code"] or "invalid_token"
        if status == "requires_action":
            body["next_action"] = {
                "type": "three_d_secure",
                "redirect_url": f"https://sandbox.cartwright.dev/3ds/{row['reference']}",
            }
        return body
