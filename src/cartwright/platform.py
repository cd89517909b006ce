"""The composition root: what one process of Cartwright is built from."""

from __future__ import annotations

from dataclasses import dataclass

from cartwright.access.service import KeyAuthenticator
from cartwright.cart.service import Pricing
from cartwright.catalog.service import PriceBook
from cartwright.kit.db import Database
from cartwright.kit.settings import Settings
from cartwright.orders.service import OrderNumbers
from cartwright.payments.connectors.sandbox.client import SandboxConnector
from cartwright.payments.service import Gateway
from cartwright.providers.service import builtin
from cartwright.sandbox_psp.service import SandboxProvider


@dataclass(slots=True)
class Platform:
    settings: Settings
    db: Database
    keys: KeyAuthenticator
    pricing: Pricing
    gateway: Gateway
    # The simulated provider's own connections (it stands for another company's servers).
    sandbox_db: Database
    order_numbers: OrderNumbers

    @classmethod
    def build(cls, settings: Settings) -> Platform:
        db = Database(settings.database_url, pool_size=settings.db_pool_size)
        sandbox_db = Database(
            settings.database_url, pool_size=settings.db_pool_size, durable_commits=False
        )
        slow = settings.sandbox_slow_response_s
        sandbox = SandboxProvider(
            sandbox_db, slow_response_s=slow if slow is not None else settings.psp_timeout_s + 2
        )
        gateway = Gateway(
            {"sandbox": SandboxConnector(sandbox)},
            timeout_s=settings.psp_timeout_s,
            max_attempts=settings.psp_max_attempts,
        )
        return cls(
            settings=settings,
            db=db,
            keys=KeyAuthenticator(db, settings.admin_key),
            pricing=Pricing(PriceBook(settings.price_cache_ttl_s), builtin()),
            gateway=gateway,
            sandbox_db=sandbox_db,
            order_numbers=OrderNumbers(),
        )

    async def start(self) -> None:
        await self.db.connect()
        await self.sandbox_db.connect()

    async def stop(self) -> None:
        await self.sandbox_db.close()
        await self.db.close()
