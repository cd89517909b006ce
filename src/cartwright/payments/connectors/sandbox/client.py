"""Connector for the sandbox provider: its HTTP API (docs/sandbox-psp.md), through one
kept-alive HTTP client to its server (`wire.AiohttpWire`), or through a client of the same
shape that calls the app embedded in the platform's process (`Wire`).

Errors: a refused connection, a 5xx or a 429 raise `RetryableProviderError` (the sandbox
did nothing); a timeout once the request is sent raises `TimeoutError` (it may have acted:
the gateway makes the result unknown); a capture or refund the sandbox refuses is a FAILED
`OperationResult`. Any other 4xx is our bug or our configuration: `SandboxRequestError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

import orjson

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
from cartwright.payments.connectors.sandbox import webhooks
from cartwright.payments.connectors.sandbox.mapping import to_operation, to_refusal, to_result
from cartwright.payments.connectors.sandbox.wire import Lost, NotSent

# Answers that refuse a capture or refund: nothing moved.
_REFUSALS = (404, 409)


class Answer(Protocol):
    @property
    def status_code(self) -> int: ...
    @property
    def content(self) -> bytes: ...
    @property
    def text(self) -> str: ...


class Wire(Protocol):
    """What the connector needs of an HTTP client. It raises `wire.NotSent` when the
    request never left, `TimeoutError` when no answer came in time, `wire.Lost` when the
    connection failed on the way."""

    async def request(
        self,
        method: str,
        url: str,
        *,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> Answer: ...

    async def aclose(self) -> None: ...


class SandboxRequestError(Exception):
    """The sandbox refused a request as malformed or unauthorized (a 4xx): not retryable."""


class SandboxConnector:
    webhook_ack = b'{"received":true}'

    def __init__(self, client: Wire, *, webhook_secret: str, name: str = "sandbox") -> None:
        # The provider name it is registered under: a second sandbox account is another one.
        self.name = name
        self._client = client
        self._webhook_secret = webhook_secret

    async def aclose(self) -> None:
        await self._client.aclose()

    async def authorize(self, request: AuthorizeRequest) -> ProviderResult:
        body: dict[str, Any] = {
            "amount": request.amount,
            "currency": request.currency,
            "token": request.token,
            "capture": request.capture,
            "merchant_reference": request.payment_id,
        }
        if request.return_url:
            body["return_url"] = request.return_url
        answer = await self._send("POST", "/v1/payments", body, key=request.idempotency_key)
        return to_result(_ok(answer))

    async def confirm(
        self,
        payment_id: str,
        reference: str | None,
        details: Mapping[str, str] | None = None,
    ) -> ProviderResult:
        reference = reference or await self._reference(payment_id)
        if reference is None:
            return ProviderResult(ProviderStatus.NOT_FOUND)
        answer = await self._send("POST", f"/v1/payments/{reference}/confirm")
        return to_result(_ok(answer))

    async def retrieve(self, payment_id: str) -> ProviderResult:
        answer = await self._send("GET", "/v1/payments", params={"merchant_reference": payment_id})
        found = _ok(answer)["data"]
        return to_result(found[0] if found else None)

    async def void(self, request: VoidRequest) -> ProviderResult:
        if request.reference is not None:
            path, body = f"/v1/payments/{request.reference}/void", None
            key = f"{request.idempotency_key}:{request.reference}"
        else:
            # By our reference: with no payment there, a tombstone stops a late one.
            path, body = (
                "/v1/payments/void_by_reference",
                {"merchant_reference": request.payment_id},
            )
            key = request.idempotency_key
        return to_result(_ok(await self._send("POST", path, body, key=key)))

    async def capture(self, request: CaptureRequest) -> OperationResult:
        reference = request.reference or await self._reference(request.payment_id)
        if reference is None:
            return OperationResult(OperationStatus.FAILED, failure_code="payment_not_found")
        body = {"amount": request.amount, "currency": request.currency, "final": request.final}
        answer = await self._send(
            "POST", f"/v1/payments/{reference}/captures", body, key=request.idempotency_key
        )
        return _operation(answer)

    async def refund(self, request: RefundRequest) -> OperationResult:
        reference = request.reference or await self._reference(request.payment_id)
        if reference is None:
            return OperationResult(OperationStatus.FAILED, failure_code="payment_not_found")
        body: dict[str, Any] = {"amount": request.amount, "currency": request.currency}
        if request.reason:
            body["reason"] = request.reason
        answer = await self._send(
            "POST", f"/v1/payments/{reference}/refunds", body, key=request.idempotency_key
        )
        return _operation(answer)

    def parse_webhook(
        self, headers: Mapping[str, str], body: bytes, *, now: datetime
    ) -> list[WebhookEvent]:
        return [webhooks.parse(self._webhook_secret, headers, body, now=now)]

    async def _reference(self, payment_id: str) -> str | None:
        """The sandbox's id of the payment with our reference (None: it has none)."""
        return (await self.retrieve(payment_id)).reference

    async def _send(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        key: str | None = None,
        params: dict[str, str] | None = None,
    ) -> Answer:
        headers = {"Content-Type": "application/json"}
        if key is not None:
            headers["Idempotency-Key"] = key
        try:
            answer = await self._client.request(
                method,
                path,
                content=orjson.dumps(body) if body is not None else None,
                headers=headers,
                params=params,
            )
        except NotSent as exc:  # the sandbox cannot have acted
            raise RetryableProviderError(f"sandbox unreachable: {exc}") from exc
        except Lost as exc:
            # Retrying is safe either way: the same idempotency key finds what it did.
            raise RetryableProviderError(f"sandbox connection lost: {exc}") from exc
        if answer.status_code >= 500 or answer.status_code == 429:
            raise RetryableProviderError(f"sandbox answered {answer.status_code}")
        return answer


def _ok(answer: Answer) -> dict[str, Any]:
    if answer.status_code >= 400:
        raise SandboxRequestError(f"sandbox answered {answer.status_code}: {answer.text[:200]}")
    body: dict[str, Any] = orjson.loads(answer.content)
    return body


def _operation(answer: Answer) -> OperationResult:
    if answer.status_code in _REFUSALS:
        return to_refusal(orjson.loads(answer.content))
    return to_operation(_ok(answer))
