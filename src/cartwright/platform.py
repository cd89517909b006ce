"""The composition root: what one process of Cartwright is built from."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import structlog

from cartwright.access.service import KeyAuthenticator
from cartwright.cart.service import Pricing
from cartwright.catalog.service import PriceBook
from cartwright.channels import service as channels
from cartwright.channels.pricing import PriceLists
from cartwright.customers import groups as customer_groups
from cartwright.customers.tokens import CustomerTokens
from cartwright.events.brokers.job import RelayJob, holder_name
from cartwright.events.consumers import ConsumerJob, Handler
from cartwright.flags.known import (
    FRAUD_EXTERNAL,
    PROMOTIONS,
    SHIPPING_EXTERNAL,
    TAX_EXTERNAL,
    known_flags,
)
from cartwright.flags.service import Flags
from cartwright.inventory.locations import StockLocations
from cartwright.kit.crypto import SecretKeys, load_or_create_key_file
from cartwright.kit.db import Database, Dialect, dialect_of, sqlite_path
from cartwright.kit.ratelimit import Limiter, Rate, storage_for
from cartwright.kit.settings import Settings
from cartwright.notifications import service as notifications
from cartwright.notifications.service import LogNotifier, Notifier
from cartwright.orders.service import OrderNumbers
from cartwright.payments.connector import PaymentConnector
from cartwright.payments.connectors.adyen.client import AdyenConnector
from cartwright.payments.connectors.sandbox.client import SandboxConnector
from cartwright.payments.connectors.sandbox.wire import AiohttpWire
from cartwright.payments.connectors.stripe.client import StripeConnector
from cartwright.payments.gateway import Gateway
from cartwright.payments.routing import InvalidRoutes
from cartwright.promotions.service import PromotionBook
from cartwright.providers.service import from_settings
from cartwright.risk.service import Screener
from cartwright.sandbox_psp.inprocess import InProcessClient
from cartwright.sandbox_psp.server import Sandbox
from cartwright.sandbox_psp.settings import Faults, SandboxConfig
from cartwright.webhooks.delivery import Sender as WebhookSender

log = structlog.get_logger("cartwright.platform")

# The provider name of the second sandbox server (CARTWRIGHT_SANDBOX_FAILOVER_URL).
FAILOVER = "sandbox_failover"
# The platform's own consumers of the feed: name -> (event types, handler).
CONSUMERS: dict[str, tuple[tuple[str, ...], Handler]] = {
    notifications.ORDER_MAIL_CONSUMER: (
        tuple(notifications.ORDER_MAIL),
        notifications.queue_order_mail,
    ),
    notifications.STOCK_ALERTS_CONSUMER: (
        notifications.LOW_STOCK_TYPES,
        notifications.record_stock_alert,
    ),
}


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
    # The sandbox provider when it runs in this process (no CARTWRIGHT_SANDBOX_URL), and
    # the connector to it, wherever it runs.
    sandbox: Sandbox | None
    sandbox_connector: SandboxConnector | None
    order_numbers: OrderNumbers
    secrets: SecretKeys
    # Verifies signed-in shoppers' tokens (refuses all when no JWKS is configured).
    customer_tokens: CustomerTokens
    # Rate limits (kit/ratelimit.py): counted in Redis when configured, else in memory.
    limiter: Limiter
    publishable_rate: Rate
    secret_rate: Rate | None
    open_checkouts_rate: Rate
    # Feature flags and kill switches (flags/service.py), read into memory every
    # CARTWRIGHT_FLAG_REFRESH_INTERVAL_S. `flags.switch(key)` is the callable a switched
    # piece of code receives: `promotions`, `tax.external`, `shipping.external` and
    # `fraud.external` are wired where those are built (e.g. `ExternalCall(...,
    # switch=flags.switch(TAX_EXTERNAL))`); the gateway gets `payment_provider_enabled`.
    flags: Flags
    # Carries an embedded sandbox's webhooks into this process's app (set by `start`).
    sandbox_webhook_client: httpx.AsyncClient | None = None
    # The second sandbox server, `sandbox_failover` (CARTWRIGHT_SANDBOX_FAILOVER_URL).
    sandbox_failover_connector: SandboxConnector | None = None
    # The external tax and carrier-rate providers' HTTP clients, closed at stop.
    provider_clients: list[httpx.AsyncClient] = field(default_factory=list)
    # Posts outgoing webhooks (worker job `webhook_sender`), made on first use.
    webhook_sender: WebhookSender | None = None

    def webhooks(self) -> WebhookSender:
        if self.webhook_sender is None:
            self.webhook_sender = WebhookSender(self.db, self.secrets, self.settings)
        return self.webhook_sender

    # The outbox relay (worker job `event_relay`, CARTWRIGHT_BROKER_URL), made on first use.
    event_relay: RelayJob | None = None

    def relay(self) -> RelayJob:
        if self.event_relay is None:
            self.event_relay = RelayJob(self.db, self.settings)
        return self.event_relay

    # The platform's own consumers of the feed (worker jobs `order_mail`, `stock_alerts`),
    # made on first use; `notifier` delivers what `order_mail` queues (default: logged).
    consumer_jobs: dict[str, ConsumerJob] = field(default_factory=dict)
    notifier: Notifier = field(default_factory=LogNotifier)

    def consumer(self, name: str) -> ConsumerJob:
        if name not in self.consumer_jobs:
            types, handler = CONSUMERS[name]
            self.consumer_jobs[name] = ConsumerJob(
                self.db, name, types, handler, holder=holder_name()
            )
        return self.consumer_jobs[name]

    # The warehouses checkout takes stock from, cached (CARTWRIGHT_WAREHOUSE_CACHE_TTL_S).
    stock_locations: StockLocations = field(default_factory=lambda: StockLocations(5.0))
    # Fraud screening (risk/, ADR 0024), built on first use from the settings; a test or
    # the composition root may put one of its own (another provider, a kill switch).
    fraud_screener: Screener | None = None

    def screener(self) -> Screener:
        if self.fraud_screener is None:
            self.fraud_screener = Screener.from_settings(
                self.settings, self.limiter, switch=self.flags.switch(FRAUD_EXTERNAL)
            )
        return self.fraud_screener

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
        channels.configure(
            ttl_s=settings.channel_cache_ttl_s, default_capture=settings.capture_method
        )
        sandbox_db = Database(
            settings.database_url,
            pool_size=settings.db_pool_size,
            durable_commits=False,
            name="sandbox",
        )
        keys = secret_keys(settings)
        sandbox, sandbox_connector = (
            _sandbox(settings, sandbox_db, keys) if settings.sandbox_enabled else (None, None)
        )
        failover = None
        if settings.sandbox_enabled and settings.sandbox_failover_url:
            failover = _sandbox_server(
                settings,
                FAILOVER,
                settings.sandbox_failover_url,
                settings.sandbox_failover_api_key,
                settings.sandbox_failover_webhook_secret,
            )
        connectors: dict[str, PaymentConnector] = {}
        if sandbox_connector is not None:
            connectors["sandbox"] = sandbox_connector
        if failover is not None:
            connectors[FAILOVER] = failover
        if settings.stripe_api_key:
            connectors["stripe"] = StripeConnector.from_settings(settings)
        if settings.adyen_api_key:
            connectors["adyen"] = AdyenConnector.from_settings(settings)
        assert list(connectors) == enabled_providers(settings)  # one list, two readers
        flags = Flags(
            db,
            known_flags(list(connectors)),
            refresh_interval_s=settings.flag_refresh_interval_s,
            retry_after_s=settings.kill_switch_retry_after_s,
        )
        try:
            gateway = Gateway.from_settings(
                connectors, settings, switched_on=flags.payment_provider_enabled
            )
        except InvalidRoutes as exc:
            raise ConfigurationError(
                f"invalid configuration: CARTWRIGHT_PAYMENT_ROUTES: {exc}."
            ) from None
        providers, provider_clients = from_settings(
            settings,
            tax_switch=flags.switch(TAX_EXTERNAL),
            shipping_switch=flags.switch(SHIPPING_EXTERNAL),
        )
        return cls(
            settings=settings,
            db=db,
            keys=KeyAuthenticator(
                db,
                settings.admin_key,
                cache_ttl_s=settings.key_cache_ttl_s,
                last_used_every_s=settings.key_last_used_interval_s,
            ),
            pricing=Pricing(
                PriceBook(settings.price_cache_ttl_s),
                providers,
                PriceLists(settings.channel_cache_ttl_s),
                customer_group=customer_groups.group_of,
                promotions=PromotionBook(
                    settings.promotion_cache_ttl_s, switch=flags.switch(PROMOTIONS)
                ),
            ),
            provider_clients=provider_clients,
            gateway=gateway,
            sandbox_db=sandbox_db,
            sandbox=sandbox,
            sandbox_connector=sandbox_connector,
            sandbox_failover_connector=failover,
            order_numbers=OrderNumbers(),
            stock_locations=StockLocations(settings.warehouse_cache_ttl_s),
            secrets=keys,
            customer_tokens=CustomerTokens.from_settings(settings),
            limiter=Limiter(storage_for(settings.redis_url)),
            publishable_rate=settings.publishable_rate(),
            secret_rate=settings.secret_rate(),
            open_checkouts_rate=Rate(
                settings.open_checkouts_per_address,
                max(1, round(settings.requires_action_expiry_s)),
                "open-checkouts",
            ),
            flags=flags,
        )

    async def start(self, webhook_receiver: Callable[..., Awaitable[None]] | None = None) -> None:
        """Connect; an embedded sandbox creates its books and, given the platform's own ASGI
        app, delivers its webhooks into it (`POST /v1/webhooks/psp/sandbox`) in-process."""
        await self.db.connect()
        await self.sandbox_db.connect()
        await self.flags.start()
        if self.sandbox is not None:
            target = None
            if webhook_receiver is not None:
                client = httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=webhook_receiver),
                    base_url="http://cartwright.internal",
                )
                target = (client, "/v1/webhooks/psp/sandbox")
            self.sandbox_webhook_client = target[0] if target else None
            await self.sandbox.start(target)

    async def stop(self) -> None:
        if self.fraud_screener is not None:
            await self.fraud_screener.aclose()
        if self.event_relay is not None:
            await self.event_relay.close()
        if self.webhook_sender is not None:
            await self.webhook_sender.close()
        if self.sandbox is not None:
            await self.sandbox.stop()
        if self.sandbox_webhook_client is not None:
            await self.sandbox_webhook_client.aclose()
        if self.sandbox_connector is not None:
            await self.sandbox_connector.aclose()
        if self.sandbox_failover_connector is not None:
            await self.sandbox_failover_connector.aclose()
        await self.flags.stop()
        for client in self.provider_clients:
            await client.aclose()
        await self.keys.close()
        await self.customer_tokens.close()
        await self.sandbox_db.close()
        await self.db.close()


def _sandbox(
    settings: Settings, sandbox_db: Database, keys: SecretKeys
) -> tuple[Sandbox | None, SandboxConnector]:
    """The connector to the sandbox at CARTWRIGHT_SANDBOX_URL, or to one embedded here,
    with its books in the platform's database (through its own pool) and reached through
    its ASGI app in-process: the same HTTP API either way, without a socket."""
    api_key = settings.sandbox_api_key
    headers = {"Authorization": f"Bearer {api_key}"}
    if settings.sandbox_url:
        connector = _sandbox_server(
            settings, "sandbox", settings.sandbox_url, api_key, settings.sandbox_webhook_secret
        )
        return None, connector
    # Embedded, the webhooks never leave the process: a secret of the platform's own.
    secret = settings.sandbox_webhook_secret or keys.derive("sandbox-webhooks", "sandbox")
    slow = settings.sandbox_slow_response_s
    config = SandboxConfig(
        api_key=api_key,
        webhook_secret=secret,
        public_url=settings.sandbox_public_url.rstrip("/"),
        faults=Faults(slow_response_s=slow if slow is not None else settings.psp_timeout_s + 2),
    )
    sandbox = Sandbox(sandbox_db, config)
    # The gateway's timeout bounds each call; there is no socket to time out.
    return sandbox, SandboxConnector(InProcessClient(sandbox.app, headers), webhook_secret=secret)


def enabled_providers(settings: Settings) -> list[str]:
    """The payment providers these settings enable, in registration order: what
    CARTWRIGHT_PAYMENT_ROUTES may name (the CLI checks the routes with it before serving)."""
    names = []
    if settings.sandbox_enabled:
        names.append("sandbox")
        if settings.sandbox_failover_url:
            names.append(FAILOVER)
    if settings.stripe_api_key:
        names.append("stripe")
    if settings.adyen_api_key:
        names.append("adyen")
    return names


def _sandbox_server(
    settings: Settings, name: str, url: str, api_key: str, webhook_secret: str | None
) -> SandboxConnector:
    """The connector, registered as `name`, to a `cartwright sandbox-psp` server at `url`."""
    # Longer than the gateway's own timeout, which decides; this one ends the socket.
    client = AiohttpWire(
        url,
        headers={"Authorization": f"Bearer {api_key}"},
        timeout_s=settings.psp_timeout_s + 1,
        connect_s=min(2.0, settings.psp_timeout_s),
    )
    secret = webhook_secret or SandboxConfig().webhook_secret
    return SandboxConnector(client, webhook_secret=secret, name=name)
