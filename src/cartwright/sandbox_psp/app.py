"""The sandbox's wire API (ASGI, Starlette): REST and JSON like a card provider's, with
a bearer API key, `Idempotency-Key` on every POST, and faults injected by token and by
setting. The routes parse, call the books and shape the answer; docs/sandbox-psp.md is
the reference."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import html
import re
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any
from urllib.parse import parse_qs, urlencode

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from cartwright.sandbox_psp import settlement
from cartwright.sandbox_psp.books import (
    DISPUTE_REASONS,
    Books,
    NewPayment,
    Refused,
    dispute_body,
    payment_body,
)
from cartwright.sandbox_psp.books import operation_body as operation_json
from cartwright.sandbox_psp.settings import InvalidSettings, SandboxConfig

Handler = Callable[[Request], Awaitable[Response]]
_CURRENCY = re.compile(r"^[A-Z]{3}$")


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status, headers, media_type="application/json")


def _error(status: int, code: str, message: str) -> Response:
    kind = "api_error" if status >= 500 else "refused" if status == 409 else "invalid_request"
    return _json({"error": {"type": kind, "code": code, "message": message}}, status)


class _Invalid(Exception):
    """A request body or parameter the API does not accept (400)."""


def create_app(books: Books, config: SandboxConfig, **starlette: Any) -> Starlette:
    faults = config.faults
    expected_auth = f"Bearer {config.api_key}".encode()

    def api(handler: Handler, *, faulty: bool = True) -> Handler:
        """Key check, injected latency and 5xx (not on the control routes, which must end
        an outage), and the 4xx every route shares."""

        async def endpoint(request: Request) -> Response:
            given = request.headers.get("authorization", "").encode()
            if not hmac.compare_digest(given, expected_auth):
                return _error(401, "invalid_api_key", "A valid bearer API key is required.")
            if faulty and faults.latency_ms:
                await asyncio.sleep(faults.latency_ms / 1000)
            if faulty and faults.happens(faults.error_rate):
                return _error(503, "service_unavailable", "Injected outage; nothing was done.")
            try:
                return await handler(request)
            except Refused as refused:
                return _error(refused.status, refused.code, refused.message)
            except _Invalid as invalid:
                return _error(400, "invalid_request", str(invalid))

        return endpoint

    async def body_of(request: Request) -> tuple[dict[str, Any], str]:
        """The JSON body, and the hash an Idempotency-Key is bound to (route and body)."""
        raw = await request.body()
        try:
            body = orjson.loads(raw) if raw else {}
        except orjson.JSONDecodeError:
            raise _Invalid("The body is not JSON.") from None
        if not isinstance(body, dict):
            raise _Invalid("The body must be a JSON object.")
        canonical = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
        digest = hashlib.sha256(f"{request.method} {request.url.path}\n".encode() + canonical)
        return body, digest.hexdigest()

    def required_key(request: Request) -> str:
        key = request.headers.get("idempotency-key")
        if not key or len(key) > 255:
            raise _Invalid("An Idempotency-Key header (1 to 255 characters) is required.")
        return key

    async def remembered(request: Request) -> dict[str, Any]:
        body, request_hash = await body_of(request)
        key = request.headers.get("idempotency-key")
        if key:
            await books.remember_key(key, request_hash)
        return body

    async def create_payment(request: Request) -> Response:
        key = required_key(request)
        body, request_hash = await body_of(request)
        new = NewPayment(
            amount=_amount(body),
            currency=_currency(body),
            token=_string(body, "token"),
            capture=_bool(body, "capture", default=True),
            merchant_reference=_string(body, "merchant_reference"),
            return_url=_optional_string(body, "return_url"),
        )
        if new.token == "tok_processing_error":
            return _error(500, "processing_error", "The processor failed; nothing was done.")
        late = new.token == "tok_timeout" or faults.happens(faults.timeout_rate)
        row, replayed = await books.create(key, request_hash, new, tell=late)
        if late:
            await asyncio.sleep(faults.slow_response_s)
        answer = payment_body(row, config.public_url)
        if replayed:
            return _json(answer, 200, {"Idempotent-Replayed": "true"})
        return _json(answer, 201)

    async def list_payments(request: Request) -> Response:
        reference = request.query_params.get("merchant_reference")
        if not reference:
            raise _Invalid("Give merchant_reference.")
        row = await books.find(reference)
        data = [] if row is None else [payment_body(row, config.public_url)]
        return _json({"object": "list", "data": data})

    async def get_payment(request: Request) -> Response:
        row = await books.get(request.path_params["id"])
        return _json(payment_body(row, config.public_url))

    async def confirm(request: Request) -> Response:
        await remembered(request)
        row = await books.confirm(request.path_params["id"])
        return _json(payment_body(row, config.public_url))

    async def void(request: Request) -> Response:
        await remembered(request)
        row = await books.void(request.path_params["id"])
        return _json(payment_body(row, config.public_url))

    async def void_by_reference(request: Request) -> Response:
        body = await remembered(request)
        row = await books.void_by_reference(_string(body, "merchant_reference"))
        return _json(payment_body(row, config.public_url))

    async def capture(request: Request) -> Response:
        key = required_key(request)
        body, request_hash = await body_of(request)
        operation, payment, replayed = await books.capture(
            request.path_params["id"],
            key,
            request_hash,
            (_amount(body), _currency(body)),
            _bool(body, "final", default=False),
        )
        return _operation(operation_json(operation, payment), replayed)

    async def refund(request: Request) -> Response:
        key = required_key(request)
        body, request_hash = await body_of(request)
        operation, payment, replayed = await books.refund(
            request.path_params["id"],
            key,
            request_hash,
            (_amount(body), _currency(body)),
            _optional_string(body, "reason"),
        )
        return _operation(operation_json(operation, payment), replayed)

    async def settlement_report(request: Request) -> Response:
        try:
            day = date.fromisoformat(request.path_params["day"])
        except ValueError:
            raise _Invalid("The day is YYYY-MM-DD.") from None
        csv = await settlement.report(books.db, day)
        return Response(csv, media_type="text/csv; charset=utf-8")

    async def get_settings(request: Request) -> Response:
        return _json(faults.as_dict())

    async def put_settings(request: Request) -> Response:
        body, _ = await body_of(request)
        try:
            faults.update(body)
        except (InvalidSettings, TypeError) as exc:
            raise _Invalid(str(exc)) from None
        return _json(faults.as_dict())

    async def open_dispute(request: Request) -> Response:
        body, _ = await body_of(request)
        amount = None if body.get("amount") is None else _amount(body)
        reason = body.get("reason", "general")
        if reason not in DISPUTE_REASONS:
            raise _Invalid(f"reason is one of {', '.join(sorted(DISPUTE_REASONS))}.")
        dispute = await books.open_dispute(_string(body, "payment"), amount, reason)
        payment = await books.get(dispute["payment_id"])
        return _json(dispute_body(dispute, payment), 201)

    async def decide_dispute(request: Request) -> Response:
        body, _ = await body_of(request)
        outcome = body.get("outcome")
        if outcome not in ("won", "lost"):
            raise _Invalid("outcome is won or lost.")
        dispute = await books.decide_dispute(request.path_params["id"], outcome)
        payment = await books.get(dispute["payment_id"])
        return _json(dispute_body(dispute, payment))

    routes = [
        Route("/v1/payments", api(create_payment), methods=["POST"]),
        Route("/v1/payments", api(list_payments), methods=["GET"]),
        Route("/v1/payments/void_by_reference", api(void_by_reference), methods=["POST"]),
        Route("/v1/payments/{id}", api(get_payment), methods=["GET"]),
        Route("/v1/payments/{id}/confirm", api(confirm), methods=["POST"]),
        Route("/v1/payments/{id}/void", api(void), methods=["POST"]),
        Route("/v1/payments/{id}/captures", api(capture), methods=["POST"]),
        Route("/v1/payments/{id}/refunds", api(refund), methods=["POST"]),
        Route("/v1/settlements/{day}", api(settlement_report), methods=["GET"]),
        Route("/_sandbox/settings", api(get_settings, faulty=False), methods=["GET"]),
        Route("/_sandbox/settings", api(put_settings, faulty=False), methods=["PUT"]),
        Route("/_sandbox/disputes", api(open_dispute, faulty=False), methods=["POST"]),
        Route(
            "/_sandbox/disputes/{id}/decision", api(decide_dispute, faulty=False), methods=["POST"]
        ),
        *page_routes(books),
    ]
    return Starlette(routes=routes, **starlette)


def page_routes(books: Books) -> list[Route]:
    """The shopper's pages (no key): a redirect method's, or a 3-D Secure challenge's.
    Embedded, the platform serves them under its own address."""

    async def redirect_page(request: Request) -> Response:
        try:
            row = await books.get(request.path_params["id"])
        except Refused:
            return HTMLResponse("<h1>No such payment</h1>", 404)
        amount = html.escape(f"{row['amount']} {row['currency']} (minor units)")
        state = html.escape(row["status"])
        return HTMLResponse(
            "<!doctype html><title>Sandbox payment</title>"
            f"<h1>Sandbox payment</h1><p>{amount}, now {state}.</p>"
            '<form method="post"><button name="outcome" value="succeed">Succeed</button>'
            '<button name="outcome" value="fail">Fail</button></form>'
        )

    async def complete_redirect(request: Request) -> Response:
        form = parse_qs((await request.body()).decode(errors="replace"))
        outcome = form.get("outcome", [""])[0]
        if outcome not in ("succeed", "fail"):
            return HTMLResponse("<h1>outcome is succeed or fail</h1>", 400)
        try:
            row = await books.complete_redirect(
                request.path_params["id"], succeeded=outcome == "succeed"
            )
        except Refused:
            return HTMLResponse("<h1>No such payment</h1>", 404)
        if not row["return_url"]:
            return HTMLResponse(f"<h1>Payment {html.escape(row['status'])}</h1>")
        separator = "&" if "?" in row["return_url"] else "?"
        query = urlencode({"payment": row["id"], "status": row["status"]})
        return RedirectResponse(row["return_url"] + separator + query, 303)

    return [
        Route("/redirect/{id}", redirect_page, methods=["GET"]),
        Route("/redirect/{id}", complete_redirect, methods=["POST"]),
    ]


def _operation(body: dict[str, Any], replayed: bool) -> Response:
    if replayed:
        return _json(body, 200, {"Idempotent-Replayed": "true"})
    return _json(body, 201)


def _amount(body: dict[str, Any]) -> int:
    amount = body.get("amount")
    if type(amount) is not int or not 0 < amount <= 10**12:
        raise _Invalid("amount is a positive integer of minor units.")
    return amount


def _currency(body: dict[str, Any]) -> str:
    currency = body.get("currency")
    if not isinstance(currency, str) or not _CURRENCY.match(currency):
        raise _Invalid("currency is an ISO 4217 code in capitals.")
    return currency


def _string(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not 0 < len(value) <= 255:
        raise _Invalid(f"{name} is a string of 1 to 255 characters.")
    return value


def _optional_string(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 2048:
        raise _Invalid(f"{name} is a string.")
    return value


def _bool(body: dict[str, Any], name: str, *, default: bool) -> bool:
    value = body.get(name, default)
    if not isinstance(value, bool):
        raise _Invalid(f"{name} is true or false.")
    return value
