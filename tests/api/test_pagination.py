"""Every list: `?limit=` 1..100 (default 20), `?starting_after=<id>`, `{"data", "has_more"}`."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.support import assert_validation_error, create_key
from tests.factories import checkout, create_product, ready_cart

LISTS = ["/v1/products", "/v1/orders", "/v1/events", "/v1/api-keys", "/v1/ledger/entries"]


async def _at_least_six_of_everything(admin: httpx.AsyncClient) -> None:
    """Enough rows in every list for two pages of three (each order adds three events)."""
    sku = (await create_product(admin, stock=10))["variants"][0]["sku"]
    for _ in range(6):
        await create_product(admin, stock=None)
        await create_key(admin, "publishable")
    for _ in range(6):
        placed = await checkout(admin, (await ready_cart(admin, [(sku, 1)]))["id"])
        assert placed.status_code == 201, placed.text


async def _page(admin: httpx.AsyncClient, path: str, **params: Any) -> dict[str, Any]:
    response = await admin.get(path, params=params)
    assert response.status_code == 200, response.text
    page = response.json()
    assert set(page) >= {"data", "has_more"}
    assert isinstance(page["data"], list) and isinstance(page["has_more"], bool)
    return page


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize("limit", ["0", "101", "-1", "1000000", "abc", "1.5", "", "1e2", " "])
async def test_limit_out_of_range_is_422(admin: httpx.AsyncClient, path: str, limit: str) -> None:
    assert_validation_error(await admin.get(path, params={"limit": limit}), "limit")


async def test_limits_and_cursors_on_every_list(admin: httpx.AsyncClient) -> None:
    await _at_least_six_of_everything(admin)
    for path in LISTS:
        one = await _page(admin, path, limit=1)
        assert len(one["data"]) == 1 and one["has_more"] is True, path
        hundred = await _page(admin, path, limit=100)
        assert 6 <= len(hundred["data"]) <= 100, path
        default = await _page(admin, path)
        assert len(default["data"]) <= 20, path
        assert default["has_more"] == (len(hundred["data"]) > 20), path
        if default["has_more"]:
            assert len(default["data"]) == 20, path
        assert [i["id"] for i in default["data"]] == [i["id"] for i in hundred["data"][:20]], path

        # Two pages of three are the first six, in the same order, without repeats.
        six = await _page(admin, path, limit=6)
        first = await _page(admin, path, limit=3)
        second = await _page(admin, path, limit=3, starting_after=first["data"][-1]["id"])
        assert [i["id"] for i in first["data"] + second["data"]] == [
            i["id"] for i in six["data"]
        ], path
        assert first["has_more"] is True, path
