"""One running sandbox: its books, its wire API and its webhook sender.

Standalone (`cartwright sandbox-psp`) it owns its database and posts webhooks to a URL.
Embedded in the platform it uses the platform's sandbox pool and posts webhooks through
the client the platform gives it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
from starlette.applications import Starlette

from cartwright.kit.db import Database
from cartwright.sandbox_psp.app import create_app, page_routes
from cartwright.sandbox_psp.books import Books
from cartwright.sandbox_psp.settings import SandboxConfig
from cartwright.sandbox_psp.tables import create_tables
from cartwright.sandbox_psp.webhooks import WebhookSender


class Sandbox:
    def __init__(self, db: Database, config: SandboxConfig) -> None:
        self.db = db
        self.config = config
        self.books = Books(db, config)
        self.app = create_app(self.books, config)
        # The shopper's pages alone, for a host app to serve when embedded.
        self.pages = Starlette(routes=page_routes(self.books))
        self._stop = asyncio.Event()
        self._sender: asyncio.Task[None] | None = None

    async def start(self, webhooks: tuple[httpx.AsyncClient, str] | None) -> None:
        """Create the books if needed (the database is connected) and, given a client and
        a URL, start delivering webhooks there."""
        await create_tables(self.db)
        if webhooks is not None:
            client, url = webhooks
            sender = WebhookSender(self.db, self.config, client, url)
            self._stop.clear()
            self._sender = asyncio.create_task(sender.run(self._stop))

    async def stop(self) -> None:
        """Let the sender finish its round briefly, then cancel it: a delivery cut short
        stays leased, and is sent again once its lease runs out (at least once)."""
        self._stop.set()
        if self._sender is not None:
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(self._sender, timeout=2)
            self._sender = None


def standalone_app(database_url: str, config: SandboxConfig) -> Starlette:
    """The ASGI app of `cartwright sandbox-psp`: its own database and webhook client."""
    db = Database(database_url, pool_size=10, durable_commits=False, name="sandbox")
    sandbox = Sandbox(db, config)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await db.connect()
        async with httpx.AsyncClient() as client:
            target = (client, config.webhook_url) if config.webhook_url else None
            await sandbox.start(target)
            try:
                yield
            finally:
                await sandbox.stop()
                await db.close()

    sandbox.app.router.lifespan_context = lifespan
    return sandbox.app
