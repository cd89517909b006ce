"""Stripe over its REST API with httpx (ADR 0012 says why not the `stripe` package).

Every request carries the pinned `Stripe-Version`, so a change of the account's default
version cannot change what we parse, and every POST that can move money carries our
idempotency key. Technical failures Stripe did not settle (429, 5xx, a 409 conflict, a
refused or broken connection) raise `RetryableProviderError`; a read timeout, or our key
still in use by a request in flight, becomes `TimeoutError` for the Gateway (Stripe may
act on it: unknown). Declines are results, never errors.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
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
from cartwright.payments.connectors.stripe import mapping, webhooks
from cartwright.payments.connectors.stripe.mapping import PAYMENT_ID_KEY, PLACEHOLDER_KEY

API_BASE = "https://api.stripe.com"
# The API version every request is made and parsed in (the newest in Stripe's published
# OpenAPI spec when this was written). Webhook endpoints must be created with it too.
API_VERSION = "2026-07-29.dahlia"


class StripeRejected(Exception):
    """Stripe refused the call for a reason no retry can fix: the API key, a missing
    permission, or one of our idempotency keys reused with other parameters. Raised (not
    classified) because it is a configuration or programming error someone must see."""


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    body: dict[str, Any]

    @property
    def error(self) -> dict[str, Any]:
        error = self.body.get("error")
        return error if isinstance(error, dict) else {}

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class StripeConnector:
    name = "stripe"
    # Stripe needs a 2xx; the body is not read.
    webhook_ack = b'{"received":true}'

    @classmethod
    def from_settings(cls, settings: Settings) -> StripeConnector:
        if settings.stripe_api_key is None:
            raise ValueError("CARTWRIGHT_STRIPE_API_KEY is not set")
        secrets = settings.stripe_webhook_secret
        return cls(
            settings.stripe_api_key.get_secret_value(),
            [
                s.strip()
                for s in (secrets.get_secret_value() if secrets else "").split(",")
                if s.strip()
            ],
            timeout_s=settings.psp_timeout_s,
        )

    def __init__(
        self,
        api_key: str,
        webhook_secrets: list[str],
        *,
        timeout_s: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._webhook_secrets = webhook_secrets
        self._http = httpx.AsyncClient(
            base_url=API_BASE,
            headers={"Authorization": f"Bearer {api_key}", "Stripe-Version": API_VERSION},
            timeout=timeout_s,
            transport=transport,
        )

    async def authorize(self, request: AuthorizeRequest) -> ProviderResult:
        params: dict[str, Any] = {
            "amount": request.amount,
            "currency": request.currency.lower(),
            "payment_method": request.token,
            "confirm": True,
            "capture_method": "automatic" if request.capture else "manual",
            "metadata": {PAYMENT_ID_KEY: request.payment_id},
        }
        if not request.capture:
            # Several captures where the card network allows it (Stripe ignores it
            # elsewhere); without it a first partial capture releases the rest.
            params["payment_method_options"] = {"card": {"request_multicapture": "if_available"}}
        if request.return_url:
            params["return_url"] = request.return_url
        else:
            # With nowhere to send the shopper back, only methods without a redirect;
            # 3-D Secure still runs in Stripe.js (`use_stripe_sdk`).
            params["automatic_payment_methods"] = {"enabled": True, "allow_redirects": "never"}
        answer = await self._send("POST", "/v1/payment_intents", params, request.idempotency_key)
        self._refuse_reused_key(answer)
        if answer.ok:
            return mapping.payment_result(answer.body)
        return self._declined(answer)

    async def confirm(
        self,
        payment_id: str,
        reference: str | None,
        details: Mapping[str, str] | None = None,
    ) -> ProviderResult:
        """Stripe applies the shopper's 3-D Secure or redirect itself: read the intent."""
        if reference is None:
            return await self.retrieve(payment_id)
        answer = await self._send("GET", f"/v1/payment_intents/{reference}")
        if answer.status == 404:
            return ProviderResult(ProviderStatus.NOT_FOUND, reference)
        return self._intent(answer)

    async def retrieve(self, payment_id: str) -> ProviderResult:
        """By our reference, through the Search API. Search is eventually consistent (an
        intent may take up to a minute to appear), so NOT_FOUND is only "not seen yet":
        the void by our reference that the core sends next settles it (see `void`)."""
        intent = await self._find(payment_id)
        if intent is None:
            return ProviderResult(ProviderStatus.NOT_FOUND)
        return mapping.payment_result(intent)

    async def void(self, request: VoidRequest) -> ProviderResult:
        reference = request.reference
        if reference is None:
            intent = await self._find(request.payment_id)
            if intent is None:
                return await self._take_key(request)
            reference = str(intent["id"])
        answer = await self._send(
            "POST", f"/v1/payment_intents/{reference}/cancel", {}, request.idempotency_key
        )
        return self._intent(answer)

    async def capture(self, request: CaptureRequest) -> OperationResult:
        reference = request.reference or await self._find_reference(request.payment_id)
        if reference is None:
            return _not_found(request.payment_id)
        params: dict[str, Any] = {
            "amount_to_capture": request.amount,
            "metadata": {"cartwright_capture_id": request.capture_id},
        }
        if not request.final:
            # Keeps the rest capturable; Stripe refuses it unless the intent has
            # multicapture (a card network and account feature), and then nothing moved.
            params["final_capture"] = False
        answer = await self._send(
            "POST", f"/v1/payment_intents/{reference}/capture", params, request.idempotency_key
        )
        self._refuse_reused_key(answer)
        if answer.ok:
            return mapping.capture_result(answer.body)
        return mapping.operation_failed(answer.error)

    async def refund(self, request: RefundRequest) -> OperationResult:
        reference = request.reference or await self._find_reference(request.payment_id)
        if reference is None:
            return _not_found(request.payment_id)
        metadata = {mapping.REFUND_ID_KEY: request.refund_id, PAYMENT_ID_KEY: request.payment_id}
        params: dict[str, Any] = {
            "payment_intent": reference,
            "amount": request.amount,
            "metadata": metadata,
        }
        if request.reason in mapping.REFUND_REASONS:
            params["reason"] = request.reason
        elif request.reason:
            metadata["cartwright_reason"] = request.reason
        answer = await self._send("POST", "/v1/refunds", params, request.idempotency_key)
        self._refuse_reused_key(answer)
        if answer.ok:
            return mapping.refund_result(answer.body)
        return mapping.operation_failed(answer.error)

    def parse_webhook(
        self, headers: Mapping[str, str], body: bytes, *, now: datetime
    ) -> list[WebhookEvent]:
        return [webhooks.parse(headers, body, self._webhook_secrets, now=now)]

    async def _take_key(self, request: VoidRequest) -> ProviderResult:
        """No intent with our reference is visible. Create an unconfirmed placeholder with
        the authorization's own idempotency key, and cancel it: an authorization with that
        key still on its way is then refused by Stripe (same key, other parameters), so it
        can never charge. If Stripe answers that the key is already used, the payment did
        reach Stripe and Search does not show it yet: unknown, ask again later."""
        params = {
            "amount": 100,
            "currency": "usd",
            "description": "Cartwright placeholder: this payment never reached Stripe",
            "metadata": {PAYMENT_ID_KEY: request.payment_id, PLACEHOLDER_KEY: "true"},
        }
        answer = await self._send("POST", "/v1/payment_intents", params, request.payment_id)
        if answer.error.get("type") == "idempotency_error":
            return ProviderResult(
                ProviderStatus.PENDING,
                message="the payment reached Stripe but Search does not show it yet",
            )
        placeholder = self._intent(answer)
        if placeholder.status is not ProviderStatus.NOT_FOUND:
            return placeholder  # an unexpected answer: never read as "nothing charged"
        canceled = await self._send(
            "POST",
            f"/v1/payment_intents/{answer.body['id']}/cancel",
            {},
            request.idempotency_key,
        )
        return self._intent(canceled)

    async def _find(self, payment_id: str) -> dict[str, Any] | None:
        escaped = payment_id.replace("\\", "\\\\").replace("'", "\\'")
        answer = await self._send(
            "GET",
            "/v1/payment_intents/search",
            {"query": f"metadata['{PAYMENT_ID_KEY}']:'{escaped}'", "limit": 10},
        )
        if not answer.ok:
            raise StripeRejected(f"Stripe refused a search ({answer.status}): {_said(answer)}")
        found = answer.body.get("data") or []
        return dict(found[0]) if found else None

    async def _find_reference(self, payment_id: str) -> str | None:
        intent = await self._find(payment_id)
        if intent is None or mapping.is_placeholder(intent):
            return None
        return str(intent["id"])

    def _intent(self, answer: _Answer) -> ProviderResult:
        """An answer that carries a PaymentIntent: the body, or the intent Stripe puts in
        an error (a decline; a cancel of an intent already captured or canceled)."""
        if answer.ok:
            return mapping.payment_result(answer.body)
        intent = answer.error.get("payment_intent")
        if isinstance(intent, dict):
            return mapping.payment_result(intent)
        return ProviderResult(ProviderStatus.PENDING, message=_said(answer))

    def _declined(self, answer: _Answer) -> ProviderResult:
        """A 4xx to an authorization: nothing was charged. A card error carries the
        declined intent; an invalid request (an unknown payment method, a currency the
        account cannot take) is a decline with Stripe's code."""
        intent = answer.error.get("payment_intent")
        if isinstance(intent, dict):
            result = mapping.payment_result(intent)
            if result.status is not ProviderStatus.PENDING:
                return result
        code = mapping.decline_code(answer.error)
        return ProviderResult(
            ProviderStatus.DECLINED,
            intent.get("id") if isinstance(intent, dict) else None,
            decline_code=code,
            message=answer.error.get("message") or f"Stripe declined the payment ({code}).",
        )

    @staticmethod
    def _refuse_reused_key(answer: _Answer) -> None:
        if answer.error.get("type") == "idempotency_error":
            raise StripeRejected(
                "Stripe refused an idempotency key reused with other parameters: " + _said(answer)
            )

    async def _send(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> _Answer:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        encoded = mapping.form(params or {})
        try:
            if method == "GET":
                response = await self._http.get(path, params=tuple(encoded), headers=headers)
            else:
                response = await self._http.post(path, data=dict(encoded), headers=headers)
        except (httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise RetryableProviderError(f"Stripe: no connection ({exc!r})") from exc
        except httpx.TimeoutException as exc:
            raise TimeoutError("Stripe did not answer in time") from exc
        except httpx.TransportError as exc:
            raise RetryableProviderError(f"Stripe: connection failed ({exc!r})") from exc
        answer = _Answer(response.status_code, _json(response))
        if answer.status == 409 and answer.error.get("code") == "idempotency_key_in_use":
            # The same key is still being processed (another of our processes sent it):
            # what it will do is unknown, as after a timeout.
            raise TimeoutError("a request with this idempotency key is still running at Stripe")
        if answer.status in (409, 429) or answer.status >= 500:
            # 409 otherwise: a conflict with another request on the same object.
            raise RetryableProviderError(f"Stripe answered {answer.status}: {_said(answer)}")
        if answer.status in (401, 403):
            raise StripeRejected(
                f"Stripe refused the API key ({answer.status}): {_said(answer)}."
                " Check CARTWRIGHT_STRIPE_API_KEY (a secret or restricted key with"
                " PaymentIntents and Refunds write access)."
            )
        return answer


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _said(answer: _Answer) -> str:
    return str(answer.error.get("message") or answer.error.get("code") or answer.status)


def _not_found(payment_id: str) -> OperationResult:
    return OperationResult(
        OperationStatus.FAILED,
        failure_code="payment_not_found",
        message=f"Stripe has no payment with reference {payment_id}.",
    )
