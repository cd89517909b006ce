"""Routes of `/v1/flags` (docs/flags.md): feature flags and kill switches."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from cartwright.access.scopes import Scope
from cartwright.access.service import Principal
from cartwright.flags import service
from cartwright.flags.errors import FlagNotFound
from cartwright.flags.schemas import FlagIn, FlagOut, FlagPage
from cartwright.kit.errors import ValidationFailed
from cartwright.web.body import json_body
from cartwright.web.deps import Page, page, platform, requires
from cartwright.web.openapi import LIST_PARAMS, operation
from cartwright.web.responses import json_response

router = APIRouter(prefix="/v1", tags=["flags"])
reader = requires(Scope.FLAGS_READ)
writer = requires(Scope.FLAGS_WRITE)


@router.get(
    "/flags",
    openapi_extra=operation(ok={200: FlagPage}, params=LIST_PARAMS, problems=[ValidationFailed]),
)
async def list_flags(
    request: Request, _: Principal = Depends(reader), paging: Page = Depends(page)
) -> Response:
    """Every known flag with its value and where it comes from (`database` when set,
    `default` otherwise), as stored: each process applies it within a few seconds."""
    p = platform(request)
    async with p.db.connection() as conn:
        body = await service.list_flags(
            conn, p.flags.known, limit=paging.limit, starting_after=paging.starting_after
        )
    return json_response(body)


@router.put(
    "/flags/{key}",
    openapi_extra=operation(ok={200: FlagOut}, body=FlagIn, problems=[FlagNotFound]),
)
async def set_flag(
    request: Request,
    key: str,
    _: Principal = Depends(writer),
    data: FlagIn = Depends(json_body(FlagIn)),
) -> Response:
    """Switch a flag on or off (404 `not_found` for a key that is not a known flag); the
    change is audited and reaches every process within a few seconds."""
    p = platform(request)
    async with p.db.transaction() as conn:
        body = await service.set_flag(conn, p.flags.known, key, enabled=data.enabled)
    return json_response(body)
