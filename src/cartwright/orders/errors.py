from cartwright.kit.errors import InvalidState

__all__ = ["InvalidState"]
