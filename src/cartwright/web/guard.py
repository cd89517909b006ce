"""Refuse NUL characters in the path and query before any route sees them.

PostgreSQL's text type cannot hold U+0000, so a NUL that reached a query would fail there
(a 500). No id, SKU or filter value can contain one: a path with a NUL names nothing (404),
a query parameter with one is not valid (422). JSON bodies are checked in `web.body`.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from cartwright.kit.errors import AppError, NotFound, ValidationFailed
from cartwright.web.responses import json_response


class RejectNul:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            err = _nul_error(scope.get("path", ""), scope.get("query_string", b""))
            if err is not None:
                response = json_response(err.problem(), err.status)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _nul_error(path: str, query_string: bytes) -> AppError | None:
    if "\x00" in path:
        return NotFound("No such resource.")
    if b"%00" in query_string or b"\x00" in query_string:
        query = query_string.decode("latin-1")
        for name, value in parse_qsl(query, keep_blank_values=True):
            if "\x00" in name or "\x00" in value:
                return ValidationFailed.field(
                    name.replace("\x00", "\\u0000"), "may not contain the NUL character"
                )
    return None
