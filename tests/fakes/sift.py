"""A fake Sift Events API (`POST /v205/events?return_score=true`) on 127.0.0.1, for the
fraud provider's adapter: it answers by plan, `ok` (a score), `500`, `slow` (after
`slow_s`, past the caller's timeout), `bad` (status 51, an invalid key), and records
every request (its query, Basic auth and JSON body)."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

Behaviour = str


@dataclass
class Request:
    query: dict[str, str]
    api_key: str
    body: dict[str, Any]


def scored(score: float, reasons: list[dict[str, str]] | None = None) -> dict[str, Any]:
    """The answer Sift documents for an event sent with `return_score=true`."""
    return {
        "status": 0,
        "error_message": "OK",
        "time": 1_700_000_000,
        "request": "{}",
        "score_response": {
            "status": 0,
            "error_message": "OK",
            "user_id": "u",
            "scores": {
                "payment_abuse": {
                    "score": score,
                    "reasons": reasons or [],
                }
            },
        },
    }


@dataclass
class FakeSift:
    plan: Callable[[int], Behaviour] = lambda _n: "ok"
    score: float = 0.1
    reasons: list[dict[str, str]] = field(default_factory=list)
    slow_s: float = 5.0
    requests: list[Request] = field(default_factory=list)
    port: int = 0
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        auth = request.headers.get("Authorization", "")
        user = base64.b64decode(auth.removeprefix("Basic ")).decode().split(":", 1)[0]
        nth = len(self.requests)
        self.requests.append(Request(dict(request.query), user, orjson.loads(await request.read())))
        behaviour = self.plan(nth)
        if behaviour == "500":
            return web.Response(status=500, text="internal error")
        if behaviour == "slow":
            await asyncio.sleep(self.slow_s)
        if behaviour == "bad":
            body = {
                "status": 51,
                "error_message": "Invalid API Key. Please check your credentials and try again.",
            }
            return web.Response(
                status=400, body=orjson.dumps(body), content_type="application/json"
            )
        return web.Response(
            body=orjson.dumps(scored(self.score, self.reasons)), content_type="application/json"
        )

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v205/events", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
