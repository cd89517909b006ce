"""Response shapes of the customer routes (the document's schemas)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict

from cartwright.kit.fields import ListPage, text
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
    group: str | None


class CustomerPatch(BaseModel):
    """`group`: the customer group price lists and promotions match on (`null`: none)."""

    model_config = ConfigDict(extra="forbid")

    group: Annotated[str, text(64)] | None


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
