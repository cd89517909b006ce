"""Settings from the environment (and an optional `.env`), prefixed `CARTWRIGHT_`."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


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
    # How long a 3-D Secure challenge may stay open before the order is canceled.
    requires_action_expiry_s: float = 900.0
    # Capture at checkout (`automatic`) or leave the payment authorized (`manual`).
    capture_method: Literal["automatic", "manual"] = "automatic"
    # How often the in-process or standalone worker looks for work.
    worker_poll_interval_s: float = 1.0
    # How long a variant's price may be served from a process's cache (0: never cached).
    price_cache_ttl_s: float = 5.0
    # `cartwright worker` serves its own Prometheus metrics on this port when set.
    worker_metrics_port: int | None = None
    webhooks_allow_private: bool = False
    # How long a process may trust what it read about an API key: a revoked or rolled-over
    # key stops working everywhere within this (at most 5 s).
    key_cache_ttl_s: float = Field(default=2.0, ge=0, le=5)
    # A key's `last_used_at` is written at most this often.
    key_last_used_interval_s: float = Field(default=60.0, ge=1)
    log_level: str = "info"
    # In-process sandbox provider: how long a `tok_timeout` authorization takes to answer.
    # Default: longer than `psp_timeout_s`, so the platform sees a timeout.
    sandbox_slow_response_s: float | None = None

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


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
