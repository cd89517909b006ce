"""Which providers a new payment may go to, in order of preference, by currency, sales
channel and amount: `CARTWRIGHT_PAYMENT_ROUTES`, a JSON list of rules, the first rule that
matches a payment wins.

    [{"currency": "EUR", "min_amount": 0, "max_amount": 100000, "providers": ["adyen", "stripe"]},
     {"currency": "*", "channel": "pos", "providers": ["adyen"]}]

`currency` is an ISO code or "*"; `channel` a sales channel's name or "*"; the amount range
is in the currency's minor units, `min_amount` included and `max_amount` excluded (absent:
no upper bound). Every field but `providers` may be left out and then matches anything. A
payment no rule matches may go to every enabled provider in the order they are registered,
which is also the route of every payment when the setting is empty.

The rules are read once at start: a malformed rule, or one naming a provider that is not
enabled, stops the process with the rule's number and the name (`InvalidRoutes`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

ANY = "*"


class InvalidRoutes(ValueError):
    """CARTWRIGHT_PAYMENT_ROUTES cannot be served with."""


class RouteRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    currency: str = Field(default=ANY, pattern=r"^([A-Z]{3}|\*)$")
    channel: str = Field(default=ANY, min_length=1)
    min_amount: int = Field(default=0, ge=0)
    max_amount: int | None = Field(default=None, gt=0)
    providers: tuple[str, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _coherent(self) -> Self:
        if self.max_amount is not None and self.max_amount <= self.min_amount:
            raise ValueError("max_amount must be greater than min_amount")
        if len(set(self.providers)) != len(self.providers):
            raise ValueError("a provider is named twice")
        return self

    def matches(self, *, currency: str, amount: int, channel: str) -> bool:
        return (
            self.currency in (ANY, currency)
            and self.channel in (ANY, channel)
            and self.min_amount <= amount
            and (self.max_amount is None or amount < self.max_amount)
        )


_RULES = TypeAdapter(list[RouteRule])


@dataclass(frozen=True, slots=True)
class Routes:
    rules: tuple[RouteRule, ...]
    # Where a payment no rule matches may go: every enabled provider, as registered.
    fallback: tuple[str, ...]

    def providers_for(self, *, currency: str, amount: int, channel: str) -> tuple[str, ...]:
        """The providers a new payment may go to, the preferred first."""
        for rule in self.rules:
            if rule.matches(currency=currency, amount=amount, channel=channel):
                return rule.providers
        return self.fallback


def parse_routes(text: str, enabled: Sequence[str]) -> Routes:
    """The routes `text` (JSON; empty: none) describes, for the providers `enabled`."""
    fallback = tuple(enabled)
    if not text.strip():
        return Routes((), fallback)
    try:
        rules = _RULES.validate_json(text)
    except ValidationError as exc:
        raise InvalidRoutes(_explain(exc)) from None
    for number, rule in enumerate(rules, start=1):
        for provider in rule.providers:
            if provider not in enabled:
                raise InvalidRoutes(
                    f"rule {number} names the provider {provider!r}, which is not enabled"
                    f" (enabled: {', '.join(enabled) or 'none'})"
                )
    return Routes(tuple(rules), fallback)


def _explain(exc: ValidationError) -> str:
    """Pydantic's errors as `rule N, field: why`, rules counted from 1."""
    problems = []
    for error in exc.errors(include_url=False):
        where = [
            f"rule {part + 1}" if i == 0 and isinstance(part, int) else str(part)
            for i, part in enumerate(error["loc"])
        ]
        problems.append(f"{', '.join(where) or 'the value'}: {error['msg']}")
    return "; ".join(problems)
