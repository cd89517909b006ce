from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from cartwright.access.scopes import Scope
from cartwright.access.service import Principal
from cartwright.checkout import service
from cartwright.checkout.schemas import CheckoutIn
from cartwright.web.body import body_doc, json_body
from cartwright.web.deps import platform, requires
from cartwright.web.idempotent import REPLAYED, claim_for
from cartwright.web.responses import raw_json_response

router = APIRouter(prefix="/v1", tags=["checkout"])


@router.post(
    "/carts/{cart_id}/checkout",
    status_code=201,
    openapi_extra=body_doc(CheckoutIn),
    responses={
        202: {"description": "Order placed; payment pending or needs 3-D Secure"},
        402: {"description": "payment_declined"},
        409: {"description": "insufficient_stock, cart_not_ready, cart_closed, idempotency_key_in_use"},
        503: {"description": "provider_unavailable"},
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
    answer = await service.checkout(
        platform(request), cart_id=cart_id, token=data.payment.token, claim=claim
    )
    headers = dict(answer.headers or {})
    if answer.replayed:
        headers.update(REPLAYED)
    return raw_json_response(answer.body, answer.status, headers)
