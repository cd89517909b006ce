from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from cartwright.access.scopes import Scope
from cartwright.access.service import Principal
from cartwright.audit import service
from cartwright.audit.schemas import AuditEventList
from cartwright.kit.errors import ValidationFailed
from cartwright.kit.fields import NO_NUL
from cartwright.web.deps import Page, page, platform, requires
from cartwright.web.openapi import LIST_PARAMS, operation, query
from cartwright.web.responses import json_response

router = APIRouter(prefix="/v1", tags=["audit"])

FILTERS = ("action", "target_type", "target_id", "request_id")
MAX_FILTER_LENGTH = 255


@router.get(
    "/audit-events",
    openapi_extra=operation(
        ok={200: AuditEventList},
        params=[
            *LIST_PARAMS,
            *(
                query(
                    name,
                    {
                        "type": "string",
                        "minLength": 1,
                        "maxLength": MAX_FILTER_LENGTH,
                        "pattern": NO_NUL,
                    },
                    f"Only entries with this `{name}`.",
                )
                for name in FILTERS
            ),
        ],
        problems=[ValidationFailed],
    ),
)
async def list_audit_events(
    request: Request,
    _: Principal = Depends(requires(Scope.AUDIT_READ)),
    paging: Page = Depends(page),
) -> Response:
    """Every change made with a secret key, the admin key or the CLI, newest first.
    Filters: `action`, `target_type`, `target_id`, `request_id` (exact match)."""
    filters: dict[str, str] = {}
    for name in FILTERS:
        value = request.query_params.get(name)
        if value is None:
            continue
        if not value or len(value) > MAX_FILTER_LENGTH:
            raise ValidationFailed.field(name, f"must be 1 to {MAX_FILTER_LENGTH} characters")
        filters[name] = value
    async with platform(request).db.connection() as conn:
        body = await service.list_events(
            conn,
            limit=paging.limit,
            starting_after=paging.starting_after,
            action=filters.get("action"),
            target_type=filters.get("target_type"),
            target_id=filters.get("target_id"),
            request_id=filters.get("request_id"),
        )
    return json_response(body)
