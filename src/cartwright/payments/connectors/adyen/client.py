"""Adyen's Checkout API (v71) over httpx (ADR 0012 says why not Adyen's library).

Test or live by configuration: live calls go to the merchant's own URL prefix. Every call
that can move money carries our idempotency key in `Idempotency-Key`. Modifications
(capture, refund, cancel) are only accepted by the API (`received`); their outcome arrives
as a webhook. Adyen has no lookup of a payment by our reference, so `retrieve` answers
PENDING and the core waits for the AUTHORISATION webhook.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import httpx

from cartwright.kit.settings import Settings
from cartwright.payments.connector import (
    AuthorizeRequest,
    CaptureRequest,
    OperationResult,
    OperationStatus,
    ProviderResult,
    ProviderStatus,
    RefundRequest,
    RetryableProviderError,
    VoidRequest,
    WebhookEvent,
)
from cartwright.payments.connectors.adyen import mapping, webhooks

API_VERSION = "v71"
TEST_BASE = f"https://checkout-test.adyen.com/{API_VERSION}"


def base_url(live_url_prefix: str) -> str:
    """The test endpoint, or the live one of the merchant's prefix (Customer Area >
    Developers > API URLs)."""
    if not live_url_prefix:
        return TEST_BASE
    return f"https://{live_url_prefix}-checkout-live.adyenpayments.com/checkout/{API_VERSION}"


class AdyenRejected(Exception):
    """Adyen refused the call for a reason no retry can fix (the API key, a permission):
    a configuration error someone must see, so raised rather than classified."""


class AdyenConnector:
    name = "adyen"
    # Adyen marks a delivery delivered only on this exact body.
    webhook_ack = b"[accepted]"

    @classmethod
    def from_settings(cls, settings: Settings) -> AdyenConnector:
        if settings.adyen_api_key is None:
            raise ValueError("CARTWRIGHT_ADYEN_API_KEY is not set")
        if not settings.adyen_merchant_account:
            raise ValueError("CARTWRIGHT_ADYEN_MERCHANT_ACCOUNT is not set (Adyen is enabled)")
        hmac_key = settings.adyen_hmac_key
        return cls(
            settings.adyen_api_key.get_secret_value(),
            settings.adyen_merchant_account,
            hmac_key=hmac_key.get_secret_value() if hmac_key else None,
            live_url_prefix=settings.adyen_live_url_prefix,
            return_url=settings.adyen_return_url,
            captures_at_authorisation=settings.capture_method == "automatic",
            timeout_s=settings.psp_timeout_s,
        )

    def __init__(
        self,
        api_key: str,
        merchant_account: str,
        *,
        hmac_key: str | None,
        live_url_prefix: str = "",
        return_url: str | None = None,
        captures_at_authorisation: bool = True,
        timeout_s: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """`return_url`: where a redirect sends the shopper back when the checkout names
        no place (Adyen requires one on every payment). `captures_at_authorisation`: how
        the platform captures (CARTWRIGHT_CAPTURE_METHOD); an Authorised answer to the
        details call or an AUTHORISATION webhook, which carry no capture mode, is read by
        it."""
        self._merchant_account = merchant_account
        self._hmac_key = _hex_key(hmac_key) if hmac_key else None
        self._return_url = return_url
        self._captured = captures_at_authorisation
        self._http = httpx.AsyncClient(
            base_url=base_url(live_url_prefix),
            headers={"X-API-Key": api_key},
            timeout=timeout_s,
            transport=transport,
        )

    async def authorize(self, request: AuthorizeRequest) -> ProviderResult:
        method = _payment_method(request.token)
        if method is None:
            return ProviderResult(
                ProviderStatus.DECLINED,
                decline_code="invalid_token",
                message="The payment token is not Adyen payment method data.",
            )
        body: dict[str, Any] = {
            "merchantAccount": self._merchant_account,
            "amount": {"value": request.amount, "currency": request.currency},
            "reference": request.payment_id,
            "paymentMethod": method,
            "returnUrl": request.return_url or self._return_url,
            "shopperInteraction": "Ecommerce",
        }
        if request.capture:
            body["captureDelayHours"] = 0
        else:
            body["additionalData"] = {"manualCapture": "true"}
        status, answer = await self._send("/payments", body, request.idempotency_key)
        if status >= 400:
            return mapping.refused_payment(answer)
        return mapping.payment_result(answer, captured=request.capture, requested=request.amount)

    async def confirm(
        self,
        payment_id: str,
        reference: str | None,
        details: Mapping[str, str] | None = None,
    ) -> ProviderResult:
        """With what the shopper's redirect brought back (`redirectResult`, or the
        3-D Secure 2 result), ask `/payments/details`. Without it there is nothing to
        ask Adyen (no lookup by reference): PENDING, and the webhook decides."""
        if not details:
            return _awaiting_webhook(reference)
        # One key per set of details: a 3-D Secure 2 flow may send two in turn.
        digest = hashlib.sha256(json.dumps(dict(details), sort_keys=True).encode()).hexdigest()
        status, answer = await self._send(
            "/payments/details", {"details": dict(details)}, f"{payment_id}:details:{digest[:16]}"
        )
        if status >= 400:
            return mapping.refused_payment(answer)
        return mapping.payment_result(answer, captured=self._captured)

    async def retrieve(self, payment_id: str) -> ProviderResult:
        return _awaiting_webhook(None)

    async def void(self, request: VoidRequest) -> ProviderResult:
        """By Adyen's reference, or by ours (`/cancels` with `paymentReference`, Adyen's
        cancel for a payment whose answer never came). Either is only accepted here:
        PENDING until the CANCELLATION or TECHNICAL_CANCEL webhook."""
        body: dict[str, Any] = {
            "merchantAccount": self._merchant_account,
            "reference": request.idempotency_key,
        }
        if request.reference:
            path = f"/payments/{request.reference}/cancels"
        else:
            path = "/cancels"
            body["paymentReference"] = request.payment_id
        status, answer = await self._send(path, body, request.idempotency_key)
        if status >= 400:
            return ProviderResult(
                ProviderStatus.PENDING,
                request.reference,
                message=f"Adyen refused the cancellation: {answer.get('message')}",
            )
        return mapping.cancel_result(answer)

    async def capture(self, request: CaptureRequest) -> OperationResult:
        if request.reference is None:
            return _no_reference("capture")
        return await self._modify(
            f"/payments/{request.reference}/captures",
            request.amount,
            request.currency,
            request.capture_id,
        )

    async def refund(self, request: RefundRequest) -> OperationResult:
        if request.reference is None:
            return _no_reference("refund")
        return await self._modify(
            f"/payments/{request.reference}/refunds",
            request.amount,
            request.currency,
            request.refund_id,
        )

    def parse_webhook(
        self, headers: Mapping[str, str], body: bytes, *, now: datetime
    ) -> list[WebhookEvent]:
        """Adyen signs the items, not the delivery, and puts no time on it: a replayed
        item carries the same event id and is deduplicated by it."""
        return webhooks.parse(body, self._hmac_key, self._merchant_account, captured=self._captured)

    async def _modify(self, path: str, amount: int, currency: str, key: str) -> OperationResult:
        body = {
            "merchantAccount": self._merchant_account,
            "amount": {"value": amount, "currency": currency},
            # Our id of the capture or refund, shown in Adyen's reports.
            "reference": key,
        }
        status, answer = await self._send(path, body, key)
        if status >= 400:
            return mapping.refused_operation(answer)
        return mapping.modification_result(answer)

    async def _send(
        self, path: str, body: Mapping[str, Any], idempotency_key: str
    ) -> tuple[int, dict[str, Any]]:
        """POST one call. Raises on what a retry may fix (429, 5xx, a connection) and on
        what needs a person (401, 403); returns the status and body otherwise."""
        try:
            response = await self._http.post(
                path, json=body, headers={"Idempotency-Key": idempotency_key}
            )
        except (httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise RetryableProviderError(f"Adyen: no connection ({exc!r})") from exc
        except httpx.TimeoutException as exc:
            raise TimeoutError("Adyen did not answer in time") from exc
        except httpx.TransportError as exc:
            raise RetryableProviderError(f"Adyen: connection failed ({exc!r})") from exc
        answer = _json(response)
        status = response.status_code
        if answer.get("errorCode") == "704":
            # The same idempotency key is still being processed (another of our processes
            # sent it): what it will do is unknown, as after a timeout.
            raise TimeoutError("a request with this idempotency key is still running at Adyen")
        if status == 429 or status >= 500 or response.headers.get("Transient-Error") == "true":
            raise RetryableProviderError(f"Adyen answered {status}: {answer.get('message')}")
        if status in (401, 403):
            raise AdyenRejected(
                f"Adyen refused the API key ({status}, {answer.get('errorType')}):"
                f" {answer.get('message')}. Check CARTWRIGHT_ADYEN_API_KEY, its roles"
                " (Checkout webservice role) and CARTWRIGHT_ADYEN_MERCHANT_ACCOUNT."
            )
        return status, answer


def _hex_key(key: str) -> bytes:
    """The HMAC key in hex, as the Customer Area shows it: a malformed one stops start-up."""
    try:
        return bytes.fromhex(key)
    except ValueError:
        raise ValueError("CARTWRIGHT_ADYEN_HMAC_KEY is not a hex string") from None


def _payment_method(token: str) -> dict[str, Any] | None:
    """The token is the `paymentMethod` object Adyen's Drop-in or Components hand the
    storefront (encrypted card fields, a wallet token, a stored method id), as JSON."""
    try:
        method = json.loads(token)
    except ValueError:
        return None
    return method if isinstance(method, dict) and method.get("type") else None


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _awaiting_webhook(reference: str | None) -> ProviderResult:
    return ProviderResult(
        ProviderStatus.PENDING,
        reference,
        message="Adyen has no lookup by our reference; the AUTHORISATION webhook will say",
    )


def _no_reference(operation: str) -> OperationResult:
    return OperationResult(
        OperationStatus.FAILED,
        failure_code="no_provider_reference",
        message=f"An Adyen {operation} needs the payment's pspReference, which is unknown.",
    )
