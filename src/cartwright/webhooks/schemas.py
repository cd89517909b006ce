"""Webhook request bodies and answers."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from cartwright.kit.fields import NO_NUL, Integer, ListPage, optional_text

Url = Annotated[str, StringConstraints(min_length=1, max_length=2048, pattern=NO_NUL)]
EventType = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=NO_NUL)]
EventTypes = Annotated[list[EventType], Field(min_length=1, max_length=100)]


class EndpointIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Url
    # Event types (`order.placed`), `<kind>.*` (`payment.*`) or `*` for every event.
    events: EventTypes
    description: Annotated[str, optional_text(500)] | None = None


class EndpointPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Url | None = None
    events: EventTypes | None = None
    enabled: bool | None = None
    description: Annotated[str, optional_text(500)] | None = None


class RotateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # How long the secrets before the new one keep signing alongside it (default 24 h).
    overlap_seconds: Annotated[Integer, Field(ge=0, le=7 * 24 * 3600)] | None = None


class ReplayIn(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    start: AwareDatetime = Field(alias="from")
    end: AwareDatetime = Field(alias="to")


class EndpointOut(BaseModel):
    id: str
    object: Literal["webhook_endpoint"]
    url: str
    events: list[str]
    status: Literal["enabled", "disabled"]
    description: str | None
    disabled_reason: str | None
    consecutive_failures: int
    created_at: datetime
    updated_at: datetime


class NewEndpointOut(EndpointOut):
    """`secret` is shown this once."""

    secret: str


class RotatedOut(NewEndpointOut):
    previous_secrets_expire_at: datetime


class EndpointPage(ListPage):
    data: list[EndpointOut]


class AttemptOut(BaseModel):
    id: str
    attempted_at: datetime
    status_code: int | None
    duration_ms: int
    error: str | None
    response_excerpt: str | None


class DeliveryOut(BaseModel):
    id: str
    object: Literal["webhook_delivery"]
    endpoint_id: str
    event_id: str
    event_type: str
    generation: int
    status: Literal["pending", "succeeded", "failed", "abandoned"]
    attempt_count: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime


class DeliveryDetailOut(DeliveryOut):
    attempts: list[AttemptOut]


class DeliveryPage(ListPage):
    data: list[DeliveryOut]


class ReplayOut(BaseModel):
    endpoint_id: str
    queued: int
    delivery_ids: list[str]
