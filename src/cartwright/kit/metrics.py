"""The platform's metrics, where every module can record what happened without
importing `ops` (which serves them on `/metrics`, and may import any module).

Prometheus metrics for the checkout SLIs. Multiprocess-safe when `PROMETHEUS_MULTIPROC_DIR`
is set (`cartwright serve --workers N` sets it)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

checkouts = Counter(
    "cartwright_checkouts_total",
    "Checkout requests by outcome: placed, awaiting_payment, payment_declined, "
    "provider_unavailable, replayed, or the problem code of a refusal "
    "(insufficient_stock, cart_not_ready, cart_closed, ...).",
    ["outcome"],
)
checkout_latency = Histogram(
    "cartwright_checkout_duration_seconds",
    "Time to answer a checkout request.",
    buckets=LATENCY_BUCKETS,
)
payment_calls = Counter(
    "cartwright_payment_provider_calls_total",
    "Calls to payment providers by operation and outcome "
    "(authorized, captured, declined, requires_action, pending, timeout, error).",
    ["provider", "operation", "outcome"],
)
payment_latency = Histogram(
    "cartwright_payment_provider_duration_seconds",
    "Latency of one call to a payment provider.",
    ["provider", "operation"],
    buckets=LATENCY_BUCKETS,
)
recoveries = Counter(
    "cartwright_payment_recoveries_total",
    "Checkouts the recovery worker resolved, by how.",
    ["outcome"],
)
rate_limiter_failures = Counter(
    "cartwright_rate_limiter_failures_total",
    "Rate-limit checks that could not be counted (backend unreachable or slow); the"
    " request went on unlimited.",
)
rate_limited = Counter(
    "cartwright_rate_limited_total",
    "Requests refused with 429 rate_limited, by limit.",
    ["limit"],
)
