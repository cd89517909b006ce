"""The OpenAPI document, told as the platform answers.

FastAPI guesses a route's document from its signature: a `200` with any body, a `422` shaped
as its own `HTTPValidationError`, and nothing about the problems, headers and bodies that our
routes handle themselves (bodies are parsed after authentication, see `web.body`). So each
route states its document with `operation(...)`, and `finish` replaces FastAPI's guesses with
it and adds what every route shares: the problems any authenticated route can answer, the
`Idempotency-Key` header of every POST, `security: []` on the routes that need no key.

A schemathesis run in the suite (tests/fuzz) holds the document to the answers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

from pydantic import BaseModel

from cartwright.kit.errors import (
    AppError,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    Unauthenticated,
    UnsupportedMediaType,
    ValidationFailed,
)
from cartwright.kit.fields import NO_NUL
from cartwright.web.responses import PROBLEM_JSON

# Schemas of every model named by an operation, merged into `components.schemas` by `finish`.
_SCHEMAS: dict[str, Any] = {}
_REF = "#/components/schemas/{model}"
# U+0000 cannot be stored in a PostgreSQL text column: every text the API takes refuses it
# (kit.fields.NO_NUL), and the document says so, so that a client knows before it tries.

# Problems every operation may answer, whatever it does. 503 `service_unavailable` is the
# database being down; 429 is the rate limit.
_EVERYWHERE: tuple[tuple[int, str], ...] = ((503, ServiceUnavailable.code),)
_WITH_KEY: tuple[tuple[int, str], ...] = (
    (401, Unauthenticated.code),
    (403, Forbidden.code),
    (429, "rate_limited"),
)
_WITH_BODY: tuple[tuple[int, str], ...] = (
    (413, PayloadTooLarge.code),
    (415, UnsupportedMediaType.code),
    (422, ValidationFailed.code),
)
_IDEMPOTENT_POST: tuple[tuple[int, str], ...] = (
    (409, "idempotency_key_in_use"),
    (409, "idempotent_answer_unavailable"),
    (422, "idempotency_key_reused"),
    (422, ValidationFailed.code),  # the header itself: 1 to 255 characters
)

_STATUS_TEXT = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    400: "Bad request",
    401: "No valid key (or customer token)",
    402: "Payment declined",
    403: "The key may not do this",
    404: "Not found (or not yours)",
    405: "Method not allowed",
    409: "Conflict with the resource's state",
    413: "Body too large",
    415: "Body is not JSON",
    422: "Not valid",
    429: "Rate limited (see Retry-After)",
    503: "Unavailable for now (see Retry-After)",
}


def schema_of(model: type[BaseModel], *, request: bool = False) -> dict[str, Any]:
    """A `$ref` to the model's schema, registering it (and the models it uses)."""
    mode: Literal["validation", "serialization"] = "validation" if request else "serialization"
    schema = model.model_json_schema(ref_template=_REF, mode=mode)
    for name, definition in schema.pop("$defs", {}).items():
        _SCHEMAS[name] = _tidy(definition, request)
    _SCHEMAS[model.__name__] = _tidy(schema, request)
    return {"$ref": _REF.format(model=model.__name__)}


# Pydantic names the bounds of an integer that has a before-validator (`kit.fields.Integer`)
# by their Python names; JSON Schema's are these.
_BOUNDS = {"ge": "minimum", "le": "maximum", "gt": "exclusiveMinimum", "lt": "exclusiveMaximum"}


def _tidy(schema: Any, request: bool) -> Any:
    """Request text refuses NUL: a string without its own pattern gets `NO_NUL` (every
    pattern the models declare already excludes it). Integer bounds get their JSON Schema
    names."""
    if isinstance(schema, dict):
        out = {_BOUNDS.get(k, k): _tidy(v, request) for k, v in schema.items()}
        plain_text = out.get("type") == "string" and not {"pattern", "enum", "format"} & set(out)
        if request and plain_text:
            out["pattern"] = NO_NUL
        return out
    if isinstance(schema, list):
        return [_tidy(v, request) for v in schema]
    return schema


def query(
    name: str, schema: Mapping[str, Any], description: str, *, required: bool = False
) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "description": description,
        "schema": dict(schema),
    }


def header(
    name: str, description: str, *, required: bool = False, max_length: int = 1000
) -> dict[str, Any]:
    return {
        "name": name,
        "in": "header",
        "required": required,
        "description": description,
        "schema": {"type": "string", "minLength": 1, "maxLength": max_length, "pattern": NO_NUL},
    }


