from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from cartwright.access import service
from cartwright.access.schemas import ApiKeyIn, ApiKeyOut, ApiKeyPage, NewApiKeyOut, RollIn
from cartwright.access.scopes import Scope
from cartwright.access.service import KeyType, Principal
from cartwright.kit.db import Conn
from cartwright.kit.errors import InvalidState, ValidationFailed
from cartwright.web.body import json_body, optional_json_body
from cartwright.web.deps import Page, page, platform, requires
from cartwright.web.idempotent import run_idempotent
from cartwright.web.openapi import LIST_PARAMS, operation
from cartwright.web.responses import json_response

router = APIRouter(prefix="/v1", tags=["access"])
admin = requires(Scope.KEYS_WRITE)


@router.post(
    "/api-keys",
    status_code=201,
    openapi_extra=operation(ok={201: NewApiKeyOut}, body=ApiKeyIn, idempotency="optional"),
)
async def create_key(
    request: Request,
    holder: Principal = Depends(admin),
    data: ApiKeyIn = Depends(json_body(ApiKeyIn)),
) -> Response:
    """A secret key gets only scopes its creator holds (403 `forbidden` otherwise)."""

    async def work(conn: Conn) -> tuple[int, object]:
        return 201, await service.create_key(
            conn,
            key_type=KeyType(data.type),
            name=data.name,
            scopes=data.scopes,
            holder=holder,
            expires_at=data.expires_at,
            channel=data.channel,
        )

    return await run_idempotent(request, work, sealed=True)


@router.get(
    "/api-keys",
    openapi_extra=operation(ok={200: ApiKeyPage}, params=LIST_PARAMS, problems=[ValidationFailed]),
)
async def list_keys(
    request: Request, _: Principal = Depends(admin), paging: Page = Depends(page)
) -> Response:
    async with platform(request).db.connection() as conn:
        body = await service.list_keys(
            conn, limit=paging.limit, starting_after=paging.starting_after
        )
    return json_response(body)


@router.get("/api-keys/{key_id}", openapi_extra=operation(ok={200: ApiKeyOut}))
async def get_key(request: Request, key_id: str, _: Principal = Depends(admin)) -> Response:
    async with platform(request).db.connection() as conn:
        return json_response(await service.get_key(conn, key_id))


@router.post(
    "/api-keys/{key_id}/roll",
    status_code=201,
    openapi_extra=operation(
        ok={201: NewApiKeyOut},
        body=RollIn,
        body_required=False,
        idempotency="optional",
        problems=[InvalidState],
    ),
)
async def roll_key(
    request: Request,
    key_id: str,
    holder: Principal = Depends(admin),
    data: RollIn = Depends(optional_json_body(RollIn)),
) -> Response:
    """A new key with the same type, name and scopes (shown once, `rolled_from` the old
    one); the old key keeps working for `overlap_s` seconds (default 24 h)."""

    async def work(conn: Conn) -> tuple[int, object]:
        return 201, await service.roll_key(
            conn,
            key_id,
            holder=holder,
            overlap_s=data.overlap_s,
            expires_in_s=data.expires_in_s,
        )

    response = await run_idempotent(request, work, sealed=True)
    platform(request).keys.forget(key_id)
    return response


@router.delete("/api-keys/{key_id}", openapi_extra=operation(ok={200: ApiKeyOut}))
async def revoke_key(request: Request, key_id: str, _: Principal = Depends(admin)) -> Response:
    async with platform(request).db.transaction() as conn:
        body = await service.revoke_key(conn, key_id)
    platform(request).keys.forget(key_id)
    return json_response(body)
