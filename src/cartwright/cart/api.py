from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from cartwright.access.scopes import Scope
from cartwright.access.service import Principal
from cartwright.cart import service
from cartwright.cart.schemas import CartIn, CartUpdate, LineIn, LineUpdate
from cartwright.kit.db import Conn
from cartwright.web.body import body_doc, json_body
from cartwright.web.deps import platform, requires
from cartwright.web.idempotent import run_idempotent
from cartwright.web.responses import json_response

router = APIRouter(prefix="/v1", tags=["cart"])
storefront = requires(Scope.CARTS_WRITE)


@router.post("/carts", status_code=201, openapi_extra=body_doc(CartIn))
async def create_cart(
    request: Request,
    _: Principal = Depends(storefront),
    data: CartIn = Depends(json_body(CartIn)),
) -> Response:
    pricing = platform(request).pricing

    async def work(conn: Conn) -> tuple[int, object]:
        return 201, await service.create_cart(conn, pricing, data)

    return await run_idempotent(request, work)


@router.get("/carts/{cart_id}")
async def get_cart(request: Request, cart_id: str, _: Principal = Depends(storefront)) -> Response:
    p = platform(request)
    async with p.db.connection() as conn:
        return json_response(await service.get_cart(conn, p.pricing, cart_id))


@router.patch("/carts/{cart_id}", openapi_extra=body_doc(CartUpdate))
async def update_cart(
    request: Request,
    cart_id: str,
    _: Principal = Depends(storefront),
    data: CartUpdate = Depends(json_body(CartUpdate)),
) -> Response:
    p = platform(request)
    async with p.db.transaction() as conn:
        return json_response(await service.update_cart(conn, p.pricing, cart_id, data))


@router.post("/carts/{cart_id}/lines", openapi_extra=body_doc(LineIn))
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


@router.patch("/carts/{cart_id}/lines/{line_id}", openapi_extra=body_doc(LineUpdate))
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


@router.delete("/carts/{cart_id}/lines/{line_id}")
async def remove_line(
    request: Request, cart_id: str, line_id: str, _: Principal = Depends(storefront)
) -> Response:
    p = platform(request)
    async with p.db.transaction() as conn:
        return json_response(await service.remove_line(conn, p.pricing, cart_id, line_id))


@router.get("/carts/{cart_id}/shipping-methods")
async def shipping_methods(
    request: Request, cart_id: str, _: Principal = Depends(storefront)
) -> Response:
    p = platform(request)
    async with p.db.connection() as conn:
        return json_response(await service.shipping_methods(conn, p.pricing, cart_id))
