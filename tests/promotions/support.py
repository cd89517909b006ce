"""Promotions over the HTTP API. The session's servers are shared by every test: an
automatic promotion a test makes names the test's own SKUs (so no other test's cart gets
it) and is deactivated when the test ends (`made`)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest


def unique_code(prefix: str = "T") -> str:
    return f"{prefix}{uuid.uuid4().hex[:12].upper()}"


class Promotions:
    def __init__(self, admin: httpx.AsyncClient) -> None:
        self.admin = admin
        self.ids: list[str] = []

    async def create(self, **fields: Any) -> dict[str, Any]:
        body = {"name": "Test promotion", "stacking": "stackable", **fields}
        response = await self.admin.post("/v1/promotions", json=body)
        assert response.status_code == 201, response.text
        self.ids.append(response.json()["id"])
        return response.json()

    async def get(self, promotion_id: str) -> dict[str, Any]:
        response = await self.admin.get(f"/v1/promotions/{promotion_id}")
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture
async def made(admin: httpx.AsyncClient) -> AsyncIterator[Promotions]:
    promotions = Promotions(admin)
    try:
        yield promotions
    finally:
        for promotion_id in promotions.ids:
            await admin.post(f"/v1/promotions/{promotion_id}/deactivate")


async def apply_code(client: httpx.AsyncClient, cart_id: str, code: str) -> httpx.Response:
    return await client.post(f"/v1/carts/{cart_id}/promotion-codes", json={"code": code})


def line_shares_add_up(cart: dict[str, Any]) -> bool:
    """Each line's share of each promotion adds up to the promotion's amount, the lines'
    shares to the cart's discount."""
    by_promotion: dict[str, int] = {}
    for line in cart["lines"]:
        own = sum(d["amount"]["amount"] for d in line["discounts"])
        if own != line["discount"]["amount"]:
            return False
        for d in line["discounts"]:
            by_promotion[d["promotion_id"]] = (
                by_promotion.get(d["promotion_id"], 0) + d["amount"]["amount"]
            )
    amounts = {p["id"]: p["amount"]["amount"] for p in cart["promotions"]}
    lines = sum(line["discount"]["amount"] for line in cart["lines"])
    return (
        {k: v for k, v in by_promotion.items() if v} == {k: v for k, v in amounts.items() if v}
        and lines == cart["totals"]["discount"]["amount"]
        and sum(amounts.values()) == cart["totals"]["discount"]["amount"]
    )
