from cartwright.kit.errors import NotFound


class StockAlertNotFound(NotFound):
    pass
