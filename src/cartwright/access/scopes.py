"""Scopes a secret key can carry. Publishable keys carry the storefront set, fixed."""

from __future__ import annotations

from enum import StrEnum


class Scope(StrEnum):
    CATALOG_WRITE = "catalog:write"
    INVENTORY_READ = "inventory:read"
    INVENTORY_WRITE = "inventory:write"
    ORDERS_READ = "orders:read"
    ORDERS_WRITE = "orders:write"
    EVENTS_READ = "events:read"
    KEYS_WRITE = "api_keys:write"
    AUDIT_READ = "audit:read"
    CUSTOMERS_READ = "customers:read"
    CUSTOMERS_WRITE = "customers:write"
    RECONCILIATION_READ = "reconciliation:read"
    RECONCILIATION_WRITE = "reconciliation:write"
    WEBHOOKS_READ = "webhooks:read"
    WEBHOOKS_WRITE = "webhooks:write"
    LEDGER_READ = "ledger:read"
    CHANNELS_READ = "channels:read"
    CHANNELS_WRITE = "channels:write"
    PRICING_READ = "pricing:read"
    PRICING_WRITE = "pricing:write"
    FLAGS_READ = "flags:read"
    FLAGS_WRITE = "flags:write"
    RISK_READ = "risk:read"
    RISK_WRITE = "risk:write"
    PROMOTIONS_READ = "promotions:read"
    PROMOTIONS_WRITE = "promotions:write"
    # Storefront scopes: what a publishable key can do.
    CATALOG_READ = "catalog:read"
    CARTS_WRITE = "carts:write"
    CHECKOUT = "checkout"


STOREFRONT_SCOPES: frozenset[Scope] = frozenset(
    {Scope.CATALOG_READ, Scope.CARTS_WRITE, Scope.CHECKOUT}
)
ALL_SCOPES: frozenset[Scope] = frozenset(Scope)
# What a secret key gets when created without `scopes` (never more than its creator holds):
# reading the audit log is a duty of its own, granted only when asked for.
DEFAULT_SECRET_SCOPES: frozenset[Scope] = ALL_SCOPES - {Scope.AUDIT_READ}
