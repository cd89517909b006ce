from __future__ import annotations

from cartwright.kit.errors import AppError, NotFound


class ChannelNotFound(NotFound):
    title = "No such channel"


class ChannelCodeTaken(AppError):
    status = 409
    code = "channel_code_taken"
    title = "Channel code already in use"


class PriceListNotFound(NotFound):
    title = "No such price list"
