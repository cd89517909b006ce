from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints


class ApiKeyIn(BaseModel):
    type: Literal["publishable", "secret"]
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    scopes: Annotated[list[str], Field(max_length=50)] | None = None
