"""`cartwright migrate | serve | sandbox-psp | worker | create-key | reconcile | audit verify
| flags list | flags set KEY on|off`."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import tempfile
from typing import Annotated

import typer

from cartwright.kit.settings import Settings, get_settings

cli = typer.Typer(add_completion=False, no_args_is_help=True, help="Cartwright commerce platform.")
audit_cli = typer.Typer(no_args_is_help=True, help="The audit log.")
cli.add_typer(audit_cli, name="audit")
flags_cli = typer.Typer(no_args_is_help=True, help="Feature flags and kill switches.")
cli.add_typer(flags_cli, name="flags")


def _refuse_unsafe_production(settings: Settings) -> None:
    from cartwright.payments.routing import InvalidRoutes, parse_routes
    from cartwright.platform import enabled_providers

    invalid = settings.configuration_problems()
    if invalid:
        typer.echo("invalid configuration: " + "; ".join(invalid) + ".", err=True)
        raise typer.Exit(2)
    try:
        parse_routes(settings.payment_routes, enabled_providers(settings))
    except InvalidRoutes as exc:
        typer.echo(f"invalid configuration: CARTWRIGHT_PAYMENT_ROUTES: {exc}.", err=True)
        raise typer.Exit(2) from None
    problems = settings.production_problems()
    if problems:
        typer.echo("refusing to start in production: " + "; ".join(problems) + ".", err=True)
        raise typer.Exit(2)
    problems = settings.customer_token_problems()
    if problems:
        typer.echo("refusing to start: " + "; ".join(problems) + " (customer sign-in).", err=True)
        raise typer.Exit(2)


def _migrate() -> None:
    from cartwright.migrations.runner import upgrade

    upgrade(get_settings().database_url)


@cli.command()
def migrate() -> None:
    """Apply the schema migrations to the configured database."""
    _migrate()
    typer.echo("database is up to date")


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="API processes.")] = 1,
    no_worker: Annotated[
        bool, typer.Option("--no-worker", help="Do not run the background worker in-process.")
    ] = False,
    demo: Annotated[
        bool, typer.Option("--demo", help="Migrate, load demo data and print a key pair.")
    ] = False,
) -> None:
    """Serve the HTTP API (and, unless --no-worker, the background worker)."""
    from cartwright.ops.logging import configure_logging

    settings = get_settings()
    configure_logging(settings.log_level, secrets=(settings.admin_key, settings.secret_key))
    if demo and settings.environment == "production":
        raise typer.BadParameter("--demo is for development only", param_hint="--demo")
    _refuse_unsafe_production(settings)
    if demo:
        _migrate()
        from cartwright.kit.db import Database
        from cartwright.ops.demo import load

        async def _load() -> tuple[dict[str, object], dict[str, object]]:
            db = Database(settings.database_url)
            await db.connect()
            try:
                return await load(db)
            finally:
                await db.close()

        publishable, secret = asyncio.run(_load())
        typer.echo(
            f"Demo shop ready on http://{host}:{port} ({settings.database_url})\n"
            f"  publishable key: {publishable['key']}\n"
            f"  secret key:      {secret['key']}\n"
            f"  API docs:        http://{host}:{port}/docs"
        )
    os.environ["CARTWRIGHT_RUN_WORKER"] = "0" if no_worker else "1"
    metrics_dir = None
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # The API processes share their metrics through files here; nothing else needs
        # them once the server stops.
        metrics_dir = tempfile.mkdtemp(prefix="cartwright-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    try:
        _run_uvicorn(settings, host, port, workers)
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def _run_uvicorn(settings: Settings, host: str, port: int, workers: int) -> None:
    import uvicorn

    uvicorn.run(
        "cartwright.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop="uvloop",
        http="httptools",
        access_log=False,  # one line per request comes from web.request_context
        log_config=None,  # every process logs JSON through ops.logging
        log_level=settings.log_level,
        timeout_graceful_shutdown=10,
        # The client's address is worked out from CARTWRIGHT_TRUSTED_PROXIES
        # (web.request_context), never from headers uvicorn would believe by default.
        proxy_headers=False,
    )


@cli.command("sandbox-psp")
def sandbox_psp(
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8100,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    database_url: Annotated[
        str, typer.Option(help="The sandbox's own database.")
    ] = "sqlite:///sandbox-psp.db",
    api_key: Annotated[str, typer.Option(help="The bearer key clients must send.")] = (
        "sk_sandbox_test"
    ),
    webhook_url: Annotated[
        str | None, typer.Option(help="Where webhooks are posted (unset: not sent).")
    ] = None,
    webhook_secret: Annotated[str, typer.Option(help="Signs the webhooks.")] = (
        "whsec_sandbox_test"
    ),
    public_url: Annotated[
        str | None, typer.Option(help="Where shoppers reach this server (redirect pages).")
    ] = None,
    latency_ms: Annotated[int, typer.Option(help="Added to every answer.")] = 0,
    error_rate: Annotated[float, typer.Option(help="Share of 503s, before acting.")] = 0.0,
    timeout_rate: Annotated[
        float, typer.Option(help="Share answered late (--slow-response-s), having acted.")
    ] = 0.0,
    slow_response_s: Annotated[
        float, typer.Option(help="How late a tok_timeout or --timeout-rate answer comes.")
    ] = 7.0,
    webhook_duplicate_rate: Annotated[
        float, typer.Option(help="Share of webhook events delivered twice.")
    ] = 0.0,
    webhook_reorder_rate: Annotated[
        float, typer.Option(help="Share of webhook events held back (arrive out of order).")
    ] = 0.0,
    webhook_retry_s: Annotated[
        float, typer.Option(help="First retry of a failed delivery (then doubled).")
    ] = 1.0,
) -> None:
    """Run the sandbox payment provider as an HTTP server (docs/sandbox-psp.md)."""
    import uvicorn

    from cartwright.sandbox_psp.server import standalone_app
    from cartwright.sandbox_psp.settings import Faults, InvalidSettings, SandboxConfig

    try:
        faults = Faults(
            latency_ms=latency_ms,
            error_rate=error_rate,
            timeout_rate=timeout_rate,
            slow_response_s=slow_response_s,
            webhook_duplicate_rate=webhook_duplicate_rate,
            webhook_reorder_rate=webhook_reorder_rate,
        )
    except InvalidSettings as exc:
        raise typer.BadParameter(str(exc)) from None
    config = SandboxConfig(
        api_key=api_key,
        webhook_url=webhook_url,
        webhook_secret=webhook_secret,
        public_url=public_url or f"http://{host}:{port}",
        webhook_retry_s=webhook_retry_s,
        faults=faults,
    )
    uvicorn.run(
        standalone_app(database_url, config),
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level=get_settings().log_level,
        timeout_graceful_shutdown=5,
    )


@cli.command()
def worker() -> None:
    """Run the background work alone (payment recovery, housekeeping)."""
    import uvloop

    from cartwright.ops import metrics, tracing
    from cartwright.ops.logging import configure_logging
    from cartwright.ops.worker import run_forever
    from cartwright.platform import Platform

    settings = get_settings()
    configure_logging(settings.log_level, secrets=(settings.admin_key, settings.secret_key))
    _refuse_unsafe_production(settings)
    if settings.worker_metrics_port is not None:
        from prometheus_client import start_http_server

        start_http_server(
            settings.worker_metrics_port, addr="127.0.0.1", registry=metrics.registry()
        )
    tracing.configure()

    async def _run() -> None:
        platform = Platform.build(settings)
        await platform.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        sampler = asyncio.create_task(
            metrics.sample_pools_forever(stop, platform.db, platform.sandbox_db)
        )
        try:
            await run_forever(platform, stop)
        finally:
            stop.set()
            await sampler
            await platform.stop()

    try:
        uvloop.run(_run())
    finally:
        tracing.shutdown()
        metrics.process_stopped()


@cli.command("create-key")
def create_key(
    type_: Annotated[str, typer.Option("--type", help="publishable or secret")] = "secret",
    name: Annotated[str, typer.Option(help="What the key is for.")] = "cli",
    scope: Annotated[
        list[str] | None, typer.Option("--scope", help="Scope (repeat); default: all")
    ] = None,
) -> None:
    """Create an API key and print it (it is shown this once). Audited as `cli`."""
    from cartwright.access import service as access
    from cartwright.kit import context
    from cartwright.kit.db import Database
    from cartwright.kit.errors import AppError

    settings = get_settings()
    if type_ not in ("publishable", "secret"):
        raise typer.BadParameter("must be 'publishable' or 'secret'", param_hint="--type")

    async def _create() -> dict[str, object]:
        db = Database(settings.database_url)
        await db.connect()
        try:
            with context.act_as(access.CLI_ACTOR):
                async with db.transaction() as conn:
                    return await access.create_key(
                        conn,
                        key_type=access.KeyType(type_),
                        name=name,
                        scopes=scope or None,
                        holder=access.CLI,
                    )
        finally:
            await db.close()

    try:
        created = asyncio.run(_create())
    except AppError as err:
        typer.echo(f"refused: {err.detail}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"{created['id']} {created['type']} {created['key']}")


@cli.command()
def reconcile(
    provider: Annotated[str, typer.Option(help="Whose report it is (sandbox, stripe, ...).")],
    file: Annotated[str, typer.Option(help="The settlement report (CSV) to reconcile.")],
    day: Annotated[
        str | None, typer.Option(help="The UTC day it covers (default: its lines' days).")
    ] = None,
) -> None:
    """Reconcile a provider's settlement report against our payments and print what was
    found. Exit 0 when nothing is wrong, 1 when there are discrepancies, 2 when the file is
    not a valid report (nothing stored). Audited as `cli`."""
    from datetime import date
    from pathlib import Path

    from cartwright.access import service as access
    from cartwright.kit import context
    from cartwright.kit.db import Database
    from cartwright.kit.errors import AppError
    from cartwright.reconciliation import service as reconciliation
    from cartwright.reconciliation.api import PROVIDER, run_settings

    settings = get_settings()
    if not PROVIDER.match(provider):
        raise typer.BadParameter("is not a provider name", param_hint="--provider")
    try:
        covered = None if day is None else date.fromisoformat(day)
    except ValueError:
        raise typer.BadParameter("must be a date, YYYY-MM-DD", param_hint="--day") from None
    try:
        raw = Path(file).read_bytes()
        text = raw.decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        typer.echo(f"cannot read {file}: {exc}", err=True)
        raise typer.Exit(2) from None

    async def _run() -> tuple[dict[str, object], list[dict[str, object]]]:
        report = reconciliation.parse_report(provider, text)
        db = Database(settings.database_url)
        await db.connect()
        try:
            with context.act_as(access.CLI_ACTOR):
                async with db.transaction() as conn:
                    run = await reconciliation.reconcile(
                        conn,
                        provider=provider,
                        report=report,
                        raw=raw,
                        settings=run_settings(settings),
                        day=covered,
                    )
            found: list[dict[str, object]] = []
            async with db.connection() as conn:
                after = None
                while True:
                    page = await reconciliation.list_discrepancies(
                        conn, str(run["id"]), kind=None, limit=100, starting_after=after
                    )
                    found += page["data"]
                    if not page["has_more"]:
                        return run, found
                    after = page["data"][-1]["id"]
        finally:
            await db.close()

    try:
        run, found = asyncio.run(_run())
    except AppError as err:
        typer.echo(f"refused: {err.detail}", err=True)
        raise typer.Exit(2) from None
    typer.echo(
        f"{run['id']} {provider}: {run['lines']} lines, {run['matched']} matched,"
        f" {len(found)} discrepancies ({run['status']})"
    )
    for d in found:
        typer.echo(f"  {d['id']} {d['kind']} [{d['status']}] {d['detail']}")
    if found:
        raise typer.Exit(1)


@audit_cli.command("verify")
def audit_verify() -> None:
    """Walk the audit log's hash chain; exit 1 naming the first entry that does not hold."""
    from cartwright.audit import service as audit
    from cartwright.kit.db import Database

    settings = get_settings()

    async def _verify() -> audit.Verification:
        db = Database(settings.database_url)
        await db.connect()
        try:
            async with db.connection() as conn:
                return await audit.verify(conn)
        finally:
            await db.close()

    result = asyncio.run(_verify())
    if not result.ok:
        typer.echo(
            f"audit log broken at {result.broken_id} (seq {result.broken_seq}): {result.reason};"
            f" {result.checked} entries before it hold",
            err=True,
        )
        raise typer.Exit(1)
    typer.echo(f"audit log intact: {result.checked} entries, head hash {result.head_hash or '-'}")


