"""The sandbox provider's ledger of payments, captures, refunds and voids.

Every change is one conditional statement on the payment's row (`... WHERE amount_captured
+ $2 <= amount`), so concurrent captures or refunds can never take more than there is; a
change the merchant will hear of by webhook queues its event in the same transaction.
An authorization is one insert: it carries its idempotency key and request hash, so a
retry finds it (same body: the payment as it is now; another body: refused).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from cartwright.kit import clock, ids
from cartwright.kit.db import Conn, Database, Row
from cartwright.sandbox_psp import webhooks
from cartwright.sandbox_psp.settings import SandboxConfig

# Fees charged on each capture, in minor units: 1.4 % (rounded half up) + 25.
FEE_PER_MILLE = 14
FEE_FIXED = 25


def capture_fee(amount: int) -> int:
    return (amount * FEE_PER_MILLE + 500) // 1000 + FEE_FIXED


# What a chargeback costs the merchant on top of the amount, in minor units (kept if won).
DISPUTE_FEE = 1500
DISPUTE_REASONS = frozenset(
    {"fraudulent", "product_not_received", "duplicate", "credit_not_processed", "general"}
)


class Method(StrEnum):
    CARD = "card"
    THREE_D_SECURE = "three_d_secure"  # the merchant confirms, or the shopper completes it
    REDIRECT = "redirect"  # only the shopper completes it; the merchant hears by webhook


@dataclass(frozen=True, slots=True)
class TokenOutcome:
    method: Method
    decline_code: str | None = None  # declined at once (card) or on completion (redirect)


# tok_processing_error and tok_timeout act at the wire API (app.py): a 5xx before acting,
# and a late answer after acting.
TOKENS = {
    "tok_visa": TokenOutcome(Method.CARD),
    "tok_timeout": TokenOutcome(Method.CARD),
    "tok_declined": TokenOutcome(Method.CARD, "card_declined"),
    "tok_insufficient_funds": TokenOutcome(Method.CARD, "insufficient_funds"),
    "tok_3ds_required": TokenOutcome(Method.THREE_D_SECURE),
    "tok_redirect": TokenOutcome(Method.REDIRECT),
    "tok_redirect_fail": TokenOutcome(Method.REDIRECT, "redirect_refused"),
}
UNKNOWN_TOKEN = TokenOutcome(Method.CARD, "invalid_token")


class Refused(Exception):
    """The request cannot be done as asked; nothing changed."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def key_reused() -> Refused:
    return Refused(
        422, "idempotency_key_reused", "This Idempotency-Key was used with another request."
    )


def not_found(what: str = "payment") -> Refused:
    return Refused(404, "resource_missing", f"No such {what}.")


@dataclass(frozen=True, slots=True)
class NewPayment:
    amount: int
    currency: str
    token: str
    capture: bool
    merchant_reference: str
    return_url: str | None


