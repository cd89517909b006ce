"""Routes of `/v1/webhook-endpoints` and `/v1/webhook-deliveries` (docs/webhooks.md)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from cartwright.access.scopes import Scope
from cartwright.access.service import Principal
from cartwright.kit.db import Conn
from cartwright.kit.errors import ValidationFailed
from cartwright.web.body import json_body, optional_json_body
from cartwright.web.deps import Page, page, platform, requires
from cartwright.web.idempotent import run_idempotent
from cartwright.web.openapi import LIST_PARAMS, operation
from cartwright.web.responses import json_response
from cartwright.webhooks import addresses, service
from cartwright.webhooks.errors import DeliveryNotFound, EndpointNotFound
from cartwright.webhooks.schemas import (
    DeliveryDetailOut,
    DeliveryPage,
    EndpointIn,
    EndpointOut,
    EndpointPage,
    EndpointPatch,
    NewEndpointOut,
    ReplayIn,
    ReplayOut,
    RotatedOut,
    RotateIn,
)

router = APIRouter(prefix="/v1", tags=["webhooks"])
reader = requires(Scope.WEBHOOKS_READ)
writer = requires(Scope.WEBHOOKS_WRITE)


async def _vet(request: Request, url: str) -> None:
    await service.vet_url(
        url,
        allow_private=platform(request).settings.webhooks_allow_private,
        resolver=addresses.system_resolver,
    )


@router.post(
    "/webhook-endpoints",
    status_code=201,
    openapi_extra=operation(
        ok={201: NewEndpointOut}, body=EndpointIn, idempotency="optional", problems=[]
    ),
)
async def create_endpoint(
    request: Request,
    _: Principal = Depends(writer),
    data: EndpointIn = Depends(json_body(EndpointIn)),
) -> Response:
    """The endpoint with its signing `secret`, shown this once (a replay with the same
    Idempotency-Key shows it again: the stored answer is sealed)."""
    await _vet(request, data.url)
    keys = platform(request).secrets

    async def work(conn: Conn) -> tuple[int, object]:
        return 201, await service.create_endpoint(
            conn, keys, url=data.url, event_types=data.events, description=data.description
        )

    return await run_idempotent(request, work, sealed=True)


@router.get(
    "/webhook-endpoints",
    openapi_extra=operation(
        ok={200: EndpointPage}, params=LIST_PARAMS, problems=[ValidationFailed]
    ),
)
async def list_endpoints(
    request: Request, _: Principal = Depends(reader), paging: Page = Depends(page)
) -> Response:
    async with platform(request).db.connection() as conn:
        body = await service.list_endpoints(
            conn, limit=paging.limit, starting_after=paging.starting_after
        )
    return json_response(body)


@router.get(
    "/webhook-endpoints/{endpoint_id}",
    openapi_extra=operation(ok={200: EndpointOut}, problems=[EndpointNotFound]),
)
async def get_endpoint(
    request: Request, endpoint_id: str, _: Principal = Depends(reader)
) -> Response:
    async with platform(request).db.connection() as conn:
        return json_response(await service.get_endpoint(conn, endpoint_id))


@router.patch(
    "/webhook-endpoints/{endpoint_id}",
    openapi_extra=operation(ok={200: EndpointOut}, body=EndpointPatch, problems=[EndpointNotFound]),
)
async def update_endpoint(
    request: Request,
    endpoint_id: str,
    _: Principal = Depends(writer),
    data: EndpointPatch = Depends(json_body(EndpointPatch)),
) -> Response:
    if data.url is not None:
        await _vet(request, data.url)
    async with platform(request).db.transaction() as conn:
        body = await service.update_endpoint(
            conn,
            endpoint_id,
            url=data.url,
            event_types=data.events,
            enabled=data.enabled,
            description=data.description,
        )
    return json_response(body)


@router.delete(
    "/webhook-endpoints/{endpoint_id}",
    openapi_extra=operation(ok={200: EndpointOut}, problems=[EndpointNotFound]),
)
async def delete_endpoint(
    request: Request, endpoint_id: str, _: Principal = Depends(writer)
) -> Response:
    async with platform(request).db.transaction() as conn:
        return json_response(await service.delete_endpoint(conn, endpoint_id))


@router.post(
    "/webhook-endpoints/{endpoint_id}/rotate-secret",
    openapi_extra=operation(
        ok={200: RotatedOut},
        body=RotateIn,
        body_required=False,
        idempotency="optional",
        problems=[EndpointNotFound],
    ),
)
async def rotate_secret(
    request: Request,
    endpoint_id: str,
    _: Principal = Depends(writer),
    data: RotateIn = Depends(optional_json_body(RotateIn)),
) -> Response:
    """A new signing secret (shown once); the previous ones keep signing alongside it
    (several `v1=` in the signature) for `overlap_seconds` (default 24 h)."""
    keys = platform(request).secrets

    async def work(conn: Conn) -> tuple[int, object]:
        return 200, await service.rotate_secret(
            conn, keys, endpoint_id, overlap_s=data.overlap_seconds
        )

    return await run_idempotent(request, work, sealed=True)


@router.get(
    "/webhook-endpoints/{endpoint_id}/deliveries",
    openapi_extra=operation(
        ok={200: DeliveryPage}, params=LIST_PARAMS, problems=[ValidationFailed, EndpointNotFound]
    ),
)
async def list_deliveries(
    request: Request,
    endpoint_id: str,
    _: Principal = Depends(reader),
    paging: Page = Depends(page),
) -> Response:
    async with platform(request).db.connection() as conn:
        body = await service.list_deliveries(
            conn, endpoint_id, limit=paging.limit, starting_after=paging.starting_after
        )
    return json_response(body)


@router.get(
    "/webhook-deliveries/{delivery_id}",
    openapi_extra=operation(ok={200: DeliveryDetailOut}, problems=[DeliveryNotFound]),
)
async def get_delivery(
    request: Request, delivery_id: str, _: Principal = Depends(reader)
) -> Response:
    async with platform(request).db.connection() as conn:
        return json_response(await service.get_delivery(conn, delivery_id))


@router.post(
    "/webhook-deliveries/{delivery_id}/replay",
    status_code=201,
    openapi_extra=operation(
        ok={201: DeliveryDetailOut}, idempotency="optional", problems=[DeliveryNotFound]
    ),
)
async def replay_delivery(
    request: Request, delivery_id: str, _: Principal = Depends(writer)
) -> Response:
    """The delivery's event queued again as a new delivery (same event id)."""

    async def work(conn: Conn) -> tuple[int, object]:
        return 201, await service.replay_delivery(conn, delivery_id)

    return await run_idempotent(request, work)


@router.post(
    "/webhook-endpoints/{endpoint_id}/replay",
    status_code=202,
    openapi_extra=operation(
        ok={202: ReplayOut}, body=ReplayIn, idempotency="optional", problems=[EndpointNotFound]
    ),
)
async def replay_range(
    request: Request,
    endpoint_id: str,
    _: Principal = Depends(writer),
    data: ReplayIn = Depends(json_body(ReplayIn)),
) -> Response:
    """Every event written from `from` (inclusive) to `to` (exclusive) that the endpoint
    subscribes to, queued again as new deliveries."""

    async def work(conn: Conn) -> tuple[int, object]:
        return 202, await service.replay_range(conn, endpoint_id, start=data.start, end=data.end)

    return await run_idempotent(request, work)
