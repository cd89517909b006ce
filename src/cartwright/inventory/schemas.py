from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints, field_validator, model_validator

from cartwright.kit.fields import CountryCode, Integer, ListPage, optional_text, text

WarehouseId = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^wh_[A-Za-z0-9_]+$")
]
Reference = Annotated[str, text(200)]
Note = Annotated[str, optional_text(1000)]
MAX_UNITS = 10**12


class StockIn(BaseModel):
    """A count (`on_hand`) in one warehouse, and/or the SKU's low-stock threshold."""

    on_hand: Annotated[Integer, Field(ge=0, le=MAX_UNITS)] | None = None
    warehouse_id: WarehouseId | None = None
    # At or below this many available units (all warehouses), `inventory.low` fires once.
    # null: none of its own (CARTWRIGHT_LOW_STOCK_THRESHOLD, if set, applies).
    low_stock_threshold: Annotated[Integer, Field(ge=0, le=MAX_UNITS)] | None = None
    reference: Reference | None = None
    note: Note | None = None

    @field_validator("on_hand")
    @classmethod
    def not_null(cls, value: int | None) -> int | None:
        if value is None:  # given as null (absent is fine: only the threshold changes)
            raise ValueError("must be an integer at least 0")
        return value

    @model_validator(mode="after")
    def says_something(self) -> StockIn:
        if self.on_hand is None and "low_stock_threshold" not in self.model_fields_set:
            raise ValueError("give on_hand, low_stock_threshold or both")
        if self.on_hand is None and (self.warehouse_id or self.reference or self.note):
            raise ValueError("warehouse_id, reference and note go with on_hand")
        return self


AdjustmentReason = Literal["adjustment", "received", "damaged", "lost", "correction"]


class AdjustmentIn(BaseModel):
    delta: Annotated[Integer, Field(ge=-MAX_UNITS, le=MAX_UNITS)]
    reason: AdjustmentReason
    warehouse_id: WarehouseId | None = None
    reference: Reference | None = None
    note: Note | None = None

    @field_validator("delta")
    @classmethod
    def not_zero(cls, value: int) -> int:
        if value == 0:
            raise ValueError("must not be 0")
        return value

    @model_validator(mode="after")
    def sign_fits_reason(self) -> AdjustmentIn:
        if self.reason == "received" and self.delta < 0:
            raise ValueError("received goods add units: delta must be positive")
        if self.reason in ("damaged", "lost") and self.delta > 0:
            raise ValueError(f"{self.reason} goods take units away: delta must be negative")
        return self


class LocationOut(BaseModel):
    warehouse_id: str
    on_hand: int
    reserved: int
    available: int


class StockOut(BaseModel):
    sku: str
    on_hand: int
    reserved: int
    available: int
    low_stock_threshold: int | None
    low_stock: bool
    locations: list[LocationOut]


class AdjustmentOut(BaseModel):
    id: str
    sku: str
    warehouse_id: str
    delta: int
    reason: str
    reference: str | None
    note: str | None
    stock: StockOut


class ActorOut(BaseModel):
    key_id: str


class MovementOut(BaseModel):
    id: str
    warehouse_id: str
    sku: str
    delta_on_hand: int
    delta_reserved: int
    reason: str
    reference: str | None
    note: str | None
    actor: ActorOut | None
    created_at: str


class MovementPage(ListPage):
    data: list[MovementOut]


WarehouseCode = Annotated[
    str, StringConstraints(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")
]


class WarehouseIn(BaseModel):
    name: Annotated[str, text(200)]
    code: WarehouseCode | None = None
    # Lower is tried first; the default warehouse has 100.
    priority: Annotated[Integer, Field(ge=0, le=10_000)] = 100
    # The shipping countries it serves; empty or absent: every country.
    countries: Annotated[list[CountryCode], Field(max_length=249)] = []


class WarehouseOut(BaseModel):
    id: str
    name: str
    code: str | None
    priority: int
    countries: list[str]


class WarehousePage(ListPage):
    data: list[WarehouseOut]
