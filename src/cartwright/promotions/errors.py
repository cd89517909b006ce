from __future__ import annotations

from cartwright.kit.errors import AppError, NotFound


class PromotionNotFound(NotFound):
    title = "No such promotion"


class PromotionCodeTaken(AppError):
    status = 409
    code = "promotion_code_taken"
    title = "Promotion code already in use"


class PromotionInvalid(AppError):
    """A code a cart cannot take: unknown, not running, used up or not for this cart."""

    status = 422
    code = "promotion_invalid"
    title = "The promotion code cannot be used"
    replayable = False


class PromotionUnavailable(AppError):
    """At checkout a promotion's limit ran out since the cart was priced: nothing was
    charged; the problem carries the cart re-priced (`cart`). Stored under the key like
    any refusal, so a retry does not pay the new price unseen."""

    status = 409
    code = "promotion_unavailable"
    title = "A promotion is no longer available"
