from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from cartwright.access.scopes import Scope
from cartwright.cart import service
from cartwright.cart.errors import CartClosed, CartLineLimit
from cartwright.cart.schemas import CartIn, CartOut, CartUpdate, LineIn, LineUpdate, ShippingMethods
from cartwright.kit.db import Conn
from cartwright.promotions.errors import PromotionInvalid
from cartwright.promotions.schemas import CartCodeIn
from cartwright.web.body import json_body
from cartwright.web.deps import Shopper, customer_shopper, platform, shopper
from cartwright.web.idempotent import run_idempotent
from cartwright.web.openapi import storefront_operation
from cartwright.web.responses import json_response

router = APIRouter(prefix="/v1", tags=["cart"])
# The key, then the customer token (a cart of a signed-in customer opens only for them).
_storefront = shopper(Scope.CARTS_WRITE)


async def storefront(request: Request) -> Shopper:
    """The key, then the customer token, then the cart of the path must be the caller's
    (404 otherwise): all before the body is validated."""
    who = await _storefront(request)
    cart_id = request.path_params.get("cart_id")
    if cart_id is not None:
        # Checked by every cart service as it reads the cart; here only before a 422 (one
        # read fewer on every valid request).
        async def visible() -> None:
            async with platform(request).db.connection() as conn:
                await service.ensure_visible(conn, who.viewer, cart_id)

        request.state.refuse_first = visible
    return who


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
    openapi_extra=storefront_operation(
        ok={201: CartOut}, body=CartIn, idempotency="optional", links={201: CART_LINKS}
    ),
)
async def create_cart(
    request: Request,
    who: Shopper = Depends(storefront),
    data: CartIn = Depends(json_body(CartIn)),
) -> Response:
    pricing = platform(request).pricing

    async def work(conn: Conn) -> tuple[int, object]:
        return 201, await service.create_cart(
            conn,
            pricing,
            data,
            customer_id=who.customer_id,
            customer_email=who.customer.email if who.customer else None,
            channel=who.channel,
        )

    return await run_idempotent(request, work)


@router.get("/carts/{cart_id}", openapi_extra=storefront_operation(ok={200: CartOut}))
async def get_cart(request: Request, cart_id: str, who: Shopper = Depends(storefront)) -> Response:
    p = platform(request)
    async with p.db.connection() as conn:
        return json_response(await service.get_cart(conn, p.pricing, who.viewer, cart_id))


@router.patch(
    "/carts/{cart_id}",
    openapi_extra=storefront_operation(ok={200: CartOut}, body=CartUpdate, problems=[CartClosed]),
)
async def update_cart(
    request: Request,
    cart_id: str,
    who: Shopper = Depends(storefront),
    data: CartUpdate = Depends(json_body(CartUpdate)),
) -> Response:
    p = platform(request)
    async with p.db.transaction() as conn:
        return json_response(await service.update_cart(conn, p.pricing, who.viewer, cart_id, data))


@router.post(
    "/carts/{cart_id}/lines",
    openapi_extra=storefront_operation(
        ok={200: CartOut},
        body=LineIn,
        problems=[CartClosed, CartLineLimit],
        idempotency="optional",
        links={200: LINE_LINKS},
    ),
)
async def add_line(
    request: Request,
    cart_id: str,
    who: Shopper = Depends(storefront),
    data: LineIn = Depends(json_body(LineIn)),
) -> Response:
    pricing = platform(request).pricing

    async def work(conn: Conn) -> tuple[int, object]:
        return 200, await service.add_line(conn, pricing, who.viewer, cart_id, data)

    return await run_idempotent(request, work)


@router.patch(
    "/carts/{cart_id}/lines/{line_id}",
    openapi_extra=storefront_operation(ok={200: CartOut}, body=LineUpdate, problems=[CartClosed]),
)
async def change_line(
    request: Request,
    cart_id: str,
    line_id: str,
    who: Shopper = Depends(storefront),
    data: LineUpdate = Depends(json_body(LineUpdate)),
) -> Response:
    p = platform(request)
    async with p.db.transaction() as conn:
        body = await service.change_line(
            conn, p.pricing, who.viewer, cart_id, line_id, data.quantity
        )
    return json_response(body)


@router.delete(
    "/carts/{cart_id}/lines/{line_id}",
    openapi_extra=storefront_operation(ok={200: CartOut}, problems=[CartClosed]),
)
async def remove_line(
    request: Request, cart_id: str, line_id: str, who: Shopper = Depends(storefront)
) -> Response:
    p = platform(request)
    async with p.db.transaction() as conn:
        return json_response(
            await service.remove_line(conn, p.pricing, who.viewer, cart_id, line_id)
        )


@router.get(
    "/carts/{cart_id}/shipping-methods",
    openapi_extra=storefront_operation(ok={200: ShippingMethods}),
)
async def shipping_methods(
    request: Request, cart_id: str, who: Shopper = Depends(storefront)
) -> Response:
    p = platform(request)
    async with p.db.connection() as conn:
        return json_response(await service.shipping_methods(conn, p.pricing, who.viewer, cart_id))


@router.post(
    "/carts/{cart_id}/claim",
    openapi_extra=storefront_operation(
        ok={200: CartOut}, problems=[CartClosed], idempotency="optional", links={200: CART_LINKS}
    ),
)
async def claim_cart(
    request: Request, cart_id: str, who: Shopper = Depends(customer_shopper(Scope.CARTS_WRITE))
) -> Response:
    """A signed-in shopper takes over the guest cart they filled before signing in. Theirs
    already: 200 as it is; another customer's: 404; checked out: 409 `cart_closed`."""
    assert who.customer is not None
    customer = who.customer
    pricing = platform(request).pricing

    async def work(conn: Conn) -> tuple[int, object]:
        return 200, await service.claim(
            conn, pricing, cart_id, customer_id=customer.id, email=customer.email
        )

    return await run_idempotent(request, work)


@router.post(
    "/carts/{cart_id}/promotion-codes",
    openapi_extra=storefront_operation(
        ok={200: CartOut},
        body=CartCodeIn,
        problems=[CartClosed, PromotionInvalid],
        idempotency="optional",
    ),
)
async def add_promotion_code(
    request: Request,
    cart_id: str,
    who: Shopper = Depends(storefront),
    data: CartCodeIn = Depends(json_body(CartCodeIn)),
) -> Response:
    """Apply a code (case does not matter). Unknown, expired, used up or not for this cart's
    currency or channel: 422 `promotion_invalid` with its `reason`. A code whose conditions
    the cart does not meet yet (a minimum subtotal, SKUs) stays: `promotions_considered`
    says why it does not apply."""
    pricing = platform(request).pricing

    async def work(conn: Conn) -> tuple[int, object]:
        return 200, await service.add_code(conn, pricing, who.viewer, cart_id, data.code)

    return await run_idempotent(request, work)


@router.delete(
    "/carts/{cart_id}/promotion-codes/{code}",
    openapi_extra=storefront_operation(ok={200: CartOut}, problems=[CartClosed]),
)
async def remove_promotion_code(
    request: Request, cart_id: str, code: str, who: Shopper = Depends(storefront)
) -> Response:
    p = platform(request)
    async with p.db.transaction() as conn:
        return json_response(await service.remove_code(conn, p.pricing, who.viewer, cart_id, code))
