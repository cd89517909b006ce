"""A server of its own (different settings): behind a trusted proxy (127.0.0.1), with a
low velocity limit per client address, and an external fraud service that cannot be
reached (a closed port), failing open. Velocity counts only the public address the proxy
vouched for; every checkout records the fallback and still goes through."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import ADMIN_KEY, Server, free_port, start_server
from tests.factories import create_product, ready_cart


@pytest.fixture(scope="module")
def risk_server(pg_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    closed = free_port()  # nothing listens there: every call fails at once
    server = start_server(
        pg_database,
        Path(tmp_path_factory.mktemp("logs")) / "risk-server.log",
        extra_env={
            "CARTWRIGHT_TRUSTED_PROXIES": "127.0.0.1",
            "CARTWRIGHT_RISK_VELOCITY_ADDRESS": "2",
            "CARTWRIGHT_RISK_PROVIDER": "sift",
            "CARTWRIGHT_RISK_SIFT_API_KEY": "sift-test-key",
            "CARTWRIGHT_RISK_SIFT_URL": f"http://127.0.0.1:{closed}",
            "CARTWRIGHT_RISK_PROVIDER_TIMEOUT_S": "0.5",
            "CARTWRIGHT_FRAUD_FAILURE_MODE": "open",
        },
    )
    yield server
    server.stop()


@pytest.fixture
async def client(risk_server: Server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=risk_server.base_url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=30
    ) as c:
        yield c


async def _checkout(client: httpx.AsyncClient, forwarded_for: str | None) -> dict[str, object]:
    sku = (await create_product(client, price=900, stock=3))["variants"][0]["sku"]
    cart = await ready_cart(client, [(sku, 1)])
    headers = {"Idempotency-Key": uuid.uuid4().hex}
    if forwarded_for is not None:
        headers["X-Forwarded-For"] = forwarded_for
    placed = await client.post(
        f"/v1/carts/{cart['id']}/checkout",
        json={"payment": {"method": "card", "token": "tok_visa"}},
        headers=headers,
    )
    assert placed.status_code == 201, placed.text
    risk = placed.json()["risk"]
    assert isinstance(risk, dict)
    return risk


async def test_velocity_counts_the_public_address_a_trusted_proxy_vouched_for(
    client: httpx.AsyncClient,
) -> None:
    shopper = f"8.8.{uuid.uuid4().int % 200}.{uuid.uuid4().int % 200 + 1}"
    first = [await _checkout(client, f"198.51.100.7, {shopper}") for _ in range(2)]
    assert [r["decision"] for r in first] == ["accept", "accept"]
    third = await _checkout(client, shopper)
    assert third["decision"] == "review" and third["review"] == "pending"
    codes = [r["code"] for r in third["reasons"]]  # type: ignore[index]
    assert "velocity_address" in codes
    # The fraud service could not be reached: failed open, recorded on every order.
    assert all(r["fraud_fallback"] == "fail_open" for r in [*first, third])


@pytest.mark.parametrize(
    "forwarded_for",
    [
        None,  # the peer itself, loopback: never counted
        "10.20.30.40",  # private
        "192.168.7.7",
        "127.0.0.1",  # every hop a trusted proxy
    ],
)
async def test_velocity_never_counts_loopback_or_private_addresses(
    client: httpx.AsyncClient, forwarded_for: str | None
) -> None:
    for _ in range(4):
        risk = await _checkout(client, forwarded_for)
        assert risk["decision"] == "accept", risk
        assert risk["fraud_fallback"] == "fail_open"


async def test_the_fallbacks_are_in_the_metrics(client: httpx.AsyncClient) -> None:
    await _checkout(client, None)
    text = (await client.get("/metrics")).text
    assert (
        'cartwright_provider_fallbacks_total{fallback="fail_open",kind="fraud",provider="sift"}'
        in text
    )
    assert 'cartwright_risk_decisions_total{decision="accept"}' in text
    assert 'cartwright_provider_calls_total{kind="fraud",outcome="error",provider="sift"}' in text
