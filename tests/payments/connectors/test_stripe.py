"""The Stripe connector against recorded exchanges (recordings/stripe/, from Stripe's API
reference): the request we send, field by field, and the result we read from the answer."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from cartwright.payments.connector import (
    AuthorizeRequest,
    CaptureRequest,
    InvalidWebhook,
    OperationStatus,
    Outcome,
    ProviderStatus,
    RefundRequest,
    RetryableProviderError,
    VoidRequest,
    WebhookKind,
)
from cartwright.payments.connectors.stripe.client import StripeConnector, StripeRejected
from cartwright.payments.connectors.stripe.mapping import payment_result
from cartwright.payments.gateway import Gateway
from tests.payments.connectors.replay import RECORDINGS, Replay, failing

PAY = "pay_01JD3Q8Z5X6W7V8T9R0S1P2N3M"
PI = "pi_3QJk2fLkdIwHu7ix0w5Xk9aB"
SECRET = "whsec_cartwright_test_current"
OLD_SECRET = "whsec_cartwright_test_previous"
NOW = datetime(2024, 12, 2, 17, 20, tzinfo=UTC)


def connector(
    transport: httpx.AsyncBaseTransport, secrets: list[str] | None = None
) -> StripeConnector:
    return StripeConnector(
        "sk_test_cartwright", [SECRET] if secrets is None else secrets, transport=transport
    )


def authorization(token: str = "pm_card_visa", **fields: object) -> AuthorizeRequest:
    return AuthorizeRequest(PAY, 1099, "EUR", token, **fields)  # type: ignore[arg-type]


def replayed(name: str) -> tuple[StripeConnector, Replay]:
    replay = Replay("stripe", name)
    return connector(replay.transport), replay


async def test_authorize_sends_our_key_version_and_reference() -> None:
    stripe, replay = replayed("authorize_succeeded")
    result = await stripe.authorize(authorization())
    replay.assert_done()
    assert result.status is ProviderStatus.CAPTURED
    assert (result.reference, result.amount, result.currency) == (PI, 1099, "EUR")
    assert result.amount_captured == 1099


async def test_a_decline_is_a_result_with_stripes_decline_code() -> None:
    stripe, replay = replayed("authorize_declined")
    result = await stripe.authorize(authorization("pm_card_visa_chargeDeclinedInsufficientFunds"))
    replay.assert_done()
    assert result.status is ProviderStatus.DECLINED
    assert result.outcome is Outcome.DECLINED
    assert result.decline_code == "insufficient_funds"
    assert result.message == "Your card has insufficient funds."
    assert (result.amount, result.currency) == (1099, "EUR")


async def test_three_d_secure_asks_the_shopper_to_follow_stripes_redirect() -> None:
    stripe, replay = replayed("authorize_requires_action")
    result = await stripe.authorize(
        authorization("pm_card_threeDSecure2Required", return_url="https://shop.example/return")
    )
    replay.assert_done()
    assert result.status is ProviderStatus.REQUIRES_ACTION
    assert result.next_action is not None
    assert result.next_action["type"] == "redirect_to_url"
    assert result.next_action["redirect_url"].startswith("https://hooks.stripe.com/3d_secure_2/")


async def test_processing_is_pending_never_a_guess() -> None:
    stripe, replay = replayed("authorize_processing")
    result = await stripe.authorize(authorization())
    assert result.status is ProviderStatus.PENDING
    assert result.outcome is Outcome.UNKNOWN


async def test_manual_capture_then_a_partial_capture() -> None:
    stripe, replay = replayed("manual_then_partial_capture")
    held = await stripe.authorize(authorization(capture=False))
    assert held.status is ProviderStatus.AUTHORIZED
    assert held.amount_captured == 0
    captured = await stripe.capture(
        CaptureRequest(PAY, held.reference, "cap_01JD3QA0000000000000000001", 600, "EUR", True)
    )
    replay.assert_done()
    assert captured.status is OperationStatus.SUCCEEDED
    assert (captured.reference, captured.amount, captured.currency) == (PI, 600, "EUR")


async def test_a_capture_that_is_not_final_needs_multicapture_or_moves_nothing() -> None:
    stripe, replay = replayed("capture_not_final_without_multicapture")
    result = await stripe.capture(
        CaptureRequest(PAY, PI, "cap_01JD3QA0000000000000000002", 300, "EUR", False)
    )
    replay.assert_done()
    assert result.status is OperationStatus.FAILED
    assert result.failure_code == "payment_intent_invalid_parameter"


async def test_partial_refund_with_our_refund_id_as_key() -> None:
    stripe, replay = replayed("refund_partial")
    result = await stripe.refund(
        RefundRequest(
            PAY, PI, "ref_01JD3QB0000000000000000001", 400, "EUR", "requested_by_customer"
        )
    )
    replay.assert_done()
    assert result.status is OperationStatus.SUCCEEDED
    assert (result.reference, result.amount, result.currency) == (
        "re_3QJk2fLkdIwHu7ix0Refund1",
        400,
        "EUR",
    )


async def test_void() -> None:
    stripe, replay = replayed("void")
    result = await stripe.void(VoidRequest(PAY, PI))
    replay.assert_done()
    assert result.status is ProviderStatus.VOIDED


async def test_void_by_our_reference_finds_the_intent_and_cancels_it() -> None:
    stripe, replay = replayed("void_by_our_reference")
    result = await stripe.void(VoidRequest(PAY, None))
    replay.assert_done()
    assert result.status is ProviderStatus.VOIDED
    assert result.reference == PI


async def test_void_of_an_unseen_payment_takes_its_key_so_it_can_never_charge() -> None:
    stripe, replay = replayed("void_by_our_reference_unseen")
    result = await stripe.void(VoidRequest(PAY, None))
    replay.assert_done()
    # The placeholder holds the authorization's key (checked by the recording) and is
    # canceled; it is not the payment, so the answer is "never seen".
    assert replay.sent[1].headers["Idempotency-Key"] == PAY
    assert result.status is ProviderStatus.NOT_FOUND
    assert result.amount is None


async def test_void_when_search_lags_behind_the_authorization_is_unknown() -> None:
    stripe, replay = replayed("void_by_our_reference_search_lag")
    result = await stripe.void(VoidRequest(PAY, None))
    replay.assert_done()
    assert result.status is ProviderStatus.PENDING


async def test_retrieve_by_our_reference() -> None:
    stripe, replay = replayed("retrieve")
    result = await stripe.retrieve(PAY)
    replay.assert_done()
    assert result.status is ProviderStatus.AUTHORIZED
    assert (result.reference, result.amount, result.currency) == (PI, 1099, "EUR")


async def test_retrieve_of_an_unknown_reference() -> None:
    stripe, replay = replayed("retrieve_not_found")
    assert (await stripe.retrieve(PAY)).status is ProviderStatus.NOT_FOUND
    replay.assert_done()


async def test_confirm_without_stripes_reference_reads_the_intent_by_ours() -> None:
    stripe, replay = replayed("retrieve")
    assert (await stripe.confirm(PAY, None)).status is ProviderStatus.AUTHORIZED
    replay.assert_done()


@pytest.mark.parametrize("name", ["server_error", "rate_limited"])
async def test_technical_failures_are_retryable(name: str) -> None:
    stripe, replay = replayed(name)
    with pytest.raises(RetryableProviderError):
        await stripe.authorize(authorization())
    replay.assert_done()


async def test_a_refused_connection_is_retryable_and_a_read_timeout_is_a_timeout() -> None:
    refused = connector(failing(httpx.ConnectError("connection refused")))
    with pytest.raises(RetryableProviderError):
        await refused.authorize(authorization())
    slow = connector(failing(httpx.ReadTimeout("read timed out")))
    with pytest.raises(TimeoutError):
        await slow.authorize(authorization())
    gateway = Gateway({"stripe": slow}, timeout_s=5, max_attempts=3)
    unknown = await gateway.authorize("stripe", authorization())
    assert unknown.status is ProviderStatus.PENDING


async def test_the_gateway_retries_a_5xx_with_the_same_idempotency_key() -> None:
    stripe, replay = replayed("retried_after_server_error")
    gateway = Gateway({"stripe": stripe}, timeout_s=5, max_attempts=3)
    result = await gateway.authorize("stripe", authorization())
    replay.assert_done()
    assert result.status is ProviderStatus.CAPTURED
    assert [r.headers["Idempotency-Key"] for r in replay.sent] == [PAY, PAY]


async def test_a_refused_api_key_is_a_clear_error_and_never_retried() -> None:
    stripe, replay = replayed("authentication_error")
    gateway = Gateway({"stripe": stripe}, timeout_s=5, max_attempts=3)
    with pytest.raises(StripeRejected, match="CARTWRIGHT_STRIPE_API_KEY"):
        await gateway.authorize("stripe", authorization())
    replay.assert_done()


# Webhooks: bodies in recordings/stripe/events/, signed here as Stripe signs them.


def event_body(name: str) -> bytes:
    return (RECORDINGS / "stripe" / "events" / f"{name}.json").read_bytes()


def signed(body: bytes, *secrets: str, at: datetime = NOW) -> dict[str, str]:
    t = str(int(at.timestamp()))
    v1 = [
        hmac.new(s.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest() for s in secrets
    ]
    return {"Stripe-Signature": ",".join([f"t={t}", *(f"v1={v}" for v in v1)])}


@pytest.mark.parametrize(
    ("name", "kind", "status"),
    [
        (
            "payment_intent.amount_capturable_updated",
            WebhookKind.PAYMENT,
            ProviderStatus.AUTHORIZED,
        ),
        ("payment_intent.succeeded", WebhookKind.PAYMENT, ProviderStatus.CAPTURED),
        ("payment_intent.payment_failed", WebhookKind.PAYMENT, ProviderStatus.DECLINED),
        ("payment_intent.canceled", WebhookKind.PAYMENT, ProviderStatus.VOIDED),
        ("payment_intent.requires_action", WebhookKind.PAYMENT, ProviderStatus.REQUIRES_ACTION),
        ("charge.refunded", WebhookKind.PAYMENT, ProviderStatus.CAPTURED),
        ("refund.updated", WebhookKind.REFUND, None),
        ("charge.dispute.created", WebhookKind.DISPUTE_OPENED, None),
        ("charge.dispute.closed", WebhookKind.DISPUTE_WON, None),
        ("customer.created", WebhookKind.OTHER, None),
    ],
)
def test_a_signed_event_is_read(
    name: str, kind: WebhookKind, status: ProviderStatus | None
) -> None:
    body = event_body(name)
    [event] = connector(Replay("stripe").transport).parse_webhook(
        signed(body, SECRET), body, now=NOW
    )
    sent = json.loads(body)
    assert (event.event_id, event.type, event.kind) == (sent["id"], name, kind)
    assert event.occurred_at == datetime.fromtimestamp(sent["created"], UTC)
    if kind is not WebhookKind.OTHER:
        assert event.reference == PI
    if status is not None:
        assert event.payment is not None and event.payment.status is status
        assert (event.payment.amount, event.payment.currency) == (1099, "EUR")


def test_webhook_payloads_carry_what_the_core_needs() -> None:
    stripe = connector(Replay("stripe").transport)
    body = event_body("payment_intent.payment_failed")
    [failed] = stripe.parse_webhook(signed(body, SECRET), body, now=NOW)
    assert failed.payment_id == PAY
    assert failed.payment is not None and failed.payment.decline_code == "generic_decline"
    body = event_body("charge.refunded")
    [refunded] = stripe.parse_webhook(signed(body, SECRET), body, now=NOW)
    assert refunded.payment is not None and refunded.payment.amount_refunded == 400
    body = event_body("refund.updated")
    [refund] = stripe.parse_webhook(signed(body, SECRET), body, now=NOW)
    assert refund.operation_key == "ref_01JD3QB0000000000000000001"
    assert refund.operation is not None and refund.operation.status is OperationStatus.FAILED
    assert refund.operation.failure_code == "expired_or_canceled_card"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Stripe-Signature": "v1=00"},
        {"Stripe-Signature": "t=abc,v1=00"},
    ],
    ids=["no-header", "no-timestamp", "bad-timestamp"],
)
def test_a_malformed_signature_header_is_refused(headers: dict[str, str]) -> None:
    body = event_body("payment_intent.succeeded")
    with pytest.raises(InvalidWebhook):
        connector(Replay("stripe").transport).parse_webhook(headers, body, now=NOW)


def test_a_forged_signature_is_refused() -> None:
    body = event_body("payment_intent.succeeded")
    with pytest.raises(InvalidWebhook, match="matches"):
        connector(Replay("stripe").transport).parse_webhook(
            signed(body, "whsec_someone_else"), body, now=NOW
        )


def test_an_altered_body_is_refused() -> None:
    body = event_body("payment_intent.succeeded")
    headers = signed(body, SECRET)
    altered = body.replace(b'"amount": 1099', b'"amount": 1')
    assert altered != body
    with pytest.raises(InvalidWebhook):
        connector(Replay("stripe").transport).parse_webhook(headers, altered, now=NOW)


@pytest.mark.parametrize("skew_s", [-301, 301])
def test_a_stale_or_future_timestamp_is_refused(skew_s: int) -> None:
    body = event_body("payment_intent.succeeded")
    headers = signed(body, SECRET, at=NOW + timedelta(seconds=skew_s))
    with pytest.raises(InvalidWebhook, match="tolerance"):
        connector(Replay("stripe").transport).parse_webhook(headers, body, now=NOW)


def test_within_the_tolerance_is_accepted() -> None:
    body = event_body("payment_intent.succeeded")
    headers = signed(body, SECRET, at=NOW - timedelta(seconds=299))
    assert connector(Replay("stripe").transport).parse_webhook(headers, body, now=NOW)


def test_while_a_secret_rolls_either_signature_verifies() -> None:
    """Stripe signs with the old and the new secret while one is rolled: a deployment with
    either one, or both, accepts the delivery."""
    body = event_body("payment_intent.succeeded")
    headers = signed(body, OLD_SECRET, SECRET)
    for secrets in ([SECRET], [OLD_SECRET], [OLD_SECRET, SECRET]):
        stripe = connector(Replay("stripe").transport, secrets)
        assert stripe.parse_webhook(headers, body, now=NOW)[0].kind is WebhookKind.PAYMENT
    with pytest.raises(InvalidWebhook):
        connector(Replay("stripe").transport, []).parse_webhook(headers, body, now=NOW)


def test_a_redelivery_has_the_same_event_id() -> None:
    stripe = connector(Replay("stripe").transport)
    body = event_body("payment_intent.succeeded")
    first = stripe.parse_webhook(signed(body, SECRET), body, now=NOW)
    later = NOW + timedelta(hours=1)
    again = stripe.parse_webhook(signed(body, SECRET, at=later), body, now=later)
    assert first[0].event_id == again[0].event_id == "evt_3QJk2fLkdIwHu7ix0Event002"


async def test_our_key_still_in_use_elsewhere_is_an_unknown_outcome() -> None:
    """Another of our processes sent this key and its request is still running: it may
    charge, so the answer is unknown (never "nothing was charged")."""
    provider, replay = replayed("idempotency_key_in_use")
    with pytest.raises(TimeoutError):
        await provider.authorize(authorization())
    replay.assert_done()


# Every PaymentIntent status Stripe's API defines, read explicitly; any other is PENDING.
@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("requires_payment_method", ProviderStatus.PENDING),
        ("requires_confirmation", ProviderStatus.PENDING),
        ("requires_action", ProviderStatus.REQUIRES_ACTION),
        ("processing", ProviderStatus.PENDING),
        ("requires_capture", ProviderStatus.AUTHORIZED),
        ("canceled", ProviderStatus.VOIDED),
        ("succeeded", ProviderStatus.CAPTURED),
        ("a_status_stripe_adds_later", ProviderStatus.PENDING),
        (None, ProviderStatus.PENDING),
    ],
)
def test_each_intent_status_is_mapped(status: str | None, expected: ProviderStatus) -> None:
    intent = {"id": PI, "amount": 1099, "currency": "eur", "status": status, "metadata": {}}
    assert payment_result(intent).status is expected


def test_a_dispute_carries_what_the_ledger_needs() -> None:
    stripe = connector(Replay("stripe").transport)
    body = event_body("charge.dispute.created")
    [opened] = stripe.parse_webhook(signed(body, SECRET), body, now=NOW)
    assert opened.dispute is not None
    assert (opened.dispute.reference, opened.dispute.amount, opened.dispute.currency) == (
        "dp_1QJk2fLkdIwHu7ix0Dispute",
        1099,
        "EUR",
    )
    assert opened.dispute.reason == "fraudulent" and opened.reference == PI
    for status, kind in (
        ("lost", WebhookKind.DISPUTE_LOST),
        ("warning_closed", WebhookKind.DISPUTE),
    ):
        event = json.loads(event_body("charge.dispute.closed"))
        event["data"]["object"]["status"] = status
        closed = json.dumps(event).encode()
        [read] = stripe.parse_webhook(signed(closed, SECRET), closed, now=NOW)
        assert read.kind is kind
    inquiry = json.loads(body)
    inquiry["data"]["object"]["status"] = "warning_needs_response"
    raw = json.dumps(inquiry).encode()
    assert stripe.parse_webhook(signed(raw, SECRET), raw, now=NOW)[0].kind is WebhookKind.DISPUTE
