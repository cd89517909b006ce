"""What event answers look like."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from cartwright.kit.fields import ListPage


class EventOut(BaseModel):
    id: str
    type: str
    created_at: datetime
    data: dict[str, Any]


class EventPage(ListPage):
    data: list[EventOut]
