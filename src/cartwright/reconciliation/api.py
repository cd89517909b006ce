"""Reconciliation routes. A report is posted as the provider gave it: the CSV file as the
body (`Content-Type: text/csv`), the provider (and optionally the UTC day it covers) in the
query: `POST /v1/reconciliation/runs?provider=sandbox&day=2026-12-02`."""

from __future__ import annotations

import hashlib
import re
from datetime import date, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from cartwright.access.scopes import Scope
from cartwright.access.service import Principal
from cartwright.kit.db import Conn
from cartwright.kit.errors import NotFound, PayloadTooLarge, UnsupportedMediaType, ValidationFailed
from cartwright.kit.settings import Settings as PlatformSettings
from cartwright.reconciliation import service
from cartwright.reconciliation.errors import AlreadyResolved
from cartwright.reconciliation.matching import DiscrepancyKind
from cartwright.reconciliation.schemas import DiscrepancyList, DiscrepancyOut, ResolveIn, RunOut
from cartwright.web.body import json_body
from cartwright.web.deps import Page, page, platform, requires
from cartwright.web.idempotent import run_idempotent
from cartwright.web.openapi import LIST_PARAMS, operation, query
from cartwright.web.responses import json_response

router = APIRouter(prefix="/v1", tags=["reconciliation"])

PROVIDER = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
CSV_TYPES = ("text/csv", "text/plain", "application/csv")


def run_settings(settings: PlatformSettings) -> service.Settings:
    return service.Settings(
        fee_schedules=settings.provider_fee_schedules(),
        grace=timedelta(seconds=settings.reconciliation_grace_s),
    )


def _provider(request: Request) -> str:
    provider = request.query_params.get("provider")
    if provider is None:
        raise ValidationFailed.field("provider", "name the provider whose report this is")
    if not PROVIDER.match(provider):
        raise ValidationFailed.field("provider", "is not a provider name")
    return provider


def _day(request: Request) -> date | None:
    raw = request.query_params.get("day")
    if raw is None:
        return None
    try:
        if len(raw) != 10:
            raise ValueError
        return date.fromisoformat(raw)
    except ValueError:
        raise ValidationFailed.field("day", "must be a date, YYYY-MM-DD") from None


async def _report_text(request: Request) -> tuple[bytes, str]:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in CSV_TYPES:
        raise UnsupportedMediaType("Send the report as the body, with Content-Type: text/csv.")
    raw = await request.body()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationFailed.field("report", "is not UTF-8 text") from None
    return raw, text


_RUN_PARAMS = [
    query(
        "provider",
        {"type": "string", "pattern": PROVIDER.pattern},
        "The provider whose report the body is (`sandbox`, `stripe`, ...).",
        required=True,
    ),
    query(
        "day",
        {"type": "string", "format": "date"},
        "The UTC day the report covers; by default the days its lines fall on.",
    ),
]
_RUN_DOC = operation(
    ok={201: RunOut},
    params=_RUN_PARAMS,
    problems=[
        (413, PayloadTooLarge.code),
        (415, UnsupportedMediaType.code),
        (422, ValidationFailed.code),
    ],
    idempotency="optional",
)
_RUN_DOC["requestBody"] = {
    "required": True,
    "content": {"text/csv": {"schema": {"type": "string"}}},
}


@router.post("/reconciliation/runs", status_code=201, openapi_extra=_RUN_DOC)
async def create_run(
    request: Request, _: Principal = Depends(requires(Scope.RECONCILIATION_WRITE))
) -> Response:
    """Reconcile a provider's settlement report (the CSV as the body) against our
    payments: 201 the run, with its discrepancies counted by kind. A file that is not a
    valid report is 422 naming the line, and nothing is stored."""
    provider = _provider(request)
    day = _day(request)
    raw, text = await _report_text(request)
    report = service.parse_report(provider, text)
    request.state.json_body = {
        "provider": provider,
        "day": None if day is None else day.isoformat(),
        "file_sha256": hashlib.sha256(raw).hexdigest(),
    }
    settings = run_settings(platform(request).settings)

    async def work(conn: Conn) -> tuple[int, Any]:
        run = await service.reconcile(
            conn, provider=provider, report=report, raw=raw, settings=settings, day=day
        )
        return 201, run

    return await run_idempotent(request, work)


@router.get(
    "/reconciliation/runs/{run_id}",
    openapi_extra=operation(ok={200: RunOut}, problems=[NotFound]),
)
async def get_run(
    request: Request, run_id: str, _: Principal = Depends(requires(Scope.RECONCILIATION_READ))
) -> Response:
    async with platform(request).db.connection() as conn:
        return json_response(await service.get_run(conn, run_id))


@router.get(
    "/reconciliation/runs/{run_id}/discrepancies",
    openapi_extra=operation(
        ok={200: DiscrepancyList},
        params=[
            *LIST_PARAMS,
            query(
                "kind",
                {"type": "string", "enum": [k.value for k in DiscrepancyKind]},
                "Only discrepancies of this kind.",
            ),
        ],
        problems=[NotFound, ValidationFailed],
    ),
)
async def list_discrepancies(
    request: Request,
    run_id: str,
    _: Principal = Depends(requires(Scope.RECONCILIATION_READ)),
    paging: Page = Depends(page),
) -> Response:
    """The discrepancies the run found, new or known before (the list convention)."""
    raw_kind = request.query_params.get("kind")
    kind = None
    if raw_kind is not None:
        try:
            kind = DiscrepancyKind(raw_kind)
        except ValueError:
            kinds = ", ".join(k.value for k in DiscrepancyKind)
            raise ValidationFailed.field("kind", f"must be one of {kinds}") from None
    async with platform(request).db.connection() as conn:
        body = await service.list_discrepancies(
            conn, run_id, kind=kind, limit=paging.limit, starting_after=paging.starting_after
        )
    return json_response(body)


@router.post(
    "/reconciliation/discrepancies/{discrepancy_id}/resolve",
    openapi_extra=operation(
        ok={200: DiscrepancyOut},
        body=ResolveIn,
        problems=[NotFound, AlreadyResolved],
        idempotency="optional",
    ),
)
async def resolve_discrepancy(
    request: Request,
    discrepancy_id: str,
    _: Principal = Depends(requires(Scope.RECONCILIATION_WRITE)),
    data: ResolveIn = Depends(json_body(ResolveIn)),
) -> Response:
    """Close a discrepancy: who (the key) and why (`resolution`, `note`), audited."""

    async def work(conn: Conn) -> tuple[int, Any]:
        return 200, await service.resolve(
            conn, discrepancy_id, resolution=data.resolution, note=data.note
        )

    return await run_idempotent(request, work)
