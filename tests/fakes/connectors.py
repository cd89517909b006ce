"""A payment connector whose answers a test scripts, call by call.

Each operation answers from its own queue of steps, then from its default: a `ProviderResult`
or `OperationResult` is returned, an exception is raised (`RetryableProviderError()` for a
5xx), `HANG` never answers (the gateway's timeout ends the call). `down = True` makes every
call fail retryably until it is set back, as in an outage. `latency_s` moves the fake clock
on each call, so a latency histogram sees it without a real sleep. Every call is recorded
with the idempotency key it carried.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Final

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
from tests.fakes.clock import FakeClock


class Operation(StrEnum):
    AUTHORIZE = "authorize"
    CONFIRM = "confirm"
    CAPTURE = "capture"
    VOID = "void"
    REFUND = "refund"
    RETRIEVE = "retrieve"


class _Hang:
    """A step that never answers."""


HANG: Final = _Hang()
Step = ProviderResult | OperationResult | BaseException | _Hang

AUTHORIZED = ProviderResult(ProviderStatus.AUTHORIZED, reference="ref_1")
DECLINED = ProviderResult(ProviderStatus.DECLINED, decline_code="card_declined")
SUCCEEDED = OperationResult(OperationStatus.SUCCEEDED, reference="op_1")
DEFAULTS: dict[Operation, Step] = {
    Operation.AUTHORIZE: AUTHORIZED,
    Operation.CONFIRM: AUTHORIZED,
    Operation.CAPTURE: SUCCEEDED,
    Operation.VOID: ProviderResult(ProviderStatus.VOIDED, reference="ref_1"),
    Operation.REFUND: SUCCEEDED,
    Operation.RETRIEVE: AUTHORIZED,
}


@dataclass(frozen=True, slots=True)
class Call:
    operation: Operation
    idempotency_key: str


@dataclass
class FakeConnector:
    name: str
    clock: FakeClock | None = None
    latency_s: float = 0.0
    down: bool = False
    webhook_ack: bytes = b"ok"
    calls: list[Call] = field(default_factory=list)
    _steps: dict[Operation, deque[Step]] = field(default_factory=dict)
    _defaults: dict[Operation, Step] = field(default_factory=lambda: dict(DEFAULTS))

    def script(self, operation: Operation, *steps: Step) -> None:
        """Answer the next calls of `operation` with `steps`, in order."""
        self._steps.setdefault(operation, deque()).extend(steps)

    def always(self, operation: Operation, step: Step) -> None:
        """Answer every call of `operation` not scripted otherwise with `step`."""
        self._defaults[operation] = step

    def keys(self, operation: Operation) -> list[str]:
        return [c.idempotency_key for c in self.calls if c.operation is operation]

    async def _answer(self, operation: Operation, key: str) -> Step:
        self.calls.append(Call(operation, key))
        if self.clock is not None:
            self.clock.advance(self.latency_s)
        if self.down:
            raise RetryableProviderError(f"{self.name} is down")
        queued = self._steps.get(operation)
        step = queued.popleft() if queued else self._defaults[operation]
        if isinstance(step, BaseException):
            raise step
        if isinstance(step, _Hang):
            await asyncio.Event().wait()
        return step

    async def _payment(self, operation: Operation, key: str) -> ProviderResult:
        step = await self._answer(operation, key)
        assert isinstance(step, ProviderResult), step
        return step

    async def _operation(self, operation: Operation, key: str) -> OperationResult:
        step = await self._answer(operation, key)
        assert isinstance(step, OperationResult), step
        return step

    async def authorize(self, request: AuthorizeRequest) -> ProviderResult:
        return await self._payment(Operation.AUTHORIZE, request.idempotency_key)

    async def confirm(
        self,
        payment_id: str,
        reference: str | None,
        details: Mapping[str, str] | None = None,
    ) -> ProviderResult:
        return await self._payment(Operation.CONFIRM, payment_id)

    async def capture(self, request: CaptureRequest) -> OperationResult:
        return await self._operation(Operation.CAPTURE, request.idempotency_key)

    async def void(self, request: VoidRequest) -> ProviderResult:
        return await self._payment(Operation.VOID, request.idempotency_key)

    async def refund(self, request: RefundRequest) -> OperationResult:
        return await self._operation(Operation.REFUND, request.idempotency_key)

    async def retrieve(self, payment_id: str) -> ProviderResult:
        return await self._payment(Operation.RETRIEVE, payment_id)

    def parse_webhook(
        self, headers: Mapping[str, str], body: bytes, *, now: datetime
    ) -> list[WebhookEvent]:
        return []
