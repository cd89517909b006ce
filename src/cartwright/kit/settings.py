"""Settings from the environment (and an optional `.env`), prefixed `CARTWRIGHT_`."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CARTWRIGHT_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///cartwright.db"
    admin_key: str | None = None
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
    log_level: str = "info"
    # In-process sandbox provider: how long a `tok_timeout` authorization takes to answer.
    # Default: longer than `psp_timeout_s`, so the platform sees a timeout.
    sandbox_slow_response_s: float | None = None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
