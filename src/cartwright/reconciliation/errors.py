from __future__ import annotations

from cartwright.kit.errors import InvalidState


class AlreadyResolved(InvalidState):
    """The discrepancy was resolved before; a resolution is never changed."""
