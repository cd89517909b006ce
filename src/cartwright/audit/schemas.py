"""Response shapes of the audit log (the contract fixes them)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel


class AuditActor(BaseModel):
    key_id: str


class AuditTarget(BaseModel):
    type: str
    id: str


class AuditEventOut(BaseModel):
    id: str
    action: str
    actor: AuditActor
    target: AuditTarget
    request_id: str | None
    created_at: datetime
    changes: dict[str, Any]


class AuditEventList(BaseModel):
    data: list[AuditEventOut]
    has_more: bool
