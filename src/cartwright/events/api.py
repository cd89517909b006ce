from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from cartwright.access.scopes import Scope
from cartwright.access.service import Principal
from cartwright.events import service
from cartwright.events.schemas import EventPage
from cartwright.kit.errors import ValidationFailed
from cartwright.kit.fields import NO_NUL
from cartwright.web.deps import Page, page, platform, requires
from cartwright.web.openapi import LIST_PARAMS, operation, query
from cartwright.web.responses import json_response

router = APIRouter(prefix="/v1", tags=["events"])


@router.get(
    "/events",
    openapi_extra=operation(
        ok={200: EventPage},
        params=[
            *LIST_PARAMS,
            query(
                "type",
                {"type": "string", "maxLength": 100, "pattern": NO_NUL},
                "Only events of this type, e.g. `order.placed`.",
            ),
            query(
                "aggregate_id",
                {"type": "string", "maxLength": 64, "pattern": NO_NUL},
                "Only events about this order, payment, ...",
            ),
        ],
        problems=[ValidationFailed],
    ),
)
async def list_events(
    request: Request,
    _: Principal = Depends(requires(Scope.EVENTS_READ)),
    paging: Page = Depends(page),
) -> Response:
    event_type = request.query_params.get("type") or None
    # `aggregate_id`: only the events about one order, payment, ... (an addition to v1).
    aggregate_id = request.query_params.get("aggregate_id") or None
    if event_type is not None and len(event_type) > 100:
        raise ValidationFailed.field("type", "may be at most 100 characters")
    if aggregate_id is not None and len(aggregate_id) > 64:
        raise ValidationFailed.field("aggregate_id", "may be at most 64 characters")
    async with platform(request).db.connection() as conn:
        body = await service.list_events(
            conn,
            limit=paging.limit,
            starting_after=paging.starting_after,
            event_type=event_type,
            aggregate_id=aggregate_id,
        )
    return json_response(body)
