"""Bulk single-use codes: how long 100,000 take, on SQLite and on PostgreSQL.

    .venv/bin/python bench/promotion_codes.py [--count 100000] [--pg postgresql://...]

Makes a fresh database of its own for each (a temporary SQLite file; a PostgreSQL database
created and dropped on the server of `--pg`), a promotion in it, and times
`promotions.service.generate_codes` in one transaction, as `POST /v1/promotions/{id}/codes`
runs it. Prints the database, the count and the seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import tempfile
import time
from pathlib import Path

import psycopg

from cartwright.kit.db import Database
from cartwright.migrations.runner import upgrade
from cartwright.promotions import service


async def _time(url: str, count: int) -> float:
    upgrade(url)
    db = Database(url, pool_size=2)
    await db.connect()
    try:
        async with db.transaction() as conn:
            promo = await service.create(
                conn, {"name": "bulk", "kind": "percentage", "value": 5, "stacking": "stackable"}
            )
        started = time.perf_counter()
        async with db.transaction() as conn:
            made = await service.generate_codes(conn, promo["id"], count, "B")
        assert made["count"] == count
        return time.perf_counter() - started
    finally:
        await db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        seconds = asyncio.run(_time(f"sqlite:///{Path(tmp) / 'codes.db'}", args.count))
        print(f"sqlite      {args.count} codes  {seconds:.2f} s")
    name = "cw_bench_codes_" + secrets.token_hex(4)
    with psycopg.connect(args.pg, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        url = args.pg.rsplit("/", 1)[0] + "/" + name
        seconds = asyncio.run(_time(url, args.count))
        print(f"postgresql  {args.count} codes  {seconds:.2f} s")
    finally:
        with psycopg.connect(args.pg, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
