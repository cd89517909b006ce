from __future__ import annotations

from cartwright.kit.errors import NotFound


class EndpointNotFound(NotFound):
    title = "No such webhook endpoint"


class DeliveryNotFound(NotFound):
    title = "No such webhook delivery"
