"""Routes of `/v1/stock-alerts`: low stock, as the `stock_alerts` consumer recorded it."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from cartwright.access.scopes import Scope
from cartwright.access.service import Principal
from cartwright.kit.errors import ValidationFailed
from cartwright.notifications import service
from cartwright.notifications.errors import StockAlertNotFound
from cartwright.notifications.schemas import StockAlertOut, StockAlertPage
from cartwright.web.deps import Page, page, platform, requires
from cartwright.web.openapi import LIST_PARAMS, operation, query
from cartwright.web.responses import json_response

router = APIRouter(prefix="/v1", tags=["inventory"])


@router.get(
    "/stock-alerts",
    openapi_extra=operation(
        ok={200: StockAlertPage},
        params=[
            *LIST_PARAMS,
            query(
                "open",
                {"type": "string", "enum": ["true", "false"]},
                "`true`: only the alerts not acknowledged yet.",
            ),
        ],
        problems=[ValidationFailed],
    ),
)
async def list_stock_alerts(
    request: Request,
    _: Principal = Depends(requires(Scope.INVENTORY_READ)),
    paging: Page = Depends(page),
) -> Response:
    """Low-stock alerts, newest first: one per time a SKU's available stock fell to its
    threshold (`inventory.low`)."""
    raw = request.query_params.get("open")
    if raw not in (None, "true", "false"):
        raise ValidationFailed.field("open", "must be true or false")
    async with platform(request).db.connection() as conn:
        body = await service.list_stock_alerts(
            conn,
            open_only=raw == "true",
            starting_after=paging.starting_after,
            limit=paging.limit,
        )
    return json_response(body)


@router.post(
    "/stock-alerts/{alert_id}/acknowledge",
    openapi_extra=operation(
        ok={200: StockAlertOut}, body_required=False, problems=[StockAlertNotFound]
    ),
)
async def acknowledge_stock_alert(
    request: Request, alert_id: str, _: Principal = Depends(requires(Scope.INVENTORY_WRITE))
) -> Response:
    """Mark an alert seen, audited (again: nothing changes, the alert as it stands)."""
    async with platform(request).db.transaction() as conn:
        body = await service.acknowledge_stock_alert(conn, alert_id)
    return json_response(body)
