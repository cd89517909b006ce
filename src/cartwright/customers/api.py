from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from cartwright.access.scopes import Scope
from cartwright.access.service import Principal
from cartwright.customers import service
from cartwright.customers.schemas import (
    CustomerExport,
    CustomerList,
    CustomerOut,
    CustomerPatch,
    OrderList,
)
from cartwright.kit.db import Conn
from cartwright.kit.errors import ValidationFailed
from cartwright.kit.fields import NO_NUL
from cartwright.web.body import json_body
from cartwright.web.deps import Page, Shopper, customer_shopper, page, platform, requires
from cartwright.web.idempotent import run_idempotent
from cartwright.web.openapi import LIST_PARAMS, operation, query, storefront_operation
from cartwright.web.responses import json_response

router = APIRouter(prefix="/v1", tags=["customers"])
signed_in = customer_shopper()
MAX_EMAIL_FILTER = 320


# The signed-in customer's own routes come first: `/customers/me` is not an id.
@router.get("/customers/me", openapi_extra=storefront_operation(ok={200: CustomerOut}))
async def me(request: Request, who: Shopper = Depends(signed_in)) -> Response:
    """The signed-in customer (any key plus `Cartwright-Customer-Token`)."""
    assert who.customer is not None
    async with platform(request).db.connection() as conn:
        return json_response(await service.get_customer(conn, who.customer.id))


@router.get(
    "/customers/me/orders",
    openapi_extra=storefront_operation(
        ok={200: OrderList}, params=LIST_PARAMS, problems=[ValidationFailed]
    ),
)
async def my_orders(
    request: Request, who: Shopper = Depends(signed_in), paging: Page = Depends(page)
) -> Response:
    """The signed-in customer's orders, newest first."""
    assert who.customer is not None
    async with platform(request).db.connection() as conn:
        body = await service.orders_of(
            conn, who.customer.id, limit=paging.limit, starting_after=paging.starting_after
        )
    return json_response(body)


@router.get(
    "/customers",
    openapi_extra=operation(
        ok={200: CustomerList},
        params=[
            *LIST_PARAMS,
            query(
                "email",
                {"type": "string", "maxLength": MAX_EMAIL_FILTER, "pattern": NO_NUL},
                "Only customers with this email.",
            ),
        ],
        problems=[ValidationFailed],
    ),
)
async def list_customers(
    request: Request,
    _: Principal = Depends(requires(Scope.CUSTOMERS_READ)),
    paging: Page = Depends(page),
) -> Response:
    """Newest first; `?email=` finds the customers with that email."""
    email = request.query_params.get("email") or None
    if email is not None and len(email) > MAX_EMAIL_FILTER:
        raise ValidationFailed.field("email", f"at most {MAX_EMAIL_FILTER} characters")
    async with platform(request).db.connection() as conn:
        body = await service.list_customers(
            conn, email=email, limit=paging.limit, starting_after=paging.starting_after
        )
    return json_response(body)


@router.get("/customers/{customer_id}", openapi_extra=operation(ok={200: CustomerOut}))
async def get_customer(
    request: Request, customer_id: str, _: Principal = Depends(requires(Scope.CUSTOMERS_READ))
) -> Response:
    async with platform(request).db.connection() as conn:
        return json_response(await service.get_customer(conn, customer_id))


@router.patch(
    "/customers/{customer_id}",
    openapi_extra=operation(ok={200: CustomerOut}, body=CustomerPatch),
)
async def update_customer(
    request: Request,
    customer_id: str,
    _: Principal = Depends(requires(Scope.CUSTOMERS_WRITE)),
    data: CustomerPatch = Depends(json_body(CustomerPatch)),
) -> Response:
    """Set the customer's `group` (price lists and promotions match on it); audited."""
    async with platform(request).db.transaction() as conn:
        return json_response(await service.set_group(conn, customer_id, data.group))


@router.get("/customers/{customer_id}/export", openapi_extra=operation(ok={200: CustomerExport}))
async def export_customer(
    request: Request, customer_id: str, _: Principal = Depends(requires(Scope.CUSTOMERS_READ))
) -> Response:
    """Everything held about the customer (GDPR art. 15 and 20)."""
    async with platform(request).db.connection() as conn:
        return json_response(await service.export(conn, customer_id))


@router.post(
    "/customers/{customer_id}/erase",
    openapi_extra=operation(ok={200: CustomerOut}, idempotency="optional"),
)
async def erase_customer(
    request: Request, customer_id: str, _: Principal = Depends(requires(Scope.CUSTOMERS_WRITE))
) -> Response:
    """Replace the customer's personal data everywhere it is held (GDPR art. 17).
    Idempotent; amounts, order numbers, payments and the ledger stay."""

    async def work(conn: Conn) -> tuple[int, object]:
        return 200, await service.erase(conn, customer_id)

    return await run_idempotent(request, work)
