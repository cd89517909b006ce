"""Routes of `/v1/promotions` (docs/promotions.md). The cart's codes are the cart's
routes (`cart/api.py`)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from cartwright.access.scopes import Scope
from cartwright.access.service import Principal
from cartwright.kit.db import Conn, UniqueViolation
from cartwright.kit.errors import ValidationFailed
from cartwright.promotions import service
from cartwright.promotions.errors import PromotionCodeTaken, PromotionNotFound
from cartwright.promotions.schemas import (
    CodePage,
    CodesIn,
    CodesOut,
    PromotionIn,
    PromotionOut,
    PromotionPage,
    PromotionPatch,
)
from cartwright.web.body import json_body
from cartwright.web.deps import Page, page, platform, requires
from cartwright.web.idempotent import run_idempotent
from cartwright.web.openapi import LIST_PARAMS, operation
from cartwright.web.responses import json_response

router = APIRouter(prefix="/v1", tags=["promotions"])
reader = requires(Scope.PROMOTIONS_READ)
writer = requires(Scope.PROMOTIONS_WRITE)
# Generated codes are random (60 bits each): one colliding with a code that exists is
# all but impossible, and then the batch is made again.
CODE_ATTEMPTS = 3
# `null` changes nothing for these (they cannot be empty); it clears the others.
_NOT_CLEARED = ("name", "stacking", "priority", "value")


@router.post(
    "/promotions",
    status_code=201,
    openapi_extra=operation(
        ok={201: PromotionOut},
        body=PromotionIn,
        idempotency="optional",
        problems=[PromotionCodeTaken],
    ),
)
async def create_promotion(
    request: Request,
    _: Principal = Depends(writer),
    data: PromotionIn = Depends(json_body(PromotionIn)),
) -> Response:
    fields = data.model_dump()

    async def work(conn: Conn) -> tuple[int, object]:
        return 201, await service.create(conn, fields)

    response = await run_idempotent(request, work)
    platform(request).pricing.promotions.forget()
    return response


@router.get(
    "/promotions",
    openapi_extra=operation(
        ok={200: PromotionPage}, params=LIST_PARAMS, problems=[ValidationFailed]
    ),
)
async def list_promotions(
    request: Request, _: Principal = Depends(reader), paging: Page = Depends(page)
) -> Response:
    async with platform(request).db.connection() as conn:
        body = await service.list_page(
            conn, limit=paging.limit, starting_after=paging.starting_after
        )
    return json_response(body)


@router.get(
    "/promotions/{promotion_id}",
    openapi_extra=operation(ok={200: PromotionOut}, problems=[PromotionNotFound]),
)
async def get_promotion(
    request: Request, promotion_id: str, _: Principal = Depends(reader)
) -> Response:
    async with platform(request).db.connection() as conn:
        return json_response(await service.get(conn, promotion_id))


@router.patch(
    "/promotions/{promotion_id}",
    openapi_extra=operation(
        ok={200: PromotionOut}, body=PromotionPatch, problems=[PromotionNotFound]
    ),
)
async def update_promotion(
    request: Request,
    promotion_id: str,
    _: Principal = Depends(writer),
    data: PromotionPatch = Depends(json_body(PromotionPatch)),
) -> Response:
    fields = {
        k: getattr(data, k)
        for k in data.model_fields_set
        if getattr(data, k) is not None or k not in _NOT_CLEARED
    }
    p = platform(request)
    async with p.db.transaction() as conn:
        body = await service.update(conn, promotion_id, fields)
    p.pricing.promotions.forget()
    return json_response(body)


@router.post(
    "/promotions/{promotion_id}/deactivate",
    openapi_extra=operation(
        ok={200: PromotionOut}, idempotency="optional", problems=[PromotionNotFound]
    ),
)
async def deactivate_promotion(
    request: Request, promotion_id: str, _: Principal = Depends(writer)
) -> Response:
    async def work(conn: Conn) -> tuple[int, object]:
        return 200, await service.deactivate(conn, promotion_id)

    response = await run_idempotent(request, work)
    platform(request).pricing.promotions.forget()
    return response


@router.post(
    "/promotions/{promotion_id}/codes",
    status_code=201,
    openapi_extra=operation(
        ok={201: CodesOut}, body=CodesIn, idempotency="optional", problems=[PromotionNotFound]
    ),
)
async def generate_codes(
    request: Request,
    promotion_id: str,
    _: Principal = Depends(writer),
    data: CodesIn = Depends(json_body(CodesIn)),
) -> Response:
    """`count` single-use codes (up to 100,000 per request), each usable by one order.
    A promotion with codes applies only to carts holding one of them."""

    async def work(conn: Conn) -> tuple[int, object]:
        return 201, await service.generate_codes(conn, promotion_id, data.count, data.prefix)

    for attempt in range(CODE_ATTEMPTS):
        try:
            response = await run_idempotent(request, work)
            break
        except UniqueViolation:  # nothing was kept (the transaction rolled back)
            if attempt == CODE_ATTEMPTS - 1:
                raise
    platform(request).pricing.promotions.forget()
    return response


@router.get(
    "/promotions/{promotion_id}/codes",
    openapi_extra=operation(
        ok={200: CodePage}, params=LIST_PARAMS, problems=[PromotionNotFound, ValidationFailed]
    ),
)
async def list_codes(
    request: Request,
    promotion_id: str,
    _: Principal = Depends(reader),
    paging: Page = Depends(page),
) -> Response:
    async with platform(request).db.connection() as conn:
        body = await service.list_codes(
            conn, promotion_id, limit=paging.limit, starting_after=paging.starting_after
        )
    return json_response(body)
