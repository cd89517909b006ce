"""Low-stock alerts: the worker's `stock_alerts` consumer records one per `inventory.low`,
listed and acknowledged (once, audited) through `/v1/stock-alerts`."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.factories import create_product


async def _alerts_of(admin: httpx.AsyncClient, sku: str) -> list[dict[str, Any]]:
    for _ in range(80):  # the session server's worker polls every 0.5 s
        listed = await admin.get("/v1/stock-alerts", params={"open": "true", "limit": 100})
        assert listed.status_code == 200, listed.text
        mine = [a for a in listed.json()["data"] if a["sku"] == sku]
        if mine:
            return mine
        await asyncio.sleep(0.25)
    raise AssertionError(f"no stock alert for {sku}")


async def test_a_low_stock_crossing_raises_one_alert_acknowledged_once(
    admin: httpx.AsyncClient,
) -> None:
    sku = (await create_product(admin, stock=10))["variants"][0]["sku"]
    watched = await admin.put(f"/v1/inventory/{sku}", json={"low_stock_threshold": 3})
    assert watched.status_code == 200, watched.text
    lowered = await admin.post(
        f"/v1/inventory/{sku}/adjustments", json={"delta": -8, "reason": "damaged"}
    )
    assert lowered.status_code == 201, lowered.text

    (alert,) = await _alerts_of(admin, sku)
    assert alert["available"] == 2 and alert["threshold"] == 3
    assert alert["acknowledged"] is False

    done = await admin.post(f"/v1/stock-alerts/{alert['id']}/acknowledge")
    assert done.status_code == 200, done.text
    assert done.json()["acknowledged"] is True and done.json()["acknowledged_at"]
    again = await admin.post(f"/v1/stock-alerts/{alert['id']}/acknowledge")
    assert again.status_code == 200 and again.json() == done.json()  # nothing changed
    listed = await admin.get("/v1/stock-alerts", params={"open": "true", "limit": 100})
    assert alert["id"] not in {a["id"] for a in listed.json()["data"]}
    audited = await admin.get("/v1/audit-events", params={"limit": 100})
    entries = [
        e
        for e in audited.json()["data"]
        if e["action"] == "stock_alert.acknowledged" and e["target"]["id"] == alert["id"]
    ]
    assert len(entries) == 1  # the second acknowledgement recorded nothing


async def test_unknown_alerts_and_bad_filters_are_refused(admin: httpx.AsyncClient) -> None:
    missing = await admin.post("/v1/stock-alerts/salrt_nope/acknowledge")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    bad = await admin.get("/v1/stock-alerts", params={"open": "maybe"})
    assert bad.status_code == 422 and bad.json()["code"] == "validation_error"
