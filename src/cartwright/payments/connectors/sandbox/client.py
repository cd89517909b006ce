"""Connector for the sandbox provider (in-process for now)."""

from __future__ import annotations

from cartwright.payments.connector import AuthorizeRequest, ProviderResult, RetryableProviderError
from cartwright.payments.connectors.sandbox.mapping import to_result
from cartwright.sandbox_psp.service import SandboxProvider, SandboxServerError


class SandboxConnector:
    name = "sandbox"

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

    async def confirm(self, payment_id: str) -> ProviderResult:
        return to_result(await self._provider.confirm(payment_id))

    async def retrieve(self, payment_id: str) -> ProviderResult:
        return to_result(await self._provider.retrieve(payment_id))

    async def cancel(self, payment_id: str) -> ProviderResult:
        return to_result(await self._provider.cancel(payment_id))
