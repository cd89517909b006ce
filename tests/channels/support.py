"""Factories for channels and price lists over the HTTP API."""

from __future__ import annotations

import uuid
from typing import Any

import httpx


def unique_code(prefix: str = "chn") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


async def create_channel(admin: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    body = {"code": unique_code(), "name": "Test channel", **fields}
    response = await admin.post("/v1/channels", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def publishable_key(admin: httpx.AsyncClient, channel: str) -> str:
    response = await admin.post(
        "/v1/api-keys", json={"type": "publishable", "name": "till", "channel": channel}
    )
    assert response.status_code == 201, response.text
    assert response.json()["channel"] == channel
    return str(response.json()["key"])
