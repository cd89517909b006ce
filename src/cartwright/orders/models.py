import sqlalchemy as sa

from cartwright.kit.schema import (
    Json,
    Serial,
    Timestamp,
    id_column,
    metadata,
    money_columns,
    timestamps,
)

orders = sa.Table(
    "orders",
    metadata,
    # `number` is the human-facing order number; `id` the API's opaque id.
    sa.Column("number", Serial, sa.Identity(start=1001), primary_key=True),
    sa.Column("id", sa.String(64), nullable=False, unique=True),
    sa.Column("cart_id", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("payment_status", sa.String(24), nullable=False),
    sa.Column("fulfillment_status", sa.String(24), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("email", sa.String(320), nullable=True),
    sa.Column("shipping_address", Json, nullable=True),
    sa.Column("billing_address", Json, nullable=True),
    sa.Column("shipping_method", sa.String(64), nullable=True),
    *money_columns(
        "subtotal", "discount", "shipping", "tax", "total", "amount_captured", "amount_refunded"
    ),
    sa.Column("next_action", Json, nullable=True),
    *timestamps(),
    # The signed-in customer whose cart it was (None: a guest's order).
    sa.Column("customer_id", sa.String(64), nullable=True),
    # The payment's latest dispute as the order shows it (`{id, status, amount, reason}`).
    sa.Column("dispute", Json, nullable=True),
    sa.Index("ix_orders_customer_id_id", "customer_id", "id"),
    # A cancellation begun (the order takes nothing but finishing it), and when the worker
    # next looks at it if its request did not finish it (ADR 0017).
    sa.Column("cancel_requested_at", Timestamp, nullable=True),
    sa.Column("cancel_check_at", Timestamp, nullable=True),
    # The shipping price is the zone's flat rate, taken because the carrier's live rate
    # could not be had (ADR 0026).
    sa.Column("shipping_fallback", sa.Boolean, nullable=False, server_default=sa.false()),
    # The code of the channel the order was placed in (its cart's).
    sa.Column("channel", sa.String(64), nullable=False, server_default="default"),
    # Tax (ADR 0025): the customer's tax id, why no tax was charged (reverse_charge), and
    # whether the tax provider did not answer so the built-in rates were used.
    sa.Column("tax_id", sa.String(32), nullable=True),
    sa.Column("tax_exempt_reason", sa.String(32), nullable=True),
    sa.Column("tax_estimated", sa.Boolean, server_default=sa.false(), nullable=False),
    # The fraud screening's verdict (`{score, decision, reasons[, fraud_fallback]}`, ADR
    # 0024) and, for an order sent to review, where its review is: pending (payment
    # authorized only, no fulfilment), approved or rejected.
    sa.Column("risk", Json, nullable=True),
    sa.Column("risk_review", sa.String(16), nullable=True),
    # The promotions the order got (`[{id, name, code, amount}]`, ADR 0028); the lines
    # carry their shares in `order_lines.discount`.
    sa.Column("promotions", Json, nullable=True),
)

order_lines = sa.Table(
    "order_lines",
    metadata,
    sa.Column("order_id", sa.String(64), sa.ForeignKey("orders.id"), primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True),
    sa.Column("id", sa.String(64), nullable=False),
    sa.Column("sku", sa.String(100), nullable=False),
    sa.Column("variant_id", sa.String(64), nullable=False),
    sa.Column("title", sa.String(500), nullable=False),
    sa.Column("quantity", sa.BigInteger, nullable=False),
    *money_columns("unit_price", "subtotal", "tax", "total"),
    # The line's share of the order's discount (of every promotion's, free shipping too).
    *money_columns("discount"),
    sa.Column("quantity_fulfilled", sa.BigInteger, nullable=False, server_default="0"),
    # Units refunded by lines (refunds in flight included) and asked back by returns.
    sa.Column("quantity_refunded", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("quantity_returned", sa.BigInteger, nullable=False, server_default="0"),
)

# Goods sent for an order. With capture on fulfilment, the value of what was sent is
# captured after the fulfilment commits (`capture_status` pending until the capture is
# begun: the worker resumes it if the process died first).
fulfillments = sa.Table(
    "fulfillments",
    metadata,
    id_column(),
    sa.Column("order_id", sa.String(64), sa.ForeignKey("orders.id"), nullable=False, index=True),
    sa.Column("lines", Json, nullable=False),
    sa.Column("tracking_number", sa.String(200), nullable=True),
    sa.Column("carrier", sa.String(100), nullable=True),
    sa.Column("capture_status", sa.String(16), nullable=False),  # none, pending, begun
    *money_columns("capture_amount"),
    sa.Column("capture_final", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("capture_check_at", Timestamp, nullable=True),
    *timestamps(),
)

# Units a refund by lines took, per refund operation: given back if the refund fails.
order_refund_units = sa.Table(
    "order_refund_units",
    metadata,
    sa.Column("operation_id", sa.String(64), primary_key=True),
    sa.Column("line_id", sa.String(64), primary_key=True),
    sa.Column("order_id", sa.String(64), nullable=False),
    sa.Column("quantity", sa.BigInteger, nullable=False),
)

# Goods a shopper sends back: requested, received (some restocked), refunded.
order_returns = sa.Table(
    "order_returns",
    metadata,
    id_column(),
    sa.Column("order_id", sa.String(64), sa.ForeignKey("orders.id"), nullable=False, index=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("lines", Json, nullable=False),
    sa.Column("received", Json, nullable=True),
    sa.Column("reason", sa.String(500), nullable=True),
    sa.Column("refund_id", sa.String(64), nullable=True),
    *timestamps(),
)
