"""Security headers on every answer, and CORS for the browser origins that are allowed.

`SecurityHeaders` is a pure ASGI middleware near the top of the stack, so problems, 404s,
413s and CORS preflights carry the headers too: `X-Content-Type-Options`,
`Referrer-Policy`, `X-Frame-Options`, a `Content-Security-Policy` that allows nothing (the
API serves JSON; `/docs` gets one that lets Swagger UI load), `Strict-Transport-Security`
when configured (always in production), and `Cache-Control: no-store` on answers to
requests that carried a credential.

CORS (`ProblemCORS`) is Starlette's middleware with exact origins from CARTWRIGHT_CORS_ORIGINS;
none configured, none is added and no answer has CORS headers.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cartwright.kit.errors import BadRequest
from cartwright.web.responses import json_response

API_CSP = b"default-src 'none'; frame-ancestors 'none'"
# Swagger UI (FastAPI's /docs) loads its script and style from jsDelivr, runs an inline
# script, and fetches /openapi.json.
DOCS_CSP = (
    b"default-src 'none'; script-src 'unsafe-inline' https://cdn.jsdelivr.net;"
    b" style-src 'unsafe-inline' https://cdn.jsdelivr.net; img-src 'self' data:"
    b" https://fastapi.tiangolo.com https://cdn.jsdelivr.net; connect-src 'self';"
    b" frame-ancestors 'none'"
)
HSTS = b"max-age=63072000; includeSubDomains"
# Request headers that carry a credential: the answer is the caller's alone.
CREDENTIALS = (b"authorization", b"cartwright-order-token", b"cartwright-customer-token")

ALLOWED_HEADERS = [
    "Authorization",
    "Content-Type",
    "Idempotency-Key",
    "Cartwright-Order-Token",
    "Cartwright-Customer-Token",
]
EXPOSED_HEADERS = [
    "Request-Id",
    "RateLimit",
    "RateLimit-Policy",
    "Retry-After",
    "Idempotent-Replayed",
]


class SecurityHeaders:
    def __init__(self, app: ASGIApp, *, hsts: bool = False, docs_path: str = "/docs") -> None:
        self.app = app
        self.docs_path = docs_path
        common = [
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),
            (b"x-frame-options", b"DENY"),
        ]
        if hsts:
            common.append((b"strict-transport-security", HSTS))
        self.api_headers = [*common, (b"content-security-policy", API_CSP)]
        self.docs_headers = [*common, (b"content-security-policy", DOCS_CSP)]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        docs = path == self.docs_path or path.startswith(self.docs_path + "/")
        added = self.docs_headers if docs else self.api_headers
        private = any(name in CREDENTIALS for name, _ in scope["headers"])

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                if private:
                    headers = [(k, v) for k, v in headers if k.lower() != b"cache-control"]
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = [*headers, *added]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class ProblemCORS(CORSMiddleware):
    """Starlette's CORS, whose refused preflight is a problem+json 400, not plain text."""

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code != 400:
            return response
        refused = bytes(response.body).decode().removeprefix("Disallowed CORS ")
        err = BadRequest(f"CORS preflight refused: this {refused} is not allowed.")
        return json_response(err.problem(), 400)


def cors_options(origins: list[str]) -> dict[str, Any]:
    """`ProblemCORS`'s options for these exact origins."""
    return {
        "allow_origins": origins,
        "allow_methods": ["GET", "POST", "PUT", "PATCH", "DELETE"],
        "allow_headers": ALLOWED_HEADERS,
        "expose_headers": EXPOSED_HEADERS,
        "allow_credentials": False,
        "max_age": 600,
    }
