from cartwright.kit.errors import AppError


class CartClosed(AppError):
    status = 409
    code = "cart_closed"
    title = "The cart has been checked out and cannot change"


class CartNotReady(AppError):
    status = 409
    code = "cart_not_ready"
    title = "The cart is not ready for checkout"


class CartChanging(AppError):
    """The cart changed each time checkout priced it; nothing was done."""

    status = 409
    code = "cart_changed"
    title = "The cart changed during checkout"
    replayable = False


class CartLineLimit(AppError):
    """The cart already holds the most lines a cart may hold; nothing was changed."""

    status = 409
    code = "cart_line_limit"
    title = "The cart holds the most lines it may"
