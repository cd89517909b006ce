"""Ledger routes (secret key, scope `ledger:read`): read only; entries are written by the
money path itself, never through the API."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from cartwright.access.scopes import Scope
from cartwright.access.service import Principal
from cartwright.kit.errors import ValidationFailed
from cartwright.kit.fields import NO_NUL
from cartwright.ledger import service
from cartwright.ledger.schemas import AccountBalances, LedgerEntryList, TrialBalance
from cartwright.web.deps import Page, page, platform, requires
from cartwright.web.openapi import LIST_PARAMS, operation, query
from cartwright.web.responses import json_response

router = APIRouter(prefix="/v1", tags=["ledger"])

MAX_ID_LENGTH = 64
_ID_SCHEMA = {"type": "string", "minLength": 1, "maxLength": MAX_ID_LENGTH, "pattern": NO_NUL}
_FILTERS = [
    query("order_id", _ID_SCHEMA, "Only the entries of this order."),
    query("payment_id", _ID_SCHEMA, "Only the entries of this payment."),
]


def _filter(request: Request, name: str) -> str | None:
    value = request.query_params.get(name)
    if value is None:
        return None
    if not value or len(value) > MAX_ID_LENGTH or "\x00" in value:
        raise ValidationFailed.field(name, f"must be 1 to {MAX_ID_LENGTH} characters")
    return value


@router.get("/ledger/trial-balance", openapi_extra=operation(ok={200: TrialBalance}))
async def ledger_trial_balance(
    request: Request, _: Principal = Depends(requires(Scope.LEDGER_READ))
) -> Response:
    """Debits and credits per currency over the whole ledger; they are always equal."""
    async with platform(request).db.connection() as conn:
        return json_response(await service.trial_balance(conn))


@router.get(
    "/ledger/accounts",
    openapi_extra=operation(
        ok={200: AccountBalances}, params=_FILTERS, problems=[ValidationFailed]
    ),
)
async def ledger_accounts(
    request: Request, _: Principal = Depends(requires(Scope.LEDGER_READ))
) -> Response:
    """The balance of every account, per party (the provider, for `provider_clearing`) and
    currency; with `order_id` or `payment_id`, over that order's or payment's entries."""
    order_id, payment_id = _filter(request, "order_id"), _filter(request, "payment_id")
    async with platform(request).db.connection() as conn:
        return json_response(await service.balances(conn, order_id=order_id, payment_id=payment_id))


@router.get(
    "/ledger/entries",
    openapi_extra=operation(
        ok={200: LedgerEntryList}, params=[*LIST_PARAMS, *_FILTERS], problems=[ValidationFailed]
    ),
)
async def ledger_entries(
    request: Request,
    _: Principal = Depends(requires(Scope.LEDGER_READ)),
    paging: Page = Depends(page),
) -> Response:
    """Journal entries with their lines, newest first (list convention)."""
    order_id, payment_id = _filter(request, "order_id"), _filter(request, "payment_id")
    async with platform(request).db.connection() as conn:
        body = await service.list_entries(
            conn,
            limit=paging.limit,
            starting_after=paging.starting_after,
            order_id=order_id,
            payment_id=payment_id,
        )
    return json_response(body)
