from cartwright.kit.errors import AppError


class IdempotencyKeyInUse(AppError):
    status = 409
    code = "idempotency_key_in_use"
    title = "A request with this Idempotency-Key is still running"
    replayable = False


class IdempotencyKeyReused(AppError):
    status = 422
    code = "idempotency_key_reused"
    title = "This Idempotency-Key was used with a different request"
    replayable = False


class StoredAnswerSealed(AppError):
    """The request ran before, but its stored answer was sealed with a secret key that is no
    longer configured (`CARTWRIGHT_SECRET_KEY_PREVIOUS` lost it): it cannot be shown again,
    and nothing is done twice."""

    status = 409
    code = "idempotent_answer_unavailable"
    title = "The stored answer of this Idempotency-Key can no longer be read"
    replayable = False
