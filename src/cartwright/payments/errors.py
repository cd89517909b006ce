from cartwright.kit.errors import AppError


class PaymentDeclined(AppError):
    status = 402
    code = "payment_declined"
    title = "The payment was declined"


class WebhookRejected(AppError):
    """A provider webhook that failed verification: nothing was acted on."""

    status = 400
    code = "webhook_rejected"
    title = "The webhook could not be verified"
    replayable = False
