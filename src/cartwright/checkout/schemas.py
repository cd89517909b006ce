from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, StringConstraints


class PaymentIn(BaseModel):
    method: Literal["card"]
    token: Annotated[str, StringConstraints(min_length=1, max_length=200)]


class CheckoutIn(BaseModel):
    payment: PaymentIn
