from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from cartwright.access.scopes import Scope
from cartwright.access.service import Principal
from cartwright.kit.errors import ValidationFailed
from cartwright.orders import service
from cartwright.orders.schemas import OrderOut, OrderPage
from cartwright.web.deps import Page, Shopper, page, platform, requires, shopper
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
