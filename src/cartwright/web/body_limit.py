"""Refuse request bodies larger than CARTWRIGHT_MAX_BODY_BYTES while they stream in.

A declared `Content-Length` over the limit is answered 413 before the app runs and before
a byte of the body is read. A body sent without one (chunked transfer) is counted as it
arrives: the chunk that crosses the limit makes the app's read fail with
`PayloadTooLarge`, which the error handler renders as 413 problem+json; nothing past the
limit is ever buffered. A pure ASGI middleware: one header scan per request.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cartwright.kit.errors import PayloadTooLarge
from cartwright.web.responses import json_response

CONTENT_LENGTH = b"content-length"


class LimitBody:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _too_large(self) -> PayloadTooLarge:
        return PayloadTooLarge(f"The body may be at most {self.max_bytes} bytes.")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == CONTENT_LENGTH:
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1  # the server refuses a malformed length itself
                if declared > self.max_bytes:
                    err = self._too_large()
                    response = json_response(err.problem(), err.status, {"Connection": "close"})
                    await response(scope, receive, send)
                    return
                break
        received = 0
        limit = self.max_bytes

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise self._too_large()
            return message

        await self.app(scope, counted_receive, send)
