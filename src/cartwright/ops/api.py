from __future__ import annotations

from fastapi import APIRouter, Request
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.responses import Response

from cartwright.ops import metrics as served
from cartwright.web.deps import platform
from cartwright.web.openapi import operation
from cartwright.web.responses import json_response

router = APIRouter(tags=["operations"])


_STATUS = {"type": "object", "required": ["status"], "properties": {"status": {"type": "string"}}}
_READY = {
    "type": "object",
    "required": ["status", "database"],
    "properties": {"status": {"type": "string"}, "database": {"type": "string"}},
}


@router.get("/healthz", openapi_extra=operation(ok={200: _STATUS}, public=True))
async def healthz() -> Response:
    return json_response({"status": "ok"})


@router.get("/readyz", openapi_extra=operation(ok={200: _READY, 503: _READY}, public=True))
async def readyz(request: Request) -> Response:
    if await platform(request).db.ping():
        return json_response({"status": "ready", "database": "ok"})
    return Response(
        b'{"status": "unavailable", "database": "unreachable"}',
        status_code=503,
        media_type="application/json",
    )


@router.get(
    "/metrics",
    openapi_extra=operation(ok={200: {"type": "string"}}, public=True, media_type="text/plain"),
)
async def metrics(request: Request) -> Response:
    p = platform(request)
    served.sample_pools(p.db, p.sandbox_db)
    return Response(served.payload(), media_type=CONTENT_TYPE_LATEST)
