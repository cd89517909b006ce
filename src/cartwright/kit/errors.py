"""One error type a client can branch on: HTTP status plus a stable `code`.

Modules subclass `AppError` (`InsufficientStock`, `PaymentDeclined`, ...); one handler in
`cartwright.app` renders every one of them as RFC 9457 problem+json.
"""

from __future__ import annotations

from typing import Any, ClassVar

from cartwright.kit import context

PROBLEM_TYPE_BASE = "https://docs.cartwright.dev/problems/"


class AppError(Exception):
    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    title: ClassVar[str] = "Bad request"
    # Whether an idempotent request that ended in this error is stored and replayed.
    # Errors raised before the request had any effect are not, so a corrected retry runs.
    replayable: ClassVar[bool] = True

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
        extensions: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.errors = errors
        self.headers = headers or {}
        # Extra members of the problem object (RFC 9457 §3.2), e.g. a decline code.
        self.extensions = extensions or {}

    def problem(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": PROBLEM_TYPE_BASE + self.code,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
        }
        if self.errors is not None:
            body["errors"] = self.errors
        body.update(self.extensions)
        # Which request answered this (a stored answer keeps the first request's id).
        request_id = context.request_id()
        if request_id is not None:
            body["request_id"] = request_id
        return body


class ValidationFailed(AppError):
    status = 422
    code = "validation_error"
    title = "The request is not valid"
    replayable = False

    @classmethod
    def field(cls, field: str, message: str) -> ValidationFailed:
        return cls(f"{field}: {message}", errors=[{"field": field, "message": message}])


class BadRequest(AppError):
    status = 400
    code = "bad_request"
    title = "Bad request"
    replayable = False


class NotFound(AppError):
    status = 404
    code = "not_found"
    title = "Not found"
    replayable = False


class MethodNotAllowed(AppError):
    status = 405
    code = "method_not_allowed"
    title = "Method not allowed"
    replayable = False


class Unauthenticated(AppError):
    status = 401
    code = "unauthenticated"
    title = "Authentication required"
    replayable = False

    def __init__(self, detail: str | None = None) -> None:
        # RFC 9110 §11.6.1: a 401 names the scheme to authenticate with.
        super().__init__(detail, headers={"WWW-Authenticate": 'Bearer realm="cartwright"'})


class Forbidden(AppError):
    status = 403
    code = "forbidden"
    title = "Forbidden"
    replayable = False


class InvalidState(AppError):
    status = 409
    code = "invalid_state"
    title = "The resource is not in a state that allows this"


class PayloadTooLarge(AppError):
    status = 413
    code = "payload_too_large"
    title = "The request body is too large"
    replayable = False


class UnsupportedMediaType(AppError):
    status = 415
    code = "unsupported_media_type"
    title = "The request body must be JSON"
    replayable = False


class ServiceUnavailable(AppError):
    """The platform's own database is unreachable or overloaded; nothing was changed."""

    status = 503
    code = "service_unavailable"
    title = "The service is temporarily unavailable"
    replayable = False

    def __init__(self, detail: str | None = None, *, retry_after_s: int = 2) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after_s)})


class ProviderUnavailable(AppError):
    """Every provider that could serve the call is failing; nothing was changed."""

    status = 503
    code = "provider_unavailable"
    title = "The provider is unavailable"

    def __init__(self, detail: str | None = None, *, retry_after_s: int = 5) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after_s)})


class RateLimited(AppError):
    """Too many requests from this client (or key); nothing was done."""

    status = 429
    code = "rate_limited"
    title = "Too many requests"
    replayable = False

    def __init__(self, detail: str | None = None, *, retry_after_s: int = 1) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after_s)})
