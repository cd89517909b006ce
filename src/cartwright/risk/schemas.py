"""Risk request bodies and answers."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, StringConstraints

from cartwright.kit.fields import NO_NUL, ListPage, optional_text

DenyValue = Annotated[
    str, StringConstraints(min_length=1, max_length=320, strip_whitespace=True, pattern=NO_NUL)
]
DenyKindName = Literal["email", "email_domain", "address", "fingerprint"]


class DenylistEntryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: DenyKindName
    value: DenyValue
    note: Annotated[str, optional_text(500)] | None = None


class DenylistEntryOut(BaseModel):
    id: str
    object: Literal["risk_denylist_entry"]
    kind: DenyKindName
    value: str
    note: str | None
    created_at: datetime


class DenylistPage(ListPage):
    data: list[DenylistEntryOut]
