"""Catalog: products with variants (one SKU each) and a base price per currency."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cartwright.audit import service as audit
from cartwright.catalog import repository
from cartwright.catalog.errors import SkuTaken
from cartwright.catalog.schemas import ProductIn
from cartwright.kit import clock, ids
from cartwright.kit.db import Conn, Row, UniqueViolation
from cartwright.kit.errors import NotFound


@dataclass(frozen=True, slots=True)
class PricedVariant:
    variant_id: str
    sku: str
    title: str
    weight_grams: int | None
    unit_price: int | None  # None: the variant has no price in the asked currency
    tax_class: str = "standard"  # standard, reduced, zero, exempt (providers/tax.py)


async def create_product(conn: Conn, data: ProductIn) -> dict[str, Any]:
    skus = [v.sku for v in data.variants]
    taken = await repository.taken_skus(conn, skus)
    if taken:
        raise SkuTaken(f"SKU already in use: {', '.join(sorted(taken))}.")
    now = clock.utcnow()
    product_id = ids.new_id("prod")
    await repository.insert_product(conn, product_id, data.title, data.description, now)
    variant_rows: list[tuple[object, ...]] = []
    price_rows: list[tuple[object, ...]] = []
    for position, variant in enumerate(data.variants):
        variant_id = ids.new_id("var")
        variant_rows.append(
            (
                variant_id,
                product_id,
                variant.sku,
                variant.title,
                variant.weight_grams,
                position,
                variant.tax_class,
            )
        )
        price_rows.extend((variant_id, p.currency, p.amount) for p in variant.prices)
    try:
        await repository.insert_variants(conn, variant_rows)
    except UniqueViolation:  # a concurrent request took the SKU after our check
        raise SkuTaken(f"SKU already in use: {', '.join(sorted(skus))}.") from None
    await repository.insert_prices(conn, price_rows)
    product = await get_product(conn, product_id)
    await audit.record(
        conn,
        "product.created",
        "product",
        product_id,
        {k: product[k] for k in ("title", "description", "variants")},
    )
    return product


def _present(product: Row, variant_rows: Sequence[Row]) -> dict[str, Any]:
    variants: dict[str, dict[str, Any]] = {}
    for row in variant_rows:
        variant = variants.get(row["id"])
        if variant is None:
            variant = variants[row["id"]] = {
                "id": row["id"],
                "sku": row["sku"],
                "title": row["title"],
                "weight_grams": row["weight_grams"],
                "tax_class": row["tax_class"],
                "prices": [],
            }
        if row["currency"] is not None:
            variant["prices"].append({"amount": row["amount"], "currency": row["currency"]})
    return {
        "id": product["id"],
        "title": product["title"],
        "description": product["description"],
        "variants": list(variants.values()),
        "created_at": clock.isoformat(product["created_at"]),
        "updated_at": clock.isoformat(product["updated_at"]),
    }


async def get_product(conn: Conn, product_id: str) -> dict[str, Any]:
    product = await repository.get_product(conn, product_id)
    if product is None:
        raise NotFound(f"No product {product_id}.")
    return _present(product, await repository.variants_of(conn, [product_id]))


def _like_pattern(query: str) -> str:
    escaped = query.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def list_products(
    conn: Conn, *, limit: int, starting_after: str | None, query: str | None
) -> dict[str, Any]:
    rows = await repository.list_products(
        conn,
        limit=limit + 1,
        starting_after=starting_after,
        title_pattern=_like_pattern(query) if query else None,
    )
    page = rows[:limit]
    by_product: dict[str, list[Row]] = {r["id"]: [] for r in page}
    if page:
        for row in await repository.variants_of(conn, list(by_product)):
            by_product[row["product_id"]].append(row)
    return {
        "data": [_present(r, by_product[r["id"]]) for r in page],
        "has_more": len(rows) > limit,
    }


async def priced_variants(
    conn: Conn, skus: Sequence[str], currency: str
) -> dict[str, PricedVariant]:
    """The variants of `skus` with their price in `currency`; unknown SKUs are absent."""
    if not skus:
        return {}
    result = {}
    for row in await repository.priced_variants(conn, list(dict.fromkeys(skus)), currency):
        title = row["product_title"]
        if row["variant_title"]:
            title = f"{title} – {row['variant_title']}"
        result[row["sku"]] = PricedVariant(
            row["id"], row["sku"], title, row["weight_grams"], row["amount"], row["tax_class"]
        )
    return result


class PriceBook:
    """Variant prices by SKU and currency, read through a short per-process cache.

    Pricing a cart is on every cart change and every checkout; prices change rarely (v1
    has no price update at all). An entry lives `ttl_s` seconds, so a price change made
    later shows everywhere within that time, and a checkout never charges a price older
    than that. Unknown SKUs are not cached. `ttl_s=0` turns the cache off.
    """

    MAX_ENTRIES = 50_000

    def __init__(self, ttl_s: float) -> None:
        self._ttl_s = ttl_s
        self._entries: dict[tuple[str, str], tuple[float, PricedVariant]] = {}

    async def priced_variants(
        self, conn: Conn, skus: Sequence[str], currency: str
    ) -> dict[str, PricedVariant]:
        now = time.monotonic()
        found: dict[str, PricedVariant] = {}
        missing = []
        for sku in dict.fromkeys(skus):
            entry = self._entries.get((sku, currency))
            if entry is not None and entry[0] > now:
                found[sku] = entry[1]
            else:
                missing.append(sku)
        if missing:
            fetched = await priced_variants(conn, missing, currency)
            if self._ttl_s > 0:
                if len(self._entries) > self.MAX_ENTRIES:
                    self._entries.clear()
                for sku, variant in fetched.items():
                    self._entries[(sku, currency)] = (now + self._ttl_s, variant)
            found.update(fetched)
        return found


async def sku_exists(conn: Conn, sku: str) -> bool:
    return await repository.sku_exists(conn, sku)
