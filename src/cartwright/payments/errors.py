from cartwright.kit.errors import AppError


class PaymentDeclined(AppError):
    status = 402
    code = "payment_declined"
    title = "The payment was declined"
