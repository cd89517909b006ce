from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, StringConstraints

from cartwright.kit.cards import is_card_number


def _not_a_card_number(token: str) -> str:
    # The message never repeats the value: it is refused, and stored and logged nowhere.
    if is_card_number(token):
        raise ValueError(
            "looks like a card number; send the payment provider's token for the card,"
            " never the card number itself"
        )
    return token


class PaymentIn(BaseModel):
    method: Literal["card"]
    token: Annotated[
        str, StringConstraints(min_length=1, max_length=200), AfterValidator(_not_a_card_number)
    ]


class CheckoutIn(BaseModel):
    payment: PaymentIn


class ConfirmIn(BaseModel):
    """What the shopper's return from the provider's page brought back, for providers that
    need it (Adyen: `{"redirectResult": "..."}`); the sandbox and Stripe need nothing."""

    details: (
        Annotated[
            dict[
                Annotated[str, StringConstraints(min_length=1, max_length=100)],
                Annotated[str, StringConstraints(max_length=20_000)],
            ],
            Field(max_length=10),
        ]
        | None
    ) = None
