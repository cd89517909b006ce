"""Stripe's balance transactions as CSV, in either of the two shapes Stripe gives them:

- **API-shaped**: the fields of the Balance Transaction object
  (https://docs.stripe.com/api/balance_transactions/object): `id` (`txn_...`), `type`
  (`charge`, `payment`, `refund`, `payment_refund`, `adjustment`, `payout`, `stripe_fee`,
  ...), `source`, `amount`, `fee`, `net` in the currency's smallest unit, `currency`
  (lowercase ISO code), `created` (Unix seconds); `reporting_category` when present.
- **Itemized report** ("Balance change from activity", report type
  `balance_change_from_activity.itemized.3`, as the Dashboard downloads it): columns
  `balance_transaction_id`, `created_utc` (or `created`), `currency`, `gross`, `fee`,
  `net` in decimal major units ("12.34"), `reporting_category` (`charge`, `refund`,
  `dispute`, `dispute_reversal`, `fee`, `payout`, `partial_capture_reversal`,
  `other_adjustment`, ... https://docs.stripe.com/reports/reporting-categories),
  `source_id`, and optionally `charge_id`, `payment_intent_id`,
  `payment_metadata[<key>]`, `refund_metadata[<key>]`.

Our ids come from the metadata our connector sets (`cartwright_payment_id` on the
PaymentIntent, `cartwright_refund_id` on a refund) when the export carries those columns;
otherwise lines are matched by Stripe's ids (`payment_intent_id`, the refund's `re_...`).
The shape is told by the header: `balance_transaction_id` means the itemized report.
"""

from __future__ import annotations

from cartwright.reconciliation.parsers.base import (
    BadReport,
    LineKind,
    Report,
    ReportFormat,
    ReportLine,
    UniqueIds,
    check_net,
    currency_code,
    decimal_minor,
    integer,
    rows,
    text_field,
    timestamp,
)

API_COLUMNS = ("id", "type", "source", "amount", "fee", "net", "currency", "created")
ITEMIZED_COLUMNS = (
    "balance_transaction_id",
    "currency",
    "gross",
    "fee",
    "net",
    "reporting_category",
    "source_id",
)
PAYMENT_ID = "payment_metadata[cartwright_payment_id]"
REFUND_ID = "refund_metadata[cartwright_refund_id]"

# Balance transaction `type` (API) and `reporting_category` (itemized) to our kinds;
# anything not named is an adjustment, for a person to look at.
TYPES = {
    "charge": LineKind.CAPTURE,
    "payment": LineKind.CAPTURE,
    "refund": LineKind.REFUND,
    "payment_refund": LineKind.REFUND,
    "payout": LineKind.PAYOUT,
    "stripe_fee": LineKind.FEE,
    "stripe_fx_fee": LineKind.FEE,
    "tax_fee": LineKind.FEE,
}
CATEGORIES = {
    "charge": LineKind.CAPTURE,
    "refund": LineKind.REFUND,
    "dispute": LineKind.CHARGEBACK,
    "payout": LineKind.PAYOUT,
    "fee": LineKind.FEE,
}


def parse_stripe(provider: str, text: str) -> Report:
    header = text.split("\n", 1)[0]
    itemized = "balance_transaction_id" in header
    required = ITEMIZED_COLUMNS if itemized else API_COLUMNS
    lines = []
    ids = UniqueIds()
    for number, row in rows(text, required):
        id_column = "balance_transaction_id" if itemized else "id"
        line_id = text_field(number, row, id_column)
        assert line_id is not None
        ids.check(number, line_id)
        currency = currency_code(number, row)
        if itemized:
            category = row["reporting_category"]
            kind = CATEGORIES.get(category, LineKind.ADJUSTMENT)
            gross, fee, net = (
                decimal_minor(number, row, c, currency) for c in ("gross", "fee", "net")
            )
            created = "created_utc" if "created_utc" in row else "created"
            if created not in row:
                raise BadReport.at(1, "missing columns: created_utc")
            occurred_at = timestamp(number, row, created)
            source = text_field(number, row, "source_id", required=False)
        else:
            category = row.get("reporting_category", "")
            kind = TYPES.get(row["type"], LineKind.ADJUSTMENT)
            if kind is LineKind.ADJUSTMENT and category == "dispute":
                kind = LineKind.CHARGEBACK
            gross, fee, net = (integer(number, row, c) for c in ("amount", "fee", "net"))
            occurred_at = timestamp(number, row, "created")
            source = text_field(number, row, "source", required=False)
        check_net(number, gross, fee, net)
        our_payment = text_field(number, row, PAYMENT_ID, required=False)
        our_refund = text_field(number, row, REFUND_ID, required=False)
        provider_payment = text_field(number, row, "payment_intent_id", required=False)
        lines.append(
            ReportLine(
                provider=provider,
                line_id=line_id,
                kind=kind,
                our_reference=our_refund if kind is LineKind.REFUND else our_payment,
                our_payment=our_payment,
                source_id=source,
                provider_payment=provider_payment,
                currency=currency,
                gross=gross,
                fee=fee,
                net=net,
                occurred_at=occurred_at,
                line_number=number,
            )
        )
    return Report(ReportFormat.STRIPE, lines)
