from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from cartwright.access.scopes import Scope
from cartwright.kit.fields import Integer, ListPage, text

MAX_SECONDS = 10 * 366 * 24 * 3600  # ten years


class ApiKeyIn(BaseModel):
    type: Literal["publishable", "secret"]
    name: Annotated[str, text(200)]
    scopes: Annotated[list[Scope], Field(max_length=50)] | None = None
    # After this instant the key no longer authenticates (401); must be in the future.
    expires_at: AwareDatetime | None = None
    # The code of the channel a publishable key sells in (a secret key names one per
    # request with `Cartwright-Channel`; for it this is only the default).
    channel: Annotated[str, text(64)] = "default"


class RollIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # How long the old key keeps working (0: it stops now). Default 24 hours.
    overlap_s: Annotated[Integer, Field(ge=0, le=30 * 24 * 3600)] | None = None
    # When the new key expires, in seconds from now (default: never).
    expires_in_s: Annotated[Integer, Field(ge=1, le=MAX_SECONDS)] | None = None


class ApiKeyOut(BaseModel):
    id: str
    type: Literal["publishable", "secret"]
    name: str
    scopes: list[Scope]
    key_prefix: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None
    rolled_from: str | None
    channel: str


class NewApiKeyOut(BaseModel):
    """A key just made (or rolled): `key` is shown this once."""

    id: str
    type: Literal["publishable", "secret"]
    name: str
    scopes: list[Scope]
    key: str
    key_prefix: str
    created_at: datetime
    expires_at: datetime | None
    rolled_from: str | None
    channel: str


class ApiKeyPage(ListPage):
    data: list[ApiKeyOut]
