from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from cartwright.access.scopes import Scope
from cartwright.cart.errors import CartChanging, CartClosed, CartNotReady
from cartwright.checkout import notices, service
from cartwright.checkout.schemas import CheckoutIn, ConfirmIn
from cartwright.flags.errors import CheckoutDisabled
from cartwright.inventory.errors import InsufficientStock
from cartwright.kit.errors import ProviderUnavailable
from cartwright.orders import service as orders
from cartwright.orders.schemas import OrderOut, PlacedOrderOut
from cartwright.payments.errors import PaymentDeclined, WebhookRejected
from cartwright.web.body import json_body, optional_json_body
from cartwright.web.deps import Shopper, platform, shopper
from cartwright.web.idempotent import (
    checked_claim,
    count_replay,
    replay_headers,
    run_idempotent_steps,
)
from cartwright.web.openapi import ORDER_TOKEN, operation, storefront_operation
from cartwright.web.ratelimit import check_open_checkouts, count_open_checkout
from cartwright.web.responses import raw_json_response

router = APIRouter(prefix="/v1", tags=["checkout"])


_ORDER = {"order_id": "$response.body#/id"}
_ORDER_LINKS = {
    "GetOrder": {
        "operationId": "get_order",
        "parameters": {**_ORDER, "header.Cartwright-Order-Token": "$response.body#/access_token"},
    },
    "ConfirmPayment": {
        "operationId": "confirm_payment",
        "parameters": {**_ORDER, "header.Cartwright-Order-Token": "$response.body#/access_token"},
    },
}


_checkout_key = shopper(Scope.CHECKOUT)


async def checkout_shopper(request: Request) -> Shopper:
    """The key (scope `checkout`), the customer token, then the cart must be the caller's
    (404 otherwise): all before the body is validated."""
    who = await _checkout_key(request)

    async def visible() -> None:  # checked by the saga's read; here only before a 422
        await service.require_cart_visible(
            platform(request), who.viewer, request.path_params["cart_id"]
        )

    request.state.refuse_first = visible
    return who


@router.post(
    "/carts/{cart_id}/checkout",
    status_code=201,
    openapi_extra=storefront_operation(
        ok={201: PlacedOrderOut, 202: PlacedOrderOut},
        body=CheckoutIn,
        idempotency="required",
        problems=[
            PaymentDeclined,
            InsufficientStock,
            CartNotReady,
            CartClosed,
            CartChanging,
            ProviderUnavailable,
            CheckoutDisabled,
            (429, "rate_limited"),
        ],
        links={201: _ORDER_LINKS, 202: _ORDER_LINKS},
    ),
)
async def checkout(
    request: Request,
    cart_id: str,
    who: Shopper = Depends(checkout_shopper),
    data: CheckoutIn = Depends(json_body(CheckoutIn)),
) -> Response:
    claim = await checked_claim(request, required=True)
    assert claim is not None
    p = platform(request)
    # One client address may leave only so many checkouts holding stock unpaid.
    await check_open_checkouts(p, who.principal)
    answer = await service.checkout(
        p, cart_id=cart_id, token=data.payment.token, claim=claim, viewer=who.viewer
    )
    if answer.status == 202 and not answer.replayed:
        await count_open_checkout(p, who.principal)
    headers = dict(answer.headers or {})
    if answer.replayed:
        count_replay(request)
        headers.update(replay_headers(answer.status))
    return raw_json_response(service.with_order_token(p, answer), answer.status, headers)


_any_key = shopper()


async def order_confirmer(request: Request) -> Shopper:
    """Who may confirm the order's payment, checked before the body is read: a secret key
    with `orders:write`, or a storefront with the order's token or its customer's."""
    who = await _any_key(request)
    if who.principal.is_publishable:
        p = platform(request)
        async with p.db.connection() as conn:
            await orders.require_token_access(
                conn,
                p.secrets,
                request.path_params["order_id"],
                request.headers.get(orders.ORDER_TOKEN_HEADER),
                who.customer_id,
            )
    else:
        who.principal.require(Scope.ORDERS_WRITE)
    return who


@router.post(
    "/orders/{order_id}/payment/confirm",
    tags=["orders"],
    openapi_extra=storefront_operation(
        ok={200: OrderOut},
        params=[ORDER_TOKEN],
        body=ConfirmIn,
        body_required=False,
        idempotency="optional",
        problems=[ProviderUnavailable],
    ),
)
async def confirm_payment(
    request: Request,
    order_id: str,
    _: Shopper = Depends(order_confirmer),
    data: ConfirmIn = Depends(optional_json_body(ConfirmIn)),
) -> Response:
    """The shopper passed 3-D Secure or came back from a redirect: the order's payment
    moves on. A publishable key needs the order's `Cartwright-Order-Token` or the token of
    the customer it belongs to."""

    async def confirm() -> tuple[int, object]:
        return 200, await service.confirm_payment(platform(request), order_id, data.details)

    return await run_idempotent_steps(request, confirm)


@router.post(
    "/webhooks/psp/{provider}",
    tags=["payments"],
    openapi_extra=operation(
        ok={200: {"description": "The provider's expected acknowledgement"}},
        public=True,
        problems=[WebhookRejected, (413, "payload_too_large")],
    ),
)
async def provider_webhook(request: Request, provider: str) -> Response:
    """A payment provider's notification (no key: the provider's signature instead). A
    bad signature, a stale timestamp or a changed body is 400 and changes nothing; an
    event delivered again changes nothing either."""
    p = platform(request)
    ack = await notices.receive(p, provider, request.headers, await request.body())
    is_json = ack[:1] in (b"{", b"[") and ack != b"[accepted]"
    media_type = "application/json" if is_json else "text/plain"
    return Response(ack, 200, media_type=media_type)
