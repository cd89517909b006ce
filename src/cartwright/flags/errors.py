from __future__ import annotations

from cartwright.kit.errors import AppError, NotFound


class FlagNotFound(NotFound):
    title = "No such feature flag"


class CheckoutDisabled(AppError):
    """The `checkout` kill switch is off: nothing was done (no key stored, no stock taken,
    nothing charged), so the same request runs normally once it is back on."""

    status = 503
    code = "checkout_disabled"
    title = "Checkout is switched off"
    replayable = False

    def __init__(self, detail: str | None = None, *, retry_after_s: int = 30) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after_s)})