class Books:
    def __init__(self, db: Database, config: SandboxConfig) -> None:
        self._db = db
        self._config = config

    @property
    def db(self) -> Database:
        return self._db

    # ------------------------------------------------------------------ payments

    async def create(
        self, key: str, request_hash: str, new: NewPayment, *, tell: bool = False
    ) -> tuple[Row, bool]:
        """The payment and whether it existed already (a replay, or a tombstone that keeps
        a voided merchant reference from charging). With `tell` (the answer will come
        late) a new payment is also told by webhook; otherwise the answer tells it."""
        outcome = TOKENS.get(new.token, UNKNOWN_TOKEN)
        now = clock.utcnow()
        if outcome.method is not Method.CARD:
            status = "requires_action"
        elif outcome.decline_code:
            status = "declined"
        else:
            status = "captured" if new.capture else "authorized"
        captured = new.amount if status == "captured" else 0
        async with self._db.transaction() if tell else self._db.connection() as conn:
            row = await conn.fetchrow(
                "INSERT INTO sandbox_payments (id, idempotency_key, request_hash,"
                " merchant_reference, method, decline_code, amount, currency, status, capture,"
                " amount_captured, amount_refunded, captured_at, closed, return_url, created_at)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 0, $12, $13, $14, $15)"
                " ON CONFLICT DO NOTHING RETURNING *",
                ids.new_id("pay"),
                key,
                request_hash,
                new.merchant_reference,
                outcome.method.value,
                outcome.decline_code,
                new.amount,
                new.currency,
                status,
                new.capture,
                captured,
                now if captured else None,
                status in ("captured", "declined"),
                new.return_url,
                now,
            )
            if row is not None:
                if tell:
                    await self._tell(conn, f"payment.{status}", payment=row)
                return row, False
            row = await conn.fetchrow(
                "SELECT * FROM sandbox_payments WHERE idempotency_key = $1", key
            )
            if row is not None:
                if row["request_hash"] != request_hash:
                    raise key_reused()
                return row, True
            row = await conn.fetchrow(
                "SELECT * FROM sandbox_payments WHERE merchant_reference = $1",
                new.merchant_reference,
            )
        if row is not None and row["idempotency_key"] is None:
            return row, True
        raise Refused(
            409, "merchant_reference_in_use", "A payment with this merchant_reference exists."
        )

    async def get(self, payment_id: str) -> Row:
        async with self._db.connection() as conn:
            row = await conn.fetchrow("SELECT * FROM sandbox_payments WHERE id = $1", payment_id)
        if row is None:
            raise not_found()
        return row

    async def find(self, merchant_reference: str) -> Row | None:
        async with self._db.connection() as conn:
            return await conn.fetchrow(
                "SELECT * FROM sandbox_payments WHERE merchant_reference = $1",
                merchant_reference,
            )

    async def confirm(self, payment_id: str) -> Row:
        """The merchant says the shopper passed 3-D Secure. A redirect payment is not the
        merchant's to complete: it stays as it is."""
        async with self._db.transaction() as conn:
            row = await self._get(conn, payment_id)
            if row["status"] != "requires_action" or row["method"] != Method.THREE_D_SECURE:
                return row
            return await self._complete(conn, row, succeeded=True)

    async def complete_redirect(self, payment_id: str, *, succeeded: bool) -> Row:
        """The shopper finished the redirect (or the challenge) at the sandbox's page."""
        async with self._db.transaction() as conn:
            row = await self._get(conn, payment_id)
            if row["status"] != "requires_action":
                return row
            return await self._complete(conn, row, succeeded=succeeded)

    async def void(self, payment_id: str) -> Row:
        """Cancel what is not captured; a payment with nothing left to void is as it was."""
        async with self._db.transaction() as conn:
            row = await conn.fetchrow(
                f"UPDATE sandbox_payments SET status = 'voided', closed = $2 WHERE id = $1"
                f" AND {_VOIDABLE} RETURNING *",
                payment_id,
                True,
            )
            if row is None:
                return await self._get(conn, payment_id)
            await self._tell(conn, "payment.voided", payment=row)
            return row

    async def void_by_reference(self, merchant_reference: str) -> Row:
        """Void the payment with this reference; with none, leave a voided tombstone so a
        create with it, still on its way, cannot charge."""
        async with self._db.transaction() as conn:
            row = await conn.fetchrow(
                "INSERT INTO sandbox_payments (id, merchant_reference, method, amount, status,"
                " capture, amount_captured, amount_refunded, closed, created_at)"
                " VALUES ($1, $2, 'card', 0, 'voided', $3, 0, 0, $4, $5)"
                " ON CONFLICT DO NOTHING RETURNING *",
                ids.new_id("pay"),
                merchant_reference,
                False,
                True,
                clock.utcnow(),
            )
            if row is not None:
                return row
            row = await conn.fetchrow(
                f"UPDATE sandbox_payments SET status = 'voided', closed = $2"
                f" WHERE merchant_reference = $1 AND {_VOIDABLE} RETURNING *",
                merchant_reference,
                True,
            )
            if row is None:
                row = await conn.fetchrow(
                    "SELECT * FROM sandbox_payments WHERE merchant_reference = $1",
                    merchant_reference,
                )
                assert row is not None
                return row
            await self._tell(conn, "payment.voided", payment=row)
            return row

    # ------------------------------------------------------------------ captures, refunds

    async def capture(
        self, payment_id: str, key: str, request_hash: str, money: tuple[int, str], final: bool
    ) -> tuple[Row, Row, bool]:
        """(the capture, the payment now, whether it was a replay)."""
        amount, currency = money
        replay = await self._replay(key, request_hash, "capture", payment_id)
        if replay is not None:
            return replay
        try:
            async with self._db.transaction() as conn:
                row = await conn.fetchrow(
                    "UPDATE sandbox_payments SET status = 'captured',"
                    " amount_captured = amount_captured + $2,"
                    " closed = (closed OR $3 OR amount_captured + $2 = amount)"
                    " WHERE id = $1 AND status IN ('authorized', 'captured') AND NOT closed"
                    " AND amount_captured + $2 <= amount AND currency = $4 RETURNING *",
                    payment_id,
                    amount,
                    final,
                    currency,
                )
                if row is None:
                    raise await self._why_not_capturable(conn, payment_id, currency)
                operation = await self._insert_operation(
                    conn, "capture", key, request_hash, row, amount, capture_fee(amount), None
                )
                await self._tell(conn, "capture.succeeded", payment=row, operation=operation)
                return operation, row, False
        except _KeyTaken:
            replay = await self._replay(key, request_hash, "capture", payment_id)
            assert replay is not None
            return replay

    async def refund(
        self,
        payment_id: str,
        key: str,
        request_hash: str,
        money: tuple[int, str],
        reason: str | None,
    ) -> tuple[Row, Row, bool]:
        amount, currency = money
        replay = await self._replay(key, request_hash, "refund", payment_id)
        if replay is not None:
            return replay
        try:
            async with self._db.transaction() as conn:
                row = await conn.fetchrow(
                    "UPDATE sandbox_payments SET amount_refunded = amount_refunded + $2"
                    " WHERE id = $1 AND amount_refunded + $2 <= amount_captured"
                    " AND currency = $3 RETURNING *",
                    payment_id,
                    amount,
                    currency,
                )
                if row is None:
                    payment = await self._get(conn, payment_id)
                    if payment["currency"] != currency:
                        raise _currency_mismatch(payment)
                    if payment["amount_captured"] == 0:
                        raise Refused(409, "invalid_state", "Nothing was captured to refund.")
                    raise Refused(
                        409, "amount_too_large", "The refund is more than what remains captured."
                    )
                operation = await self._insert_operation(
                    conn, "refund", key, request_hash, row, amount, 0, reason
                )
                await self._tell(conn, "refund.succeeded", payment=row, operation=operation)
                return operation, row, False
        except _KeyTaken:
            replay = await self._replay(key, request_hash, "refund", payment_id)
            assert replay is not None
            return replay

    # ------------------------------------------------------------------ disputes

    async def open_dispute(self, payment_id: str, amount: int | None, reason: str) -> Row:
        """A customer's bank disputes a captured payment: `amount` (default: all that is
        captured and not refunded) is taken back, and the dispute fee; `dispute.created`
        is sent."""
        async with self._db.transaction() as conn:
            payment = await self._get(conn, payment_id)
            disputable = payment["amount_captured"] - payment["amount_refunded"]
            taken = await conn.fetchval(
                "SELECT COALESCE(SUM(amount), 0) FROM sandbox_disputes"
                " WHERE payment_id = $1 AND status <> 'won'",
                payment_id,
            )
            disputable -= int(taken)
            if amount is None:
                amount = disputable
            if amount <= 0 or amount > disputable:
                raise Refused(
                    409, "invalid_state", f"{max(disputable, 0)} of the payment can be disputed."
                )
            dispute = await conn.fetchrow(
                "INSERT INTO sandbox_disputes (id, payment_id, amount, currency, fee, reason,"
                " status, created_at) VALUES ($1, $2, $3, $4, $5, $6, 'opened', $7) RETURNING *",
                ids.new_id("dp"),
                payment_id,
                amount,
                payment["currency"],
                DISPUTE_FEE,
                reason,
                clock.utcnow(),
            )
            assert dispute is not None
            await webhooks.enqueue(
                conn, "dispute.created", self._dispute_data(dispute, payment), self._config.faults
            )
            return dispute

    async def decide_dispute(self, dispute_id: str, outcome: str) -> Row:
        """The dispute decided: `won` (the amount is given back; the fee is not) or `lost`;
        `dispute.won` / `dispute.lost` is sent. A decided dispute cannot be decided again."""
        async with self._db.transaction() as conn:
            dispute = await conn.fetchrow(
                "UPDATE sandbox_disputes SET status = $2, decided_at = $3"
                " WHERE id = $1 AND status = 'opened' RETURNING *",
                dispute_id,
                outcome,
                clock.utcnow(),
            )
            if dispute is None:
                found = await conn.fetchrow(
                    "SELECT status FROM sandbox_disputes WHERE id = $1", dispute_id
                )
                if found is None:
                    raise not_found("dispute")
                raise Refused(409, "invalid_state", f"The dispute is {found['status']} already.")
            payment = await self._get(conn, dispute["payment_id"])
            await webhooks.enqueue(
                conn,
                f"dispute.{outcome}",
                self._dispute_data(dispute, payment),
                self._config.faults,
            )
            return dispute

    def _dispute_data(self, dispute: Row, payment: Row) -> dict[str, Any]:
        return {
            "object": dispute_body(dispute, payment),
            "payment": payment_body(payment, self._config.public_url),
        }

    # ------------------------------------------------------------------ idempotency

    async def remember_key(self, key: str, request_hash: str) -> None:
        """For POSTs that create nothing of their own: the first use of a key binds it to
        its request; another request with it is refused."""
        async with self._db.connection() as conn:
            inserted = await conn.execute(
                "INSERT INTO sandbox_idempotency_keys (key, request_hash, created_at)"
                " VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                key,
                request_hash,
                clock.utcnow(),
            )
            if inserted:
                return
            stored = await conn.fetchval(
                "SELECT request_hash FROM sandbox_idempotency_keys WHERE key = $1", key
            )
        if stored != request_hash:
            raise key_reused()

    # ------------------------------------------------------------------ helpers

    async def _get(self, conn: Conn, payment_id: str) -> Row:
        row = await conn.fetchrow("SELECT * FROM sandbox_payments WHERE id = $1", payment_id)
        if row is None:
            raise not_found()
        return row

    async def _complete(self, conn: Conn, row: Row, *, succeeded: bool) -> Row:
        if succeeded and row["decline_code"] is None:
            capture = bool(row["capture"])
            status = "captured" if capture else "authorized"
            decline_code = None
        else:
            capture, status = False, "declined"
            decline_code = row["decline_code"] or "authentication_failed"
        now = clock.utcnow()
        updated = await conn.fetchrow(
            "UPDATE sandbox_payments SET status = $2, decline_code = $3, amount_captured = $4,"
            " captured_at = $5, closed = $6 WHERE id = $1 AND status = 'requires_action'"
            " RETURNING *",
            row["id"],
            status,
            decline_code,
            row["amount"] if capture else 0,
            now if capture else None,
            status != "authorized",
        )
        if updated is None:  # completed meanwhile by another request
            return await self._get(conn, row["id"])
        await self._tell(conn, f"payment.{status}", payment=updated)
        return updated

    async def _why_not_capturable(self, conn: Conn, payment_id: str, currency: str) -> Refused:
        payment = await self._get(conn, payment_id)
        if payment["status"] in ("authorized", "captured") and payment["currency"] != currency:
            return _currency_mismatch(payment)
        if payment["status"] not in ("authorized", "captured") or payment["closed"]:
            return Refused(409, "invalid_state", f"A {payment['status']} payment cannot capture.")
        return Refused(409, "amount_too_large", "The capture is more than what remains authorized.")

    async def _insert_operation(
        self,
        conn: Conn,
        kind: str,
        key: str,
        request_hash: str,
        payment: Row,
        amount: int,
        fee: int,
        reason: str | None,
    ) -> Row:
        operation = await conn.fetchrow(
            "INSERT INTO sandbox_operations (id, idempotency_key, request_hash, kind,"
            " payment_id, amount, currency, fee, reason, created_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
            " ON CONFLICT DO NOTHING RETURNING *",
            ids.new_id("cap" if kind == "capture" else "rfd"),
            key,
            request_hash,
            kind,
            payment["id"],
            amount,
            payment["currency"],
            fee,
            reason,
            clock.utcnow(),
        )
        if operation is None:  # the same key, concurrently: undo ours, answer theirs
            raise _KeyTaken()
        return operation

    async def _replay(
        self, key: str, request_hash: str, kind: str, payment_id: str
    ) -> tuple[Row, Row, bool] | None:
        async with self._db.connection() as conn:
            operation = await conn.fetchrow(
                "SELECT * FROM sandbox_operations WHERE idempotency_key = $1", key
            )
            if operation is None:
                return None
            if (
                operation["request_hash"] != request_hash
                or operation["kind"] != kind
                or operation["payment_id"] != payment_id
            ):
                raise key_reused()
            return operation, await self._get(conn, payment_id), True

    async def _tell(
        self, conn: Conn, type_: str, *, payment: Row, operation: Row | None = None
    ) -> None:
        data: dict[str, Any] = {"object": payment_body(payment, self._config.public_url)}
        if operation is not None:
            data = {
                "object": operation_body(operation, payment),
                "payment": data["object"],
            }
        await webhooks.enqueue(conn, type_, data, self._config.faults)


