from tests.orders.support import db

__all__ = ["db"]
