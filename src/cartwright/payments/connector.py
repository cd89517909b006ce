"""What the payments core needs from a provider, in our own types.

A connector is stateless: it turns our request into the provider's and the provider's
answer into a `ProviderResult`; the core persists. Technical failures the provider may not
have acted on (a 5xx, a refused connection) raise `RetryableProviderError`; a timeout is
not retried here (the provider may have acted) and becomes an unknown result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol


class ProviderStatus(StrEnum):
    AUTHORIZED = "authorized"
    CAPTURED = "captured"
    DECLINED = "declined"
    REQUIRES_ACTION = "requires_action"
    # The provider has no record of the payment (recovery lookups only).
    NOT_FOUND = "not_found"
    # Anything else: never guessed into a success or a failure.
    PENDING = "pending"


@dataclass(frozen=True, slots=True)
class AuthorizeRequest:
    payment_id: str  # also the idempotency key at the provider
    amount: int
    currency: str
    token: str = field(repr=False)  # the shopper's payment token: never shown or logged
    capture: bool = True


@dataclass(frozen=True, slots=True)
class ProviderResult:
    status: ProviderStatus
    reference: str | None = None
    amount_captured: int = 0
    decline_code: str | None = None
    message: str | None = None
    next_action: dict[str, Any] | None = field(default=None)


class RetryableProviderError(Exception):
    """The provider failed in a way that is safe to retry with the same idempotency key."""


class PaymentConnector(Protocol):
    name: str

    async def authorize(self, request: AuthorizeRequest) -> ProviderResult: ...

    async def confirm(self, payment_id: str) -> ProviderResult: ...

    async def retrieve(self, payment_id: str) -> ProviderResult: ...

    async def cancel(self, payment_id: str) -> ProviderResult: ...
