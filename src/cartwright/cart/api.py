from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from cartwright.access.scopes import Scope
from cartwright.access.service import Principal
from cartwright.cart import service
from cartwright.cart.errors import CartClosed
from cartwright.cart.schemas import CartIn, CartOut, CartUpdate, LineIn, LineUpdate, ShippingMethods
from cartwright.kit.db import Conn
from cartwright.web.body import json_body
from cartwright.web.deps import platform, requires
from cartwright.web.idempotent import run_idempotent
from cartwright.web.openapi import operation
from cartwright.web.responses import json_response

router = APIRouter(prefix="/v1", tags=["cart"])
storefront = requires(Scope.CARTS_WRITE)
_CART = {"cart_id": "$response.body#/id"}
# OpenAPI links: where a client goes from a cart (the path to an order).
CART_LINKS = {
    "GetCart": {"operationId": "get_cart", "parameters": _CART},
    "AddLine": {"operationId": "add_line", "parameters": _CART},
    "UpdateCart": {"operationId": "update_cart", "parameters": _CART},
    "ShippingMethods": {"operationId": "shipping_methods", "parameters": _CART},
    "Checkout": {"operationId": "checkout", "parameters": _CART},
}
_LINE = {**_CART, "line_id": "$response.body#/lines/0/id"}
LINE_LINKS = {
    **CART_LINKS,
    "ChangeLine": {"operationId": "change_line", "parameters": _LINE},
    "RemoveLine": {"operationId": "remove_line", "parameters": _LINE},
}


@router.post(
    "/carts",
    status_code=201,
    openapi_extra=operation(
        ok={201: CartOut}, body=CartIn, idempotency="optional", links={201: CART_LINKS}
    ),
)
async def create_cart(
    request: Request,
    _: Principal = Depends(storefront),
    data: CartIn = Depends(json_body(CartIn)),
) -> Response:
    pricing = platform(request).pricing

    async def work(conn: Conn) -> tuple[int, object]:
        return 201, await service.create_cart(conn, pricing, data)

    return await run_idempotent(request, work)


@router.get("/carts/{cart_id}", openapi_extra=operation(ok={200: CartOut}))
async def get_cart(request: Request, cart_id: str, _: Principal = Depends(storefront)) -> Response:
    p = platform(request)
    async with p.db.connection() as conn:
        return json_response(await service.get_cart(conn, p.pricing, cart_id))


@router.patch(
    "/carts/{cart_id}",
    openapi_extra=operation(ok={200: CartOut}, body=CartUpdate, problems=[CartClosed]),
)
async def update_cart(
    request: Request,
    cart_id: str,
    _: Principal = Depends(storefront),
    data: CartUpdate = Depends(json_body(CartUpdate)),
) -> Response:
    p = platform(request)
    async with p.db.transaction() as conn:
        return json_response(await service.update_cart(conn, p.pricing, cart_id, data))


@router.post(
    "/carts/{cart_id}/lines",
    openapi_extra=operation(
        ok={200: CartOut},
        body=LineIn,
        problems=[CartClosed],
        idempotency="optional",
        links={200: LINE_LINKS},
    ),
)
async def add_line(
    request: Request,
    cart_id: str,
    _: Principal = Depends(storefront),
    data: LineIn = Depends(json_body(LineIn)),
) -> Response:
    pricing = platform(request).pricing

    async def work(conn: Conn) -> tuple[int, object]:
        return 200, await service.add_line(conn, pricing, cart_id, data)

    return await run_idempotent(request, work)


@router.patch(
    "/carts/{cart_id}/lines/{line_id}",
    openapi_extra=operation(ok={200: CartOut}, body=LineUpdate, problems=[CartClosed]),
)
async def change_line(
    request: Request,
    cart_id: str,
    line_id: str,
    _: Principal = Depends(storefront),
    data: LineUpdate = Depends(json_body(LineUpdate)),
) -> Response:
    p = platform(request)
    async with p.db.transaction() as conn:
        body = await service.change_line(conn, p.pricing, cart_id, line_id, data.quantity)
    return json_response(body)


@router.delete(
    "/carts/{cart_id}/lines/{line_id}",
    openapi_extra=operation(ok={200: CartOut}, problems=[CartClosed]),
)
async def remove_line(
    request: Request, cart_id: str, line_id: str, _: Principal = Depends(storefront)
) -> Response:
    p = platform(request)
    async with p.db.transaction() as conn:
        return json_response(await service.remove_line(conn, p.pricing, cart_id, line_id))


@router.get("/carts/{cart_id}/shipping-methods", openapi_extra=operation(ok={200: ShippingMethods}))
async def shipping_methods(
    request: Request, cart_id: str, _: Principal = Depends(storefront)
) -> Response:
    p = platform(request)
    async with p.db.connection() as conn:
        return json_response(await service.shipping_methods(conn, p.pricing, cart_id))
