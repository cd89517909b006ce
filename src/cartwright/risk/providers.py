"""External fraud services: the protocol the screening calls, and Sift's adapter.

An adapter is stateless, like a payment connector: it turns our screening request into
the service's wire format and its answer into a `ProviderScore` (0 to 100 and reasons).
An answer it cannot use (a 5xx, a non-zero `status`, a malformed body) is a
`ProviderError`; the caller's `ExternalCall` guard bounds the call, counts it in the
breaker and turns every failure into `Unavailable`, so the fallback is taken.

Sift (https://developers.sift.com, Events API v205 with a synchronous score): we send the
reserved `$create_order` event to `POST /v205/events?return_score=true&abuse_types=
payment_abuse`, the API key as HTTP Basic user name; `$amount` is in micros of the
currency's major unit (1 EUR = 1 000 000); the answer's
`score_response.scores.payment_abuse.score` (0 to 1) and its `reasons` (`name`, `value`)
are what we read. `status` 0 means the event was accepted; any other is an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import httpx
import orjson

from cartwright.kit.external import ProviderError
from cartwright.kit.money import CURRENCY_EXPONENTS


@dataclass(frozen=True, slots=True)
class ScreenRequest:
    order_id: str
    user_id: str  # the customer's id, else the email (Sift keys its models by user)
    email: str | None
    amount: int  # minor units
    currency: str
    client_address: str | None
    billing_country: str | None
    shipping_country: str | None


@dataclass(frozen=True, slots=True)
class ProviderScore:
    score: int  # 0 (no risk) to 100
    reasons: tuple[str, ...]


class FraudProvider(Protocol):
    name: str

    async def score(self, request: ScreenRequest) -> ProviderScore: ...

    async def aclose(self) -> None: ...


def micros(amount: int, currency: str) -> int:
    """Minor units to Sift's micros of the major unit (EUR 12.34 = 1234 -> 12 340 000)."""
    exponent = CURRENCY_EXPONENTS.get(currency.upper(), 2)
    return int(amount * 10 ** (6 - exponent))


def sift_event(request: ScreenRequest) -> dict[str, Any]:
    event: dict[str, Any] = {
        "$type": "$create_order",
        "$user_id": request.user_id,
        "$order_id": request.order_id,
        "$amount": micros(request.amount, request.currency),
        "$currency_code": request.currency.upper(),
    }
    if request.email:
        event["$user_email"] = request.email
    if request.client_address:
        event["$ip"] = request.client_address
    if request.billing_country:
        event["$billing_address"] = {"$country": request.billing_country}
    if request.shipping_country:
        event["$shipping_address"] = {"$country": request.shipping_country}
    return event


def parse_sift_answer(status_code: int, body: bytes) -> ProviderScore:
    if status_code >= 500 or status_code == 429:
        raise ProviderError(f"sift answered {status_code}")
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise ProviderError("sift answered a body that is not JSON") from None
    if not isinstance(doc, dict):
        raise ProviderError("sift answered a body that is not an object")
    if status_code >= 400 or doc.get("status") != 0:
        raise ProviderError(
            f"sift refused the event ({status_code}, status {doc.get('status')!r}:"
            f" {doc.get('error_message')!r})"
        )
    scored = doc.get("score_response")
    payment = None
    if isinstance(scored, dict) and isinstance(scored.get("scores"), dict):
        payment = scored["scores"].get("payment_abuse")
    if not isinstance(payment, dict) or not isinstance(payment.get("score"), int | float):
        raise ProviderError("sift's answer holds no payment_abuse score")
    value = float(payment["score"])
    if not 0.0 <= value <= 1.0:
        raise ProviderError(f"sift's score {value} is not between 0 and 1")
    reasons = []
    for reason in payment.get("reasons") or []:
        if isinstance(reason, dict) and isinstance(reason.get("name"), str):
            detail = reason.get("value")
            reasons.append(reason["name"] + (f": {detail}" if detail is not None else ""))
    return ProviderScore(round(value * 100), tuple(reasons))


class SiftProvider:
    name = "sift"

    def __init__(self, api_key: str, base_url: str = "https://api.sift.com") -> None:
        # No timeout of its own beyond a generous ceiling: the guard's `timeout_s` bounds
        # the call.
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), auth=(api_key, ""), timeout=30.0
        )

    async def score(self, request: ScreenRequest) -> ProviderScore:
        answer = await self._client.post(
            "/v205/events",
            params={"return_score": "true", "abuse_types": "payment_abuse"},
            content=orjson.dumps(sift_event(request)),
            headers={"Content-Type": "application/json"},
        )
        return parse_sift_answer(answer.status_code, answer.content)

    async def aclose(self) -> None:
        await self._client.aclose()
