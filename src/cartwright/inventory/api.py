from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from cartwright.access.scopes import Scope
from cartwright.access.service import Principal
from cartwright.catalog import service as catalog
from cartwright.inventory import service
from cartwright.inventory.schemas import StockIn, StockOut
from cartwright.kit.errors import NotFound
from cartwright.web.body import json_body
from cartwright.web.deps import platform, requires
from cartwright.web.openapi import operation
from cartwright.web.responses import json_response

router = APIRouter(prefix="/v1", tags=["inventory"])


@router.put("/inventory/{sku}", openapi_extra=operation(ok={200: StockOut}, body=StockIn))
async def set_stock(
    request: Request,
    sku: str,
    _: Principal = Depends(requires(Scope.INVENTORY_WRITE)),
    data: StockIn = Depends(json_body(StockIn)),
) -> Response:
    async with platform(request).db.transaction() as conn:
        if not await catalog.sku_exists(conn, sku):
            raise NotFound(f"No variant has the SKU {sku!r}.")
        return json_response(await service.set_on_hand(conn, sku, data.on_hand))


@router.get("/inventory/{sku}", openapi_extra=operation(ok={200: StockOut}))
async def get_stock(
    request: Request, sku: str, _: Principal = Depends(requires(Scope.INVENTORY_READ))
) -> Response:
    async with platform(request).db.connection() as conn:
        if not await catalog.sku_exists(conn, sku):
            raise NotFound(f"No variant has the SKU {sku!r}.")
        return json_response(await service.get_stock(conn, sku))
