from __future__ import annotations

from fastapi import APIRouter, Request
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.responses import Response

from cartwright.ops import metrics as served
from cartwright.web.deps import platform
from cartwright.web.responses import json_response

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> Response:
    return json_response({"status": "ok"})


@router.get("/readyz")
async def readyz(request: Request) -> Response:
    if await platform(request).db.ping():
        return json_response({"status": "ready", "database": "ok"})
    return Response(
        b'{"status": "unavailable", "database": "unreachable"}',
        status_code=503,
        media_type="application/json",
    )


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    p = platform(request)
    served.sample_pools(p.db, p.sandbox_db)
    return Response(served.payload(), media_type=CONTENT_TYPE_LATEST)
