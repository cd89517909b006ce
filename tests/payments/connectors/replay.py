"""Recorded exchanges replayed through `httpx.MockTransport`.

A recording (`recordings/<provider>/<name>.json`) lists exchanges in order: the request we
must send (method, path, the headers that matter, the query, form or JSON body) and the
provider's response. Each request is checked against its exchange before the response is
given; a request the recording does not expect fails the test.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx

RECORDINGS = Path(__file__).parent / "recordings"


def load(provider: str, name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((RECORDINGS / provider / f"{name}.json").read_text())
    return loaded


class Replay:
    def __init__(self, provider: str, name: str | None = None) -> None:
        self.exchanges: list[dict[str, Any]] = load(provider, name)["exchanges"] if name else []
        self.sent: list[httpx.Request] = []
        self.transport = httpx.MockTransport(self._answer)

    def _answer(self, request: httpx.Request) -> httpx.Response:
        assert len(self.sent) < len(self.exchanges), f"unexpected request {request.url}"
        expected = self.exchanges[len(self.sent)]["request"]
        response = self.exchanges[len(self.sent)]["response"]
        self.sent.append(request)
        assert request.method == expected["method"]
        assert request.url.path == expected["path"]
        for name, value in expected.get("headers", {}).items():
            assert request.headers.get(name) == value, name
        if "query" in expected:
            assert dict(request.url.params) == expected["query"]
        if "form" in expected:
            sent = dict(parse_qsl(request.content.decode(), keep_blank_values=True))
            assert sent == expected["form"]
        if "json" in expected:
            assert json.loads(request.content) == expected["json"]
        return httpx.Response(
            response["status"], json=response["body"], headers=response.get("headers")
        )

    def assert_done(self) -> None:
        assert len(self.sent) == len(self.exchanges), "the recording expected more requests"


def failing(error: Exception) -> httpx.MockTransport:
    """A transport whose every request fails with `error` (a refused connection, a
    timeout)."""

    def fail(request: httpx.Request) -> httpx.Response:
        raise error

    return httpx.MockTransport(fail)
