from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from cartwright.access.scopes import Scope
from cartwright.kit.fields import ListPage, text


class ApiKeyIn(BaseModel):
    type: Literal["publishable", "secret"]
    name: Annotated[str, text(200)]
    scopes: Annotated[list[Scope], Field(max_length=50)] | None = None


class ApiKeyOut(BaseModel):
    id: str
    type: Literal["publishable", "secret"]
    name: str
    scopes: list[Scope]
    key_prefix: str
    created_at: datetime
    revoked_at: datetime | None


class NewApiKeyOut(BaseModel):
    """A key just made: `key` is shown this once."""

    id: str
    type: Literal["publishable", "secret"]
    name: str
    scopes: list[Scope]
    key: str
    created_at: datetime


class ApiKeyPage(ListPage):
    data: list[ApiKeyOut]
