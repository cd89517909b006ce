from __future__ import annotations

from pydantic import BaseModel


class StockAlertOut(BaseModel):
    id: str
    sku: str
    available: int
    threshold: int
    acknowledged: bool
    acknowledged_at: str | None
    acknowledged_by: str | None
    created_at: str


class StockAlertPage(BaseModel):
    data: list[StockAlertOut]
    has_more: bool
