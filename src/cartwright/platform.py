"""The composition root: what one process of Cartwright is built from."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

import structlog

from cartwright.access.service import KeyAuthenticator
from cartwright.cart.service import Pricing
from cartwright.catalog.service import PriceBook
from cartwright.customers.tokens import CustomerTokens
from cartwright.kit.crypto import SecretKeys, load_or_create_key_file
from cartwright.kit.db import Database, Dialect, dialect_of, sqlite_path
from cartwright.kit.ratelimit import Limiter, Rate, storage_for
from cartwright.kit.settings import Settings
from cartwright.orders.service import OrderNumbers
from cartwright.payments.connector import PaymentConnector
from cartwright.payments.connectors.adyen.client import AdyenConnector
from cartwright.payments.connectors.sandbox.client import SandboxConnector
from cartwright.payments.connectors.stripe.client import StripeConnector
from cartwright.payments.gateway import Gateway
from cartwright.payments.routing import InvalidRoutes
from cartwright.providers.service import builtin
from cartwright.sandbox_psp.service import SandboxProvider

log = structlog.get_logger("cartwright.platform")


class ConfigurationError(Exception):
    """The settings must not be served with (production checks)."""


def secret_keys(settings: Settings) -> SecretKeys:
    """The configured secret key, or in development one generated once and kept beside
    the SQLite database (or in the working directory for PostgreSQL)."""
    previous = [k.strip() for k in (settings.secret_key_previous or "").split(",") if k.strip()]
    if settings.secret_key:
        return SecretKeys(settings.secret_key, previous)
    if dialect_of(settings.database_url) is Dialect.SQLITE:
        database_file = sqlite_path(settings.database_url)
        if database_file == ":memory:":  # nothing outlives the process: neither may the key
            return SecretKeys(secrets.token_urlsafe(48), previous)
        path = Path(database_file + ".secret-key")
    else:
        path = Path("cartwright.secret-key")
    log.warning(
        "CARTWRIGHT_SECRET_KEY is not set: using a generated key kept in a file;"
        " set the variable in production",
        path=str(path.resolve()),
    )
    return SecretKeys(load_or_create_key_file(path), previous)


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
    secrets: SecretKeys
    # Verifies signed-in shoppers' tokens (refuses all when no JWKS is configured).
    customer_tokens: CustomerTokens
    # Rate limits (kit/ratelimit.py): counted in Redis when configured, else in memory.
    limiter: Limiter
    publishable_rate: Rate
    secret_rate: Rate | None
    open_checkouts_rate: Rate

    @classmethod
    def build(cls, settings: Settings) -> Platform:
        invalid = settings.configuration_problems()
        if invalid:
            raise ConfigurationError("invalid configuration: " + "; ".join(invalid) + ".")
        problems = settings.production_problems()
        if problems:
            raise ConfigurationError(
                "refusing to start in production: " + "; ".join(problems) + "."
            )
        problems = settings.customer_token_problems()
        if problems:
            raise ConfigurationError(
                "refusing to start: " + "; ".join(problems) + " (customer sign-in)."
            )
        db = Database(settings.database_url, pool_size=settings.db_pool_size)
        sandbox_db = Database(
            settings.database_url,
            pool_size=settings.db_pool_size,
            durable_commits=False,
            name="sandbox",
        )
        slow = settings.sandbox_slow_response_s
        sandbox = SandboxProvider(
            sandbox_db, slow_response_s=slow if slow is not None else settings.psp_timeout_s + 2
        )
        connectors: dict[str, PaymentConnector] = {}
        if settings.sandbox_enabled:
            connectors["sandbox"] = SandboxConnector(sandbox)
        if settings.stripe_api_key:
            connectors["stripe"] = StripeConnector.from_settings(settings)
        if settings.adyen_api_key:
            connectors["adyen"] = AdyenConnector.from_settings(settings)
        try:
            gateway = Gateway.from_settings(connectors, settings)
        except InvalidRoutes as exc:
            raise ConfigurationError(
                f"invalid configuration: CARTWRIGHT_PAYMENT_ROUTES: {exc}."
            ) from None
        return cls(
            settings=settings,
            db=db,
            keys=KeyAuthenticator(
                db,
                settings.admin_key,
                cache_ttl_s=settings.key_cache_ttl_s,
                last_used_every_s=settings.key_last_used_interval_s,
            ),
            pricing=Pricing(PriceBook(settings.price_cache_ttl_s), builtin()),
            gateway=gateway,
            sandbox_db=sandbox_db,
            order_numbers=OrderNumbers(),
            secrets=secret_keys(settings),
            customer_tokens=CustomerTokens.from_settings(settings),
            limiter=Limiter(storage_for(settings.redis_url)),
            publishable_rate=settings.publishable_rate(),
            secret_rate=settings.secret_rate(),
            open_checkouts_rate=Rate(
                settings.open_checkouts_per_address,
                max(1, round(settings.requires_action_expiry_s)),
                "open-checkouts",
            ),
        )

    async def start(self) -> None:
        await self.db.connect()
        await self.sandbox_db.connect()

    async def stop(self) -> None:
        await self.keys.close()
        await self.customer_tokens.close()
        await self.sandbox_db.close()
        await self.db.close()
