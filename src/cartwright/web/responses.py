"""JSON responses, serialised once with orjson."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

PROBLEM_JSON = "application/problem+json"


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return raw_json_response(orjson.dumps(body), status, headers)


def raw_json_response(
    payload: bytes, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    media_type = PROBLEM_JSON if status >= 400 else "application/json"
    return Response(payload, status_code=status, media_type=media_type, headers=headers)
