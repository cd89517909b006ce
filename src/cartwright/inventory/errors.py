from cartwright.kit.errors import AppError


class InsufficientStock(AppError):
    status = 409
    code = "insufficient_stock"
    title = "Not enough stock"
