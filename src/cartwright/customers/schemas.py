"""Response shapes of the customer routes (the document's schemas)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel

from cartwright.kit.fields import ListPage
from cartwright.orders.schemas import OrderOut


class CustomerOut(BaseModel):
    id: str
    email: str | None
    status: Literal["active", "erased"]
    issuer: str
    subject: str
    created_at: datetime
    updated_at: datetime
    erased_at: datetime | None


class CustomerList(ListPage):
    data: list[CustomerOut]


class OrderList(ListPage):
    data: list[OrderOut]


class CustomerExport(BaseModel):
    customer: CustomerOut
    carts: list[dict[str, Any]]
    orders: list[dict[str, Any]]
    events: list[dict[str, Any]]
    exported_at: datetime
