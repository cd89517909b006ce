from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from cartwright.kit.fields import Integer


class StockIn(BaseModel):
    on_hand: Annotated[Integer, Field(ge=0, le=10**12)]


class StockOut(BaseModel):
    sku: str
    on_hand: int
    reserved: int
    available: int
