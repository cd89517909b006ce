from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from cartwright.access.scopes import Scope
from cartwright.access.service import Principal
from cartwright.checkout import service
from cartwright.checkout.schemas import CheckoutIn
from cartwright.orders import service as orders
from cartwright.web.body import body_doc, json_body
from cartwright.web.deps import caller, platform, requires
from cartwright.web.idempotent import (
    claim_for,
    count_replay,
    replay_headers,
    run_idempotent_steps,
)
from cartwright.web.responses import raw_json_response

router = APIRouter(prefix="/v1", tags=["checkout"])


@router.post(
    "/carts/{cart_id}/checkout",
    status_code=201,
    openapi_extra=body_doc(CheckoutIn),
    responses={
        202: {"description": "Order placed; payment pending or needs 3-D Secure"},
        402: {"description": "payment_declined"},
        409: {
            "description": "insufficient_stock, cart_not_ready, cart_closed, cart_changed,"
            " idempotency_key_in_use"
        },
        503: {"description": "provider_unavailable (stored); service_unavailable (retry)"},
    },
)
async def checkout(
    request: Request,
    cart_id: str,
    _: Principal = Depends(requires(Scope.CHECKOUT)),
    data: CheckoutIn = Depends(json_body(CheckoutIn)),
) -> Response:
    claim = claim_for(request, required=True)
    assert claim is not None
    p = platform(request)
    answer = await service.checkout(p, cart_id=cart_id, token=data.payment.token, claim=claim)
    headers = dict(answer.headers or {})
    if answer.replayed:
        count_replay(request)
        headers.update(replay_headers(answer.status))
    return raw_json_response(service.with_order_token(p, answer), answer.status, headers)


@router.post("/orders/{order_id}/payment/confirm", tags=["orders"])
async def confirm_payment(
    request: Request, order_id: str, principal: Principal = Depends(caller)
) -> Response:
    """The shopper passed 3-D Secure: the order's payment moves on. A publishable key
    needs the order's `Cartwright-Order-Token`."""
    if principal.is_publishable:
        p = platform(request)
        async with p.db.connection() as conn:
            await orders.require_token_access(
                conn, p.secrets, order_id, request.headers.get(orders.ORDER_TOKEN_HEADER)
            )
    else:
        principal.require(Scope.ORDERS_WRITE)

    async def confirm() -> tuple[int, object]:
        return 200, await service.confirm_payment(platform(request), order_id)

    return await run_idempotent_steps(request, confirm)
