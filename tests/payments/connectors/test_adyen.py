"""The Adyen connector against recorded exchanges (recordings/adyen/, from the Checkout
API v71 OpenAPI examples and Adyen's docs): the request we send and the result we read."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

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
from cartwright.payments.connectors.adyen import webhooks
from cartwright.payments.connectors.adyen.client import AdyenConnector, AdyenRejected, base_url
from cartwright.payments.connectors.adyen.mapping import payment_result
from cartwright.payments.gateway import Gateway
from tests.payments.connectors.replay import RECORDINGS, Replay, failing

PAY = "pay_01JD3Q8Z5X6W7V8T9R0S1P2N3M"
PSP = "993617895204576J"
# The example HMAC key Adyen's documentation and libraries sign their sample
# notification with (documented_example.json carries the published signature).
HMAC_KEY = "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056"
TOKEN = json.dumps(
    {
        "type": "scheme",
        "encryptedCardNumber": "test_4111111111111111",
        "encryptedExpiryMonth": "test_03",
        "encryptedExpiryYear": "test_2030",
        "encryptedSecurityCode": "test_737",
    }
)
NOW = datetime(2024, 12, 2, 17, 20, tzinfo=UTC)


def connector(
    transport: httpx.AsyncBaseTransport,
    *,
    merchant_account: str = "CartwrightECOM",
    captures_at_authorisation: bool = True,
) -> AdyenConnector:
    return AdyenConnector(
        "AQE_test_cartwright",
        merchant_account,
        hmac_key=HMAC_KEY,
        return_url="https://shop.example/checkout/return",
        captures_at_authorisation=captures_at_authorisation,
        transport=transport,
    )


def replayed(name: str) -> tuple[AdyenConnector, Replay]:
    replay = Replay("adyen", name)
    return connector(replay.transport), replay


def authorization(capture: bool = True) -> AuthorizeRequest:
    return AuthorizeRequest(PAY, 1099, "EUR", TOKEN, capture)


def test_test_and_live_endpoints() -> None:
    assert base_url("") == "https://checkout-test.adyen.com/v71"
    assert (
        base_url("1797a841fbb37ca7-AdyenDemo")
        == "https://1797a841fbb37ca7-AdyenDemo-checkout-live.adyenpayments.com/checkout/v71"
    )


async def test_authorised_with_capture_at_authorisation() -> None:
    adyen, replay = replayed("authorize_authorised")
    result = await adyen.authorize(authorization())
    replay.assert_done()
    assert result.status is ProviderStatus.CAPTURED
    assert (result.reference, result.amount, result.currency) == (PSP, 1099, "EUR")
    assert result.amount_captured == 1099


async def test_authorised_without_a_stated_amount_is_captured_in_full() -> None:
    """Authorised (not partially) means all of what we asked for; the provider's own
    amount stays unknown (None), not made up."""
    adyen, replay = replayed("authorize_authorised_as_published")
    result = await adyen.authorize(authorization())
    replay.assert_done()
    assert result.status is ProviderStatus.CAPTURED
    assert (result.amount, result.amount_captured) == (None, 1099)


async def test_refused_is_a_decline_with_the_reason() -> None:
    adyen, replay = replayed("authorize_refused")
    result = await adyen.authorize(authorization())
    replay.assert_done()
    assert result.status is ProviderStatus.DECLINED
    assert result.decline_code == "not_enough_balance"
    assert (result.amount, result.currency) == (1099, "EUR")


async def test_a_redirect_for_3d_secure_carries_adyens_action() -> None:
    adyen, replay = replayed("authorize_redirect")
    result = await adyen.authorize(authorization())
    replay.assert_done()
    assert result.status is ProviderStatus.REQUIRES_ACTION
    assert result.next_action is not None
    assert result.next_action["type"] == "redirect"
    assert result.next_action["redirect_url"].startswith("https://checkoutshopper-test.adyen.com/")
    assert result.next_action["action"]["method"] == "GET"


async def test_received_is_pending() -> None:
    adyen, replay = replayed("authorize_received")
    result = await adyen.authorize(authorization())
    assert result.status is ProviderStatus.PENDING
    assert result.outcome is Outcome.UNKNOWN


async def test_a_token_that_is_not_adyen_payment_data_is_declined_unsent() -> None:
    adyen, replay = replayed("authorize_authorised")
    result = await adyen.authorize(AuthorizeRequest(PAY, 1099, "EUR", "tok_visa"))
    assert result.status is ProviderStatus.DECLINED
    assert result.decline_code == "invalid_token"
    assert replay.sent == []


async def test_manual_capture_then_a_partial_capture_is_received_not_done() -> None:
    adyen, replay = replayed("manual_then_partial_capture")
    held = await adyen.authorize(authorization(capture=False))
    assert held.status is ProviderStatus.AUTHORIZED
    captured = await adyen.capture(
        CaptureRequest(PAY, held.reference, "cap_01JD3QA0000000000000000001", 600, "EUR", True)
    )
    replay.assert_done()
    assert captured.status is OperationStatus.PENDING  # CAPTURE webhook to come
    assert (captured.reference, captured.amount, captured.currency) == (
        "993617894906488A",
        600,
        "EUR",
    )


async def test_partial_refund_is_received() -> None:
    adyen, replay = replayed("refund_partial")
    result = await adyen.refund(
        RefundRequest(PAY, PSP, "ref_01JD3QB0000000000000000001", 400, "EUR")
    )
    replay.assert_done()
    assert result.status is OperationStatus.PENDING
    assert (result.reference, result.amount) == ("883617894906512B", 400)


async def test_modifications_need_adyens_reference() -> None:
    adyen, replay = replayed("refund_partial")
    refund = await adyen.refund(RefundRequest(PAY, None, "ref_x", 400, "EUR"))
    capture = await adyen.capture(CaptureRequest(PAY, None, "cap_x", 400, "EUR", True))
    assert refund.status is capture.status is OperationStatus.FAILED
    assert replay.sent == []


async def test_void_by_adyens_reference_is_received() -> None:
    adyen, replay = replayed("void")
    result = await adyen.void(VoidRequest(PAY, PSP))
    replay.assert_done()
    assert result.status is ProviderStatus.PENDING  # CANCELLATION webhook to come
    assert result.reference == PSP


async def test_void_by_our_reference_when_adyens_is_unknown() -> None:
    adyen, replay = replayed("void_by_our_reference")
    result = await adyen.void(VoidRequest(PAY, None))
    replay.assert_done()
    assert result.status is ProviderStatus.PENDING


async def test_confirm_with_the_redirect_result_asks_payments_details() -> None:
    adyen, replay = replayed("confirm_details")
    result = await adyen.confirm(PAY, None, {"redirectResult": "X6XtfGC3!Y..."})
    replay.assert_done()
    assert result.status is ProviderStatus.CAPTURED
    assert result.reference == "V4HZ4RBFJGXXGN82"


@pytest.mark.parametrize(
    ("captures_at_authorisation", "status"),
    [(True, ProviderStatus.PENDING), (False, ProviderStatus.AUTHORIZED)],
)
async def test_an_answer_without_its_amount_is_never_read_as_nothing_captured(
    captures_at_authorisation: bool, status: ProviderStatus
) -> None:
    replay = Replay("adyen", "confirm_details_without_amount")
    adyen = connector(replay.transport, captures_at_authorisation=captures_at_authorisation)
    result = await adyen.confirm(PAY, None, {"redirectResult": "X6XtfGC3!Y..."})
    replay.assert_done()
    assert result.status is status
    assert result.amount_captured == 0 and result.amount is None


async def test_without_a_lookup_confirm_and_retrieve_wait_for_the_webhook() -> None:
    replay = Replay("adyen")
    adyen = connector(replay.transport)
    assert (await adyen.confirm(PAY, PSP)).status is ProviderStatus.PENDING
    assert (await adyen.retrieve(PAY)).status is ProviderStatus.PENDING
    assert replay.sent == []


@pytest.mark.parametrize("name", ["server_error", "rate_limited"])
async def test_technical_failures_are_retryable(name: str) -> None:
    adyen, replay = replayed(name)
    with pytest.raises(RetryableProviderError):
        await adyen.authorize(authorization())
    replay.assert_done()


async def test_a_refused_connection_is_retryable_and_a_read_timeout_is_a_timeout() -> None:
    with pytest.raises(RetryableProviderError):
        await connector(failing(httpx.ConnectError("refused"))).authorize(authorization())
    with pytest.raises(TimeoutError):
        await connector(failing(httpx.ReadTimeout("slow"))).capture(
            CaptureRequest(PAY, PSP, "cap_x", 600, "EUR", True)
        )


async def test_a_refused_api_key_is_a_clear_error_and_never_retried() -> None:
    adyen, replay = replayed("authentication_error")
    gateway = Gateway({"adyen": adyen}, timeout_s=5, max_attempts=3)
    with pytest.raises(AdyenRejected, match="CARTWRIGHT_ADYEN_API_KEY"):
        await gateway.authorize("adyen", authorization())
    replay.assert_done()


async def test_a_validation_error_is_a_decline_nothing_charged() -> None:
    adyen, replay = replayed("validation_error")
    result = await adyen.authorize(authorization())
    assert result.status is ProviderStatus.DECLINED
    assert result.decline_code == "adyen_14_030"


# Webhooks: notifications in recordings/adyen/notifications/, signed here with the key.


def notification(name: str, sign: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(
        (RECORDINGS / "adyen" / "notifications" / f"{name}.json").read_text()
    )
    if sign:
        for entry in body["notificationItems"]:
            item = entry["NotificationRequestItem"]
            item["additionalData"]["hmacSignature"] = webhooks.signature(
                item, bytes.fromhex(HMAC_KEY)
            )
    return body


def delivered(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()


def test_the_documented_example_verifies() -> None:
    body = notification("documented_example", sign=False)
    item = body["notificationItems"][0]["NotificationRequestItem"]
    assert webhooks.signature(item, bytes.fromhex(HMAC_KEY)) == (
        "coqCmt/IZ4E3CzPvMY8zTjQVL5hYJUiBRg8UU+iCWo0="
    )
    adyen = connector(Replay("adyen").transport, merchant_account="TestMerchant")
    [event] = adyen.parse_webhook({}, delivered(body), now=NOW)
    assert event.event_id == "7914073381342284:AUTHORISATION:true"
    assert event.payment_id == "TestPayment-1407325143704"
    assert event.payment is not None and event.payment.amount == 1130
    assert adyen.webhook_ack == b"[accepted]"


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("AUTHORISATION", WebhookKind.PAYMENT),
        ("AUTHORISATION_refused", WebhookKind.PAYMENT),
        ("CANCELLATION", WebhookKind.PAYMENT),
        ("TECHNICAL_CANCEL", WebhookKind.PAYMENT),
        ("CAPTURE", WebhookKind.CAPTURE),
        ("CAPTURE_FAILED", WebhookKind.CAPTURE),
        ("REFUND", WebhookKind.REFUND),
        ("REFUND_FAILED", WebhookKind.REFUND),
        ("CHARGEBACK", WebhookKind.DISPUTE_OPENED),
        ("CHARGEBACK_REVERSED", WebhookKind.DISPUTE_WON),
        ("REPORT_AVAILABLE", WebhookKind.OTHER),
    ],
)
def test_each_event_code_is_read(name: str, kind: WebhookKind) -> None:
    [event] = connector(Replay("adyen").transport).parse_webhook(
        {}, delivered(notification(name)), now=NOW
    )
    assert event.kind is kind
    assert event.occurred_at == datetime(2024, 12, 2, 18, 20, tzinfo=timezone(timedelta(hours=1)))
    if kind is not WebhookKind.OTHER:
        assert (event.payment_id, event.reference) == (PAY, PSP)


def test_outcomes_follow_success_and_the_event_code() -> None:
    adyen = connector(Replay("adyen").transport, captures_at_authorisation=False)

    def read(name: str) -> Any:
        return adyen.parse_webhook({}, delivered(notification(name)), now=NOW)[0]

    assert read("AUTHORISATION").payment.status is ProviderStatus.AUTHORIZED
    refused = read("AUTHORISATION_refused").payment
    assert (refused.status, refused.decline_code) == (ProviderStatus.DECLINED, "not_enough_balance")
    assert read("CANCELLATION").payment.status is ProviderStatus.VOIDED
    assert read("CAPTURE").operation.status is OperationStatus.SUCCEEDED
    # CAPTURE_FAILED and REFUND_FAILED report success "true": the failure happened.
    assert read("CAPTURE_FAILED").operation.status is OperationStatus.FAILED
    assert read("REFUND").operation.status is OperationStatus.SUCCEEDED
    assert read("REFUND").operation.amount == 400
    assert read("REFUND_FAILED").operation.status is OperationStatus.FAILED


def test_event_ids_are_stable_across_deliveries_and_distinct_per_event() -> None:
    adyen = connector(Replay("adyen").transport)
    first = adyen.parse_webhook({}, delivered(notification("AUTHORISATION")), now=NOW)
    again = adyen.parse_webhook({}, delivered(notification("AUTHORISATION")), now=NOW)
    assert first[0].event_id == again[0].event_id == f"{PSP}:AUTHORISATION:true"
    names = ["AUTHORISATION", "AUTHORISATION_refused", "CAPTURE", "CAPTURE_FAILED", "REFUND"]
    ids = {adyen.parse_webhook({}, delivered(notification(n)), now=NOW)[0].event_id for n in names}
    assert len(ids) == len(names)


def test_a_forged_signature_is_refused() -> None:
    body = notification("AUTHORISATION")
    item = body["notificationItems"][0]["NotificationRequestItem"]
    item["additionalData"]["hmacSignature"] = webhooks.signature(item, bytes(32))
    with pytest.raises(InvalidWebhook):
        connector(Replay("adyen").transport).parse_webhook({}, delivered(body), now=NOW)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("value", 1),
        ("currency", "USD"),
        ("success", "false"),
        ("pspReference", "X"),
        ("eventCode", "REFUND"),
    ],
)
def test_an_altered_signed_field_is_refused(field: str, value: object) -> None:
    body = notification("AUTHORISATION")
    item = body["notificationItems"][0]["NotificationRequestItem"]
    if field in ("value", "currency"):
        item["amount"][field] = value
    else:
        item[field] = value
    with pytest.raises(InvalidWebhook, match="HMAC"):
        connector(Replay("adyen").transport).parse_webhook({}, delivered(body), now=NOW)


def test_an_unsigned_item_rejects_the_whole_delivery() -> None:
    body = notification("AUTHORISATION")
    body["notificationItems"].append(notification("CAPTURE", sign=False)["notificationItems"][0])
    with pytest.raises(InvalidWebhook):
        connector(Replay("adyen").transport).parse_webhook({}, delivered(body), now=NOW)


@pytest.mark.parametrize(
    "body", [b"", b"[accepted]", b'{"live": "false"}', b'{"notificationItems": []}']
)
def test_a_body_that_is_not_a_notification_is_refused(body: bytes) -> None:
    with pytest.raises(InvalidWebhook):
        connector(Replay("adyen").transport).parse_webhook({}, body, now=NOW)


def test_without_an_hmac_key_nothing_is_accepted() -> None:
    adyen = AdyenConnector("AQE_test", "CartwrightECOM", hmac_key=None)
    with pytest.raises(InvalidWebhook, match="HMAC key"):
        adyen.parse_webhook({}, delivered(notification("AUTHORISATION")), now=NOW)


def test_another_merchant_accounts_event_is_verified_but_not_acted_on() -> None:
    adyen = connector(Replay("adyen").transport, merchant_account="CartwrightOtherECOM")
    [event] = adyen.parse_webhook({}, delivered(notification("AUTHORISATION")), now=NOW)
    assert event.kind is WebhookKind.OTHER


async def test_our_key_still_in_use_elsewhere_is_an_unknown_outcome() -> None:
    """Another of our processes sent this key and its request is still running: it may
    charge, so the answer is unknown (never "nothing was charged")."""
    provider, replay = replayed("idempotency_in_progress")
    with pytest.raises(TimeoutError):
        await provider.authorize(authorization())
    replay.assert_done()


# Every resultCode of the v71 PaymentResponse, read explicitly; any other is PENDING.
@pytest.mark.parametrize(
    ("code", "captured", "manual"),
    [
        ("AuthenticationFinished", ProviderStatus.PENDING, ProviderStatus.PENDING),
        ("AuthenticationNotRequired", ProviderStatus.PENDING, ProviderStatus.PENDING),
        ("Authorised", ProviderStatus.CAPTURED, ProviderStatus.AUTHORIZED),
        ("Cancelled", ProviderStatus.VOIDED, ProviderStatus.VOIDED),
        ("ChallengeShopper", ProviderStatus.REQUIRES_ACTION, ProviderStatus.REQUIRES_ACTION),
        ("Error", ProviderStatus.DECLINED, ProviderStatus.DECLINED),
        ("IdentifyShopper", ProviderStatus.REQUIRES_ACTION, ProviderStatus.REQUIRES_ACTION),
        ("PartiallyAuthorised", ProviderStatus.CAPTURED, ProviderStatus.AUTHORIZED),
        ("Pending", ProviderStatus.PENDING, ProviderStatus.PENDING),
        ("PresentToShopper", ProviderStatus.REQUIRES_ACTION, ProviderStatus.REQUIRES_ACTION),
        ("Received", ProviderStatus.PENDING, ProviderStatus.PENDING),
        ("RedirectShopper", ProviderStatus.REQUIRES_ACTION, ProviderStatus.REQUIRES_ACTION),
        ("Refused", ProviderStatus.DECLINED, ProviderStatus.DECLINED),
        ("Success", ProviderStatus.PENDING, ProviderStatus.PENDING),
        ("ACodeAdyenAddsLater", ProviderStatus.PENDING, ProviderStatus.PENDING),
    ],
)
def test_each_result_code_is_mapped(
    code: str, captured: ProviderStatus, manual: ProviderStatus
) -> None:
    body = {"pspReference": PSP, "resultCode": code, "amount": {"value": 1099, "currency": "EUR"}}
    assert payment_result(body, captured=True).status is captured
    assert payment_result(body, captured=False).status is manual


def test_a_chargeback_names_the_dispute_and_the_payment() -> None:
    adyen = connector(Replay("adyen").transport)
    [event] = adyen.parse_webhook({}, delivered(notification("CHARGEBACK")), now=NOW)
    assert event.dispute is not None
    # The dispute's own pspReference; the payment's is `originalReference`.
    assert event.dispute.reference == "QFQTPCQ8HXSKGK82" and event.reference == PSP
    assert (event.dispute.amount, event.dispute.currency) == (1099, "EUR")
    item = notification("CHARGEBACK", sign=False)
    item["notificationItems"][0]["NotificationRequestItem"]["eventCode"] = "REQUEST_FOR_INFORMATION"
    for entry in item["notificationItems"]:
        entry["NotificationRequestItem"]["additionalData"]["hmacSignature"] = webhooks.signature(
            entry["NotificationRequestItem"], bytes.fromhex(HMAC_KEY)
        )
    [notice] = adyen.parse_webhook({}, delivered(item), now=NOW)
    assert notice.kind is WebhookKind.DISPUTE  # moves no money: recorded only
