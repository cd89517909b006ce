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
