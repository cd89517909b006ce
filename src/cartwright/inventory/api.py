from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from cartwright.access.scopes import Scope
from cartwright.access.service import Principal
from cartwright.catalog import service as catalog
from cartwright.inventory import service
from cartwright.inventory.errors import StockBelowReserved, WarehouseCodeTaken
from cartwright.inventory.schemas import (
    AdjustmentIn,
    AdjustmentOut,
    MovementPage,
    StockIn,
    StockOut,
    WarehouseIn,
    WarehouseOut,
    WarehousePage,
)
from cartwright.kit.db import Conn
from cartwright.kit.errors import NotFound, ValidationFailed
from cartwright.web.body import json_body
from cartwright.web.deps import Page, page, platform, requires
from cartwright.web.idempotent import run_idempotent
from cartwright.web.openapi import LIST_PARAMS, operation, query
from cartwright.web.responses import json_response

router = APIRouter(prefix="/v1", tags=["inventory"])


async def _require_sku(conn: Conn, sku: str) -> None:
    if not await catalog.sku_exists(conn, sku):
        raise NotFound(f"No variant has the SKU {sku!r}.")


@router.put(
    "/inventory/{sku}",
    openapi_extra=operation(ok={200: StockOut}, body=StockIn, problems=[StockBelowReserved]),
)
async def set_stock(
    request: Request,
    sku: str,
    _: Principal = Depends(requires(Scope.INVENTORY_WRITE)),
    data: StockIn = Depends(json_body(StockIn)),
) -> Response:
    p = platform(request)
    async with p.db.transaction() as conn:
        await _require_sku(conn, sku)
        if "low_stock_threshold" in data.model_fields_set:
            await service.set_low_stock_threshold(
                conn,
                sku,
                data.low_stock_threshold,
                default_threshold=p.settings.low_stock_threshold,
            )
        if data.on_hand is not None:
            return json_response(
                await service.set_on_hand(
                    conn,
                    sku,
                    data.on_hand,
                    warehouse_id=data.warehouse_id or service.DEFAULT_WAREHOUSE,
                    reference=data.reference,
                    note=data.note,
                )
            )
        return json_response(await service.get_stock(conn, sku))


@router.get("/inventory/{sku}", openapi_extra=operation(ok={200: StockOut}))
async def get_stock(
    request: Request, sku: str, _: Principal = Depends(requires(Scope.INVENTORY_READ))
) -> Response:
    async with platform(request).db.connection() as conn:
        await _require_sku(conn, sku)
        return json_response(await service.get_stock(conn, sku))


@router.post(
    "/inventory/{sku}/adjustments",
    status_code=201,
    openapi_extra=operation(
        ok={201: AdjustmentOut},
        body=AdjustmentIn,
        problems=[StockBelowReserved],
        idempotency="optional",
    ),
)
async def adjust_stock(
    request: Request,
    sku: str,
    _: Principal = Depends(requires(Scope.INVENTORY_WRITE)),
    data: AdjustmentIn = Depends(json_body(AdjustmentIn)),
) -> Response:
    async def work(conn: Conn) -> tuple[int, object]:
        await _require_sku(conn, sku)
        return 201, await service.adjust(
            conn,
            sku,
            data.delta,
            service.MovementReason(data.reason),
            warehouse_id=data.warehouse_id or service.DEFAULT_WAREHOUSE,
            reference=data.reference,
            note=data.note,
        )

    return await run_idempotent(request, work)


@router.get(
    "/inventory/{sku}/movements",
    openapi_extra=operation(
        ok={200: MovementPage},
        params=[
            *LIST_PARAMS,
            query(
                "warehouse_id",
                {"type": "string", "maxLength": 64, "pattern": "^[^\\x00]*$"},
                "Only the movements of this warehouse.",
            ),
        ],
        problems=[ValidationFailed],
    ),
)
async def list_movements(
    request: Request,
    sku: str,
    _: Principal = Depends(requires(Scope.INVENTORY_READ)),
    paging: Page = Depends(page),
) -> Response:
    warehouse_id = request.query_params.get("warehouse_id") or None
    if warehouse_id is not None and (len(warehouse_id) > 64 or "\x00" in warehouse_id):
        raise ValidationFailed.field("warehouse_id", "is not a warehouse id")
    async with platform(request).db.connection() as conn:
        await _require_sku(conn, sku)
        body = await service.list_movements(
            conn,
            sku,
            limit=paging.limit,
            starting_after=paging.starting_after,
            warehouse_id=warehouse_id,
        )
    return json_response(body)


@router.post(
    "/warehouses",
    status_code=201,
    openapi_extra=operation(
        ok={201: WarehouseOut},
        body=WarehouseIn,
        problems=[WarehouseCodeTaken],
        idempotency="optional",
    ),
)
async def create_warehouse(
    request: Request,
    _: Principal = Depends(requires(Scope.INVENTORY_WRITE)),
    data: WarehouseIn = Depends(json_body(WarehouseIn)),
) -> Response:
    async def work(conn: Conn) -> tuple[int, object]:
        return 201, await service.create_warehouse(
            conn, name=data.name, code=data.code, priority=data.priority, countries=data.countries
        )

    response = await run_idempotent(request, work)
    platform(request).stock_locations.forget()  # this process sees it at once
    return response


@router.get(
    "/warehouses",
    openapi_extra=operation(
        ok={200: WarehousePage}, params=LIST_PARAMS, problems=[ValidationFailed]
    ),
)
async def list_warehouses(
    request: Request,
    _: Principal = Depends(requires(Scope.INVENTORY_READ)),
    paging: Page = Depends(page),
) -> Response:
    async with platform(request).db.connection() as conn:
        body = await service.list_warehouses(
            conn, limit=paging.limit, starting_after=paging.starting_after
        )
    return json_response(body)


@router.get("/warehouses/{warehouse_id}", openapi_extra=operation(ok={200: WarehouseOut}))
async def get_warehouse(
    request: Request,
    warehouse_id: str,
    _: Principal = Depends(requires(Scope.INVENTORY_READ)),
) -> Response:
    async with platform(request).db.connection() as conn:
        return json_response(await service.get_warehouse(conn, warehouse_id))
