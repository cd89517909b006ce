"""Webhook endpoints over HTTP: the contract's create (secret shown once), its refusals
(unknown event types, URLs that may not be called), the rest of the resource, scopes and
the audit trail."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.api.support import (
    assert_problem,
    assert_validation_error,
    client_with_key,
    create_key,
    idempotency_key,
)


def _url() -> str:
    # `.invalid` never resolves (RFC 6761): the session's senders fail it at once.
    return f"https://hooks-{uuid.uuid4().hex[:8]}.example.invalid/cartwright"


@pytest.fixture
async def endpoint(admin: httpx.AsyncClient) -> AsyncIterator[dict[str, Any]]:
    created = await admin.post("/v1/webhook-endpoints", json={"url": _url(), "events": ["*"]})
    assert created.status_code == 201, created.text
    yield created.json()
    await admin.delete(f"/v1/webhook-endpoints/{created.json()['id']}")


async def test_create_shows_the_secret_once(admin: httpx.AsyncClient) -> None:
    url = _url()
    key = idempotency_key()
    body = {"url": url, "events": ["order.placed", "payment.*"], "description": "ERP"}
    created = await admin.post("/v1/webhook-endpoints", json=body, headers={"Idempotency-Key": key})
    assert created.status_code == 201, created.text
    endpoint = created.json()
    assert endpoint["id"].startswith("we_")
    assert endpoint["secret"].startswith("whsec_") and len(endpoint["secret"]) > 40
    assert endpoint["url"] == url
    assert endpoint["events"] == ["order.placed", "payment.*"]
    assert endpoint["status"] == "enabled"
    try:
        replayed = await admin.post(
            "/v1/webhook-endpoints", json=body, headers={"Idempotency-Key": key}
        )
        assert replayed.headers.get("Idempotent-Replayed") == "true"
        assert replayed.json()["secret"] == endpoint["secret"]
        shown = await admin.get(f"/v1/webhook-endpoints/{endpoint['id']}")
        assert shown.status_code == 200
        assert "secret" not in shown.json()
        assert shown.json()["url"] == url
        listed = await admin.get("/v1/webhook-endpoints", params={"limit": 100})
        assert all("secret" not in e for e in listed.json()["data"])
        audited = await admin.get(
            "/v1/audit-events",
            params={"target_type": "webhook_endpoint", "target_id": endpoint["id"]},
        )
        (entry,) = audited.json()["data"]
        assert entry["action"] == "webhook_endpoint.created"
        assert endpoint["secret"] not in str(entry)
    finally:
        await admin.delete(f"/v1/webhook-endpoints/{endpoint['id']}")


@pytest.mark.parametrize(
    ("events", "field"),
    [(["order.exploded"], "events[0]"), (["*", "nope"], "events[1]"), ([], "events")],
)
async def test_unknown_event_types_are_refused(
    admin: httpx.AsyncClient, events: list[str], field: str
) -> None:
    response = await admin.post("/v1/webhook-endpoints", json={"url": _url(), "events": events})
    assert_validation_error(response, field)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",
        "http://localhost/hook",
        "http://[::1]/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.8/hook",
        "http://[::ffff:192.168.0.1]/hook",
        "https://user:password@hooks.example.invalid/",
        "ftp://hooks.example.invalid/",
    ],
)
async def test_urls_that_may_not_be_called_are_refused(admin: httpx.AsyncClient, url: str) -> None:
    response = await admin.post("/v1/webhook-endpoints", json={"url": url, "events": ["*"]})
    assert_validation_error(response, "url")


async def test_patch_rotate_and_delete(admin: httpx.AsyncClient, endpoint: dict[str, Any]) -> None:
    path = f"/v1/webhook-endpoints/{endpoint['id']}"
    changed = await admin.patch(path, json={"events": ["order.placed"], "enabled": False})
    assert changed.status_code == 200, changed.text
    assert changed.json()["events"] == ["order.placed"]
    assert changed.json()["status"] == "disabled"
    again = await admin.patch(path, json={"enabled": True, "url": _url()})
    assert again.json()["status"] == "enabled"
    refused = await admin.patch(path, json={"url": "http://127.0.0.1/"})
    assert_validation_error(refused, "url")
    assert_validation_error(await admin.patch(path, json={"events": ["bogus.type"]}), "events[0]")

    rotated = await admin.post(f"{path}/rotate-secret", json={"overlap_seconds": 60})
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["secret"].startswith("whsec_")
    assert rotated.json()["secret"] != endpoint["secret"]
    assert rotated.json()["previous_secrets_expire_at"]
    no_body = await admin.post(f"{path}/rotate-secret")
    assert no_body.status_code == 200, no_body.text
    assert_validation_error(
        await admin.post(f"{path}/rotate-secret", json={"overlap_seconds": -1}), "overlap_seconds"
    )

    deliveries = await admin.get(f"{path}/deliveries")
    assert deliveries.status_code == 200
    assert isinstance(deliveries.json()["data"], list)
    replay = await admin.post(
        f"{path}/replay", json={"from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"}
    )
    assert_validation_error(replay, "to")
    replay = await admin.post(
        f"{path}/replay", json={"from": "2020-01-01T00:00:00Z", "to": "2020-01-02T00:00:00Z"}
    )
    assert replay.status_code == 202, replay.text
    assert replay.json()["queued"] == 0

    deleted = await admin.delete(path)
    assert deleted.status_code == 200
    assert_problem(await admin.get(path), 404, "not_found")
    assert_problem(await admin.delete(path), 404, "not_found")


async def test_unknown_ids_are_404(admin: httpx.AsyncClient) -> None:
    for response in (
        await admin.get("/v1/webhook-endpoints/we_nope"),
        await admin.patch("/v1/webhook-endpoints/we_nope", json={"enabled": False}),
        await admin.post("/v1/webhook-endpoints/we_nope/rotate-secret"),
        await admin.get("/v1/webhook-endpoints/we_nope/deliveries"),
        await admin.get("/v1/webhook-deliveries/wd_nope"),
        await admin.post("/v1/webhook-deliveries/wd_nope/replay"),
    ):
        assert_problem(response, 404, "not_found")


async def test_scopes(admin: httpx.AsyncClient, endpoint: dict[str, Any]) -> None:
    reader = await create_key(admin, "secret", scopes=["webhooks:read"])
    other = await create_key(admin, "secret", scopes=["events:read"])
    async with client_with_key(admin, reader["key"]) as client:
        assert (await client.get(f"/v1/webhook-endpoints/{endpoint['id']}")).status_code == 200
        refused = await client.post("/v1/webhook-endpoints", json={"url": _url(), "events": ["*"]})
        assert_problem(refused, 403, "forbidden")
    async with client_with_key(admin, other["key"]) as client:
        assert_problem(await client.get("/v1/webhook-endpoints"), 403, "forbidden")
        # Authorization before validation.
        assert_problem(await client.post("/v1/webhook-endpoints", json={}), 403, "forbidden")
