"""Give every request an id, and log one line when it is answered.

`Request-Id` is on every answer and `request_id` in every problem body (`kit.errors`) and
in the audit log. The line per request names the route template, the status, the time
taken and the key's id (never the key); the logger's redactor scrubs the path and query.
A pure ASGI middleware (no per-request task or body copy), first in the stack so even the
answers of other middleware carry the header.
"""

from __future__ import annotations

import time

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cartwright.kit import context, telemetry
from cartwright.kit.netaddr import Network, client_address, vouched

HEADER = b"request-id"
FORWARDED_FOR = b"x-forwarded-for"
log = structlog.get_logger("cartwright.request")


class RequestContext:
    def __init__(self, app: ASGIApp, trusted_proxies: tuple[Network, ...] = ()) -> None:
        self.app = app
        self.trusted_proxies = trusted_proxies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        client = scope.get("client")
        peer = client[0] if client else None
        if self.trusted_proxies:
            forwarded = [v.decode("latin-1") for k, v in scope["headers"] if k == FORWARDED_FOR]
            address = client_address(peer, forwarded, self.trusted_proxies)
        else:
            address = peer
        info = context.begin(client_address=address)
        info.client_address_vouched = address is not None and vouched(
            address, peer, self.trusted_proxies
        )
        # The request span (when traced) names the request id a customer may quote.
        telemetry.annotate("cartwright.request_id", info.request_id)
        header = (HEADER, info.request_id.encode())
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", ()),
                    header,
                    *info.response_headers,
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            route = scope.get("route")
            query = scope.get("query_string", b"")
            log.info(
                "request",
                request_id=info.request_id,
                method=scope["method"],
                route=getattr(route, "path", None),
                path=scope["path"],
                query=query.decode("latin-1") if query else None,
                status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
                key_id=info.actor_key_id,
                client=info.client_address,
            )
