"""The platform's metrics, where every module can record what happened without
importing `ops` (which serves them on `/metrics`, and may import any module).

Prometheus metrics for the checkout SLIs. Multiprocess-safe when `PROMETHEUS_MULTIPROC_DIR`
is set (`cartwright serve --workers N` sets it)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

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
payment_mismatches = Counter(
    "cartwright_payment_mismatches_total",
    "Provider answers whose amount or currency differs from ours (never trusted).",
    ["provider"],
)
reconciliation_discrepancies = Counter(
    "cartwright_reconciliation_discrepancies_total",
    "Discrepancies first raised by reconciliation runs, by provider and kind.",
    ["provider", "kind"],
)
reconciliation_runs = Counter(
    "cartwright_reconciliation_runs_total",
    "Reconciliation runs, by provider and status (matched, discrepancies).",
    ["provider", "status"],
)
payment_operations = Counter(
    "cartwright_payment_operations_total",
    "Captures, refunds and voids settled, by kind and outcome (succeeded, failed).",
    ["kind", "outcome"],
)
psp_webhooks = Counter(
    "cartwright_psp_webhooks_total",
    "Provider webhooks received, by provider and outcome (applied, duplicate, ignored, invalid).",
    ["provider", "outcome"],
)
disputes = Counter(
    "cartwright_payment_disputes_total",
    "Payment disputes (chargebacks) by provider and status reached (opened, won, lost).",
    ["provider", "status"],
)
checkout_stuck = Counter(
    "cartwright_checkout_stuck_total",
    "Checkouts whose order could not be written after the payment (left to recovery).",
)
payments_compensated = Counter(
    "cartwright_payments_compensated_total",
    "Payments voided or refunded because no order could be placed for them, by action.",
    ["action"],
)
payments_overdue = Counter(
    "cartwright_payments_overdue_total",
    "Awaited payments still unresolved past their maximum age (raised, not retried).",
)
# Per process (payments/breaker.py): the worst state any live process is in.
breaker_state = Gauge(
    "cartwright_payment_provider_breaker_state",
    "Circuit breaker of each payment provider: 0 closed, 1 half-open, 2 open (new"
    " authorizations go to the next provider of the route). The highest of the live"
    " processes.",
    ["provider"],
    multiprocess_mode="livemax",
)
breaker_transitions = Counter(
    "cartwright_payment_provider_breaker_transitions_total",
    "Circuit breaker state changes of each payment provider, by the state entered.",
    ["provider", "to"],
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
orders_created = Counter(
    "cartwright_orders_created_total",
    "Orders placed (paid, or awaiting a payment that may still succeed).",
)
stock_outs = Counter(
    "cartwright_stock_outs_total",
    "Checkouts refused because a SKU did not have the units.",
)
promotions_unavailable = Counter(
    "cartwright_promotions_unavailable_total",
    "Checkouts refused because a promotion the cart got ran out of uses or budget.",
)
idempotent_replays = Counter(
    "cartwright_idempotent_replays_total",
    "Requests answered from a stored idempotent answer, by route template.",
    ["route"],
)
# Database-wide values, computed by the worker: the value written last is the true one,
# whichever process wrote it.
payments_unknown = Gauge(
    "cartwright_payments_unknown",
    "Payments whose result is unknown (the provider did not answer); recovery asks later.",
    multiprocess_mode="mostrecent",
)
payments_unknown_age = Gauge(
    "cartwright_payments_unknown_oldest_age_seconds",
    "How long the oldest payment with an unknown result has been unknown (0: none).",
    multiprocess_mode="mostrecent",
)
db_pool_in_use = Gauge(
    "cartwright_db_pool_connections_in_use",
    "PostgreSQL connections handed out, per pool (summed over live processes).",
    ["pool"],
    multiprocess_mode="livesum",
)
db_pool_open = Gauge(
    "cartwright_db_pool_connections_open",
    "PostgreSQL connections open or being opened, per pool (summed over live processes).",
    ["pool"],
    multiprocess_mode="livesum",
)
db_pool_max = Gauge(
    "cartwright_db_pool_connections_max",
    "The most connections the pools may open (summed over live processes).",
    ["pool"],
    multiprocess_mode="livesum",
)
db_pool_waits = Counter(
    "cartwright_db_pool_waits_total",
    "Times a request waited for a connection because the pool was exhausted.",
    ["pool"],
)
worker_runs = Counter(
    "cartwright_worker_job_runs_total",
    "Runs of each background job, by outcome (ok, error).",
    ["job", "outcome"],
)
worker_last_run = Gauge(
    "cartwright_worker_job_last_run_timestamp_seconds",
    "When each background job last ran to its end (Unix time).",
    ["job"],
    multiprocess_mode="max",
)

# Outgoing webhooks (webhooks/delivery.py).
webhook_deliveries = Counter(
    "cartwright_webhook_deliveries_total",
    "Webhook delivery attempts by outcome: succeeded, failed (to be retried), abandoned.",
    ["outcome"],
)
webhook_attempt_duration = Histogram(
    "cartwright_webhook_attempt_duration_seconds",
    "Time of one webhook delivery attempt, until the receiver answered or it failed.",
    buckets=LATENCY_BUCKETS,
)
webhook_pending = Gauge(
    "cartwright_webhook_deliveries_pending",
    "Webhook deliveries waiting to be sent or retried, `pending` or `failed` (database-wide).",
    multiprocess_mode="mostrecent",
)
webhook_endpoints_disabled = Gauge(
    "cartwright_webhook_endpoints_disabled",
    "Webhook endpoints disabled, by hand or after failing continuously (database-wide).",
    multiprocess_mode="mostrecent",
)

# The outbox relay (events/relay.py, events/brokers/; worker job `event_relay`).
outbox_backlog = Gauge(
    "cartwright_outbox_backlog",
    "Events not yet published to the broker, past the relay's cursor (database-wide).",
    multiprocess_mode="mostrecent",
)
outbox_oldest_unpublished = Gauge(
    "cartwright_outbox_oldest_unpublished_seconds",
    "Age of the oldest event not yet published to the broker (0 when none waits).",
    multiprocess_mode="mostrecent",
)
events_published = Counter(
    "cartwright_events_published_total",
    "Events the broker confirmed and the relay marked published, by broker.",
    ["broker"],
)
event_relay_errors = Counter(
    "cartwright_event_relay_errors_total",
    "Relay passes a broker failure stopped (nothing of the page was marked), by broker.",
    ["broker"],
)
# The tax, shipping-rate and fraud providers' calls (kit/external.py), by kind of provider.
provider_calls = Counter(
    "cartwright_provider_calls_total",
    "Calls to external tax, shipping-rate and fraud providers, by outcome: ok, error,"
    " timeout, open (refused by the open breaker), switched_off (its kill switch is off).",
    ["kind", "provider", "outcome"],
)
provider_duration = Histogram(
    "cartwright_provider_duration_seconds",
    "Duration of the calls made to external tax, shipping-rate and fraud providers.",
    ["kind", "provider"],
    buckets=LATENCY_BUCKETS,
)
provider_breaker_state = Gauge(
    "cartwright_provider_breaker_state",
    "Circuit breaker of each external tax, shipping-rate and fraud provider: 0 closed,"
    " 1 half-open, 2 open (its fallback is taken). The highest of the live processes.",
    ["kind", "provider"],
    multiprocess_mode="livemax",
)
provider_fallbacks = Counter(
    "cartwright_provider_fallbacks_total",
    "Fallbacks taken because an external provider could not answer, by the fallback.",
    ["kind", "provider", "fallback"],
)
flag_enabled = Gauge(
    "cartwright_flag_enabled",
    "Each known feature flag as this process applies it (1 on, 0 off): the lowest of the"
    " live processes, so 1 means every process has it on.",
    ["key"],
    multiprocess_mode="livemin",
)
flag_refresh_errors = Counter(
    "cartwright_flag_refresh_errors_total",
    "Reads of the feature flags that failed (the process kept the values it last read).",
)
consumer_events = Counter(
    "cartwright_consumer_events_total",
    "Events the platform's own consumers handled, failed on (tried again) or parked.",
    ["consumer", "outcome"],
)
consumer_lag = Gauge(
    "cartwright_consumer_lag_events",
    "Events of a consumer's types past its cursor in the feed (as its last pass saw).",
    ["consumer"],
    multiprocess_mode="livemax",
)
risk_decisions = Counter(
    "cartwright_risk_decisions_total",
    "Checkouts screened for fraud, by decision (accept, review, reject).",
    ["decision"],
)
