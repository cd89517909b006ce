from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictInt, StringConstraints

MAX_SECONDS = 10 * 366 * 24 * 3600  # ten years


class ApiKeyIn(BaseModel):
    type: Literal["publishable", "secret"]
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    scopes: Annotated[list[str], Field(max_length=50)] | None = None
    # After this instant the key no longer authenticates (401); must be in the future.
    expires_at: AwareDatetime | None = None


class RollIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # How long the old key keeps working (0: it stops now). Default 24 hours.
    overlap_s: Annotated[StrictInt, Field(ge=0, le=30 * 24 * 3600)] | None = None
    # When the new key expires, in seconds from now (default: never).
    expires_in_s: Annotated[StrictInt, Field(ge=1, le=MAX_SECONDS)] | None = None


class ApiKeyOut(BaseModel):
    id: str
    type: Literal["publishable", "secret"]
    name: str
    scopes: list[str]
    key_prefix: str
    created_at: str
    expires_at: str | None
    last_used_at: str | None
    revoked_at: str | None
    rolled_from: str | None


class ApiKeyCreatedOut(BaseModel):
    """The new key: `key` is shown this once."""

    id: str
    type: Literal["publishable", "secret"]
    name: str
    scopes: list[str]
    key: str
    key_prefix: str
    created_at: str
    expires_at: str | None
    rolled_from: str | None


class ApiKeyList(BaseModel):
    data: list[ApiKeyOut]
    has_more: bool
