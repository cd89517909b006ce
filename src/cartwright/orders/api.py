from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from cartwright.access.scopes import Scope
from cartwright.access.service import Principal
from cartwright.kit.errors import InvalidState, ProviderUnavailable, ValidationFailed
from cartwright.orders import payment_actions, service
from cartwright.orders.schemas import (
    CaptureIn,
    OrderOut,
    OrderPage,
    RefundIn,
    RefundList,
    RefundOut,
)
from cartwright.web.body import optional_json_body
from cartwright.web.deps import Page, Shopper, page, platform, requires, shopper
from cartwright.web.idempotent import derived_id, run_idempotent_steps
from cartwright.web.openapi import CUSTOMER_TOKEN, LIST_PARAMS, ORDER_TOKEN, operation
from cartwright.web.responses import json_response

router = APIRouter(prefix="/v1", tags=["orders"])
ORDER_TOKEN_HEADER = service.ORDER_TOKEN_HEADER


@router.get(
    "/orders",
    openapi_extra=operation(ok={200: OrderPage}, params=LIST_PARAMS, problems=[ValidationFailed]),
)
async def list_orders(
    request: Request,
    _: Principal = Depends(requires(Scope.ORDERS_READ)),
    paging: Page = Depends(page),
) -> Response:
    async with platform(request).db.connection() as conn:
        body = await service.list_orders(
            conn, limit=paging.limit, starting_after=paging.starting_after
        )
    return json_response(body)


@router.get(
    "/orders/{order_id}",
    openapi_extra=operation(ok={200: OrderOut}, params=[ORDER_TOKEN, CUSTOMER_TOKEN]),
)
async def get_order(request: Request, order_id: str, who: Shopper = Depends(shopper())) -> Response:
    """A publishable key opens the order with its `Cartwright-Order-Token`, or with the
    token of the signed-in customer it belongs to; otherwise 404 as if it did not exist."""
    p = platform(request)
    if who.principal.is_publishable:
        token = request.headers.get(ORDER_TOKEN_HEADER)
        async with p.db.connection() as conn:
            await service.require_token_access(conn, p.secrets, order_id, token, who.customer_id)
            return json_response(await service.get_order(conn, order_id))
    who.principal.require(Scope.ORDERS_READ)
    async with p.db.connection() as conn:
        return json_response(await service.get_order(conn, order_id))


_MONEY_PROBLEMS = [InvalidState, ProviderUnavailable]


@router.post(
    "/orders/{order_id}/capture",
    openapi_extra=operation(
        ok={200: OrderOut, 202: OrderOut},
        body=CaptureIn,
        body_required=False,
        idempotency="required",
        problems=_MONEY_PROBLEMS,
    ),
)
async def capture_order(
    request: Request,
    order_id: str,
    _: Principal = Depends(requires(Scope.ORDERS_WRITE)),
    data: CaptureIn = Depends(optional_json_body(CaptureIn)),
) -> Response:
    """Capture some or all of what is authorized (several partial captures may follow
    each other): 200 with the order, or 202 while the provider's answer is awaited (it
    settles in the background). More than is left is 409 `invalid_state`."""

    async def work() -> tuple[int, object]:
        return await payment_actions.capture(
            platform(request),
            order_id,
            operation_id=derived_id(request, "cap"),
            amount=data.amount,
            final=data.final,
        )

    return await run_idempotent_steps(request, work, required=True)


@router.post(
    "/orders/{order_id}/payment/void",
    openapi_extra=operation(
        ok={200: OrderOut, 202: OrderOut},
        idempotency="required",
        problems=_MONEY_PROBLEMS,
    ),
)
async def void_payment(
    request: Request, order_id: str, _: Principal = Depends(requires(Scope.ORDERS_WRITE))
) -> Response:
    """Release what is authorized and not captured (`voided`, or `captured` when part of
    it was captured)."""

    async def work() -> tuple[int, object]:
        return await payment_actions.void(
            platform(request), order_id, operation_id=derived_id(request, "vd")
        )

    return await run_idempotent_steps(request, work, required=True)


@router.post(
    "/orders/{order_id}/refunds",
    status_code=201,
    openapi_extra=operation(
        ok={201: RefundOut},
        body=RefundIn,
        body_required=False,
        idempotency="required",
        problems=_MONEY_PROBLEMS,
    ),
)
async def refund_order(
    request: Request,
    order_id: str,
    _: Principal = Depends(requires(Scope.ORDERS_WRITE)),
    data: RefundIn = Depends(optional_json_body(RefundIn)),
) -> Response:
    """Refund some or all of what was captured (201 with the refund; `status` `pending`
    until the provider confirms). More than is left to refund is 409 `invalid_state`."""

    async def work() -> tuple[int, object]:
        return await payment_actions.refund(
            platform(request),
            order_id,
            operation_id=derived_id(request, "re"),
            amount=data.amount,
            reason=data.reason,
        )

    return await run_idempotent_steps(request, work, required=True)


@router.get("/orders/{order_id}/refunds", openapi_extra=operation(ok={200: RefundList}))
async def list_refunds(
    request: Request, order_id: str, _: Principal = Depends(requires(Scope.ORDERS_READ))
) -> Response:
    async with platform(request).db.connection() as conn:
        await service.get_order(conn, order_id)
        return json_response({"data": await payment_actions.refunds_of(conn, order_id)})
