"""Channels through the API: create, read, list, change, audited; the default channel."""

from __future__ import annotations

import uuid

import httpx


def unique_code(prefix: str = "chn") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


async def test_the_default_channel_keeps_todays_behaviour(admin: httpx.AsyncClient) -> None:
    page = await admin.get("/v1/channels", params={"limit": 100})
    assert page.status_code == 200, page.text
    listed = await admin.get("/v1/channels/chn_default")
    assert listed.status_code == 200, listed.text
    default = listed.json()
    assert default["code"] == "default"
    assert default["currencies"] == []  # every currency
    assert default["warehouses"] == [] and default["shipping_methods"] == []
    assert default["capture_method"] == "automatic"  # the session servers' setting
    assert default["prices_include_tax"] is False
    assert default["fraud_failure_mode"] == "open"
    assert default["price_list_id"] is None


async def test_create_read_change_and_audit(admin: httpx.AsyncClient) -> None:
    code = unique_code("pos")
    created = await admin.post(
        "/v1/channels",
        json={
            "code": code,
            "name": "Store tills",
            "currencies": ["EUR"],
            "capture_method": "manual",
            "warehouses": ["berlin"],
        },
    )
    assert created.status_code == 201, created.text
    channel = created.json()
    assert channel["id"].startswith("chn_")
    assert channel["currencies"] == ["EUR"] and channel["capture_method"] == "manual"
    assert channel["shipping_methods"] == [] and channel["fraud_failure_mode"] == "open"

    again = await admin.post("/v1/channels", json={"code": code, "name": "Other"})
    assert again.status_code == 409, again.text
    assert again.json()["code"] == "channel_code_taken"

    read = await admin.get(f"/v1/channels/{channel['id']}")
    assert read.status_code == 200 and read.json() == channel

    patched = await admin.patch(
        f"/v1/channels/{channel['id']}",
        json={"fraud_failure_mode": "closed", "currencies": ["EUR", "USD"]},
    )
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert body["fraud_failure_mode"] == "closed" and body["currencies"] == ["EUR", "USD"]
    assert body["code"] == code and body["capture_method"] == "manual"

    audited = await admin.get("/v1/audit-events", params={"target_id": channel["id"]})
    assert audited.status_code == 200, audited.text
    entries = {e["action"]: e for e in audited.json()["data"]}
    assert set(entries) == {"channel.created", "channel.updated"}
    assert entries["channel.created"]["changes"]["code"] == code
    assert entries["channel.updated"]["changes"] == {
        "currencies": ["EUR", "USD"],
        "fraud_failure_mode": "closed",
    }


async def test_bad_input_changes_nothing(admin: httpx.AsyncClient) -> None:
    for body in (
        {"code": "Has Space", "name": "x"},
        {"code": unique_code(), "name": "x", "currencies": ["XXX"]},
        {"code": unique_code(), "name": "x", "capture_method": "later"},
        {"code": unique_code(), "name": "x", "fraud_failure_mode": "maybe"},
        {"code": unique_code(), "name": "x", "surprise": 1},
    ):
        refused = await admin.post("/v1/channels", json=body)
        assert refused.status_code == 422, (body, refused.text)
        assert refused.json()["code"] == "validation_error"
    missing = await admin.get("/v1/channels/chn_nope")
    assert missing.status_code == 404
    null_name = await admin.patch("/v1/channels/chn_default", json={"name": None})
    assert null_name.status_code == 422


async def test_scopes(admin: httpx.AsyncClient) -> None:
    key = await admin.post(
        "/v1/api-keys", json={"type": "secret", "name": "reader", "scopes": ["channels:read"]}
    )
    assert key.status_code == 201, key.text
    headers = {"Authorization": f"Bearer {key.json()['key']}"}
    read = await admin.get("/v1/channels/chn_default", headers=headers)
    assert read.status_code == 200
    write = await admin.post(
        "/v1/channels", json={"code": unique_code(), "name": "x"}, headers=headers
    )
    assert write.status_code == 403
