from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from cartwright.access.scopes import Scope
from cartwright.access.service import Principal
from cartwright.kit import ids
from cartwright.kit.db import Conn
from cartwright.kit.errors import InvalidState, ProviderUnavailable, ValidationFailed
from cartwright.orders import lifecycle, lifecycle_actions, payment_actions, service
from cartwright.orders.lifecycle import LineQuantity
from cartwright.orders.schemas import (
    CaptureIn,
    FulfillmentIn,
    FulfillmentList,
    FulfillmentOut,
    LineEditIn,
    LineQuantityIn,
    OrderOut,
    OrderPage,
    ReceiveIn,
    RefundedReturnOut,
    RefundIn,
    RefundList,
    RefundOut,
    ReturnIn,
    ReturnOut,
)
from cartwright.web.body import json_body, optional_json_body
from cartwright.web.deps import Page, Shopper, page, platform, requires, shopper
from cartwright.web.idempotent import derived_id, run_idempotent, run_idempotent_steps
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
        if data.lines is not None:
            return await lifecycle_actions.refund_lines(
                platform(request),
                order_id,
                _lines(data.lines),
                operation_id=derived_id(request, "re"),
                reason=data.reason,
            )
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


def _lines(lines: list[LineQuantityIn]) -> list[LineQuantity]:
    return [LineQuantity(line.line_id, line.quantity) for line in lines]


def _operation_id(request: Request, prefix: str) -> str:
    """Derived from the Idempotency-Key when there is one (a retry resumes the same
    operation), else new."""
    if request.headers.get("idempotency-key"):
        return derived_id(request, prefix)
    return ids.new_id(prefix)


@router.post(
    "/orders/{order_id}/fulfillments",
    status_code=201,
    openapi_extra=operation(
        ok={201: FulfillmentOut},
        body=FulfillmentIn,
        idempotency="optional",
        problems=[InvalidState, ValidationFailed],
    ),
)
async def create_fulfillment(
    request: Request,
    order_id: str,
    _: Principal = Depends(requires(Scope.ORDERS_WRITE)),
    data: FulfillmentIn = Depends(json_body(FulfillmentIn)),
) -> Response:
    """Ship units of the order's lines: their stock leaves, `fulfillment_status` moves on.
    With capture on fulfilment, their value is captured afterwards. More units than are
    left to fulfil is 409 `invalid_state`; an unknown line 422."""

    async def work() -> tuple[int, object]:
        return await lifecycle_actions.fulfil(
            platform(request),
            order_id,
            _lines(data.lines),
            tracking_number=data.tracking_number,
            carrier=data.carrier,
        )

    return await run_idempotent_steps(request, work)


@router.get("/orders/{order_id}/fulfillments", openapi_extra=operation(ok={200: FulfillmentList}))
async def list_fulfillments(
    request: Request, order_id: str, _: Principal = Depends(requires(Scope.ORDERS_READ))
) -> Response:
    async with platform(request).db.connection() as conn:
        return json_response({"data": await lifecycle.fulfillments_of(conn, order_id)})


@router.post(
    "/orders/{order_id}/cancel",
    openapi_extra=operation(
        ok={200: OrderOut, 202: OrderOut}, idempotency="required", problems=_MONEY_PROBLEMS
    ),
)
async def cancel_order(
    request: Request, order_id: str, _: Principal = Depends(requires(Scope.ORDERS_WRITE))
) -> Response:
    """Cancel an order of which nothing was fulfilled: what is authorized is voided, what
    is captured refunded, the stock released. 200 with the `canceled` order, or 202 while
    the provider's answers are awaited (the worker finishes it)."""

    async def work() -> tuple[int, object]:
        return await lifecycle_actions.cancel(platform(request), order_id)

    return await run_idempotent_steps(request, work, required=True)


@router.patch(
    "/orders/{order_id}/lines/{line_id}",
    openapi_extra=operation(
        ok={200: OrderOut}, body=LineEditIn, idempotency="optional", problems=_MONEY_PROBLEMS
    ),
)
async def edit_order_line(
    request: Request,
    order_id: str,
    line_id: str,
    _: Principal = Depends(requires(Scope.ORDERS_WRITE)),
    data: LineEditIn = Depends(json_body(LineEditIn)),
) -> Response:
    """Lower a line before anything ships (a higher quantity is 409: it would need a new
    authorization)."""

    async def work() -> tuple[int, object]:
        return await lifecycle_actions.edit_line(
            platform(request),
            order_id,
            line_id,
            data.quantity,
            operation_id=_operation_id(request, "ed"),
        )

    return await run_idempotent_steps(request, work)


@router.delete(
    "/orders/{order_id}/lines/{line_id}",
    openapi_extra=operation(ok={200: OrderOut}, idempotency="optional", problems=_MONEY_PROBLEMS),
)
async def remove_order_line(
    request: Request,
    order_id: str,
    line_id: str,
    _: Principal = Depends(requires(Scope.ORDERS_WRITE)),
) -> Response:
    """Remove a line before anything ships (the order's only line: cancel it instead)."""

    async def work() -> tuple[int, object]:
        return await lifecycle_actions.edit_line(
            platform(request), order_id, line_id, 0, operation_id=_operation_id(request, "ed")
        )

    return await run_idempotent_steps(request, work)


@router.post(
    "/orders/{order_id}/returns",
    status_code=201,
    openapi_extra=operation(
        ok={201: ReturnOut},
        body=ReturnIn,
        idempotency="optional",
        problems=[InvalidState, ValidationFailed],
    ),
)
async def request_return(
    request: Request,
    order_id: str,
    _: Principal = Depends(requires(Scope.ORDERS_WRITE)),
    data: ReturnIn = Depends(json_body(ReturnIn)),
) -> Response:
    """Ask back fulfilled units (`requested`); each unit can be returned once."""

    async def work(conn: Conn) -> tuple[int, object]:
        return 201, await lifecycle.request_return(
            conn, order_id, _lines(data.lines), reason=data.reason
        )

    return await run_idempotent(request, work)


@router.post(
    "/returns/{return_id}/receive",
    openapi_extra=operation(
        ok={200: ReturnOut},
        body=ReceiveIn,
        idempotency="optional",
        problems=[InvalidState, ValidationFailed],
    ),
)
async def receive_return(
    request: Request,
    return_id: str,
    _: Principal = Depends(requires(Scope.ORDERS_WRITE)),
    data: ReceiveIn = Depends(json_body(ReceiveIn)),
) -> Response:
    """The goods arrived (`received`); `restock: true` puts units back on hand."""
    received = [LineQuantity(r.line_id, r.quantity, r.restock) for r in data.lines]

    async def work(conn: Conn) -> tuple[int, object]:
        return 200, await lifecycle.receive_return(conn, return_id, received)

    return await run_idempotent(request, work)


@router.post(
    "/returns/{return_id}/refund",
    openapi_extra=operation(
        ok={200: RefundedReturnOut}, idempotency="optional", problems=_MONEY_PROBLEMS
    ),
)
async def refund_return(
    request: Request, return_id: str, _: Principal = Depends(requires(Scope.ORDERS_WRITE))
) -> Response:
    """Refund the units received, at their allocated value (`refunded`)."""

    async def work() -> tuple[int, object]:
        return await lifecycle_actions.refund_return(platform(request), return_id)

    return await run_idempotent_steps(request, work)
