"""What the inventory tests share: the journal read back over HTTP."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import httpx


async def movements_of(admin: httpx.AsyncClient, sku: str) -> list[dict[str, Any]]:
    """Every movement of the SKU, newest first, through every page."""
    found: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 100}
    while True:
        response = await admin.get(f"/v1/inventory/{sku}/movements", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        found.extend(page["data"])
        if not page["has_more"]:
            return found
        params["starting_after"] = page["data"][-1]["id"]


async def assert_journal_agrees(admin: httpx.AsyncClient, sku: str) -> None:
    """The journal's deltas add up to the SKU's level in every warehouse."""
    sums: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for m in await movements_of(admin, sku):
        sums[m["warehouse_id"]][0] += m["delta_on_hand"]
        sums[m["warehouse_id"]][1] += m["delta_reserved"]
    stock = (await admin.get(f"/v1/inventory/{sku}")).json()
    levels = {loc["warehouse_id"]: [loc["on_hand"], loc["reserved"]] for loc in stock["locations"]}
    assert {w: v for w, v in sums.items() if v != [0, 0] or w in levels} == {
        w: v for w, v in levels.items() if v != [0, 0] or w in sums
    }, (sums, levels)
