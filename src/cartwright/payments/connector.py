"""What the payments core needs from a provider, in our own types.

A connector is stateless: it turns our request into the provider's wire format and the
provider's answer into a `ProviderResult` or an `OperationResult`; the core persists.
Provider wire formats live only in `payments/connectors/<provider>/`.

Every call carries our idempotency key (the payment id for an authorization, the capture's
or refund's id for those), so a retry can never act twice. The `Gateway` bounds each call
with a timeout. Each answer is classified (`classify`): a success, a decline, an action the
shopper must take, or unknown. Technical failures the provider did not act on (a 5xx, a
refused connection, a 429) raise `RetryableProviderError`; a timeout is never retried here
(the provider may have acted) and becomes an unknown result.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol


class ProviderStatus(StrEnum):
    """What the provider says a payment is."""

    AUTHORIZED = "authorized"
    # Some or all of it captured: `amount_captured` says how much.
    CAPTURED = "captured"
    DECLINED = "declined"
    REQUIRES_ACTION = "requires_action"
    # Canceled before (all of) it was captured; nothing more can be captured.
    VOIDED = "voided"
    # The provider has no record of the payment (lookups by our reference only).
    NOT_FOUND = "not_found"
    # Anything else: never guessed into a success or a failure.
    PENDING = "pending"


class Outcome(StrEnum):
    """The classes every answer falls in (`RETRYABLE` is raised, never returned)."""

    SUCCESS = "success"
    DECLINED = "declined"  # nothing was charged
    REQUIRES_ACTION = "requires_action"
    RETRYABLE = "retryable"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class AuthorizeRequest:
    payment_id: str  # our reference, and the idempotency key at the provider
    amount: int
    currency: str
    token: str = field(repr=False)  # the shopper's payment token: never shown or logged
    capture: bool = True
    # Where a redirect-based method (3-D Secure, iDEAL, PayPal) sends the shopper back.
    return_url: str | None = None

    @property
    def idempotency_key(self) -> str:
        return self.payment_id


@dataclass(frozen=True, slots=True)
class CaptureRequest:
    payment_id: str  # our reference
    reference: str | None  # the provider's id of the payment
    capture_id: str  # ours: the idempotency key of this capture
    amount: int
    currency: str
    final: bool  # no further capture will follow: the provider may release the rest

    @property
    def idempotency_key(self) -> str:
        return self.capture_id


@dataclass(frozen=True, slots=True)
class RefundRequest:
    payment_id: str  # our reference
    reference: str | None  # the provider's id of the payment
    refund_id: str  # ours: the idempotency key of this refund
    amount: int
    currency: str
    reason: str | None = None

    @property
    def idempotency_key(self) -> str:
        return self.refund_id


@dataclass(frozen=True, slots=True)
class VoidRequest:
    """Cancel what is not captured. With no `reference` (the provider's answer to the
    authorization never arrived) the void is by our reference, and must also stop an
    authorization with that key still on its way from charging later."""

    payment_id: str
    reference: str | None

    @property
    def idempotency_key(self) -> str:
        return f"{self.payment_id}:void"


@dataclass(frozen=True, slots=True)
class ProviderResult:
    """A payment as the provider describes it after a call or in a webhook."""

    status: ProviderStatus
    reference: str | None = None
    # What the provider says it holds, for comparison with ours (None: not told). A
    # difference is an alert, never trusted silently.
    amount: int | None = None
    currency: str | None = None
    amount_captured: int = 0
    amount_refunded: int = 0
    decline_code: str | None = None
    message: str | None = None
    next_action: dict[str, Any] | None = field(default=None)

    @property
    def outcome(self) -> Outcome:
        return classify(self.status)


def classify(status: ProviderStatus) -> Outcome:
    match status:
        case ProviderStatus.AUTHORIZED | ProviderStatus.CAPTURED | ProviderStatus.VOIDED:
            return Outcome.SUCCESS
        case ProviderStatus.DECLINED | ProviderStatus.NOT_FOUND:
            return Outcome.DECLINED
        case ProviderStatus.REQUIRES_ACTION:
            return Outcome.REQUIRES_ACTION
        case ProviderStatus.PENDING:
            return Outcome.UNKNOWN


class OperationStatus(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # the provider refused it: nothing moved
    # Accepted, result to come by webhook (Adyen's modifications, some refunds).
    PENDING = "pending"


@dataclass(frozen=True, slots=True)
class OperationResult:
    """The answer to a capture or a refund."""

    status: OperationStatus
    reference: str | None = None  # the provider's id of the capture or refund
    amount: int | None = None
    currency: str | None = None
    failure_code: str | None = None
    message: str | None = None


class WebhookKind(StrEnum):
    PAYMENT = "payment"  # the payment's state changed: `payment` says how it is now
    CAPTURE = "capture"  # a capture completed or failed: `operation`
    REFUND = "refund"  # a refund completed or failed: `operation`
    DISPUTE = "dispute"  # a dispute notice that moves no money (an inquiry, a request)
    DISPUTE_OPENED = "dispute_opened"  # a chargeback: the money was taken back
    DISPUTE_WON = "dispute_won"  # decided for us: the chargeback is reversed
    DISPUTE_LOST = "dispute_lost"  # decided for the customer: the chargeback stands
    OTHER = "other"  # verified, but nothing we act on


@dataclass(frozen=True, slots=True)
class DisputeNotice:
    """What a provider tells of a dispute (a chargeback) on one of our payments."""

    reference: str  # the provider's id of the dispute: all its events carry it
    amount: int | None  # minor units disputed, when the provider says
    currency: str | None
    reason: str | None


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    """One verified notification from a provider."""

    event_id: str  # the provider's id: deliveries are deduplicated by it
    kind: WebhookKind
    type: str  # the provider's own event type, as sent
    occurred_at: datetime
    payment_id: str | None  # our reference, when the provider echoes it
    reference: str | None = None  # the provider's id of the payment
    payment: ProviderResult | None = None
    operation: OperationResult | None = None
    # Our idempotency key of the capture or refund, when the provider echoes it.
    operation_key: str | None = None
    dispute: DisputeNotice | None = None  # for the DISPUTE_* kinds


class RetryableProviderError(Exception):
    """The provider failed in a way that is safe to retry with the same idempotency key."""


class InvalidWebhook(Exception):
    """A webhook that failed verification (signature, timestamp, format): act on nothing."""


class PaymentConnector(Protocol):
    name: str
    # The body the provider expects in answer to an accepted webhook.
    webhook_ack: bytes

    async def authorize(self, request: AuthorizeRequest) -> ProviderResult: ...

    async def confirm(
        self, payment_id: str, reference: str | None, details: Mapping[str, str] | None = None
    ) -> ProviderResult:
        """The shopper came back from the provider's challenge or redirect: how is it now?
        `details`: what the redirect brought back, for providers that need it (Adyen's
        `redirectResult`); others ignore it."""
        ...

    async def capture(self, request: CaptureRequest) -> OperationResult: ...

    async def void(self, request: VoidRequest) -> ProviderResult: ...

    async def refund(self, request: RefundRequest) -> OperationResult: ...

    async def retrieve(self, payment_id: str) -> ProviderResult:
        """The payment with our reference `payment_id` (NOT_FOUND when the provider has none)."""
        ...

    def parse_webhook(
        self, headers: Mapping[str, str], body: bytes, *, now: datetime
    ) -> list[WebhookEvent]:
        """Verify and read one delivery; raises `InvalidWebhook` (nothing is acted on)."""
        ...
