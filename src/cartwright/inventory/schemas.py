from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, StrictInt


class StockIn(BaseModel):
    on_hand: Annotated[StrictInt, Field(ge=0, le=10**12)]
