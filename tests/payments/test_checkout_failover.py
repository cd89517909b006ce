"""Through a real server: once the only provider's breaker is open, a checkout answers 503
at once with Retry-After the remaining cool-down, calls nobody and holds nothing; the cart
stays open and the same Idempotency-Key may be tried again."""

from __future__ import annotations

from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from cartwright.migrations.runner import upgrade
from tests.conftest import ADMIN_KEY, start_server
from tests.factories import checkout, create_product, ready_cart, stock_of

COOLDOWN_S = 600


def _samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {
        tuple(sorted(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name
    }


async def test_an_open_breaker_with_no_provider_left_is_503_without_a_call(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'failover.db'}"
    upgrade(url)
    env = {
        "CARTWRIGHT_PSP_BREAKER_THRESHOLD": "1",
        "CARTWRIGHT_PSP_BREAKER_WINDOW": "1",
        "CARTWRIGHT_PSP_BREAKER_COOLDOWN_S": str(COOLDOWN_S),
    }
    server = start_server(url, tmp_path / "server.log", extra_env=env, no_worker=True)
    try:
        async with httpx.AsyncClient(
            base_url=server.base_url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}
        ) as admin:
            sku = (await create_product(admin, stock=5))["variants"][0]["sku"]
            down = await ready_cart(admin, [(sku, 1)])
            failed = await checkout(admin, down["id"], token="tok_processing_error")
            assert failed.status_code == 503  # every attempt failed: the breaker opens
            before = (await admin.get("/metrics")).text

            cart = await ready_cart(admin, [(sku, 2)])
            refused = await checkout(admin, cart["id"], key="one-key")
            assert refused.status_code == 503, refused.text
            assert refused.json()["code"] == "provider_unavailable"
            assert COOLDOWN_S - 60 < int(refused.headers["Retry-After"]) <= COOLDOWN_S
            assert (await stock_of(admin, sku))["available"] == 5
            assert (await admin.get(f"/v1/carts/{cart['id']}")).json()["status"] == "open"
            again = await checkout(admin, cart["id"], key="one-key")  # not a stored answer
            assert again.status_code == 503 and "Idempotent-Replayed" not in again.headers

            after = (await admin.get("/metrics")).text
        calls = "cartwright_payment_provider_calls_total"
        assert _samples(after, calls) == _samples(before, calls)  # nobody was called
        state = _samples(after, "cartwright_payment_provider_breaker_state")
        assert state[(("provider", "sandbox"),)] == 2
        opened = _samples(after, "cartwright_payment_provider_breaker_transitions_total")
        assert opened[(("provider", "sandbox"), ("to", "open"))] == 1
    finally:
        server.stop()
