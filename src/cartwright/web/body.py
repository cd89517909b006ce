"""Request bodies, parsed after authentication.

FastAPI decodes a declared body before any dependency runs, so a malformed body would be
refused before the key is checked. The contract wants 401/403 first, so routes take their
body through `json_body(Model)`, a dependency listed after the auth dependency, and
document it with `web.openapi.operation(body=Model)`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import orjson
from fastapi import Request
from pydantic import BaseModel, ValidationError

from cartwright.kit.errors import ValidationFailed

M = TypeVar("M", bound=BaseModel)


def validation_errors(exc: ValidationError) -> ValidationFailed:
    errors = []
    for err in exc.errors(include_url=False):
        loc = [p for p in err["loc"] if p not in ("body",)]
        field = ""
        for part in loc:
            if isinstance(part, int):
                field += f"[{part}]"
            else:
                field += ("." if field else "") + str(part)
        message = err["msg"]
        if err["type"] == "json_invalid":
            message = "The body is not valid JSON."
        elif err["type"] == "missing":
            message = "This field is required."
        errors.append({"field": field, "message": message})
    detail = "; ".join(f"{e['field'] or 'body'}: {e['message']}" for e in errors[:5])
    return ValidationFailed(detail, errors=errors)


async def read_json(request: Request) -> Any:
    raw = await request.body()  # bounded by CARTWRIGHT_MAX_BODY_BYTES (web.body_limit)
    if not raw.strip():
        raise ValidationFailed(
            "The request needs a JSON body.",
            errors=[{"field": "", "message": "The body is empty; send a JSON object."}],
        )
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ValidationFailed(
            "The body is not valid JSON.",
            errors=[{"field": "", "message": "The body is not valid JSON."}],
        ) from None
    if b"\\u0000" in raw:  # cheap pre-check; orjson rejects a raw NUL byte itself
        nul_fields = sorted(set(_fields_with_nul(data)))
        if nul_fields:
            raise ValidationFailed(
                f"{nul_fields[0] or 'body'}: may not contain the NUL character",
                errors=[
                    {"field": f, "message": "may not contain the NUL character"} for f in nul_fields
                ],
            )
    return data


def _fields_with_nul(data: Any) -> Iterator[str]:
    """Where the parsed body holds U+0000, which no text column (PostgreSQL) can store.
    Iterative: a body may nest as deep as the JSON parser allows."""
    stack: list[tuple[Any, str]] = [(data, "")]
    while stack:
        value, path = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                yield path
        elif isinstance(value, dict):
            for key, item in value.items():
                field = key.replace("\x00", "\\u0000")
                field = f"{path}.{field}" if path else field
                if "\x00" in key:
                    yield field
                stack.append((item, field))
        elif isinstance(value, list):
            stack.extend((item, f"{path}[{i}]") for i, item in enumerate(value))


async def refuse_first(request: Request) -> None:
    """Before a request is refused as invalid (422), the refusals that come before the body
    in the contract's order: an auth dependency that defers a check to keep it off the happy
    path (e.g. "is this cart the caller's?", which the service checks anyway) leaves it in
    `request.state.refuse_first`."""
    check = getattr(request.state, "refuse_first", None)
    if check is not None:
        await check()


def json_body(model: type[M]) -> Callable[[Request], Awaitable[M]]:
    async def parse(request: Request) -> M:
        try:
            data = await read_json(request)
            try:
                parsed = model.model_validate(data)
            except ValidationError as exc:
                raise validation_errors(exc) from None
        except ValidationFailed:
            await refuse_first(request)
            raise
        request.state.json_body = data
        return parsed

    return parse


def optional_json_body(model: type[M]) -> Callable[[Request], Awaitable[M]]:
    """`json_body` for a body that may be left out: no body means the model's defaults."""
    parse_present = json_body(model)

    async def parse(request: Request) -> M:
        if not (await request.body()).strip():
            request.state.json_body = {}
            return model()
        return await parse_present(request)

    return parse