def _currency_mismatch(payment: Row) -> Refused:
    return Refused(409, "currency_mismatch", f"The payment is in {payment['currency']}.")


class _KeyTaken(Exception):
    """Another request with the same Idempotency-Key committed first."""


_VOIDABLE = "(status IN ('requires_action', 'authorized') OR (status = 'captured' AND NOT closed))"


def _unix(value: datetime) -> int:
    return int(value.timestamp())


def payment_body(row: Row, public_url: str) -> dict[str, Any]:
    """A payment as the wire API shows it."""
    body: dict[str, Any] = {
        "id": row["id"],
        "object": "payment",
        "merchant_reference": row["merchant_reference"],
        "status": row["status"],
        "amount": row["amount"],
        "currency": row["currency"],
        "amount_captured": row["amount_captured"],
        "amount_refunded": row["amount_refunded"],
        "capture": bool(row["capture"]),
        "capturable": not row["closed"] and row["status"] in ("authorized", "captured"),
        "method": row["method"],
        "created": _unix(row["created_at"]),
    }
    if row["status"] == "declined":
        body["decline_code"] = row["decline_code"]
    if row["status"] == "requires_action":
        url = f"{public_url}/redirect/{row['id']}"
        body["next_action"] = {"type": row["method"], "url": url}
    return body


def operation_body(operation: Row, payment: Row) -> dict[str, Any]:
    return {
        "id": operation["id"],
        "object": operation["kind"],
        "payment": operation["payment_id"],
        "merchant_reference": payment["merchant_reference"],
        "idempotency_key": operation["idempotency_key"],
        "status": "succeeded",
        "amount": operation["amount"],
        "currency": operation["currency"],
        "fee": operation["fee"],
        "reason": operation["reason"],
        "created": _unix(operation["created_at"]),
    }


def dispute_body(dispute: Row, payment: Row) -> dict[str, Any]:
    return {
        "id": dispute["id"],
        "object": "dispute",
        "payment": dispute["payment_id"],
        "merchant_reference": payment["merchant_reference"],
        "status": dispute["status"],
        "amount": dispute["amount"],
        "currency": dispute["currency"],
        "fee": dispute["fee"],
        "reason": dispute["reason"],
        "created": _unix(dispute["created_at"]),
    }
