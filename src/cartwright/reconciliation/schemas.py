from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from cartwright.kit.fields import NO_NUL


class RunStatus(StrEnum):
    MATCHED = "matched"  # every line matched, nothing of ours missing
    DISCREPANCIES = "discrepancies"  # at least one discrepancy found


class Resolution(StrEnum):
    # The provider's figures stand (our books are corrected elsewhere, or the difference
    # is accepted): once the ledger is wired, the line's fee and payout are posted.
    ACCEPTED = "accepted"
    # Corrected on our side (a missing operation settled, a wrong amount fixed).
    CORRECTED = "corrected"
    # Not a real problem (a line the provider books later, a test payment).
    DISMISSED = "dismissed"


class ResolveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    resolution: Resolution = Field(description="accepted, corrected or dismissed")
    note: str | None = Field(default=None, min_length=1, max_length=1000, pattern=NO_NUL)


class RunOut(BaseModel):
    id: str
    object: str
    provider: str
    status: RunStatus
    format: str
    lines: int
    matched: int
    discrepancies: dict[str, int]
    file_sha256: str
    period: dict[str, str | None]
    created_at: str


class DiscrepancyOut(BaseModel):
    id: str
    object: str
    provider: str
    kind: str
    status: str
    line_id: str | None
    our_reference: str | None
    provider_reference: str | None
    currency: str | None
    expected: dict[str, Any] | None
    actual: dict[str, Any] | None
    detail: str
    first_run_id: str
    resolution: str | None
    note: str | None
    resolved_by: str | None
    resolved_at: str | None
    created_at: str


class DiscrepancyList(BaseModel):
    data: list[DiscrepancyOut]
    has_more: bool
