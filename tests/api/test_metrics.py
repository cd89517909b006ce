"""The KPIs on `/metrics`: a scripted mix of checkout outcomes, each counted once."""

from __future__ import annotations

import asyncio

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import Server
from tests.factories import checkout, create_product, ready_cart

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(client: httpx.AsyncClient) -> Samples:
    response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def delta(before: Samples, after: Samples, name: str, **labels: str) -> float:
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0.0) - before.get(key, 0.0)


async def test_each_checkout_outcome_is_counted_once(
    admin: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    sku = (await create_product(admin, stock=10))["variants"][0]["sku"]
    carts = [(await ready_cart(admin, [(sku, 1)]))["id"] for _ in range(4)]
    short_cart = (await ready_cart(admin, [(sku, 50)]))["id"]
    before = await scrape(anonymous)

    paid = await checkout(admin, carts[0], token="tok_visa", key="paid-" + carts[0])
    declined = await checkout(admin, carts[1], token="tok_declined")
    down = await checkout(admin, carts[2], token="tok_processing_error")
    timed_out = await checkout(admin, carts[3], token="tok_timeout")
    short = await checkout(admin, short_cart)
    replayed = await checkout(admin, carts[0], token="tok_visa", key="paid-" + carts[0])
    assert [r.status_code for r in (paid, declined, down, timed_out, short, replayed)] == [
        201,
        402,
        503,
        202,
        409,
        201,
    ]

    after = await scrape(anonymous)
    checkouts = "cartwright_checkouts_total"
    for outcome in (
        "placed",
        "payment_declined",
        "provider_unavailable",
        "awaiting_payment",
        "insufficient_stock",
        "replayed",
    ):
        assert delta(before, after, checkouts, outcome=outcome) == 1, outcome
    assert delta(before, after, "cartwright_checkout_duration_seconds_count") == 6
    assert delta(before, after, "cartwright_orders_created_total") == 2  # paid, pending
    assert delta(before, after, "cartwright_stock_outs_total") == 1
    route = "/v1/carts/{cart_id}/checkout"
    assert delta(before, after, "cartwright_idempotent_replays_total", route=route) == 1

    calls = "cartwright_payment_provider_calls_total"
    authorize = {"provider": "sandbox", "operation": "authorize"}
    for outcome in ("declined", "error", "timeout"):
        assert delta(before, after, calls, **authorize, outcome=outcome) == 1, outcome
    paid_outcomes = sum(
        delta(before, after, calls, **authorize, outcome=o) for o in ("authorized", "captured")
    )
    assert paid_outcomes == 1
    latency = "cartwright_payment_provider_duration_seconds_count"
    assert delta(before, after, latency, provider="sandbox", operation="authorize") == 4


async def test_unknown_payments_and_the_pool_are_gauged(
    server: Server, admin: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    sku = (await create_product(admin, stock=1))["variants"][0]["sku"]
    assert (await checkout(admin, (await ready_cart(admin, [(sku, 1)]))["id"])).status_code == 201
    samples = await scrape(anonymous)
    for name in (
        "cartwright_payments_unknown",
        "cartwright_payments_unknown_oldest_age_seconds",
    ):
        assert (name, ()) in samples, name
        assert samples[(name, ())] >= 0
    if server.database_url.startswith("postgresql"):  # SQLite has no pool
        for pool in ("main", "sandbox"):
            labels = (("pool", pool),)
            most = samples[("cartwright_db_pool_connections_max", labels)]
            opened = samples[("cartwright_db_pool_connections_open", labels)]
            in_use = samples[("cartwright_db_pool_connections_in_use", labels)]
            assert most >= 2 and 1 <= opened <= most and 0 <= in_use <= opened, pool
    runs = [
        v
        for (name, labels), v in samples.items()
        if name == "cartwright_worker_job_runs_total" and ("job", "payment_recovery") in labels
    ]
    # The in-process worker polls every 0.5 s in the tests: it has run by now.
    for _ in range(20):
        if runs and sum(runs) >= 1:
            break
        await asyncio.sleep(0.25)
        samples = await scrape(anonymous)
        runs = [
            v
            for (name, labels), v in samples.items()
            if name == "cartwright_worker_job_runs_total" and ("job", "payment_recovery") in labels
        ]
    assert sum(runs) >= 1
