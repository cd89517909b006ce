"""Customer sign-in misconfigured or unavailable: start-up refuses an unsafe JWKS URL; an
unreachable JWKS, or none at all, refuses every customer token (401) and guests still
check out."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.api.support import assert_problem
from tests.conftest import ADMIN_KEY, ROOT, SERVER_ENV, Server, free_port, start_server
from tests.customers.idp import IdentityProvider
from tests.factories import checkout, create_product, ready_cart


def test_plain_http_jwks_off_loopback_is_refused_at_start_up(tmp_path: Path) -> None:
    env = {
        **os.environ,
        **SERVER_ENV,
        "CARTWRIGHT_DATABASE_URL": f"sqlite:///{tmp_path / 'c.db'}",
        "CARTWRIGHT_CUSTOMER_JWKS_URL": "http://idp.example.com/.well-known/jwks.json",
        "CARTWRIGHT_CUSTOMER_ISSUER": "https://idp.example.com",
        "CARTWRIGHT_CUSTOMER_AUDIENCE": "shop",
    }
    result = subprocess.run(
        [sys.executable, "-m", "cartwright.cli", "serve", "--port", str(free_port())],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "plain http://" in result.stderr


async def _guest_checks_out_and_tokens_are_refused(server: Server, token: str) -> None:
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    async with httpx.AsyncClient(base_url=server.base_url, headers=headers, timeout=30) as admin:
        created = await admin.post("/v1/api-keys", json={"type": "publishable", "name": "s"})
        pk = created.json()["key"]
        sku = (await create_product(admin))["variants"][0]["sku"]
    async with httpx.AsyncClient(
        base_url=server.base_url, headers={"Authorization": f"Bearer {pk}"}, timeout=30
    ) as shop:
        signed = {"Cartwright-Customer-Token": token}
        assert_problem(await shop.get("/v1/customers/me", headers=signed), 401, "unauthenticated")
        refused = await shop.post("/v1/carts", json={"currency": "EUR"}, headers=signed)
        assert_problem(refused, 401, "unauthenticated")
        cart = await ready_cart(shop, [(sku, 1)])
        placed = await checkout(shop, cart["id"])
        assert placed.status_code == 201, placed.text
        assert placed.json()["customer_id"] is None


@pytest.mark.parametrize("database", ["postgres", "sqlite"])
async def test_jwks_down_is_401_not_5xx_and_guests_still_check_out(
    database: str,
    request: pytest.FixtureRequest,
    idp: IdentityProvider,
    tmp_path: Path,
) -> None:
    from cartwright.migrations.runner import upgrade

    if database == "postgres":
        url = request.getfixturevalue("pg_database")
    else:
        url = f"sqlite:///{tmp_path / 'down.db'}"
        upgrade(url)
    # Nothing listens on port 9 of loopback: every fetch of the keys fails at once.
    env = idp.server_env(CARTWRIGHT_CUSTOMER_JWKS_URL="http://127.0.0.1:9/jwks.json")
    server = start_server(url, tmp_path / "server.log", extra_env=env, no_worker=True)
    try:
        await _guest_checks_out_and_tokens_are_refused(server, idp.token("someone"))
    finally:
        server.stop()
    assert "Traceback" not in server.log_path.read_text()


async def test_without_a_jwks_customer_tokens_are_401_and_guests_check_out(
    server: Server, idp: IdentityProvider
) -> None:
    """The session's servers have no CARTWRIGHT_CUSTOMER_JWKS_URL."""
    await _guest_checks_out_and_tokens_are_refused(server, idp.token("someone"))
