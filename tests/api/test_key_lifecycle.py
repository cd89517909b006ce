"""A key grants only scopes it holds; keys expire, roll over and note their last use."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.support import (
    all_pages,
    assert_problem,
    assert_validation_error,
    client_with_key,
    create_key,
    idempotency_key,
)
from tests.conftest import SERVER_ENV, Server, start_server


def _name() -> str:
    return "lifecycle " + uuid.uuid4().hex[:10]


async def _keys_named(admin: httpx.AsyncClient, name: str) -> list[dict[str, Any]]:
    return [k for k in await all_pages(admin, "/v1/api-keys") if k["name"] == name]


async def _until(client: httpx.AsyncClient, path: str, status: int, *, timeout_s: float) -> None:
    """Poll `path` until it answers `status` three times in a row."""
    started = time.monotonic()
    streak = 0
    while streak < 3:
        streak = streak + 1 if (await client.get(path)).status_code == status else 0
        assert time.monotonic() - started < timeout_s, f"{path} never answered {status}"
        await asyncio.sleep(0.1)


# ------------------------------------------------------------------ scope escalation


async def test_a_key_cannot_mint_a_key_with_scopes_it_lacks(admin: httpx.AsyncClient) -> None:
    minter = await create_key(admin, "secret", scopes=["api_keys:write"])
    name = _name()
    async with client_with_key(admin, minter["key"]) as client:
        for scopes in (["orders:read"], ["api_keys:write", "catalog:write"], ["audit:read"]):
            refused = await client.post(
                "/v1/api-keys", json={"type": "secret", "name": name, "scopes": scopes}
            )
            body = assert_problem(refused, 403, "forbidden")
            assert scopes[-1] in body["detail"]
        # Without scopes it gets what it holds, never more.
        default = await client.post("/v1/api-keys", json={"type": "secret", "name": name})
        assert default.status_code == 201, default.text
        assert default.json()["scopes"] == ["api_keys:write"]
        # A publishable key needs api_keys:write only; it has the storefront scopes.
        shop = await client.post("/v1/api-keys", json={"type": "publishable", "name": name})
        assert shop.status_code == 201, shop.text
        assert shop.json()["scopes"] == ["carts:write", "catalog:read", "checkout"]
    created = await _keys_named(admin, name)
    assert sorted(k["id"] for k in created) == sorted([default.json()["id"], shop.json()["id"]])


async def test_a_key_grants_the_scopes_it_holds(admin: httpx.AsyncClient) -> None:
    minter = await create_key(admin, "secret", scopes=["api_keys:write", "orders:read"])
    async with client_with_key(admin, minter["key"]) as client:
        made = await client.post(
            "/v1/api-keys", json={"type": "secret", "name": _name(), "scopes": ["orders:read"]}
        )
    assert made.status_code == 201, made.text
    assert made.json()["scopes"] == ["orders:read"]


async def test_the_admin_key_mints_any_scope_and_defaults_leave_out_audit(
    admin: httpx.AsyncClient,
) -> None:
    everything = await create_key(admin, "secret", scopes=["audit:read", "api_keys:write"])
    assert everything["scopes"] == ["api_keys:write", "audit:read"]
    default = await create_key(admin, "secret")
    assert "audit:read" not in default["scopes"]
    assert {"catalog:write", "orders:write", "api_keys:write"} <= set(default["scopes"])


async def test_rolling_a_key_with_scopes_the_roller_lacks_is_refused(
    admin: httpx.AsyncClient,
) -> None:
    target = await create_key(admin, "secret", scopes=["orders:read"], name=_name())
    roller = await create_key(admin, "secret", scopes=["api_keys:write"])
    async with client_with_key(admin, roller["key"]) as client:
        refused = await client.post(f"/v1/api-keys/{target['id']}/roll")
        assert_problem(refused, 403, "forbidden")
        # A publishable key's fixed scopes need no more than api_keys:write.
        shop = await create_key(admin, "publishable")
        rolled = await client.post(f"/v1/api-keys/{shop['id']}/roll")
        assert rolled.status_code == 201, rolled.text
    keys = await _keys_named(admin, target["name"])
    assert [k["id"] for k in keys] == [target["id"]]
    assert keys[0]["expires_at"] is None
    async with client_with_key(admin, target["key"]) as client:
        assert (await client.get("/v1/orders")).status_code == 200


# ------------------------------------------------------------------------- expiry


@pytest.mark.parametrize(
    "expires_at",
    [
        (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
        "2001-01-01T00:00:00Z",
        (datetime.now(UTC) + timedelta(hours=1)).replace(tzinfo=None).isoformat(),  # naive
        "tomorrow",
    ],
    ids=["past", "long-past", "naive", "garbage"],
)
async def test_an_expiry_must_be_a_future_instant(
    admin: httpx.AsyncClient, expires_at: str
) -> None:
    response = await admin.post(
        "/v1/api-keys", json={"type": "secret", "name": _name(), "expires_at": expires_at}
    )
    assert_validation_error(response, "expires_at")


async def test_an_expired_key_is_401(admin: httpx.AsyncClient) -> None:
    expires_at = datetime.now(UTC) + timedelta(seconds=2)
    key = await admin.post(
        "/v1/api-keys",
        json={"type": "secret", "name": _name(), "expires_at": expires_at.isoformat()},
    )
    assert key.status_code == 201, key.text
    assert key.json()["expires_at"] is not None
    async with client_with_key(admin, key.json()["key"]) as client:
        assert (await client.get("/v1/products")).status_code == 200
        await _until(client, "/v1/products", 401, timeout_s=8)
        assert_problem(await client.get("/v1/products"), 401, "unauthenticated")
    shown = await admin.get(f"/v1/api-keys/{key.json()['id']}")
    assert shown.status_code == 200, shown.text
    assert datetime.fromisoformat(shown.json()["expires_at"]) == expires_at


# --------------------------------------------------------------------------- roll


async def test_rolling_a_key_makes_a_new_one_and_the_old_keeps_working(
    admin: httpx.AsyncClient,
) -> None:
    old = await create_key(admin, "secret", scopes=["orders:read", "catalog:read"], name=_name())
    before = datetime.now(UTC)
    rolled = await admin.post(f"/v1/api-keys/{old['id']}/roll")
    assert rolled.status_code == 201, rolled.text
    new = rolled.json()
    assert new["rolled_from"] == old["id"]
    assert new["id"] != old["id"] and new["key"] != old["key"]
    assert (new["type"], new["name"], new["scopes"]) == (old["type"], old["name"], old["scopes"])
    shown_old = (await admin.get(f"/v1/api-keys/{old['id']}")).json()
    overlap_end = datetime.fromisoformat(shown_old["expires_at"])
    assert before + timedelta(hours=23) < overlap_end <= datetime.now(UTC) + timedelta(hours=24)
    assert "key" not in shown_old
    for key in (old["key"], new["key"]):
        async with client_with_key(admin, key) as client:
            assert (await client.get("/v1/orders")).status_code == 200


async def test_rolling_with_no_overlap_stops_the_old_key_on_every_process(
    admin: httpx.AsyncClient,
) -> None:
    old = await create_key(admin, "publishable")
    async with client_with_key(admin, old["key"]) as client:
        for _ in range(4):  # warm every process's key cache
            assert (await client.get("/v1/products")).status_code == 200
        rolled = await admin.post(
            f"/v1/api-keys/{old['id']}/roll", json={"overlap_s": 0, "expires_in_s": 3600}
        )
        assert rolled.status_code == 201, rolled.text
        await _until(client, "/v1/products", 401, timeout_s=6)
    assert rolled.json()["expires_at"] is not None
    async with client_with_key(admin, rolled.json()["key"]) as client:
        assert (await client.get("/v1/products")).status_code == 200


async def test_a_roll_is_idempotent(admin: httpx.AsyncClient) -> None:
    old = await create_key(admin, "secret", scopes=["orders:read"], name=_name())
    headers = {"Idempotency-Key": idempotency_key()}
    first = await admin.post(f"/v1/api-keys/{old['id']}/roll", headers=headers)
    again = await admin.post(f"/v1/api-keys/{old['id']}/roll", headers=headers)
    assert first.status_code == again.status_code == 201, (first.text, again.text)
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json() == first.json()
    assert len(await _keys_named(admin, old["name"])) == 2


async def test_a_revoked_or_unknown_key_cannot_be_rolled(admin: httpx.AsyncClient) -> None:
    key = await create_key(admin, "secret", scopes=["orders:read"], name=_name())
    assert (await admin.delete(f"/v1/api-keys/{key['id']}")).status_code == 200
    assert_problem(await admin.post(f"/v1/api-keys/{key['id']}/roll"), 409, "invalid_state")
    assert_problem(await admin.post("/v1/api-keys/key_nothere/roll"), 404, "not_found")
    assert len(await _keys_named(admin, key["name"])) == 1


@pytest.mark.parametrize(
    "body",
    [{"overlap_s": -1}, {"overlap_s": "60"}, {"expires_in_s": 0}, {"overlap": 5}, [1]],
    ids=["negative", "string", "zero-expiry", "unknown-field", "not-an-object"],
)
async def test_roll_bodies_are_validated(admin: httpx.AsyncClient, body: Any) -> None:
    key = await create_key(admin, "secret", scopes=["orders:read"], name=_name())
    assert_validation_error(await admin.post(f"/v1/api-keys/{key['id']}/roll", json=body))
    assert len(await _keys_named(admin, key["name"])) == 1


async def test_a_publishable_key_cannot_roll_keys(
    admin: httpx.AsyncClient, storefront: httpx.AsyncClient
) -> None:
    key = await create_key(admin, "publishable", name=_name())
    assert_problem(await storefront.post(f"/v1/api-keys/{key['id']}/roll"), 403, "forbidden")
    assert_problem(await storefront.get(f"/v1/api-keys/{key['id']}"), 403, "forbidden")


# ---------------------------------------------------------------------- last use


async def test_last_used_at_is_noted_at_most_once_a_minute(admin: httpx.AsyncClient) -> None:
    key = await create_key(admin, "secret", scopes=["orders:read"])
    path = f"/v1/api-keys/{key['id']}"
    assert (await admin.get(path)).json()["last_used_at"] is None
    async with client_with_key(admin, key["key"]) as client:
        assert (await client.get("/v1/orders")).status_code == 200
        started = time.monotonic()
        while (first := (await admin.get(path)).json()["last_used_at"]) is None:
            assert time.monotonic() - started < 5, "last_used_at was never written"
            await asyncio.sleep(0.05)
        for _ in range(10):  # every process of the server sees the key again
            assert (await client.get("/v1/orders")).status_code == 200
    await asyncio.sleep(0.5)
    shown = (await admin.get(path)).json()
    assert shown["last_used_at"] == first
    listed = [k for k in await all_pages(admin, "/v1/api-keys") if k["id"] == key["id"]]
    assert listed[0]["last_used_at"] == first
    assert {"expires_at", "revoked_at", "rolled_from"} <= set(listed[0])


# ----------------------------------------------------- across processes (two servers)


@pytest.fixture
def second_pg_server(pg_server: Server, tmp_path: Path) -> Iterator[Server]:
    """Another `serve` process on the session's PostgreSQL database: its own key cache."""
    server = start_server(pg_server.database_url, tmp_path / "second.log", no_worker=True)
    yield server
    server.stop()


