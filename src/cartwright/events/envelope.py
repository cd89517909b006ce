"""Events as they leave the platform: a CloudEvents 1.0 envelope (structured JSON mode).

One function for every way out (the broker relay, outgoing webhooks), so a consumer sees the
same document whichever way it came. `dataschema` names the versioned JSON Schema of the
event's `data` (docs/events/<type>.v1.json); within a major version fields are only added.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from cartwright.kit import clock

SOURCE = "cartwright"
SCHEMA_BASE_URL = "https://cartwright.dev/docs/events"
SCHEMA_VERSION = 1


def schema_url(event_type: str, base_url: str = SCHEMA_BASE_URL) -> str:
    """Where the JSON Schema of `event_type`'s data is published."""
    return f"{base_url.rstrip('/')}/{event_type}.v{SCHEMA_VERSION}.json"


class Enveloped(Protocol):
    """What an event needs to leave the platform (the feed's and the outbox's events)."""

    @property
    def id(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def aggregate_id(self) -> str: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def data(self) -> Any: ...


def envelope(
    event: Enveloped, *, source: str = SOURCE, schema_base_url: str = SCHEMA_BASE_URL
) -> dict[str, Any]:
    """The CloudEvents document for `event`: its `id` is the event id (a redelivery carries
    the same one, for consumers' deduplication), `subject` the thing it is about."""
    return {
        "specversion": "1.0",
        "id": event.id,
        "type": event.type,
        "source": source,
        "time": clock.isoformat(event.created_at),
        "subject": event.aggregate_id,
        "datacontenttype": "application/json",
        "dataschema": schema_url(event.type, schema_base_url),
        "data": event.data,
    }
