"""Give every request an id: `Request-Id` on every answer, `request_id` in logs and in
every problem body (`cartwright.app` adds it there), the audit log's `request_id`.

A pure ASGI middleware (no per-request task or body copy), first in the stack so even the
answers of other middleware carry the header.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cartwright.kit import context

HEADER = b"request-id"


class RequestContext:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        info = context.begin(client_address=client[0] if client else None)
        header = (HEADER, info.request_id.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        await self.app(scope, receive, send_with_id)
