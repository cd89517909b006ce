"""CPU cost of pricing promotions: a 50-line cart against 20 active automatic promotions.

    .venv/bin/python bench/promotions.py [--rounds 2000]

Prints the median and 99th percentile of `promotions.engine.evaluate` per cart, in
milliseconds of CPU (process time). The issue's bound is a few milliseconds.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime

from cartwright.promotions.engine import Cart, Kind, Line, Promotion, Stacking, evaluate

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def _cart() -> Cart:
    lines = [
        Line(f"line_{i:02}", f"SKU-{i % 17}", 1 + i % 5, 500 + 37 * i, (500 + 37 * i) * (1 + i % 5))
        for i in range(50)
    ]
    return Cart(lines, shipping=495, currency="EUR", now=NOW, customer_group="vip")


def _promotions() -> list[Promotion]:
    kinds = [Kind.PERCENTAGE, Kind.FIXED_AMOUNT, Kind.FREE_SHIPPING, Kind.BUY_X_GET_Y]
    out = []
    for i in range(20):
        kind = kinds[i % 4]
        out.append(
            Promotion(
                id=f"promo_{i:02}",
                name=f"P{i}",
                kind=kind,
                stacking=Stacking.EXCLUSIVE if i % 5 == 0 else Stacking.STACKABLE,
                priority=i % 3,
                value=5 + i
                if kind is Kind.PERCENTAGE
                else 300
                if kind is Kind.FIXED_AMOUNT
                else None,
                currency="EUR" if kind is Kind.FIXED_AMOUNT else None,
                buy=2 if kind is Kind.BUY_X_GET_Y else None,
                get=1 if kind is Kind.BUY_X_GET_Y else None,
                skus=frozenset({f"SKU-{i % 17}", f"SKU-{(i + 3) % 17}"}) if i % 2 else None,
                min_subtotal=1_000 if i % 3 == 0 else None,
                budget=10_000_000 if i % 4 == 1 else None,
            )
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2000)
    args = parser.parse_args()
    cart, promotions = _cart(), _promotions()
    samples = []
    for _ in range(args.rounds):
        started = time.process_time_ns()
        evaluate(cart, promotions)
        samples.append((time.process_time_ns() - started) / 1e6)
    samples.sort()
    p99 = samples[int(len(samples) * 0.99) - 1]
    print(
        f"50 lines, 20 promotions: median {statistics.median(samples):.3f} ms CPU, p99 {p99:.3f} ms"
    )


if __name__ == "__main__":
    main()
