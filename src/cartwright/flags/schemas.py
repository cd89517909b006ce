"""Feature flag request bodies and answers."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, StrictBool

from cartwright.kit.fields import ListPage


class FlagIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: StrictBool


class FlagOut(BaseModel):
    object: Literal["feature_flag"]
    key: str
    enabled: bool
    default: bool
    # `database`: set by an operator (API or CLI); `default`: never set, the default applies.
    source: Literal["database", "default"]
    description: str
    updated_at: datetime | None
    updated_by: str | None


class FlagPage(ListPage):
    data: list[FlagOut]
