"""What tracing costs the checkout: bench/checkout.py (checkout mode) against
`cartwright serve --workers 2 --no-worker` with tracing off, sampled at 10 %
(`parentbased_traceidratio`, 0.1) and at 100 % (`parentbased_always_on`), exporting
OTLP/HTTP to a sink that accepts and drops the spans. The PostgreSQL ceiling is measured
once first, so each run's ratio is against the same ceiling.

    .venv/bin/python bench/tracing_cost.py --duration 20

Needs PostgreSQL on 127.0.0.1:5432 and pgbench as for bench/checkout.py. Prints one
Markdown table row per setting (bench/README.md, "Cost of tracing").
"""

from __future__ import annotations

import argparse
import sys

from stack import fresh_database, log, otlp_sink, run_bench, serve

SETTINGS = [
    ("off", {}),
    (
        "10 %",
        {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"},
    ),
    ("100 %", {"OTEL_TRACES_SAMPLER": "parentbased_always_on"}),
]


def main() -> int:
    parser = argparse.ArgumentParser(description="Checkout throughput with tracing off/on.")
    parser.add_argument("--duration", type=float, default=20)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--carts", type=int, default=0, help="passed to bench/checkout.py")
    parser.add_argument("--ceiling", type=float, help="reuse a ceiling instead of measuring")
    args = parser.parse_args()
    rows = []
    ceiling = args.ceiling
    with fresh_database() as database_url, otlp_sink() as sink:
        for name, otel in SETTINGS:
            env = dict(otel)
            if otel:
                env |= {"OTEL_EXPORTER_OTLP_ENDPOINT": sink.url, "OTEL_SERVICE_NAME": "bench"}
            before = sink.requests
            with serve(database_url, workers=2, no_worker=True, env=env) as server:
                bench_args = ["--mode", "checkout", "--concurrency", str(args.concurrency)]
                bench_args += ["--duration", str(args.duration)]
                if args.carts:
                    bench_args += ["--carts", str(args.carts)]
                bench_args += ["--ceiling", str(ceiling)] if ceiling else ["--run-ceiling"]
                (result,) = run_bench(server.url, *bench_args)
            if ceiling is None and result["ceiling_tps"] != "na":
                ceiling = float(result["ceiling_tps"])
            exports = sink.requests - before
            rows.append((name, result, exports))
            log(f"tracing {name}: {result['orders_per_s']} checkouts/s, {exports} exports")
    print(
        "| tracing | checkouts/s | ceiling tps | ratio | checkout p50 / p95 / p99 ms | errors "
        "| OTLP exports |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, r, exports in rows:
        print(
            f"| {name} | {r['orders_per_s']} | {r['ceiling_tps']} | {r['ratio']} | "
            f"{r['checkout_p50_ms']} / {r['checkout_p95_ms']} / {r['checkout_p99_ms']} | "
            f"{r['errors']} | {exports} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
