from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from cartwright.access.scopes import Scope
from cartwright.access.service import Principal
from cartwright.events import service
from cartwright.web.deps import Page, page, platform, requires
from cartwright.web.responses import json_response

router = APIRouter(prefix="/v1", tags=["events"])


@router.get("/events")
async def list_events(
    request: Request,
    _: Principal = Depends(requires(Scope.EVENTS_READ)),
    paging: Page = Depends(page),
) -> Response:
    event_type = request.query_params.get("type") or None
    # `aggregate_id`: only the events about one order, payment, ... (an addition to v1).
    aggregate_id = request.query_params.get("aggregate_id") or None
    async with platform(request).db.connection() as conn:
        body = await service.list_events(
            conn,
            limit=paging.limit,
            starting_after=paging.starting_after,
            event_type=event_type,
            aggregate_id=aggregate_id,
        )
    return json_response(body)
