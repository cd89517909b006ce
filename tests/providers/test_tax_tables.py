"""The built-in tax tables: rounding per line and per order, inclusive and exclusive, in
zero-, two- and three-decimal currencies; a missing rate refused; reverse charge."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from cartwright.kit.money import CURRENCY_EXPONENTS
from cartwright.providers.tax import (
    ExemptReason,
    Jurisdiction,
    RateTableTax,
    Rounding,
    TaxClass,
    TaxLine,
    TaxRequest,
    calculate,
    eu_vat_country,
    tax_of,
)

CURRENCIES = st.sampled_from(["JPY", "EUR", "BHD"])
RATES = st.integers(min_value=0, max_value=3000)
AMOUNTS = st.integers(min_value=0, max_value=10**9)
CLASSES = st.sampled_from(list(TaxClass))
LINES = st.lists(st.builds(TaxLine, amount=AMOUNTS, tax_class=CLASSES), min_size=1, max_size=12)
TABLES = RateTableTax(origin_country="DE")


def _req(currency: str, lines: list[TaxLine], *, inclusive: bool, shipping: int = 0) -> TaxRequest:
    return TaxRequest(currency, "XX", None, lines, shipping, prices_include_tax=inclusive)


@given(AMOUNTS, RATES)
def test_inclusive_gross_is_net_plus_tax_exactly(gross: int, rate: int) -> None:
    tax = tax_of(gross, rate, inclusive=True)
    net = gross - tax
    assert net + tax == gross and 0 <= tax <= gross
    # the net taxed again exclusively gives back the gross within one minor unit
    assert abs(net + tax_of(net, rate, inclusive=False) - gross) <= 1


@given(AMOUNTS, RATES)
def test_exclusive_tax_is_the_rate_rounded_half_up(net: int, rate: int) -> None:
    tax = tax_of(net, rate, inclusive=False)
    assert abs(tax * 10_000 - net * rate) <= 5_000
    if (net * rate) % 10_000 == 5_000:
        assert tax * 10_000 > net * rate  # a half goes up


@given(CURRENCIES, LINES, st.booleans(), AMOUNTS, RATES, RATES)
def test_per_line_rounding_sums_the_lines(
    currency: str, lines: list[TaxLine], inclusive: bool, shipping: int, std: int, red: int
) -> None:
    assert currency in CURRENCY_EXPONENTS
    j = Jurisdiction("XX", None, std, red)
    q = calculate(j, _req(currency, lines, inclusive=inclusive, shipping=shipping))
    for line, tax, net in zip(lines, q.line_taxes, q.line_nets, strict=True):
        assert tax == tax_of(line.amount, j.rate_bp(line.tax_class), inclusive)
        assert (net + tax == line.amount) if inclusive else (net == line.amount)
    assert q.total == sum(q.line_taxes) + q.shipping_tax
    assert q.shipping_tax == tax_of(shipping, std, inclusive)
    if inclusive:
        assert (
            sum(q.line_nets) + q.shipping_net + q.total == sum(x.amount for x in lines) + shipping
        )


@given(CURRENCIES, LINES, st.booleans(), RATES, RATES)
def test_per_order_rounding_rounds_once_per_rate_and_stays_within_bounds(
    currency: str, lines: list[TaxLine], inclusive: bool, std: int, red: int
) -> None:
    j = Jurisdiction("XX", None, std, red, rounding=Rounding.PER_ORDER)
    q = calculate(j, _req(currency, lines, inclusive=inclusive))
    per_line = calculate(
        Jurisdiction("XX", None, std, red), _req(currency, lines, inclusive=inclusive)
    )
    for rate in {j.rate_bp(x.tax_class) for x in lines}:
        idx = [i for i, x in enumerate(lines) if j.rate_bp(x.tax_class) == rate]
        group = sum(lines[i].amount for i in idx)
        assert sum(q.line_taxes[i] for i in idx) == tax_of(group, rate, inclusive)
        # each line's share is within a minor unit of its exact tax
        for i in idx:
            exact = lines[i].amount * rate / (10_000 + (rate if inclusive else 0))
            exact = exact if inclusive else lines[i].amount * rate / 10_000
            assert abs(q.line_taxes[i] - exact) < 1 + 1e-9 * max(1, lines[i].amount)
        # the order's rounding differs from the lines' by at most half a unit per line
        diff = sum(q.line_taxes[i] for i in idx) - sum(per_line.line_taxes[i] for i in idx)
        assert abs(diff) <= (len(idx) + 1) / 2
    if inclusive:
        assert all(
            n + t == x.amount for n, t, x in zip(q.line_nets, q.line_taxes, lines, strict=True)
        )


def test_known_amounts_in_jpy_eur_bhd() -> None:
    # JPY 0 decimals, JP per order at 10 %: three lines of 333 yen → 999 × 10 % = 99.9 → 100
    jp = TABLES.quote_now(TaxRequest("JPY", "JP", None, [TaxLine(333)] * 3))
    assert jp.total == 100 and sorted(jp.line_taxes) == [33, 33, 34]
    # EUR per line in DE: 19 % of 1.05 = 0.1995 → 0.20; reduced 7 % of 1.50 = 0.105 → 0.11
    de = TABLES.quote_now(
        TaxRequest("EUR", "DE", None, [TaxLine(105), TaxLine(150, TaxClass.REDUCED)], 500)
    )
    assert de.line_taxes == [20, 11] and de.shipping_tax == 95
    # BHD 3 decimals, inclusive 19 %: 1.190 BHD contains 0.190
    inc = TABLES.quote_now(TaxRequest("BHD", "DE", None, [TaxLine(1190)], prices_include_tax=True))
    assert inc.line_taxes == [190] and inc.line_nets == [1000]
    # zero and exempt classes pay nothing
    none = TABLES.quote_now(
        TaxRequest("EUR", "FR", None, [TaxLine(999, TaxClass.ZERO), TaxLine(999, TaxClass.EXEMPT)])
    )
    assert none.line_taxes == [0, 0] and none.missing is None


def test_the_discount_is_taken_off_before_tax() -> None:
    q = TABLES.quote_now(TaxRequest("EUR", "DE", None, [TaxLine(1000, discount=200)]))
    assert q.line_taxes == [152] and q.line_nets == [800]


def test_a_country_without_a_rate_is_refused_not_zero() -> None:
    for country, region in (("BR", None), ("US", None), ("CA", None), ("US", "XY")):
        q = TABLES.quote_now(TaxRequest("EUR", country, region, [TaxLine(1000)]))
        assert q.missing is not None and q.missing.startswith(f"no tax rate for country {country}")
    # explicitly 0 %: configured, so not missing
    for country, region in (("HK", None), ("US", "OR"), ("US", "de")):
        q = TABLES.quote_now(TaxRequest("EUR", country, region, [TaxLine(1000)]))
        assert q.missing is None and q.total == 0
    ca = TABLES.quote_now(TaxRequest("CAD", "CA", "ON", [TaxLine(1000)], 100))
    assert ca.line_taxes == [130] and ca.shipping_tax == 13
    us = TABLES.quote_now(TaxRequest("USD", "US", "CA", [TaxLine(1000)], 100))
    assert us.line_taxes == [73] and us.shipping_tax == 0


def test_an_override_replaces_the_built_in_rate() -> None:
    tables = RateTableTax({("BR", None): Jurisdiction("BR", None, 1700)})
    assert tables.quote_now(TaxRequest("BRL", "BR", None, [TaxLine(1000)])).line_taxes == [170]


def test_eu_vat_number_format() -> None:
    assert eu_vat_country("DE123456789") == "DE"
    assert eu_vat_country("fr 12 345678901") == "FR"
    assert eu_vat_country("EL123456789") == "GR"
    assert eu_vat_country("NL123456789B01") == "NL"
    for bad in ("DE12345678", "XX123456789", "", None, "GB123456789"):
        assert eu_vat_country(bad) is None


def test_reverse_charge_for_a_b2b_cross_border_eu_sale() -> None:
    line = [TaxLine(1000)]
    fr_b2b = TABLES.quote_now(TaxRequest("EUR", "FR", None, line, 500, tax_id="FR12345678901"))
    assert fr_b2b.total == 0 and fr_b2b.exempt_reason is ExemptReason.REVERSE_CHARGE
    # same country as the seller: VAT charged; a malformed or foreign number changes nothing
    for country, tax_id in (("DE", "DE123456789"), ("FR", "FR123"), ("FR", "DE123456789")):
        q = TABLES.quote_now(TaxRequest("EUR", country, None, line, 500, tax_id=tax_id))
        assert q.total > 0 and q.exempt_reason is None
    # outside the EU a tax id is not an exemption
    gb = TABLES.quote_now(TaxRequest("GBP", "GB", None, line, tax_id="GB123456789"))
    assert gb.total == 200 and gb.exempt_reason is None


def test_rates_from_settings_add_and_replace_jurisdictions() -> None:
    from cartwright.kit.settings import Settings
    from cartwright.providers.tax import overrides_from

    settings = Settings(tax_rates={"BR": 1700, "US-NY": 888, "DE": 0})
    assert not [p for p in settings.configuration_problems() if "CARTWRIGHT_TAX_RATES" in p]
    tables = RateTableTax(overrides_from(settings.tax_rates))
    assert tables.quote_now(TaxRequest("BRL", "BR", None, [TaxLine(1000)])).line_taxes == [170]
    assert tables.quote_now(TaxRequest("USD", "US", "NY", [TaxLine(1000)])).line_taxes == [89]
    de = tables.quote_now(TaxRequest("EUR", "DE", None, [TaxLine(1000)]))
    assert de.total == 0 and de.missing is None
    bad = Settings(tax_rates={"Brazil": 1700, "FR": 20_000})
    assert sum("CARTWRIGHT_TAX_RATES" in p for p in bad.configuration_problems()) == 2
