from __future__ import annotations

from cartwright.kit.errors import NotFound


class DenylistEntryNotFound(NotFound):
    title = "No such denylist entry"
