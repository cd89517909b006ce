"""An external tax provider: Stripe Tax's calculations (`POST /v1/tax/calculations`), and
the chain that asks it through the kit's bounded call and falls back to the tables.

Written from Stripe's public API reference: the request is form-encoded, authenticated by
the secret key as a bearer token; `currency` is lower case; each line item has `amount`
(the line's total in minor units, after its discount), `reference`, `tax_behavior`
(`exclusive` or `inclusive`) and optionally `tax_code`; `customer_details[address]`
carries `country`, `state` and `postal_code` with `address_source=shipping`, and
`customer_details[tax_ids][0]` the buyer's VAT number (`type=eu_vat`); `shipping_cost`
its `amount`. The answer's `line_items` (expanded by `expand[]=line_items`) give each line's
`amount_tax`, `shipping_cost.amount_tax` the shipping's, and `tax_breakdown[].
taxability_reason` says `reverse_charge` when the buyer accounts for the tax.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

import httpx
import orjson

from cartwright.kit.external import ExternalCall, ProviderError, Unavailable
from cartwright.providers.tax import (
    ExemptReason,
    RateTableTax,
    TaxClass,
    TaxQuote,
    TaxRequest,
    eu_vat_country,
)

# Stripe's product tax codes for our classes (txcd_99999999: general tangible goods;
# txcd_00000000: nontaxable). `zero` and `exempt` both ask for the nontaxable code.
TAX_CODES: dict[TaxClass, str] = {
    TaxClass.STANDARD: "txcd_99999999",
    TaxClass.REDUCED: "txcd_99999999",  # a reduced rate needs the product's own code
    TaxClass.ZERO: "txcd_00000000",
    TaxClass.EXEMPT: "txcd_00000000",
}


def calculation_form(request: TaxRequest) -> list[tuple[str, str]]:
    """The form fields of the calculation for `request`."""
    behavior = "inclusive" if request.prices_include_tax else "exclusive"
    form: list[tuple[str, str]] = [
        ("currency", request.currency.lower()),
        ("customer_details[address][country]", request.country or ""),
        ("customer_details[address_source]", "shipping"),
        ("expand[]", "line_items"),
    ]
    if request.region:
        form.append(("customer_details[address][state]", request.region))
    if request.postal_code:
        form.append(("customer_details[address][postal_code]", request.postal_code))
    if request.tax_id and eu_vat_country(request.tax_id):
        form += [
            ("customer_details[tax_ids][0][type]", "eu_vat"),
            ("customer_details[tax_ids][0][value]", request.tax_id),
        ]
    for i, line in enumerate(request.lines):
        amount = max(line.amount - line.discount, 0)
        form += [
            (f"line_items[{i}][amount]", str(amount)),
            (f"line_items[{i}][reference]", line.reference or f"line-{i}"),
            (f"line_items[{i}][tax_behavior]", behavior),
            (f"line_items[{i}][tax_code]", TAX_CODES[line.tax_class]),
        ]
    if request.shipping:
        form += [
            ("shipping_cost[amount]", str(request.shipping)),
            ("shipping_cost[tax_behavior]", behavior),
        ]
    return form


def parse_calculation(request: TaxRequest, body: Any) -> TaxQuote:
    """The quote of Stripe's calculation; `ProviderError` for an answer we cannot use."""
    try:
        items = body["line_items"]["data"]
        if len(items) != len(request.lines):
            raise ProviderError("the calculation's line items do not match the request")
        taxes = [int(item["amount_tax"]) for item in items]
        shipping_cost = body.get("shipping_cost") or {}
        shipping_tax = int(shipping_cost.get("amount_tax", 0))
        reasons = {b.get("taxability_reason") for b in body.get("tax_breakdown") or []}
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ProviderError(f"malformed tax calculation: {exc!r}") from None
    if any(t < 0 for t in taxes) or shipping_tax < 0:
        raise ProviderError("negative tax in the calculation")
    amounts = [max(x.amount - x.discount, 0) for x in request.lines]
    if request.prices_include_tax:
        nets = [a - t for a, t in zip(amounts, taxes, strict=True)]
        shipping_net = request.shipping - shipping_tax
        if any(n < 0 for n in nets) or shipping_net < 0:
            raise ProviderError("inclusive tax larger than the price")
    else:
        nets, shipping_net = amounts, request.shipping
    exempt = ExemptReason.REVERSE_CHARGE if "reverse_charge" in reasons else None
    return TaxQuote(taxes, nets, shipping_tax, shipping_net, exempt_reason=exempt)


class StripeTax:
    """Stripe Tax over HTTP (one shared client; the guard bounds each call)."""

    def __init__(self, client: httpx.AsyncClient, api_key: str, base_url: str) -> None:
        self._client = client
        self._api_key = api_key
        self._url = base_url.rstrip("/") + "/v1/tax/calculations"

    def __repr__(self) -> str:  # never the key
        return f"StripeTax({self._url!r})"

    async def quote(self, request: TaxRequest) -> TaxQuote:
        response = await self._client.post(
            self._url,
            content=urlencode(calculation_form(request)),
            headers={
                "Authorization": f"Bearer {self._api_key}",
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )
        if response.status_code != 200:
            raise ProviderError(f"stripe tax answered {response.status_code}")
        try:
            body = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            raise ProviderError("stripe tax answered no JSON") from None
        return parse_calculation(request, body)


class ExternalTax:
    """The external provider asked through its guard; when it cannot answer (slow, failing,
    breaker open, switched off) the built-in tables answer and the quote is `estimated`.

    A destination the tables say is missing a rate is asked too (the provider may know it);
    if the provider cannot answer, the cart is not ready rather than taxed at 0 %. A cart
    without a country, or a reverse charge the tables establish, is not sent at all."""

    def __init__(self, adapter: StripeTax, guard: ExternalCall, tables: RateTableTax) -> None:
        self.adapter = adapter
        self.guard = guard
        self.tables = tables

    async def quote(self, request: TaxRequest) -> TaxQuote:
        local = self.tables.quote_now(request)
        if request.country is None or local.exempt_reason is not None or not request.lines:
            return local
        try:
            return await self.guard.call(lambda: self.adapter.quote(request))
        except Unavailable:
            self.guard.fallback("last_known_rates")
            return replace(local, estimated=True)
