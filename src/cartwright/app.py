"""The ASGI application: routers of every module, problem+json errors, the lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import sqlite3
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Match

from cartwright.access.api import router as access_router
from cartwright.audit.api import router as audit_router
from cartwright.cart.api import router as cart_router
from cartwright.catalog.api import router as catalog_router
from cartwright.channels.api import router as channels_router
from cartwright.checkout.api import router as checkout_router
from cartwright.customers.api import router as customers_router
from cartwright.events.api import router as events_router
from cartwright.flags.api import router as flags_router
from cartwright.inventory.api import router as inventory_router
from cartwright.kit import context
from cartwright.kit.db import Deadlock
from cartwright.kit.errors import (
    AppError,
    BadRequest,
    MethodNotAllowed,
    NotFound,
    ServiceUnavailable,
    ValidationFailed,
)
from cartwright.kit.netaddr import parse_networks
from cartwright.kit.settings import Settings, get_settings
from cartwright.ledger.api import router as ledger_router
from cartwright.notifications.api import router as notifications_router
from cartwright.ops import metrics as served_metrics
from cartwright.ops import tracing, worker
from cartwright.ops.api import router as ops_router
from cartwright.ops.logging import configure_logging
from cartwright.orders.api import router as orders_router
from cartwright.platform import Platform
from cartwright.promotions.api import router as promotions_router
from cartwright.reconciliation.api import router as reconciliation_router
from cartwright.risk.api import router as risk_router
from cartwright.web import openapi as openapi_doc
from cartwright.web.body_limit import LimitBody
from cartwright.web.guard import RejectNul
from cartwright.web.headers import ProblemCORS, SecurityHeaders, cors_options
from cartwright.web.request_context import RequestContext
from cartwright.web.responses import json_response
from cartwright.webhooks.api import router as webhooks_router

log = structlog.get_logger("cartwright.api")
GC_YOUNG_THRESHOLD = 20_000

# Failures of the platform's own database that a retry may cure: answered 503 with
# Retry-After instead of 500. (A request's transaction rolled back with them.)
DATABASE_UNAVAILABLE: tuple[type[Exception], ...] = (
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.TooManyConnectionsError,
    asyncpg.OperatorInterventionError,  # statement timeout, admin shutdown, ...
    asyncpg.CannotConnectNowError,
    asyncpg.DeadlockDetectedError,
    asyncpg.SerializationError,
    OSError,  # refused, reset, unresolvable host
    TimeoutError,  # connecting took too long
    sqlite3.OperationalError,
    Deadlock,
)


def _problem(err: AppError) -> Response:
    return json_response(err.problem(), err.status, err.headers or None)


async def _app_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, AppError)
    return _problem(exc)


async def _validation_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    fields = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p not in ("path", "query", "header", "body")]
        fields.append({"field": ".".join(loc), "message": str(err.get("msg", "is not valid"))})
    return _problem(ValidationFailed("The request is not valid.", errors=fields))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404:
        return _problem(NotFound("No such route."))
    if exc.status_code == 405:
        # RFC 9110 §15.5.6: a 405 names the methods the resource does take.
        return _problem(
            MethodNotAllowed(
                "This route does not take that method.",
                headers={"Allow": ", ".join(_allowed_methods(request))},
            )
        )
    return _problem(BadRequest(str(exc.detail)))


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route answers at this path (the router's own 405 names only the
    first route that matched the path)."""
    allowed = []
    for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"):
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] is Match.FULL for route in request.app.router.routes):
            allowed.append(method)
    return allowed


async def _database_unavailable(request: Request, exc: Exception) -> Response:
    log.warning("database unavailable", path=request.url.path, error=repr(exc))
    return _problem(ServiceUnavailable("The database is unavailable; try again shortly."))


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error", path=request.url.path, method=request.method)
    return json_response(
        {
            "type": "https://docs.cartwright.dev/problems/internal_error",
            "title": "Internal error",
            "status": 500,
            "detail": "Something went wrong on our side; it has been logged.",
            "code": "internal_error",
            "request_id": context.request_id(),
        },
        500,
    )


def create_app(settings: Settings | None = None, *, run_worker: bool | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(
        settings.log_level,
        secrets=(settings.admin_key, settings.secret_key, settings.secret_key_previous),
    )
    if run_worker is None:
        run_worker = os.environ.get("CARTWRIGHT_RUN_WORKER", "1") != "0"
    platform = Platform.build(settings)
    tracing.configure()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await platform.start(webhook_receiver=app)
        # Everything loaded so far lives as long as the process: keep the collector off it,
        # and let the young generation grow before collecting (requests allocate many
        # short-lived objects; reference counting frees nearly all of them anyway).
        gc.collect()
        gc.freeze()
        gc.set_threshold(GC_YOUNG_THRESHOLD, 20, 20)
        stop = asyncio.Event()
        task = asyncio.create_task(worker.run_forever(platform, stop)) if run_worker else None
        sampler = asyncio.create_task(
            served_metrics.sample_pools_forever(stop, platform.db, platform.sandbox_db)
        )
        try:
            yield
        finally:
            stop.set()
            for background in (task, sampler):
                if background is not None:
                    with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                        await asyncio.wait_for(background, timeout=10)
            await platform.stop()
            tracing.shutdown()
            served_metrics.process_stopped()

    app = FastAPI(
        title="Cartwright API",
        version="1",
        description="Catalog, inventory, carts, checkout, payments and orders.",
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
        # Operation ids are the route functions' names: `checkout`, `get_order`, ... (the
        # document's links name them).
        generate_unique_id_function=lambda route: route.name,
    )
    app.state.platform = platform
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    for error in DATABASE_UNAVAILABLE:
        app.add_exception_handler(error, _database_unavailable)
    app.add_exception_handler(Exception, _unexpected)
    app.add_middleware(RejectNul)
    app.add_middleware(LimitBody, max_bytes=settings.max_body_bytes)
    origins = settings.cors_origin_list()
    if origins:
        app.add_middleware(ProblemCORS, **cors_options(origins))
    app.add_middleware(SecurityHeaders, hsts=settings.strict_transport_security())
    app.add_middleware(
        RequestContext, trusted_proxies=parse_networks(settings.trusted_proxies)
    )  # added last: runs first (inside the request span)
    tracing.instrument(app)
    # Routes are matched in order: the storefront's hot paths first.
    for router in (
        checkout_router,
        cart_router,
        catalog_router,
        orders_router,
        customers_router,
        inventory_router,
        events_router,
        webhooks_router,
        access_router,
        audit_router,
        flags_router,
        ledger_router,
        reconciliation_router,
        channels_router,
        notifications_router,
        risk_router,
        promotions_router,
        ops_router,
    ):
        app.include_router(router)
    if platform.sandbox is not None:
        # The embedded sandbox provider's shopper pages (no key): a redirect method's.
        app.mount("/sandbox-psp", platform.sandbox.pages)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            openapi_doc.finish(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
