"""Response shapes of the customer routes (documentation: the routes answer plain JSON)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel


class CustomerOut(BaseModel):
    id: str
    email: str | None
    status: Literal["active", "erased"]
    issuer: str
    subject: str
    created_at: str
    updated_at: str
    erased_at: str | None


class CustomerList(BaseModel):
    data: list[CustomerOut]
    has_more: bool


class OrderList(BaseModel):
    data: list[dict[str, Any]]
    has_more: bool


class CustomerExport(BaseModel):
    customer: CustomerOut
    carts: list[dict[str, Any]]
    orders: list[dict[str, Any]]
    events: list[dict[str, Any]]
    exported_at: str
