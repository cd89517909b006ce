"""Assertions and helpers shared by the contract tests (factories stay in tests/factories)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

PROBLEM_JSON = "application/problem+json"


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """An RFC 9457 problem with the contract's members, the given status and `code`."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith(PROBLEM_JSON), response.headers
    body = response.json()
    assert isinstance(body, dict), body
    for member in ("type", "title", "detail", "code"):
        assert isinstance(body.get(member), str) and body[member], (member, body)
    assert body["status"] == status, body
    assert body["code"] == code, body
    return body


def assert_validation_error(response: httpx.Response, field: str | None = None) -> dict[str, Any]:
    """422 `validation_error` whose `errors` list names `field` (when given)."""
    body = assert_problem(response, 422, "validation_error")
    errors = body.get("errors")
    assert isinstance(errors, list) and errors, body
    for error in errors:
        assert isinstance(error.get("field"), str), error
        assert isinstance(error.get("message"), str) and error["message"], error
    if field is not None:
        assert field in [e["field"] for e in errors], (field, errors)
    return body


def idempotency_key() -> str:
    return uuid.uuid4().hex


async def create_key(
    admin: httpx.AsyncClient,
    key_type: str,
    *,
    scopes: list[str] | None = None,
    name: str = "contract test",
) -> dict[str, Any]:
    body: dict[str, Any] = {"type": key_type, "name": name}
    if scopes is not None:
        body["scopes"] = scopes
    response = await admin.post("/v1/api-keys", json=body)
    assert response.status_code == 201, response.text
    return response.json()


@asynccontextmanager
async def client_with_key(
    admin: httpx.AsyncClient, key: str | None
) -> AsyncIterator[httpx.AsyncClient]:
    """A client on the same server as `admin`, sending `key` (or no key at all)."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with httpx.AsyncClient(base_url=admin.base_url, headers=headers, timeout=30) as client:
        yield client


async def all_pages(
    client: httpx.AsyncClient,
    path: str,
    params: dict[str, Any] | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Every item of a list endpoint, following `starting_after` to the end."""
    items: list[dict[str, Any]] = []
    query = {**(params or {}), "limit": limit}
    while True:
        response = await client.get(path, params=query)
        assert response.status_code == 200, response.text
        page = response.json()
        items.extend(page["data"])
        if not page["has_more"]:
            return items
        assert page["data"], "has_more with an empty page"
        query["starting_after"] = page["data"][-1]["id"]
