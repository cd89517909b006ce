from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from cartwright.access.scopes import Scope
from cartwright.access.service import Principal
from cartwright.catalog import service
from cartwright.catalog.errors import SkuTaken
from cartwright.catalog.schemas import ProductIn, ProductOut, ProductPage
from cartwright.kit.db import Conn
from cartwright.kit.errors import ValidationFailed
from cartwright.kit.fields import NO_NUL
from cartwright.web.body import json_body
from cartwright.web.deps import Page, page, platform, requires
from cartwright.web.idempotent import run_idempotent
from cartwright.web.openapi import LIST_PARAMS, operation, query
from cartwright.web.responses import json_response

router = APIRouter(prefix="/v1", tags=["catalog"])


@router.post(
    "/products",
    status_code=201,
    openapi_extra=operation(
        ok={201: ProductOut}, body=ProductIn, problems=[SkuTaken], idempotency="optional"
    ),
)
async def create_product(
    request: Request,
    _: Principal = Depends(requires(Scope.CATALOG_WRITE)),
    data: ProductIn = Depends(json_body(ProductIn)),
) -> Response:
    async def work(conn: Conn) -> tuple[int, object]:
        return 201, await service.create_product(conn, data)

    return await run_idempotent(request, work)


@router.get(
    "/products",
    openapi_extra=operation(
        ok={200: ProductPage},
        params=[
            *LIST_PARAMS,
            query(
                "q", {"type": "string", "maxLength": 200, "pattern": NO_NUL}, "Words in the title."
            ),
        ],
        problems=[ValidationFailed],
    ),
)
async def list_products(
    request: Request,
    _: Principal = Depends(requires(Scope.CATALOG_READ)),
    paging: Page = Depends(page),
) -> Response:
    query = request.query_params.get("q")
    if query is not None and len(query) > 200:
        raise ValidationFailed.field("q", "may be at most 200 characters")
    async with platform(request).db.connection() as conn:
        body = await service.list_products(
            conn, limit=paging.limit, starting_after=paging.starting_after, query=query
        )
    return json_response(body)


@router.get("/products/{product_id}", openapi_extra=operation(ok={200: ProductOut}))
async def get_product(
    request: Request, product_id: str, _: Principal = Depends(requires(Scope.CATALOG_READ))
) -> Response:
    async with platform(request).db.connection() as conn:
        return json_response(await service.get_product(conn, product_id))
