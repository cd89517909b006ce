"""Routes of `/v1/channels` and `/v1/price-lists` (docs/channels.md)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from cartwright.access.scopes import Scope
from cartwright.access.service import Principal
from cartwright.channels import service
from cartwright.channels.errors import ChannelCodeTaken, ChannelNotFound
from cartwright.channels.schemas import ChannelIn, ChannelOut, ChannelPage, ChannelPatch
from cartwright.kit.db import Conn
from cartwright.kit.errors import ValidationFailed
from cartwright.web.body import json_body
from cartwright.web.deps import Page, page, platform, requires
from cartwright.web.idempotent import run_idempotent
from cartwright.web.openapi import LIST_PARAMS, operation
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
    fields = {k: getattr(data, k) for k in data.model_fields_set}
    for name in ("name", "currencies", "prices_include_tax", "warehouses", "shipping_methods"):
        if name in fields and fields[name] is None:
            raise ValidationFailed.field(name, "cannot be null")
    if "fraud_failure_mode" in fields and fields["fraud_failure_mode"] is None:
        raise ValidationFailed.field("fraud_failure_mode", "cannot be null")
    async with platform(request).db.transaction() as conn:
        body = await service.update_channel(conn, channel_id, fields)
    return json_response(body)
