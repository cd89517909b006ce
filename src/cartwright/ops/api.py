from __future__ import annotations

import os

from fastapi import APIRouter, Request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess
from starlette.responses import Response

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
async def metrics() -> Response:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        payload = generate_latest(registry)
    else:
        payload = generate_latest()
    return Response(payload, media_type=CONTENT_TYPE_LATEST)
