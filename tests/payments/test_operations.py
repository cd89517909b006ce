"""Captures, refunds and voids against the real databases: the amounts in flight are
reserved in one guarded UPDATE, so concurrent requests never capture more than was
authorized nor refund more than was captured, whatever the provider answers."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cartwright.kit import ids
from cartwright.kit.db import Database
from cartwright.kit.errors import InvalidState
from cartwright.payments import service as payments
from cartwright.payments.connector import (
    OperationResult,
    OperationStatus,
    ProviderResult,
    ProviderStatus,
)
from cartwright.payments.service import Operation, OperationKind, Payment
from cartwright.payments.state import PaymentStatus

CHECK = timedelta(seconds=30)


@pytest.fixture(params=["pg_database", "sqlite_database"])
async def db(request: pytest.FixtureRequest) -> AsyncIterator[Database]:
    database = Database(request.getfixturevalue(request.param), pool_size=8)
    await database.connect()
    try:
        yield database
    finally:
        await database.close()


async def authorized_payment(db: Database, amount: int, *, captured: bool = False) -> Payment:
    payment, insert = payments.new_payment(
        payment_id=ids.new_id("pay"),
        order_id=ids.new_id("ord"),
        provider="sandbox",
        amount=amount,
        currency="EUR",
        capture_method="automatic" if captured else "manual",
    )
    status = ProviderStatus.CAPTURED if captured else ProviderStatus.AUTHORIZED
    change = payments.plan_result(
        payment,
        ProviderResult(status, "ref_1", amount, "EUR", amount if captured else 0),
    )
    async with db.transaction() as conn:
        await conn.batch([insert])  # two batches: one batch's statements share a snapshot
        await conn.batch([change.statement])
    return await reread(db, payment.id)


async def reread(db: Database, payment_id: str) -> Payment:
    async with db.connection() as conn:
        return await payments.get_payment(conn, payment_id)


async def begin(
    db: Database, payment: Payment, kind: OperationKind, amount: int | None, **kw: object
) -> Operation:
    async with db.transaction() as conn:
        return await payments.begin_operation(
            conn,
            payment,
            kind=kind,
            operation_id=ids.new_id(kind.value[:3]),
            amount=amount,
            check_after=CHECK,
            **kw,  # type: ignore[arg-type]
        )


async def settle(db: Database, operation: Operation, status: OperationStatus) -> None:
    async with db.transaction() as conn:
        await payments.settle_operation(
            conn,
            operation,
            OperationResult(status, "ref_op", operation.amount, operation.currency),
            retry_after=CHECK,
        )


def assert_books(payment: Payment) -> None:
    assert 0 <= payment.amount_refunded <= payment.amount_captured <= payment.amount_authorized
    assert payment.capture_pending >= 0 and payment.refund_pending >= 0
    assert payment.amount_captured + payment.capture_pending <= payment.amount_authorized
    assert payment.amount_refunded + payment.refund_pending <= payment.amount_captured


async def test_partial_captures_then_final_state_and_refunds(db: Database) -> None:
    payment = await authorized_payment(db, 10_000)
    first = await begin(db, payment, OperationKind.CAPTURE, 3_000)
    await settle(db, first, OperationStatus.SUCCEEDED)
    payment = await reread(db, payment.id)
    assert payment.status is PaymentStatus.PARTIALLY_CAPTURED
    assert payment.amount_captured == 3_000
    # A refund waits until capturing is over; the rest can still be captured.
    with pytest.raises(InvalidState):
        await begin(db, payment, OperationKind.REFUND, 1_000)
    rest = await begin(db, payment, OperationKind.CAPTURE, None)
    assert rest.amount == 7_000
    await settle(db, rest, OperationStatus.SUCCEEDED)
    payment = await reread(db, payment.id)
    assert payment.status is PaymentStatus.CAPTURED and payment.amount_captured == 10_000
    with pytest.raises(InvalidState):
        await begin(db, payment, OperationKind.CAPTURE, 1)
    part = await begin(db, payment, OperationKind.REFUND, 2_500, reason="damaged")
    await settle(db, part, OperationStatus.SUCCEEDED)
    payment = await reread(db, payment.id)
    assert payment.status is PaymentStatus.PARTIALLY_REFUNDED
    with pytest.raises(InvalidState):
        await begin(db, payment, OperationKind.REFUND, 7_501)
    rest_back = await begin(db, payment, OperationKind.REFUND, None)
    await settle(db, rest_back, OperationStatus.SUCCEEDED)
    payment = await reread(db, payment.id)
    assert payment.status is PaymentStatus.REFUNDED
    assert payment.amount_refunded == 10_000
    assert_books(payment)


async def test_a_void_releases_the_rest_and_excludes_captures(db: Database) -> None:
    payment = await authorized_payment(db, 5_000)
    captured = await begin(db, payment, OperationKind.CAPTURE, 2_000)
    # A void waits for the capture in flight.
    with pytest.raises(InvalidState):
        await begin(db, await reread(db, payment.id), OperationKind.VOID, None)
    await settle(db, captured, OperationStatus.SUCCEEDED)
    void = await begin(db, await reread(db, payment.id), OperationKind.VOID, None)
    assert void.amount == 3_000
    # While the void is in flight, nothing is left to capture.
    with pytest.raises(InvalidState):
        await begin(db, await reread(db, payment.id), OperationKind.CAPTURE, 1)
    await settle(db, void, OperationStatus.SUCCEEDED)
    payment = await reread(db, payment.id)
    assert payment.status is PaymentStatus.CAPTURED  # the captured part stays captured
    assert payment.amount_captured == 2_000 and payment.capture_pending == 0

    untouched = await authorized_payment(db, 1_000)
    whole = await begin(db, untouched, OperationKind.VOID, None)
    await settle(db, whole, OperationStatus.SUCCEEDED)
    assert (await reread(db, untouched.id)).status is PaymentStatus.VOIDED


async def test_a_failed_operation_gives_its_reservation_back(db: Database) -> None:
    payment = await authorized_payment(db, 4_000)
    refused = await begin(db, payment, OperationKind.CAPTURE, 4_000)
    assert (await reread(db, payment.id)).capture_pending == 4_000
    await settle(db, refused, OperationStatus.FAILED)
    payment = await reread(db, payment.id)
    assert payment.status is PaymentStatus.AUTHORIZED
    assert payment.capture_pending == 0 and payment.amount_captured == 0
    again = await begin(db, payment, OperationKind.CAPTURE, 4_000)
    await settle(db, again, OperationStatus.SUCCEEDED)
    assert (await reread(db, payment.id)).status is PaymentStatus.CAPTURED


async def test_settling_twice_applies_once(db: Database) -> None:
    """The request, the webhook and the janitor may all settle one operation."""
    payment = await authorized_payment(db, 3_000, captured=True)
    operation = await begin(db, payment, OperationKind.REFUND, 1_000)
    await asyncio.gather(*(settle(db, operation, OperationStatus.SUCCEEDED) for _ in range(5)))
    payment = await reread(db, payment.id)
    assert payment.amount_refunded == 1_000 and payment.refund_pending == 0


async def test_a_retried_operation_id_resumes_rather_than_repeats(db: Database) -> None:
    payment = await authorized_payment(db, 3_000)
    async with db.transaction() as conn:
        first = await payments.begin_operation(
            conn,
            payment,
            kind=OperationKind.CAPTURE,
            operation_id="cap_same",
            amount=1_000,
            check_after=CHECK,
        )
    async with db.transaction() as conn:
        again = await payments.begin_operation(
            conn,
            payment,
            kind=OperationKind.CAPTURE,
            operation_id="cap_same",
            amount=1_000,
            check_after=CHECK,
        )
    assert again.id == first.id
    assert (await reread(db, payment.id)).capture_pending == 1_000


async def test_a_provider_amount_that_differs_is_never_trusted(db: Database) -> None:
    payment = await authorized_payment(db, 2_000, captured=True)
    operation = await begin(db, payment, OperationKind.REFUND, 500)
    async with db.transaction() as conn:
        settled = await payments.settle_operation(
            conn,
            operation,
            OperationResult(OperationStatus.SUCCEEDED, "ref", 5_000, "EUR"),
            retry_after=CHECK,
        )
    assert settled is None
    payment = await reread(db, payment.id)
    assert payment.amount_refunded == 0 and payment.refund_pending == 500


async def test_concurrent_captures_never_exceed_the_authorization(db: Database) -> None:
    payment = await authorized_payment(db, 10_000)
    amounts = [1_500] * 12  # 18,000 asked of 10,000 authorized

    async def one(amount: int) -> Operation | None:
        try:
            return await begin(db, payment, OperationKind.CAPTURE, amount)
        except InvalidState:
            return None

    began = [op for op in await asyncio.gather(*(one(a) for a in amounts)) if op is not None]
    assert 1 <= len(began) <= 6  # 6 × 1,500 fits in 10,000; a 7th does not
    await asyncio.gather(*(settle(db, op, OperationStatus.SUCCEEDED) for op in began))
    payment = await reread(db, payment.id)
    assert payment.amount_captured == 1_500 * len(began)
    assert_books(payment)


async def test_concurrent_refunds_never_exceed_the_capture(db: Database) -> None:
    payment = await authorized_payment(db, 6_000, captured=True)

    async def one() -> Operation | None:
        try:
            return await begin(db, payment, OperationKind.REFUND, 1_000)
        except InvalidState:
            return None

    began = [op for op in await asyncio.gather(*(one() for _ in range(10))) if op is not None]
    await asyncio.gather(*(settle(db, op, OperationStatus.SUCCEEDED) for op in began))
    payment = await reread(db, payment.id)
    assert payment.amount_refunded == 1_000 * len(began) <= 6_000
    assert_books(payment)


_STEP = st.tuples(
    st.sampled_from(list(OperationKind)),
    st.one_of(st.none(), st.integers(min_value=1, max_value=4_000)),
    st.sampled_from([OperationStatus.SUCCEEDED, OperationStatus.FAILED, OperationStatus.PENDING]),
    st.booleans(),
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(steps=st.lists(_STEP, min_size=1, max_size=12), seed=st.integers(0, 2**16))
async def test_any_sequence_of_operations_keeps_the_books(
    db: Database,
    steps: list[tuple[OperationKind, int | None, OperationStatus, bool]],
    seed: int,
) -> None:
    """Whatever is asked and whatever the provider answers, in any order of settling:
    refunded ≤ captured ≤ authorized, reservations never negative, and the status agrees
    with the amounts."""
    rng = random.Random(seed)
    payment = await authorized_payment(db, 10_000)
    pending: list[tuple[Operation, OperationStatus]] = []
    for kind, amount, answer, final in steps:
        try:
            operation = await begin(db, await reread(db, payment.id), kind, amount, final=final)
        except InvalidState:
            continue
        pending.append((operation, answer))
        rng.shuffle(pending)
        if rng.random() < 0.6:
            op, status = pending.pop()
            await settle(db, op, status)
        assert_books(await reread(db, payment.id))
    for op, status in pending:
        await settle(db, op, status)
    payment = await reread(db, payment.id)
    assert_books(payment)
    if payment.status is PaymentStatus.REFUNDED:
        assert payment.amount_refunded == payment.amount_captured
    if payment.status is PaymentStatus.VOIDED:
        assert payment.amount_captured == 0
    if payment.status is PaymentStatus.AUTHORIZED:
        assert payment.amount_captured == 0
