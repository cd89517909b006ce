"""Connector for the sandbox provider (in-process for now)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from cartwright.payments.connector import (
    AuthorizeRequest,
    CaptureRequest,
    InvalidWebhook,
    OperationResult,
    ProviderResult,
    RefundRequest,
    RetryableProviderError,
    VoidRequest,
    WebhookEvent,
)
from cartwright.payments.connectors.sandbox.mapping import to_result
from cartwright.sandbox_psp.service import SandboxProvider, SandboxServerError


class SandboxConnector:
    name = "sandbox"
    webhook_ack = b'{"received":true}'

    def __init__(self, provider: SandboxProvider) -> None:
        self._provider = provider

    async def authorize(self, request: AuthorizeRequest) -> ProviderResult:
        try:
            body = await self._provider.authorize(
                idempotency_key=request.payment_id,
                token=request.token,
                amount=request.amount,
                currency=request.currency,
                capture=request.capture,
            )
        except SandboxServerError as exc:
            raise RetryableProviderError(str(exc)) from exc
        return to_result(body)

    async def confirm(self, payment_id: str, reference: str | None) -> ProviderResult:
        return to_result(await self._provider.confirm(payment_id))

    async def retrieve(self, payment_id: str) -> ProviderResult:
        return to_result(await self._provider.retrieve(payment_id))

    async def void(self, request: VoidRequest) -> ProviderResult:
        return to_result(await self._provider.cancel(request.payment_id))

    async def capture(self, request: CaptureRequest) -> OperationResult:
        raise NotImplementedError("captures after checkout arrive with the sandbox server")

    async def refund(self, request: RefundRequest) -> OperationResult:
        raise NotImplementedError("refunds arrive with the sandbox server")

    def parse_webhook(
        self, headers: Mapping[str, str], body: bytes, *, now: datetime
    ) -> list[WebhookEvent]:
        raise InvalidWebhook("the in-process sandbox sends no webhooks")