LIST_PARAMS: tuple[dict[str, Any], ...] = (
    query(
        "limit",
        {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
        "Page size, 1 to 100.",
    ),
    query(
        "starting_after",
        {"type": "string", "maxLength": 64, "pattern": NO_NUL},
        "The last id of the previous page (empty: the first page).",
    ),
)
ORDER_TOKEN = header(
    "Cartwright-Order-Token",
    "With a publishable key: the `access_token` the checkout returned for this order.",
    max_length=200,
)
CUSTOMER_TOKEN = header(
    "Cartwright-Customer-Token",
    "A signed-in shopper's token from the merchant's OpenID Connect provider.",
    max_length=8000,
)


def idempotency_key(*, required: bool) -> dict[str, Any]:
    return header(
        "Idempotency-Key",
        "Makes the POST safe to retry: the same key and body within 24 h replays the first"
        " answer (with `Idempotent-Replayed: true`)." + (" Required here." if required else ""),
        required=required,
        max_length=255,
    )


def operation(
    *,
    ok: Mapping[int, type[BaseModel] | dict[str, Any] | None],
    body: type[BaseModel] | None = None,
    body_required: bool = True,
    problems: Iterable[type[AppError] | tuple[int, str]] = (),
    params: Iterable[dict[str, Any]] = (),
    links: Mapping[int, Mapping[str, Any]] | None = None,
    public: bool = False,
    idempotency: Literal["optional", "required"] | None = None,
    media_type: str = "application/json",
) -> dict[str, Any]:
    """What to pass as a route's `openapi_extra`: its answers, body and parameters."""
    responses: dict[str, Any] = {}
    for status, model in ok.items():
        answer: dict[str, Any] = {"description": _STATUS_TEXT.get(status, "OK")}
        if model is not None:
            schema = model if isinstance(model, dict) else schema_of(model)
            answer["content"] = {media_type: {"schema": schema}}
        if links and status in links:
            answer["links"] = dict(links[status])
        responses[str(status)] = answer
    ok_statuses = {str(status) for status in ok}
    codes: list[tuple[int, str]] = list(_EVERYWHERE)
    if not public:
        codes += _WITH_KEY
    if body is not None:
        codes += _WITH_BODY
    if idempotency is not None:
        codes += _IDEMPOTENT_POST
    for problem in problems:
        codes.append(problem if isinstance(problem, tuple) else (problem.status, problem.code))
    for status, code in codes:
        if str(status) in ok_statuses:
            continue  # the route's own answer for that status (e.g. /readyz's 503)
        answer = responses.setdefault(
            str(status), {"description": _STATUS_TEXT.get(status, "Problem"), "codes": []}
        )
        if code not in answer.setdefault("codes", []):
            answer["codes"].append(code)
    extra: dict[str, Any] = {"x-responses": responses}
    parameters = list(params)
    if idempotency is not None:
        parameters.append(idempotency_key(required=idempotency == "required"))
    if parameters:
        extra["parameters"] = parameters
    if body is not None:
        extra["requestBody"] = {
            "required": body_required,
            "content": {"application/json": {"schema": schema_of(body, request=True)}},
        }
    if public:
        extra["security"] = []
    return extra


def storefront_operation(**kwargs: Any) -> dict[str, Any]:
    """`operation` for a route a storefront calls for a shopper: it takes the signed-in
    shopper's `Cartwright-Customer-Token` too."""
    params = [*kwargs.pop("params", ()), CUSTOMER_TOKEN]
    return operation(params=params, **kwargs)


def _problem_schema(status: int, codes: list[str]) -> dict[str, Any]:
    props: dict[str, Any] = {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer", "const": status},
        "detail": {"type": "string"},
        "code": {"type": "string", "enum": sorted(codes)},
        "request_id": {"type": "string"},
    }
    if status == 422:
        props["errors"] = {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        }
    return {
        "type": "object",
        "required": ["type", "title", "status", "detail", "code"],
        "properties": props,
    }


_HEADERS = {
    "Request-Id": {
        "description": "Names this request in logs, traces and support tickets.",
        "schema": {"type": "string"},
    }
}


def finish(schema: dict[str, Any]) -> dict[str, Any]:
    """Replace FastAPI's guessed answers with the declared ones, everywhere."""
    for path, item in schema.get("paths", {}).items():
        for method, op in item.items():
            if not isinstance(op, dict) or "responses" not in op:
                continue
            declared = op.pop("x-responses", None)
            if declared is None:
                raise ValueError(f"{method.upper()} {path} has no declared answers (operation())")
            if "{" in path:
                declared.setdefault("404", {"description": _STATUS_TEXT[404], "codes": []})
                if NotFound.code not in declared["404"].setdefault("codes", []):
                    declared["404"]["codes"].append(NotFound.code)
            for status, answer in declared.items():
                codes = answer.pop("codes", None)
                if codes is not None:
                    answer["content"] = {
                        PROBLEM_JSON: {"schema": _problem_schema(int(status), codes)}
                    }
                    if status in ("429", "503"):
                        answer["headers"] = {
                            "Retry-After": {
                                "description": "Seconds to wait before trying again.",
                                "schema": {"type": "integer"},
                            }
                        }
                answer.setdefault("headers", {}).update(_HEADERS)
            op["responses"] = dict(sorted(declared.items()))
            for param in op.get("parameters", []):
                if param.get("in") == "path":
                    param["schema"] = {
                        "type": "string",
                        "minLength": 1,
                        "maxLength": 255,
                        "pattern": "^[^\\x00/]+$",
                    }
    components = schema.setdefault("components", {})
    found = components.setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        found.pop(name, None)
    found.update(_SCHEMAS)
    components["securitySchemes"] = {
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "A secret key (`sk_…`) or a publishable key (`pk_…`).",
        }
    }
    schema["security"] = [{"bearer": []}]
    return schema
