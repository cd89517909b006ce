from cartwright.kit.errors import Forbidden, Unauthenticated

__all__ = ["Forbidden", "Unauthenticated"]
