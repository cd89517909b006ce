from tests.promotions.support import made

__all__ = ["made"]
