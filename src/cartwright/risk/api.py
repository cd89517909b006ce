"""Routes of `/v1/risk/denylist` and of an order's fraud review (ADR 0024)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from cartwright.access.scopes import Scope
from cartwright.access.service import Principal
from cartwright.kit.db import Conn
from cartwright.kit.errors import InvalidState, NotFound, ProviderUnavailable, ValidationFailed
from cartwright.orders import risk_review
from cartwright.orders.schemas import OrderOut
from cartwright.risk import service
from cartwright.risk.errors import DenylistEntryNotFound
from cartwright.risk.rules import DenyKind
from cartwright.risk.schemas import DenylistEntryIn, DenylistEntryOut, DenylistPage
from cartwright.web.body import json_body
from cartwright.web.deps import Page, page, platform, requires
from cartwright.web.idempotent import run_idempotent, run_idempotent_steps
from cartwright.web.openapi import LIST_PARAMS, operation
from cartwright.web.responses import json_response

router = APIRouter(prefix="/v1", tags=["risk"])
reader = requires(Scope.RISK_READ)
writer = requires(Scope.RISK_WRITE)


@router.get(
    "/risk/denylist",
    openapi_extra=operation(
        ok={200: DenylistPage}, params=LIST_PARAMS, problems=[ValidationFailed]
    ),
)
async def list_denylist(
    request: Request, _: Principal = Depends(reader), paging: Page = Depends(page)
) -> Response:
    async with platform(request).db.connection() as conn:
        body = await service.list_entries(
            conn, limit=paging.limit, starting_after=paging.starting_after
        )
    return json_response(body)


@router.post(
    "/risk/denylist",
    status_code=201,
    openapi_extra=operation(
        ok={201: DenylistEntryOut, 200: DenylistEntryOut},
        body=DenylistEntryIn,
        idempotency="optional",
        problems=[ValidationFailed],
    ),
)
async def add_to_denylist(
    request: Request,
    _: Principal = Depends(writer),
    data: DenylistEntryIn = Depends(json_body(DenylistEntryIn)),
) -> Response:
    """List an email, an email domain, a client IP address or a card fingerprint: a
    checkout showing it is rejected. 200 with the entry when it was listed already. Every
    process sees it within `CARTWRIGHT_RISK_DENYLIST_TTL_S`."""

    async def work(conn: Conn) -> tuple[int, object]:
        return await service.add_entry(
            conn, kind=DenyKind(data.kind), value=data.value, note=data.note
        )

    answer = await run_idempotent(request, work)
    platform(request).screener().denylist.invalidate()
    return answer


@router.delete(
    "/risk/denylist/{entry_id}",
    openapi_extra=operation(ok={200: DenylistEntryOut}, problems=[DenylistEntryNotFound]),
)
async def remove_from_denylist(
    request: Request, entry_id: str, _: Principal = Depends(writer)
) -> Response:
    p = platform(request)
    async with p.db.transaction() as conn:
        body = await service.delete_entry(conn, entry_id)
    p.screener().denylist.invalidate()
    return json_response(body)


_REVIEW_PROBLEMS = [InvalidState, NotFound, ProviderUnavailable]


@router.post(
    "/orders/{order_id}/risk/approve",
    tags=["orders"],
    openapi_extra=operation(
        ok={200: OrderOut, 202: OrderOut}, idempotency="optional", problems=_REVIEW_PROBLEMS
    ),
)
async def approve_review(
    request: Request, order_id: str, _: Principal = Depends(writer)
) -> Response:
    """Approve an order held for fraud review: captured now when its channel captures
    automatically (202 while the provider's answer is awaited), else left authorized for
    fulfilment. Asking again answers the order; 409 `invalid_state` when it is not in
    review (or was rejected)."""

    async def work() -> tuple[int, object]:
        return await risk_review.approve(platform(request), order_id)

    return await run_idempotent_steps(request, work)


@router.post(
    "/orders/{order_id}/risk/reject",
    tags=["orders"],
    openapi_extra=operation(
        ok={200: OrderOut, 202: OrderOut}, idempotency="optional", problems=_REVIEW_PROBLEMS
    ),
)
async def reject_review(
    request: Request, order_id: str, _: Principal = Depends(writer)
) -> Response:
    """Reject an order held for fraud review: its authorization is voided, its stock
    released and the order canceled (202 while the void is awaited; the worker finishes
    it). Asking again answers the order; 409 `invalid_state` when it is not in review."""

    async def work() -> tuple[int, object]:
        return await risk_review.reject(platform(request), order_id)

    return await run_idempotent_steps(request, work)
