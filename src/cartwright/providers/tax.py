"""Tax: built-in rate tables per jurisdiction and product tax class, and the calculation.

A jurisdiction is a country, or a country's region where the rate depends on it (US
states, Canadian provinces): `JURISDICTIONS`. Rates are in basis points (1900 = 19 %) for
the tax classes `standard`, `reduced`, `zero` and `exempt` (`zero` and `exempt` are 0 %;
`exempt` says the supply is outside the tax, `zero` that it is taxed at nothing).

A destination with no entry is never taxed at 0 % by accident: the quote says
`missing` ("no tax rate for country XX") and the cart is not ready. A jurisdiction without
tax is configured explicitly at 0 % (US states without a sales tax, HK).

Rounding is half up in the currency's minor units (amounts are already in minor units, so
JPY rounds to yen, EUR to cents, BHD to fils). Each jurisdiction says whether tax is rounded
per line (the default: a line's tax never depends on other lines) or per order (the tax of
each rate is rounded once over the lines of that rate, then split back over the lines by
largest remainder so the lines sum to it exactly).

Prices are tax-exclusive (the tax is added) or tax-inclusive (the tax is extracted: net =
gross × 10000 / (10000 + rate) rounded half up, tax = gross − net, so gross = net + tax
exactly and the total does not change). The discount of a line is taken off before tax.

Shipping is taxed at the jurisdiction's standard rate when `taxes_shipping` (the EU, GB,
CH, NO, AU, NZ, JP and CA tax delivery with the goods); the US tables do not tax shipping
(the states differ; a provider knows each state's rule).

US: the tables carry the state base rates only; county and city rates need a provider.

Exemption: a business customer with a valid EU VAT number (format only, no VIES call)
buying across an EU border from the seller's country is charged no tax, reason
`reverse_charge`; elsewhere a tax id is shown but changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from cartwright.kit.money import allocate, round_half_up_div


class TaxClass(StrEnum):
    STANDARD = "standard"
    REDUCED = "reduced"
    ZERO = "zero"
    EXEMPT = "exempt"


class Rounding(StrEnum):
    PER_LINE = "per_line"
    PER_ORDER = "per_order"


class ExemptReason(StrEnum):
    REVERSE_CHARGE = "reverse_charge"


@dataclass(frozen=True, slots=True)
class Jurisdiction:
    country: str
    region: str | None
    standard_bp: int
    reduced_bp: int | None = None  # None: the reduced class pays the standard rate
    rounding: Rounding = Rounding.PER_LINE
    taxes_shipping: bool = True

    def rate_bp(self, tax_class: TaxClass) -> int:
        if tax_class is TaxClass.STANDARD:
            return self.standard_bp
        if tax_class is TaxClass.REDUCED:
            return self.standard_bp if self.reduced_bp is None else self.reduced_bp
        return 0


# EU member states: standard and (main) reduced rate.
EU_RATES_BP: dict[str, tuple[int, int]] = {
    "AT": (2000, 1000),
    "BE": (2100, 600),
    "BG": (2000, 900),
    "CY": (1900, 500),
    "CZ": (2100, 1200),
    "DE": (1900, 700),
    "DK": (2500, 2500),
    "EE": (2200, 900),
    "ES": (2100, 1000),
    "FI": (2550, 1400),
    "FR": (2000, 550),
    "GR": (2400, 1300),
    "HR": (2500, 500),
    "HU": (2700, 500),
    "IE": (2300, 1350),
    "IT": (2200, 1000),
    "LT": (2100, 900),
    "LU": (1700, 800),
    "LV": (2100, 1200),
    "MT": (1800, 500),
    "NL": (2100, 900),
    "PL": (2300, 800),
    "PT": (2300, 600),
    "RO": (1900, 900),
    "SE": (2500, 1200),
    "SI": (2200, 950),
    "SK": (2300, 1900),
}
EU = frozenset(EU_RATES_BP)

# Canada: GST 5 % everywhere, HST in the harmonized provinces; provincial sales taxes
# (PST, QST) are separate taxes a provider computes, not in this table.
CA_RATES_BP: dict[str, int] = {
    "AB": 500, "BC": 500, "MB": 500, "NB": 1500, "NL": 1500, "NS": 1400, "NT": 500,
    "NU": 500, "ON": 1300, "PE": 1500, "QC": 500, "SK": 500, "YT": 500,
}  # fmt: skip

# US state base sales-tax rates; AK, DE, MT, NH and OR have none (explicitly 0 %).
US_RATES_BP: dict[str, int] = {
    "AK": 0, "AL": 400, "AR": 650, "AZ": 560, "CA": 725, "CO": 290, "CT": 635, "DC": 600,
    "DE": 0, "FL": 600, "GA": 400, "HI": 400, "IA": 600, "ID": 600, "IL": 625, "IN": 700,
    "KS": 650, "KY": 600, "LA": 500, "MA": 625, "MD": 600, "ME": 550, "MI": 600, "MN": 688,
    "MO": 423, "MS": 700, "MT": 0, "NC": 475, "ND": 500, "NE": 550, "NH": 0, "NJ": 663,
    "NM": 488, "NV": 685, "NY": 400, "OH": 575, "OK": 450, "OR": 0, "PA": 600, "RI": 700,
    "SC": 600, "SD": 420, "TN": 700, "TX": 625, "UT": 610, "VA": 530, "VT": 600, "WA": 650,
    "WI": 500, "WV": 600, "WY": 400,
}  # fmt: skip


def _tables() -> dict[tuple[str, str | None], Jurisdiction]:
    out: dict[tuple[str, str | None], Jurisdiction] = {}

    def put(j: Jurisdiction) -> None:
        out[(j.country, j.region)] = j

    for country, (standard, reduced) in EU_RATES_BP.items():
        put(Jurisdiction(country, None, standard, reduced))
    put(Jurisdiction("GB", None, 2000, 500))
    put(Jurisdiction("CH", None, 810, 260))
    put(Jurisdiction("NO", None, 2500, 1500))
    put(Jurisdiction("IS", None, 2400, 1100))
    put(Jurisdiction("AU", None, 1000, 1000))
    put(Jurisdiction("NZ", None, 1500, 1500))
    # Japan: consumption tax on the invoice, rounded once per rate (qualified invoices).
    put(Jurisdiction("JP", None, 1000, 800, rounding=Rounding.PER_ORDER))
    put(Jurisdiction("HK", None, 0, 0))
    for region, rate in CA_RATES_BP.items():
        put(Jurisdiction("CA", region, rate, rate))
    for region, rate in US_RATES_BP.items():
        put(Jurisdiction("US", region, rate, rate, taxes_shipping=False))
    return out


JURISDICTIONS: dict[tuple[str, str | None], Jurisdiction] = _tables()
# Countries whose rate depends on the region: the address must name one.
REGIONAL: frozenset[str] = frozenset(c for c, r in JURISDICTIONS if r is not None)


def find(
    table: dict[tuple[str, str | None], Jurisdiction], country: str | None, region: str | None
) -> Jurisdiction | None:
    if not country:
        return None
    if region is not None:
        found = table.get((country, region.strip().upper()))
        if found is not None:
            return found
    return table.get((country, None))


# EU VAT numbers: the country prefix (EL for Greece) and its national format.
_EU_VAT = re.compile(
    r"^(ATU\d{8}|BE[01]\d{9}|BG\d{9,10}|CY\d{8}[A-Z]|CZ\d{8,10}|DE\d{9}|DK\d{8}|EE\d{9}"
    r"|EL\d{9}|ES[A-Z0-9]\d{7}[A-Z0-9]|FI\d{8}|FR[A-HJ-NP-Z0-9]{2}\d{9}|HR\d{11}"
    r"|HU\d{8}|IE\d{7}[A-W][A-I]?|IE\d[A-Z+*]\d{5}[A-W]|IT\d{11}|LT(\d{9}|\d{12})|LU\d{8}"
    r"|LV\d{11}|MT\d{8}|NL\d{9}B\d{2}|PL\d{10}|PT\d{9}|RO\d{2,10}|SE\d{12}|SI\d{8}|SK\d{10})$"
)


EU_VAT_PREFIXES = frozenset(EU - {"GR"} | {"EL"})


def normalize_tax_id(value: str) -> str:
    return re.sub(r"[\s.\-]", "", value).upper()


def eu_vat_country(tax_id: str | None) -> str | None:
    """The member state of a well-formed EU VAT number, else None (format only)."""
    if not tax_id:
        return None
    number = normalize_tax_id(tax_id)
    if not _EU_VAT.match(number):
        return None
    prefix = number[:2]
    return "GR" if prefix == "EL" else prefix


@dataclass(frozen=True, slots=True)
class TaxLine:
    amount: int  # the line's price × quantity, in minor units
    tax_class: TaxClass = TaxClass.STANDARD
    discount: int = 0  # taken off before tax (promotions)
    reference: str = ""


@dataclass(frozen=True, slots=True)
class TaxRequest:
    currency: str
    country: str | None
    region: str | None
    lines: Sequence[TaxLine]
    shipping: int = 0
    prices_include_tax: bool = False
    tax_id: str | None = None
    origin_country: str | None = None  # the seller's country (reverse charge)
    postal_code: str | None = None


@dataclass(frozen=True, slots=True)
class TaxQuote:
    """Per line: the tax and the net amount (the discounted amount without tax)."""

    line_taxes: list[int]
    line_nets: list[int]
    shipping_tax: int
    shipping_net: int
    missing: str | None = None  # why no rate applies: the cart is not ready
    exempt_reason: ExemptReason | None = None
    estimated: bool = False  # the provider did not answer: the tables' rates
    rates_bp: list[int] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.line_taxes) + self.shipping_tax


class TaxCalculator(Protocol):
    async def quote(self, request: TaxRequest) -> TaxQuote: ...


def _net(request: TaxRequest) -> list[int]:
    return [max(line.amount - line.discount, 0) for line in request.lines]


def untaxed(request: TaxRequest, missing: str | None = None) -> TaxQuote:
    """No tax on anything: the amounts are the nets (an exemption, or no rate)."""
    nets = _net(request)
    return TaxQuote([0] * len(nets), nets, 0, request.shipping, missing, rates_bp=[0] * len(nets))


def tax_of(amount: int, rate_bp: int, inclusive: bool) -> int:
    """The tax on `amount`: added to it (exclusive) or contained in it (inclusive)."""
    if rate_bp == 0 or amount == 0:
        return 0
    if inclusive:
        return amount - round_half_up_div(amount * 10_000, 10_000 + rate_bp)
    return round_half_up_div(amount * rate_bp, 10_000)


def calculate(j: Jurisdiction, request: TaxRequest) -> TaxQuote:
    """The tax of `request` under jurisdiction `j` (the tables' arithmetic)."""
    inclusive = request.prices_include_tax
    amounts = _net(request)
    rates = [j.rate_bp(line.tax_class) for line in request.lines]
    if j.rounding is Rounding.PER_LINE:
        taxes = [tax_of(a, r, inclusive) for a, r in zip(amounts, rates, strict=True)]
    else:
        taxes = [0] * len(amounts)
        for rate in set(rates):
            idx = [i for i, r in enumerate(rates) if r == rate]
            group_tax = tax_of(sum(amounts[i] for i in idx), rate, inclusive)
            if group_tax == 0:
                continue
            for i, part in zip(idx, allocate(group_tax, [amounts[i] for i in idx]), strict=True):
                taxes[i] = part
    ship_rate = j.standard_bp if j.taxes_shipping else 0
    shipping_tax = tax_of(request.shipping, ship_rate, inclusive)
    if inclusive:
        nets = [a - t for a, t in zip(amounts, taxes, strict=True)]
        shipping_net = request.shipping - shipping_tax
    else:
        nets, shipping_net = amounts, request.shipping
    return TaxQuote(taxes, nets, shipping_tax, shipping_net, rates_bp=rates)


def reverse_charge(request: TaxRequest, origin: str | None = None) -> bool:
    """A business buyer registered for VAT in the destination member state, the goods
    crossing an EU border from the seller's member state: the buyer accounts for the VAT."""
    vat_country = eu_vat_country(request.tax_id)
    origin = request.origin_country or origin
    return (
        vat_country is not None
        and request.country in EU
        and vat_country == request.country
        and origin in EU
        and origin != request.country
    )


def overrides_from(rates: dict[str, int]) -> dict[tuple[str, str | None], Jurisdiction]:
    """Standard rates by "CC" or "CC-REGION" (CARTWRIGHT_TAX_RATES) as table entries; the
    reduced class pays the standard rate, rounding is per line, shipping is taxed."""
    out: dict[tuple[str, str | None], Jurisdiction] = {}
    for key, rate in rates.items():
        country, _, region = key.partition("-")
        out[(country, region or None)] = Jurisdiction(country, region or None, rate)
    return out


class RateTableTax:
    """The built-in tables, with overrides on top (per jurisdiction)."""

    def __init__(
        self,
        overrides: dict[tuple[str, str | None], Jurisdiction] | None = None,
        *,
        origin_country: str | None = None,
    ) -> None:
        self._table = {**JURISDICTIONS, **(overrides or {})}
        self.origin_country = origin_country

    def jurisdiction(self, country: str | None, region: str | None) -> Jurisdiction | None:
        return find(self._table, country, region)

    def quote_now(self, request: TaxRequest) -> TaxQuote:
        if request.country is None:
            return untaxed(request)  # no address yet: the cart is not ready for that
        if request.country in REGIONAL and not request.region:
            return untaxed(request, f"no tax rate for country {request.country} without a region")
        j = self.jurisdiction(request.country, request.region)
        if j is None:
            where = request.country + (f"-{request.region}" if request.region else "")
            return untaxed(request, f"no tax rate for country {where}")
        if reverse_charge(request, self.origin_country):
            q = untaxed(request)
            return TaxQuote(
                q.line_taxes, q.line_nets, 0, q.shipping_net, None, ExemptReason.REVERSE_CHARGE,
                rates_bp=q.rates_bp,
            )  # fmt: skip
        return calculate(j, request)

    async def quote(self, request: TaxRequest) -> TaxQuote:
        return self.quote_now(request)
