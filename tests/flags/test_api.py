"""`GET /v1/flags` and `PUT /v1/flags/{key}` on both databases: every known flag listed with
its value and where it comes from, a change stored and audited old -> new, a bad body or an
unknown key refused with nothing changed, and the scopes. The session's servers are shared:
only `fraud.external` is moved (nothing in them calls an external fraud service), and it is
always put back on."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.api.support import assert_problem, assert_validation_error
from tests.conftest import Server

FLAG = "fraud.external"
EXPECTED = {
    "checkout",
    "payments.sandbox",
    "promotions",
    "tax.external",
    "shipping.external",
    "fraud.external",
}


async def _flags(client: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    response = await client.get("/v1/flags", params={"limit": 100})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["has_more"] is False
    return {f["key"]: f for f in body["data"]}


async def _entries(admin: httpx.AsyncClient) -> list[dict[str, Any]]:
    response = await admin.get(
        "/v1/audit-events",
        params={"action": "feature_flag.updated", "target_id": FLAG, "limit": 100},
    )
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


@pytest.fixture
async def restored(admin: httpx.AsyncClient) -> AsyncIterator[None]:
    yield
    response = await admin.put(f"/v1/flags/{FLAG}", json={"enabled": True})
    assert response.status_code == 200, response.text


async def test_every_known_flag_is_listed_with_its_value_and_source(
    admin: httpx.AsyncClient,
) -> None:
    listed = await _flags(admin)
    assert set(listed) >= EXPECTED, listed
    for flag in listed.values():
        assert flag["object"] == "feature_flag"
        assert flag["default"] is True
        assert isinstance(flag["enabled"], bool)
        assert flag["source"] in ("database", "default")
        assert flag["description"]
        if flag["source"] == "default":
            assert flag["enabled"] is True and flag["updated_at"] is None


async def test_the_list_pages_by_key(admin: httpx.AsyncClient) -> None:
    everything = list(await _flags(admin))
    first = await admin.get("/v1/flags", params={"limit": 2})
    assert first.status_code == 200, first.text
    assert [f["key"] for f in first.json()["data"]] == everything[:2]
    assert first.json()["has_more"] is True
    rest = await admin.get("/v1/flags", params={"limit": 100, "starting_after": everything[1]})
    assert [f["key"] for f in rest.json()["data"]] == everything[2:]
    assert rest.json()["has_more"] is False
    assert_validation_error(await admin.get("/v1/flags", params={"limit": 0}), "limit")


async def test_a_change_is_stored_and_audited_old_to_new(
    admin: httpx.AsyncClient, restored: None
) -> None:
    await admin.put(f"/v1/flags/{FLAG}", json={"enabled": True})  # a known start
    before = await _entries(admin)

    off = await admin.put(f"/v1/flags/{FLAG}", json={"enabled": False})
    assert off.status_code == 200, off.text
    body = off.json()
    assert (body["key"], body["enabled"], body["source"]) == (FLAG, False, "database")
    assert body["updated_by"] == "admin" and body["updated_at"]
    assert (await _flags(admin))[FLAG]["enabled"] is False

    on = await admin.put(f"/v1/flags/{FLAG}", json={"enabled": True})
    assert on.status_code == 200 and on.json()["enabled"] is True

    entries = await _entries(admin)
    new = entries[: len(entries) - len(before)]
    assert [e["changes"] for e in new] == [
        {"enabled": {"from": False, "to": True}},
        {"enabled": {"from": True, "to": False}},
    ]
    for entry, response in zip(new, (on, off), strict=True):
        assert entry["actor"] == {"key_id": "admin"}
        assert entry["target"] == {"type": "feature_flag", "id": FLAG}
        assert entry["request_id"] == response.headers["Request-Id"]


@pytest.mark.parametrize(
    "body",
    [{}, {"enabled": "false"}, {"enabled": 0}, {"enabled": None}, {"enabled": False, "x": 1}, []],
)
async def test_a_bad_body_is_422_and_changes_nothing(
    admin: httpx.AsyncClient, body: Any, restored: None
) -> None:
    listed_before = await _flags(admin)
    entries_before = await _entries(admin)
    response = await admin.put(f"/v1/flags/{FLAG}", json=body)
    assert_validation_error(response)
    assert await _flags(admin) == listed_before
    assert await _entries(admin) == entries_before


async def test_an_unknown_flag_is_404_and_changes_nothing(admin: httpx.AsyncClient) -> None:
    listed_before = await _flags(admin)
    response = await admin.put("/v1/flags/checkout.everything", json={"enabled": False})
    assert_problem(response, 404, "not_found")
    # A provider that is not enabled has no flag either.
    assert_problem(
        await admin.put("/v1/flags/payments.adyen", json={"enabled": False}), 404, "not_found"
    )
    assert await _flags(admin) == listed_before


async def test_reading_and_changing_need_their_scopes(
    server: Server, admin: httpx.AsyncClient, storefront: httpx.AsyncClient
) -> None:
    async def key(scopes: list[str]) -> str:
        made = await admin.post(
            "/v1/api-keys", json={"type": "secret", "name": "flags", "scopes": scopes}
        )
        assert made.status_code == 201, made.text
        return str(made.json()["key"])

    reader = await key(["flags:read"])
    other = await key(["orders:read"])
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as c:
        as_reader = {"Authorization": f"Bearer {reader}"}
        assert (await c.get("/v1/flags", headers=as_reader)).status_code == 200
        refused = await c.put(f"/v1/flags/{FLAG}", json={"enabled": False}, headers=as_reader)
        assert_problem(refused, 403, "forbidden")
        as_other = {"Authorization": f"Bearer {other}"}
        assert_problem(await c.get("/v1/flags", headers=as_other), 403, "forbidden")
    assert_problem(await storefront.get("/v1/flags"), 403, "forbidden")
    assert_problem(
        await storefront.put(f"/v1/flags/{FLAG}", json={"enabled": False}), 403, "forbidden"
    )
    assert (await _flags(admin))[FLAG]["enabled"] is True


async def test_concurrent_changes_each_record_what_they_replaced(
    admin: httpx.AsyncClient, restored: None
) -> None:
    """The row is locked while it changes: read oldest first, each entry starts from the
    value the one before it left, and the last one is what is stored."""
    await admin.put(f"/v1/flags/{FLAG}", json={"enabled": True})
    before = len(await _entries(admin))
    wanted = [i % 3 != 0 for i in range(12)]
    answers = await asyncio.gather(
        *(admin.put(f"/v1/flags/{FLAG}", json={"enabled": value}) for value in wanted)
    )
    assert [a.status_code for a in answers] == [200] * len(wanted)
    entries = await _entries(admin)
    new = list(reversed(entries[: len(entries) - before]))
    assert len(new) == len(wanted)
    left = True
    for entry in new:
        change = entry["changes"]["enabled"]
        assert change["from"] == left, new
        left = change["to"]
    assert (await _flags(admin))[FLAG]["enabled"] == left
