"""Routes of `/v1/channels` and `/v1/price-lists` (docs/channels.md)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from cartwright.access.scopes import Scope
from cartwright.access.service import Principal
from cartwright.channels import service
from cartwright.channels.errors import ChannelCodeTaken, ChannelNotFound, PriceListNotFound
from cartwright.channels.schemas import (
    ChannelIn,
    ChannelOut,
    ChannelPage,
    ChannelPatch,
    PriceListIn,
    PriceListOut,
    PriceListPage,
    PriceListPatch,
    PricesIn,
)
from cartwright.kit.db import Conn
from cartwright.kit.errors import ValidationFailed
from cartwright.web.body import json_body
from cartwright.web.deps import Page, page, platform, requires
from cartwright.web.idempotent import run_idempotent
from cartwright.web.openapi import LIST_PARAMS, operation, query
from cartwright.web.responses import json_response

router = APIRouter(prefix="/v1", tags=["channels"])
channel_reader = requires(Scope.CHANNELS_READ)
channel_writer = requires(Scope.CHANNELS_WRITE)


@router.post(
    "/channels",
    status_code=201,
    openapi_extra=operation(
        ok={201: ChannelOut}, body=ChannelIn, idempotency="optional", problems=[ChannelCodeTaken]
    ),
)
async def create_channel(
    request: Request,
    _: Principal = Depends(channel_writer),
    data: ChannelIn = Depends(json_body(ChannelIn)),
) -> Response:
    fields = data.model_dump()

    async def work(conn: Conn) -> tuple[int, object]:
        return 201, await service.create_channel(conn, fields)

    return await run_idempotent(request, work)


@router.get(
    "/channels",
    openapi_extra=operation(ok={200: ChannelPage}, params=LIST_PARAMS, problems=[ValidationFailed]),
)
async def list_channels(
    request: Request, _: Principal = Depends(channel_reader), paging: Page = Depends(page)
) -> Response:
    async with platform(request).db.connection() as conn:
        body = await service.list_channels(
            conn, limit=paging.limit, starting_after=paging.starting_after
        )
    return json_response(body)


@router.get(
    "/channels/{channel_id}",
    openapi_extra=operation(ok={200: ChannelOut}, problems=[ChannelNotFound]),
)
async def get_channel(
    request: Request, channel_id: str, _: Principal = Depends(channel_reader)
) -> Response:
    async with platform(request).db.connection() as conn:
        return json_response(await service.get_channel(conn, channel_id))


@router.patch(
    "/channels/{channel_id}",
    openapi_extra=operation(ok={200: ChannelOut}, body=ChannelPatch, problems=[ChannelNotFound]),
)
async def update_channel(
    request: Request,
    channel_id: str,
    _: Principal = Depends(channel_writer),
    data: ChannelPatch = Depends(json_body(ChannelPatch)),
) -> Response:
    # `null` clears only what may be empty (the capture method, the price list); for the
    # other fields it changes nothing, as leaving them out does.
    fields = {
        k: getattr(data, k)
        for k in data.model_fields_set
        if getattr(data, k) is not None or k in ("capture_method", "price_list_id")
    }
    async with platform(request).db.transaction() as conn:
        body = await service.update_channel(conn, channel_id, fields)
    return json_response(body)


# ---------------------------------------------------------------------------- price lists

MAX_TIER = 1_000_000  # as PriceIn.min_quantity
pricing_reader = requires(Scope.PRICING_READ)
pricing_writer = requires(Scope.PRICING_WRITE)


@router.post(
    "/price-lists",
    status_code=201,
    openapi_extra=operation(ok={201: PriceListOut}, body=PriceListIn, idempotency="optional"),
)
async def create_price_list(
    request: Request,
    _: Principal = Depends(pricing_writer),
    data: PriceListIn = Depends(json_body(PriceListIn)),
) -> Response:
    fields = data.model_dump()
    p = platform(request)

    async def work(conn: Conn) -> tuple[int, object]:
        return 201, await service.create_price_list(conn, fields)

    response = await run_idempotent(request, work)
    p.pricing.price_lists.forget()
    return response


@router.get(
    "/price-lists",
    openapi_extra=operation(
        ok={200: PriceListPage}, params=LIST_PARAMS, problems=[ValidationFailed]
    ),
)
async def list_price_lists(
    request: Request, _: Principal = Depends(pricing_reader), paging: Page = Depends(page)
) -> Response:
    async with platform(request).db.connection() as conn:
        body = await service.list_price_lists(
            conn, limit=paging.limit, starting_after=paging.starting_after
        )
    return json_response(body)


@router.get(
    "/price-lists/{price_list_id}",
    openapi_extra=operation(ok={200: PriceListOut}, problems=[PriceListNotFound]),
)
async def get_price_list(
    request: Request, price_list_id: str, _: Principal = Depends(pricing_reader)
) -> Response:
    async with platform(request).db.connection() as conn:
        return json_response(await service.get_price_list(conn, price_list_id))


@router.patch(
    "/price-lists/{price_list_id}",
    openapi_extra=operation(
        ok={200: PriceListOut}, body=PriceListPatch, problems=[PriceListNotFound]
    ),
)
async def update_price_list(
    request: Request,
    price_list_id: str,
    _: Principal = Depends(pricing_writer),
    data: PriceListPatch = Depends(json_body(PriceListPatch)),
) -> Response:
    # `null` clears a nullable field; for `name` and `priority` it changes nothing.
    fields = {
        k: getattr(data, k)
        for k in data.model_fields_set
        if getattr(data, k) is not None or k not in ("name", "priority")
    }
    p = platform(request)
    async with p.db.transaction() as conn:
        body = await service.update_price_list(conn, price_list_id, fields)
    p.pricing.price_lists.forget()
    return json_response(body)


@router.put(
    "/price-lists/{price_list_id}/prices",
    openapi_extra=operation(ok={200: PriceListOut}, body=PricesIn, problems=[PriceListNotFound]),
)
async def set_prices(
    request: Request,
    price_list_id: str,
    _: Principal = Depends(pricing_writer),
    data: PricesIn = Depends(json_body(PricesIn)),
) -> Response:
    """Add or replace prices (by SKU, currency and `min_quantity`, default 1); the others
    stay."""
    prices = [(x.sku, x.currency, x.amount, x.min_quantity) for x in data.root]
    p = platform(request)
    async with p.db.transaction() as conn:
        body = await service.set_prices(conn, price_list_id, prices)
    p.pricing.price_lists.forget()
    return json_response(body)


@router.delete(
    "/price-lists/{price_list_id}/prices/{sku}",
    openapi_extra=operation(
        ok={200: PriceListOut},
        params=[
            query(
                "currency",
                {"type": "string", "pattern": "^[A-Z]{3}$"},
                "The price's currency.",
                required=True,
            ),
            query(
                "min_quantity",
                {"type": "integer", "minimum": 1, "maximum": MAX_TIER},
                "The price's tier (default 1).",
            ),
        ],
        problems=[PriceListNotFound, ValidationFailed],
    ),
)
async def delete_price(
    request: Request, price_list_id: str, sku: str, _: Principal = Depends(pricing_writer)
) -> Response:
    """Remove one price: `?currency=EUR` (required) and `&min_quantity=` (default 1)."""
    params = request.query_params
    currency = params.get("currency") or ""
    if len(currency) != 3 or not currency.isalpha() or not currency.isupper():
        raise ValidationFailed.field("currency", "is required: an ISO 4217 code, e.g. EUR")
    try:
        min_quantity = int(params.get("min_quantity", "1"))
    except ValueError:
        raise ValidationFailed.field(
            "min_quantity", f"must be an integer from 1 to {MAX_TIER}"
        ) from None
    if not 1 <= min_quantity <= MAX_TIER:
        raise ValidationFailed.field("min_quantity", f"must be an integer from 1 to {MAX_TIER}")
    p = platform(request)
    async with p.db.transaction() as conn:
        body = await service.delete_price(
            conn, price_list_id, sku=sku, currency=currency, min_quantity=min_quantity
        )
    p.pricing.price_lists.forget()
    return json_response(body)
