from typing import Any

from cartwright.kit.errors import AppError, InvalidState


class InsufficientStock(AppError):
    status = 409
    code = "insufficient_stock"
    title = "Not enough stock"


class StockBelowReserved(InvalidState):
    """A count or adjustment would leave fewer units on hand than are held for orders (or
    fewer than none): refused, nothing changed (code `invalid_state`). The problem says
    what the level is, so the caller can see why (docs/runbooks/stock-below-reserved.md)."""

    title = "The stock cannot go below what is reserved"

    def __init__(self, detail: str, *, warehouse_id: str, on_hand: int, reserved: int) -> None:
        stock: dict[str, Any] = {
            "warehouse_id": warehouse_id,
            "on_hand": on_hand,
            "reserved": reserved,
        }
        super().__init__(detail, extensions={"stock": stock})


class WarehouseCodeTaken(AppError):
    status = 409
    code = "warehouse_code_taken"
    title = "Another warehouse has this code"
