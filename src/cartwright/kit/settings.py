"""Settings from the environment (and an optional `.env`), prefixed `CARTWRIGHT_`."""

from __future__ import annotations

import ipaddress
import json
import re
from functools import lru_cache
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from cartwright.kit.netaddr import InvalidNetwork, parse_networks
from cartwright.kit.ratelimit import InvalidRate, Rate, parse_rate

_TAX_KEY = re.compile(r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CARTWRIGHT_", env_file=".env", extra="ignore")

    # `production` refuses to start with the sandbox provider enabled, without
    # `secret_key`, or with an admin key shorter than 32 characters.
    environment: Literal["development", "production"] = "development"
    database_url: str = "sqlite:///cartwright.db"
    admin_key: str | None = None
    # Derives order tokens and seals stored secrets (kit/crypto.py); at least 32 characters.
    # Unset in development: a key generated once and kept beside the database file.
    secret_key: str | None = None
    # Earlier secret keys, comma-separated: what they made still verifies (rotation).
    secret_key_previous: str | None = None
    # The built-in sandbox payment provider (test tokens; never real money).
    sandbox_enabled: bool = True
    # Pool size per API process (PostgreSQL only; SQLite uses one serialized connection).
    db_pool_size: int = 10
    # How long a payment result may stay unknown before the worker asks the provider.
    payment_recovery_after_s: float = 60.0
    # Timeout of one call to a payment provider, and how many attempts a call gets in all
    # when it fails retryably (5xx, refused connection).
    psp_timeout_s: float = 5.0
    psp_max_attempts: int = 3
    # Stripe and Adyen (payments/connectors/, docs/payments-providers.md): each provider is
    # enabled when its API key is set. Secrets are `SecretStr`, never shown in a repr or log.
    stripe_api_key: SecretStr | None = None
    # The webhook endpoint's signing secret (`whsec_...`); comma-separated while rolling one.
    stripe_webhook_secret: SecretStr | None = None
    adyen_api_key: SecretStr | None = None
    adyen_merchant_account: str | None = None
    # The standard webhook's HMAC key, in hex as the Customer Area shows it.
    adyen_hmac_key: SecretStr | None = None
    # Empty: Adyen's test endpoints. Live: the prefix from Customer Area > Developers > API URLs.
    adyen_live_url_prefix: str = ""
    # Where a redirect sends the shopper back when the checkout names no place (Adyen
    # requires one on every payment).
    adyen_return_url: str | None = None
    # Routing and failover (payments/routing.py, payments/breaker.py). Routes: a JSON list
    # of rules choosing providers by currency, channel and amount; empty: every enabled
    # provider, in registration order. A provider's breaker opens when `threshold` of its
    # last `window` calls within `window_s` failed (every attempt retryable, or a timeout),
    # stays open for the cool-down, then lets `probes` new authorizations through to test it.
    payment_routes: str = ""
    psp_breaker_threshold: int = Field(default=10, ge=1)
    psp_breaker_window: int = Field(default=20, ge=1)
    psp_breaker_window_s: float = Field(default=300.0, gt=0)
    psp_breaker_cooldown_s: float = Field(default=30.0, gt=0)
    psp_breaker_probes: int = Field(default=1, ge=1)
    # How long a 3-D Secure challenge may stay open before the order is canceled.
    requires_action_expiry_s: float = 900.0
    # A payment still unknown after this long is raised (`payment.overdue`, an alert) and
    # asked about only once per this period after.
    payment_unknown_max_age_s: float = 86400.0
    # Money the provider took for a checkout whose order still cannot be written after
    # this long is given back (voided or refunded, `payment.compensated`).
    compensate_after_s: float = 600.0
    # How soon a capture, refund or void whose answer did not come is sent again (same key).
    payment_operation_recheck_s: float = Field(default=30.0, gt=0)
    # Capture at checkout (`automatic`) or leave the payment authorized (`manual`).
    capture_method: Literal["automatic", "manual"] = "automatic"
    # Events leaving the platform (events/envelope.py): the CloudEvents `source`, and where
    # the events' JSON Schemas are published (`dataschema` = <base>/<type>.v1.json).
    event_source: str = "cartwright"
    event_schema_base_url: str = "https://cartwright.dev/docs/events"
    # The outbox relay's broker (events/brokers/): `nats://host:port[/stream]`,
    # `amqp://user:pass@host:port/vhost` or `kafka://host:port`. Unset: no relay runs and
    # the events stay in the database (`GET /v1/events`).
    broker_url: str | None = None
    # How often the in-process or standalone worker looks for work.
    worker_poll_interval_s: float = 1.0
    # How long a process may use the warehouses it read (checkout's stock locations) before
    # reading them again; a new warehouse reaches every process's checkouts within this.
    warehouse_cache_ttl_s: float = Field(default=5.0, ge=0, le=300)
    # `inventory.low` for SKUs without a threshold of their own (unset: only those with one).
    low_stock_threshold: int | None = Field(default=None, ge=0)
    # How long a variant's price may be served from a process's cache (0: never cached).
    price_cache_ttl_s: float = 5.0
    # How long a process may use a channel's settings (and the list of price lists) it read
    # before reading them again; a change reaches every process within this (0: no cache).
    channel_cache_ttl_s: float = Field(default=5.0, ge=0, le=300)
    # How long a process may use the automatic promotions it read (0: read them for every
    # quote). A promotion created or changed reaches every process's carts within this;
    # checkout's guards hold limits and budgets whatever a process has cached.
    promotion_cache_ttl_s: float = Field(default=2.0, ge=0, le=300)
    # `cartwright worker` serves its own Prometheus metrics on this port when set.
    worker_metrics_port: int | None = None
    # Outgoing webhooks (webhooks/, docs/webhooks.md). `allow_private`: endpoints may be on
    # private, loopback or link-local addresses (development and tests only).
    webhooks_allow_private: bool = False
    # One delivery attempt's whole time (connect, send, answer).
    webhook_timeout_s: float = Field(default=10.0, gt=0, le=60)
    # Seconds to wait after each failed attempt (jittered by up to a fifth); after the
    # last one the delivery is abandoned. Default: 10 attempts over about 3 days.
    webhook_retry_schedule_s: str = "10,60,300,1800,7200,21600,43200,86400,86400"
    # An endpoint whose every attempt failed for this long, or this many attempts in a
    # row, is disabled (`webhook_endpoint.disabled`).
    webhook_disable_after_s: float = Field(default=3 * 86400.0, gt=0)
    webhook_disable_after_failures: int = Field(default=1000, ge=1)
    # Deliveries one sender posts at once, in all and to any one endpoint.
    webhook_concurrency: int = Field(default=32, ge=1, le=1000)
    webhook_endpoint_concurrency: int = Field(default=4, ge=1, le=100)

    def webhook_retry_schedule(self) -> tuple[float, ...]:
        return tuple(float(p) for p in self.webhook_retry_schedule_s.split(",") if p.strip())

    # Feature flags and kill switches (flags/, docs/flags.md): how often each process reads
    # the `feature_flags` table into its cache (a change reaches every process within about
    # this; checkout never waits on the query), and the Retry-After of a refusal a switch
    # causes (503 `checkout_disabled`, or every payment provider switched off).
    flag_refresh_interval_s: float = Field(default=1.0, gt=0, le=4)
    kill_switch_retry_after_s: int = Field(default=30, ge=1, le=3600)
    # How long a process may trust what it read about an API key: a revoked or rolled-over
    # key stops working everywhere within this (at most 5 s).
    key_cache_ttl_s: float = Field(default=2.0, ge=0, le=5)
    # A key's `last_used_at` is written at most this often.
    key_last_used_interval_s: float = Field(default=60.0, ge=1)
    log_level: str = "info"
    # In-process sandbox provider: how long a `tok_timeout` authorization takes to answer.
    # Default: longer than `psp_timeout_s`, so the platform sees a timeout.
    sandbox_slow_response_s: float | None = None
    # The sandbox provider's server (`cartwright sandbox-psp`); unset: it runs in-process.
    sandbox_url: str | None = None
    sandbox_api_key: str = "sk_sandbox_test"
    # Where shoppers reach the embedded sandbox's pages (redirect methods, 3-D Secure): the
    # API serves them under `/sandbox-psp`.
    sandbox_public_url: str = "http://127.0.0.1:8000/sandbox-psp"
    # Checks the sandbox's webhooks. Unset: the server's default, or for the in-process
    # sandbox a secret derived from `secret_key`.
    sandbox_webhook_secret: str | None = None
    # A second sandbox server, registered as the provider `sandbox_failover` (a route can
    # then fail over between two real processes); its key and secret default as above.
    sandbox_failover_url: str | None = None
    sandbox_failover_api_key: str = "sk_sandbox_test"
    sandbox_failover_webhook_secret: str | None = None
    # Signed-in shoppers (OpenID Connect, customers/tokens.py). Without a JWKS URL every
    # `Cartwright-Customer-Token` is refused (401) and guest checkout works as before.
    customer_jwks_url: str | None = None
    customer_issuer: str | None = None
    customer_audience: str | None = None
    # Leeway for `exp` / `nbf` (clock skew between the identity provider and us).
    customer_clock_skew_s: float = 30.0
    # How long fetched keys are trusted before they are fetched again.
    customer_jwks_ttl_s: float = 300.0
    # A token naming an unknown `kid` refetches the keys, at most once per this interval.
    customer_jwks_refetch_interval_s: float = 30.0
    customer_jwks_timeout_s: float = 3.0
    # Tax (providers/tax.py, ADR 0025). `builtin`: the rate tables; `stripe_tax`: Stripe
    # Tax's calculations, bounded by `tax_timeout_s`, falling back to the tables (the order
    # is then `tax_estimated`). The origin country is the seller's (EU reverse charge).
    tax_provider: Literal["builtin", "stripe_tax"] = "builtin"
    tax_origin_country: str | None = None
    tax_timeout_s: float = Field(default=2.0, gt=0, le=30)
    tax_stripe_api_key: SecretStr | None = None
    tax_stripe_url: str = "https://api.stripe.com"
    # Standard rates in basis points that replace or add to the built-in tables, by "CC" or
    # "CC-REGION" (JSON: {"BR": 1700, "US-NY": 888}); 0 configures a jurisdiction as untaxed.
    tax_rates: dict[str, int] = Field(default_factory=dict)

    def shipping_origin_address(self) -> dict[str, str]:
        value = json.loads(self.shipping_origin or "{}")
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise ValueError("not a JSON object of strings")
        return value

    def shipping_services(self) -> dict[str, str]:
        value = json.loads(self.shipping_carrier_services or "{}")
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise ValueError("not a JSON object of strings")
        return value

    def shipping_problems(self) -> list[str]:
        if self.shipping_carrier == "none":
            return []
        problems = []
        if self.shippo_api_token is None:
            problems.append("CARTWRIGHT_SHIPPO_API_TOKEN is not set")
        for name, read in (
            ("CARTWRIGHT_SHIPPING_ORIGIN", self.shipping_origin_address),
            ("CARTWRIGHT_SHIPPING_CARRIER_SERVICES", self.shipping_services),
        ):
            try:
                if not read():
                    problems.append(f"{name} is empty")
            except ValueError:
                problems.append(f"{name} must be a JSON object of strings")
        return problems

    def customer_token_problems(self) -> list[str]:
        """Why the customer-token settings cannot be served with (empty when they can)."""
        if not self.customer_jwks_url:
            return []
        problems = []
        url = urlsplit(self.customer_jwks_url)
        if url.scheme not in ("https", "http") or not url.hostname:
            problems.append("CARTWRIGHT_CUSTOMER_JWKS_URL is not an http(s) URL")
        elif url.scheme == "http" and not _is_loopback(url.hostname):
            problems.append(
                "CARTWRIGHT_CUSTOMER_JWKS_URL uses plain http:// for a host that is not"
                " loopback (use https://)"
            )
        if not self.customer_issuer:
            problems.append("CARTWRIGHT_CUSTOMER_ISSUER is not set")
        if not self.customer_audience:
            problems.append("CARTWRIGHT_CUSTOMER_AUDIENCE is not set")
        if not 0 <= self.customer_clock_skew_s <= 300:
            problems.append("CARTWRIGHT_CUSTOMER_CLOCK_SKEW_S must be from 0 to 300 seconds")
        return problems

    # Rate limits, `<count>/<second|minute|hour>`: publishable keys per client address,
    # secret keys per key (unset: not limited). Counted in Redis when `redis_url` is set
    # (shared by every process), in each process's memory otherwise.
    rate_limit_publishable: str = "1000/second"
    rate_limit_secret: str | None = None
    redis_url: str | None = None
    # Peers whose X-Forwarded-For is believed: comma-separated IPs or CIDRs.
    trusted_proxies: str = ""
    # Request bodies larger than this are refused with 413 while they stream in.
    max_body_bytes: int = 1024 * 1024
    # Checkouts a storefront's shopper may leave awaiting payment (holding stock) per
    # client address within `requires_action_expiry_s`.
    open_checkouts_per_address: int = 20
    # Carts untouched this long, never checked out, are deleted by the worker.
    cart_ttl_days: int = 30
    # Webhook deliveries that succeeded or were abandoned this long ago are deleted, with
    # their attempts, by the worker (the delivery log keeps the rest).
    webhook_log_retention_days: int = 30
    # Shipping (providers/shipping.py, docs/shipping.md). `shippo`: live rates from Shippo
    # (POST /shipments/) for the methods that name a carrier service in
    # `shipping_carrier_services` (a JSON object, method code -> Shippo servicelevel token);
    # every other method, and every method while Shippo cannot answer within the timeout
    # (or its breaker is open, or the `shipping.external` switch is off), keeps its
    # configured flat rate. The origin is the parcels' sender, a JSON Shippo address.
    shipping_carrier: Literal["none", "shippo"] = "none"
    shippo_api_token: SecretStr | None = None
    shippo_base_url: str = "https://api.goshippo.com"
    shipping_origin: str = ""
    shipping_carrier_services: str = ""
    shipping_carrier_timeout_s: float = Field(default=2.0, gt=0)
    # Browser origins allowed to call the API (CORS), comma-separated; none by default.
    cors_origins: str = ""
    # Strict-Transport-Security on every answer (always on in production).
    hsts: bool = False
    # Reconciliation (reconciliation/, docs/reconciliation.md). The fee each provider is
    # expected to charge per capture, as JSON `{"<provider>": {"percent_bp": 140, "fixed":
    # 25}}` (basis points of the amount, rounded half up, plus a fixed amount in minor
    # units; refunds cost nothing). Empty: the sandbox's own schedule for `sandbox` and
    # `sandbox_failover`, and no fee check for the others.
    provider_fees: str = ""
    # Our captures and refunds recorded this close before a report's end may reach the
    # provider's books the next day: they are looked for in the next day's run instead.
    reconciliation_grace_s: float = Field(default=600.0, ge=0, le=86400)
    # Fraud screening (risk/, ADR 0024). Points at or above `risk_review_score` send the
    # order to review (authorized, not captured), at or above `risk_reject_score` refuse
    # the checkout (402 payment_declined, decline_code risk_rejected).
    risk_review_score: int = Field(default=50, ge=1, le=1000)
    risk_reject_score: int = Field(default=80, ge=1, le=1000)
    # Velocity: more than this many checkouts within `risk_velocity_window_s` per email,
    # per client address (public addresses vouched for by a trusted proxy only) and per
    # card fingerprint (sandbox test tokens have none) adds `risk_velocity_points`; 0
    # turns a rule off. Per email is off by default: a benchmark or a test suite checks
    # out many carts under one email. Counted in Redis with `redis_url` (every process),
    # else in each process's memory (an approximation: N processes allow N times as many).
    risk_velocity_window_s: int = Field(default=3600, ge=1, le=7 * 86400)
    risk_velocity_email: int = Field(default=0, ge=0)
    risk_velocity_address: int = Field(default=30, ge=0)
    risk_velocity_fingerprint: int = Field(default=10, ge=0)
    risk_velocity_points: int = Field(default=50, ge=0, le=1000)
    # Amount thresholds per currency, in minor units: `EUR:100000:500000,JPY:100000:500000`
    # (from the first amount, `risk_amount_review_points`; from the second,
    # `risk_amount_reject_points`). Empty: no amount rule.
    risk_amount_thresholds: str = ""
    risk_amount_review_points: int = Field(default=50, ge=0, le=1000)
    risk_amount_reject_points: int = Field(default=100, ge=0, le=1000)
    # Billing country differs from shipping country; the client address's country (only
    # with a geo lookup seam, none by default) differs from the billing country.
    risk_country_mismatch_points: int = Field(default=20, ge=0, le=1000)
    # How long a process keeps the denylist it read (a change reaches every process
    # within this many seconds).
    risk_denylist_ttl_s: float = Field(default=5.0, ge=0, le=300)
    # The external fraud service (risk/providers.py): `none` or `sift` (Sift's Score API,
    # `risk_sift_api_key`, `risk_sift_url`). Each call is bounded by
    # `risk_provider_timeout_s` and a breaker; when it cannot answer, the failure mode
    # decides: `open` (built-in rules only, `fraud_fallback: fail_open` on the order) or
    # `closed` (review). The channels' `fraud_failure_mode` overrides this default.
    risk_provider: Literal["none", "sift"] = "none"
    risk_sift_api_key: SecretStr | None = None
    risk_sift_url: str = "https://api.sift.com"
    risk_provider_timeout_s: float = Field(default=1.0, gt=0, le=30)
    fraud_failure_mode: Literal["open", "closed"] = "open"

    def publishable_rate(self) -> Rate:
        return parse_rate(self.rate_limit_publishable, "publishable")

    def secret_rate(self) -> Rate | None:
        if not self.rate_limit_secret:
            return None
        return parse_rate(self.rate_limit_secret, "secret")

    def longest_provider_call_s(self) -> float:
        """One provider call with all its attempts and the longest backoff between them
        (the Gateway's: 0.05 s doubling, at most 1 s)."""
        backoff = sum(min(1.0, 0.05 * 2.0**n) for n in range(1, self.psp_max_attempts))
        return round(float(self.psp_timeout_s * self.psp_max_attempts + backoff), 3)

    def configuration_problems(self) -> list[str]:
        """Settings that cannot be served with, in any environment (empty when fine)."""
        problems = []
        for name, read in (
            ("CARTWRIGHT_RATE_LIMIT_PUBLISHABLE", self.publishable_rate),
            ("CARTWRIGHT_RATE_LIMIT_SECRET", self.secret_rate),
        ):
            try:
                read()
            except InvalidRate as exc:
                problems.append(f"{name}: {exc}")
        longest = self.longest_provider_call_s()
        if self.payment_recovery_after_s <= longest:
            problems.append(
                f"CARTWRIGHT_PAYMENT_RECOVERY_AFTER_S ({self.payment_recovery_after_s:g} s) must"
                f" be longer than the longest provider call ({longest:g} s:"
                " CARTWRIGHT_PSP_TIMEOUT_S times CARTWRIGHT_PSP_MAX_ATTEMPTS, with the backoff"
                " between attempts), or"
                " recovery could act on a payment whose request is still waiting for it"
            )
        for key, rate in self.tax_rates.items():
            if not _TAX_KEY.match(key) or not 0 <= rate <= 10_000:
                problems.append(
                    f"CARTWRIGHT_TAX_RATES: {key!r}: {rate} is not a country (CC or CC-REGION)"
                    " with a rate in basis points from 0 to 10000"
                )
        try:
            schedule = self.webhook_retry_schedule()
        except ValueError:
            schedule = (-1.0,)
        if any(delay <= 0 for delay in schedule):
            problems.append(
                "CARTWRIGHT_WEBHOOK_RETRY_SCHEDULE_S must be comma-separated positive seconds"
            )
        if self.max_body_bytes < 1024:
            problems.append("CARTWRIGHT_MAX_BODY_BYTES must be at least 1024")
        if self.open_checkouts_per_address < 1:
            problems.append("CARTWRIGHT_OPEN_CHECKOUTS_PER_ADDRESS must be at least 1")
        if self.webhook_log_retention_days < 1:
            problems.append("CARTWRIGHT_WEBHOOK_LOG_RETENTION_DAYS must be at least 1")
        problems.extend(self.shipping_problems())
        if self.cart_ttl_days < 1:
            problems.append("CARTWRIGHT_CART_TTL_DAYS must be at least 1")
        if self.psp_breaker_threshold > self.psp_breaker_window:
            problems.append(
                "CARTWRIGHT_PSP_BREAKER_THRESHOLD must not exceed CARTWRIGHT_PSP_BREAKER_WINDOW"
            )
        for variable, value in (
            ("CARTWRIGHT_SANDBOX_URL", self.sandbox_url),
            ("CARTWRIGHT_SANDBOX_FAILOVER_URL", self.sandbox_failover_url),
        ):
            if value is not None:
                url = urlsplit(value)
                if url.scheme not in ("https", "http") or not url.hostname:
                    problems.append(f"{variable} is not an http(s) URL")
        if self.broker_url is not None:
            broker = urlsplit(self.broker_url)
            if broker.scheme not in ("nats", "amqp", "amqps", "kafka") or not broker.hostname:
                problems.append(
                    "CARTWRIGHT_BROKER_URL must be nats://host:port[/stream],"
                    " amqp(s)://user:pass@host:port/vhost or kafka://host:port"
                )
        try:
            parse_networks(self.trusted_proxies)
        except InvalidNetwork as exc:
            problems.append(f"CARTWRIGHT_TRUSTED_PROXIES: {exc}")
        if self.risk_review_score > self.risk_reject_score:
            problems.append(
                "CARTWRIGHT_RISK_REVIEW_SCORE must not exceed CARTWRIGHT_RISK_REJECT_SCORE"
            )
        try:
            self.risk_amount_limits()
        except ValueError as exc:
            problems.append(f"CARTWRIGHT_RISK_AMOUNT_THRESHOLDS: {exc}")
        if self.risk_provider == "sift" and self.risk_sift_api_key is None:
            problems.append("CARTWRIGHT_RISK_PROVIDER=sift needs CARTWRIGHT_RISK_SIFT_API_KEY")
        try:
            self.provider_fee_schedules()
        except ValueError as exc:
            problems.append(f"CARTWRIGHT_PROVIDER_FEES: {exc}")
        for origin in self.cors_origin_list():
            if origin == "*" or "://" not in origin or origin.endswith("/"):
                problems.append(
                    f"CARTWRIGHT_CORS_ORIGINS: {origin!r} is not an exact origin"
                    " (scheme://host[:port], no trailing slash, no wildcard)"
                )
        return problems

    def provider_fee_schedules(self) -> dict[str, tuple[int, int]]:
        """`provider_fees` as {provider: (percent_bp, fixed)}; ValueError when malformed."""
        if not self.provider_fees.strip():
            # The sandbox's own fees (sandbox_psp/books.capture_fee): 1.4 % + 25.
            return {"sandbox": (140, 25), "sandbox_failover": (140, 25)}
        try:
            raw = json.loads(self.provider_fees)
        except ValueError:
            raise ValueError("is not JSON") from None
        if not isinstance(raw, dict):
            raise ValueError('must be an object: {"<provider>": {"percent_bp", "fixed"}}')
        schedules = {}
        for provider, entry in raw.items():
            if not isinstance(entry, dict) or set(entry) - {"percent_bp", "fixed"}:
                raise ValueError(f"{provider}: takes only percent_bp and fixed")
            bp, fixed = entry.get("percent_bp", 0), entry.get("fixed", 0)
            valid = all(type(v) is int and 0 <= v <= 1_000_000 for v in (bp, fixed))
            if not valid or bp > 10_000:
                raise ValueError(f"{provider}: percent_bp (0..10000) and fixed are whole numbers")
            schedules[str(provider)] = (bp, fixed)
        return schedules

    def risk_amount_limits(self) -> dict[str, tuple[int, int]]:
        """`risk_amount_thresholds` as {currency: (review_from, reject_from)} in minor
        units; ValueError when malformed."""
        limits: dict[str, tuple[int, int]] = {}
        for part in self.risk_amount_thresholds.split(","):
            if not part.strip():
                continue
            fields = [f.strip() for f in part.split(":")]
            if len(fields) != 3 or len(fields[0]) != 3 or not fields[0].isalpha():
                raise ValueError(f"{part.strip()!r} is not CUR:review_from:reject_from")
            try:
                review, reject = int(fields[1]), int(fields[2])
            except ValueError:
                raise ValueError(f"{part.strip()!r}: amounts are whole minor units") from None
            if review <= 0 or reject < review:
                raise ValueError(f"{part.strip()!r}: 0 < review_from <= reject_from")
            limits[fields[0].upper()] = (review, reject)
        return limits

    def cors_origin_list(self) -> list[str]:
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()]

    def strict_transport_security(self) -> bool:
        return self.hsts or self.environment == "production"

    def production_problems(self) -> list[str]:
        """Why this configuration must not serve real shoppers (empty when it may)."""
        if self.environment != "production":
            return []
        problems = []
        if self.sandbox_enabled:
            problems.append(
                "the sandbox payment provider is enabled (set CARTWRIGHT_SANDBOX_ENABLED=false)"
            )
        if not self.secret_key:
            problems.append("CARTWRIGHT_SECRET_KEY is not set")
        elif len(self.secret_key) < 32:
            problems.append("CARTWRIGHT_SECRET_KEY is shorter than 32 characters")
        if self.admin_key is not None and len(self.admin_key) < 32:
            problems.append("CARTWRIGHT_ADMIN_KEY is shorter than 32 characters")
        return problems


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
