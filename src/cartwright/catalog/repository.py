from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from cartwright.kit.db import Conn, Row, Where, placeholders


async def insert_product(
    conn: Conn, product_id: str, title: str, description: str | None, now: datetime
) -> None:
    await conn.execute(
        "INSERT INTO products (id, title, description, created_at, updated_at)"
        " VALUES ($1, $2, $3, $4, $4)",
        product_id,
        title,
        description,
        now,
    )


async def insert_variants(conn: Conn, rows: Sequence[tuple[object, ...]]) -> None:
    await conn.executemany(
        "INSERT INTO variants (id, product_id, sku, title, weight_grams, position, tax_class)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7)",
        rows,
    )


async def insert_prices(conn: Conn, rows: Sequence[tuple[object, ...]]) -> None:
    await conn.executemany(
        "INSERT INTO variant_prices (variant_id, currency, amount) VALUES ($1, $2, $3)", rows
    )


async def taken_skus(conn: Conn, skus: Sequence[str]) -> list[str]:
    rows = await conn.fetch(
        f"SELECT sku FROM variants WHERE sku IN ({placeholders(1, len(skus))})", *skus
    )
    return [r["sku"] for r in rows]


async def get_product(conn: Conn, product_id: str) -> Row | None:
    return await conn.fetchrow(
        "SELECT id, title, description, created_at, updated_at FROM products WHERE id = $1",
        product_id,
    )


async def list_products(
    conn: Conn, *, limit: int, starting_after: str | None, title_pattern: str | None
) -> list[Row]:
    where = Where()
    if starting_after is not None:
        where.add("id < {}", starting_after)
    if title_pattern is not None:
        where.add("lower(title) LIKE {} ESCAPE '\\'", title_pattern)
    return await conn.fetch(
        "SELECT id, title, description, created_at, updated_at FROM products"
        f"{where.sql()} ORDER BY id DESC LIMIT {where.param(limit)}",
        *where.args,
    )


async def variants_of(conn: Conn, product_ids: Sequence[str]) -> list[Row]:
    return await conn.fetch(
        "SELECT v.id, v.product_id, v.sku, v.title, v.weight_grams, v.position, v.tax_class,"
        " p.currency, p.amount FROM variants v LEFT JOIN variant_prices p ON p.variant_id = v.id"
        f" WHERE v.product_id IN ({placeholders(1, len(product_ids))})"
        " ORDER BY v.product_id, v.position, p.currency",
        *product_ids,
    )


async def priced_variants(conn: Conn, skus: Sequence[str], currency: str) -> list[Row]:
    return await conn.fetch(
        "SELECT v.id, v.sku, v.title AS variant_title, pr.title AS product_title,"
        " v.weight_grams, v.tax_class, p.amount"
        " FROM variants v JOIN products pr ON pr.id = v.product_id"
        " LEFT JOIN variant_prices p ON p.variant_id = v.id AND p.currency = $1"
        f" WHERE v.sku IN ({placeholders(2, len(skus))})",
        currency,
        *skus,
    )


async def sku_exists(conn: Conn, sku: str) -> bool:
    return await conn.fetchval("SELECT 1 FROM variants WHERE sku = $1", sku) is not None
