"""Production refuses unsafe settings; the development secret key is generated once and
kept; order tokens survive restarts and key rotation."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from cartwright.migrations.runner import upgrade
from tests.conftest import ADMIN_KEY, ROOT, SERVER_ENV, start_server
from tests.factories import checkout, create_product, ready_cart

STRONG = "s" * 40


def _run_cli(
    args: list[str], env: dict[str, str], tmp_path: Path
) -> subprocess.CompletedProcess[str]:
    full_env = {
        **os.environ,
        **SERVER_ENV,
        "CARTWRIGHT_DATABASE_URL": f"sqlite:///{tmp_path / 'prod.db'}",
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "cartwright.cli", *args],
        env=full_env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "reason"),
    [
        (
            {"CARTWRIGHT_SECRET_KEY": STRONG, "CARTWRIGHT_ADMIN_KEY": "a" * 40},
            "sandbox payment provider is enabled",
        ),
        (
            {"CARTWRIGHT_SANDBOX_ENABLED": "false", "CARTWRIGHT_SECRET_KEY": ""},
            "CARTWRIGHT_SECRET_KEY is not set",
        ),
        (
            {
                "CARTWRIGHT_SANDBOX_ENABLED": "false",
                "CARTWRIGHT_SECRET_KEY": STRONG,
                "CARTWRIGHT_ADMIN_KEY": "short-admin-key",
            },
            "CARTWRIGHT_ADMIN_KEY is shorter than 32 characters",
        ),
    ],
    ids=["sandbox-on", "no-secret-key", "short-admin-key"],
)
def test_production_refuses_to_serve_unsafe(
    tmp_path: Path, env: dict[str, str], reason: str
) -> None:
    result = _run_cli(["serve"], {"CARTWRIGHT_ENVIRONMENT": "production", **env}, tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert reason in result.stderr


def test_the_production_worker_refuses_the_sandbox_too(tmp_path: Path) -> None:
    env = {"CARTWRIGHT_ENVIRONMENT": "production", "CARTWRIGHT_SECRET_KEY": STRONG}
    result = _run_cli(["worker"], env, tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "sandbox payment provider is enabled" in result.stderr


def test_demo_is_for_development_only(tmp_path: Path) -> None:
    env = {
        "CARTWRIGHT_ENVIRONMENT": "production",
        "CARTWRIGHT_SANDBOX_ENABLED": "false",
        "CARTWRIGHT_SECRET_KEY": STRONG,
        "CARTWRIGHT_ADMIN_KEY": "a" * 40,
    }
    result = _run_cli(["serve", "--demo"], env, tmp_path)
    assert result.returncode == 2
    assert "--demo is for development only" in result.stderr
    assert not (tmp_path / "prod.db").exists()  # refused before touching anything


async def test_production_without_the_sandbox_takes_no_sandbox_payment(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'prod.db'}"
    upgrade(url)
    admin_key = "sk_" + "p" * 40
    server = start_server(
        url,
        tmp_path / "server.log",
        extra_env={
            "CARTWRIGHT_ENVIRONMENT": "production",
            "CARTWRIGHT_SANDBOX_ENABLED": "false",
            "CARTWRIGHT_ADMIN_KEY": admin_key,
        },
    )
    try:
        headers = {"Authorization": f"Bearer {admin_key}"}
        async with httpx.AsyncClient(base_url=server.base_url, headers=headers) as admin:
            sku = (await create_product(admin, stock=5))["variants"][0]["sku"]
            cart = await ready_cart(admin, [(sku, 1)])
            refused = await checkout(admin, cart["id"])
            assert refused.status_code == 503, refused.text
            assert refused.json()["code"] == "provider_unavailable"
            assert (await admin.get(f"/v1/inventory/{sku}")).json()["reserved"] == 0
    finally:
        server.stop()


async def _place_order(base_url: str) -> tuple[str, str]:
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    async with httpx.AsyncClient(base_url=base_url, headers=headers) as admin:
        sku = (await create_product(admin, stock=5))["variants"][0]["sku"]
        cart = await ready_cart(admin, [(sku, 1)])
        placed = await checkout(admin, cart["id"])
        assert placed.status_code == 201, placed.text
        return placed.json()["id"], placed.json()["access_token"]


async def _token_opens(base_url: str, order_id: str, token: str) -> bool:
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    async with httpx.AsyncClient(base_url=base_url, headers=headers) as admin:
        created = await admin.post("/v1/api-keys", json={"type": "publishable", "name": "shop"})
        shop_key = created.json()["key"]
    shop_headers = {"Authorization": f"Bearer {shop_key}", "Cartwright-Order-Token": token}
    async with httpx.AsyncClient(base_url=base_url, headers=shop_headers) as shop:
        response = await shop.get(f"/v1/orders/{order_id}")
    assert response.status_code in (200, 404), response.text
    return response.status_code == 200


def _assert_key_file_kept(database: Path, log: Path) -> None:
    assert Path(f"{database}.secret-key").stat().st_mode & 0o777 == 0o600
    assert "CARTWRIGHT_SECRET_KEY is not set" in log.read_text()


async def test_the_generated_development_key_is_kept_beside_the_database(tmp_path: Path) -> None:
    database = tmp_path / "dev.db"
    url = f"sqlite:///{database}"
    upgrade(url)
    env = {"CARTWRIGHT_SECRET_KEY": ""}
    server = start_server(url, tmp_path / "first.log", extra_env=env)
    try:
        order_id, token = await _place_order(server.base_url)
    finally:
        server.stop()
    _assert_key_file_kept(database, tmp_path / "first.log")
    again = start_server(url, tmp_path / "second.log", extra_env=env)
    try:
        assert await _token_opens(again.base_url, order_id, token)
    finally:
        again.stop()


MINT = {"type": "secret", "name": "rotation", "scopes": ["orders:read"]}


async def _mint_key(base_url: str, idempotency_key: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {ADMIN_KEY}", "Idempotency-Key": idempotency_key}
    async with httpx.AsyncClient(base_url=base_url, headers=headers) as admin:
        return await admin.post("/v1/api-keys", json=MINT)


async def test_tokens_and_sealed_answers_survive_a_key_rotation_until_the_old_key_goes(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'rotation.db'}"
    upgrade(url)
    old, new = "old-" + "k" * 40, "new-" + "k" * 40
    first = start_server(url, tmp_path / "a.log", extra_env={"CARTWRIGHT_SECRET_KEY": old})
    try:
        order_id, token = await _place_order(first.base_url)
        minted = await _mint_key(first.base_url, "rotation-key")
        assert minted.status_code == 201
    finally:
        first.stop()
    rotated = start_server(
        url,
        tmp_path / "b.log",
        extra_env={"CARTWRIGHT_SECRET_KEY": new, "CARTWRIGHT_SECRET_KEY_PREVIOUS": old},
    )
    try:
        assert await _token_opens(rotated.base_url, order_id, token)
        replayed = await _mint_key(rotated.base_url, "rotation-key")
        assert replayed.headers["idempotent-replayed"] == "true"
        assert replayed.json()["key"] == minted.json()["key"]
    finally:
        rotated.stop()
    dropped = start_server(url, tmp_path / "c.log", extra_env={"CARTWRIGHT_SECRET_KEY": new})
    try:
        assert not await _token_opens(dropped.base_url, order_id, token)
        unreadable = await _mint_key(dropped.base_url, "rotation-key")
        assert unreadable.status_code == 409, unreadable.text
        assert unreadable.json()["code"] == "idempotent_answer_unavailable"
        assert minted.json()["key"] not in unreadable.text
    finally:
        dropped.stop()