async def test_revoked_and_rolled_over_keys_stop_on_every_process(
    pg_server: Server, second_pg_server: Server
) -> None:
    admin_key = SERVER_ENV["CARTWRIGHT_ADMIN_KEY"]
    async with httpx.AsyncClient(
        base_url=pg_server.base_url, headers={"Authorization": f"Bearer {admin_key}"}
    ) as admin:
        revoked = await create_key(admin, "secret", scopes=["orders:read"])
        rolled = await create_key(admin, "publishable")
        clients = [
            httpx.AsyncClient(base_url=s.base_url, headers={"Authorization": f"Bearer {k}"})
            for s in (pg_server, second_pg_server)
            for k in (revoked["key"], rolled["key"])
        ]
        try:
            for client in clients:  # every process has the keys in its cache
                path = "/v1/orders" if "sk_" in client.headers["Authorization"] else "/v1/products"
                assert (await client.get(path)).status_code == 200
            assert (await admin.delete(f"/v1/api-keys/{revoked['id']}")).status_code == 200
            roll = await admin.post(f"/v1/api-keys/{rolled['id']}/roll", json={"overlap_s": 0})
            assert roll.status_code == 201, roll.text
            await asyncio.gather(
                *(
                    _until(
                        client,
                        "/v1/orders"
                        if "sk_" in client.headers["Authorization"]
                        else "/v1/products",
                        401,
                        timeout_s=6,
                    )
                    for client in clients
                )
            )
        finally:
            for client in clients:
                await client.aclose()