@flags_cli.command("list")
def flags_list() -> None:
    """Every known flag: key, on/off, and where the value comes from (database, default)."""
    from cartwright.flags import service as flags
    from cartwright.flags.known import known_flags
    from cartwright.kit.db import Database
    from cartwright.platform import enabled_providers

    settings = get_settings()
    known = known_flags(enabled_providers(settings))

    async def _list() -> dict[str, object]:
        db = Database(settings.database_url)
        await db.connect()
        try:
            async with db.connection() as conn:
                return await flags.list_flags(conn, known, limit=len(known))
        finally:
            await db.close()

    listed = asyncio.run(_list())
    rows = listed["data"]
    assert isinstance(rows, list)
    for flag in rows:
        state = "on" if flag["enabled"] else "off"
        by = f" by {flag['updated_by']}" if flag["updated_by"] else ""
        typer.echo(f"{flag['key']:<28} {state:<4} {flag['source']}{by}")


@flags_cli.command("set")
def flags_set(
    key: Annotated[str, typer.Argument(help="The flag, e.g. checkout or payments.stripe.")],
    value: Annotated[str, typer.Argument(help="on or off")],
) -> None:
    """Switch a flag on or off; every process applies it within a few seconds. Audited as
    `cli`."""
    from cartwright.access import service as access
    from cartwright.flags import service as flags
    from cartwright.flags.known import known_flags
    from cartwright.kit import context
    from cartwright.kit.db import Database
    from cartwright.kit.errors import AppError
    from cartwright.platform import enabled_providers

    if value not in ("on", "off"):
        raise typer.BadParameter("must be 'on' or 'off'", param_hint="VALUE")
    settings = get_settings()
    known = known_flags(enabled_providers(settings))

    async def _set() -> dict[str, object]:
        db = Database(settings.database_url)
        await db.connect()
        try:
            with context.act_as(access.CLI_ACTOR):
                async with db.transaction() as conn:
                    return await flags.set_flag(conn, known, key, enabled=value == "on")
        finally:
            await db.close()

    try:
        flag = asyncio.run(_set())
    except AppError as err:
        typer.echo(f"refused: {err.detail}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"{flag['key']} {'on' if flag['enabled'] else 'off'}")


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
