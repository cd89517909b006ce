"""Screenshots of the key graphs under the checkout benchmark's load, for
docs/operations.md.

Runs a fresh PostgreSQL database, `cartwright serve --workers 2` (with its in-process
worker), Debian's `prometheus` scraping it with the shipped rules, a trickle of
declined, provider-down, timed-out and out-of-stock checkouts beside `bench/checkout.py`,
then opens Prometheus's graph page in headless Chromium and saves each graph as a PNG
under docs/img/.

    apt-get install -y prometheus chromium          # once
    uv sync --group screenshots                     # Playwright (the driver, no browser)
    .venv/bin/python bench/observe.py --duration 90

Needs PostgreSQL on 127.0.0.1:5432 as for bench/checkout.py.
"""

from __future__ import annotations

import argparse
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

import httpx
from stack import ADMIN_KEY, ROOT, fresh_database, log, prometheus, run_bench, serve

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

# (file name, title, PromQL expressions): what docs/operations.md shows.
GRAPHS = [
    (
        "checkouts-by-outcome",
        "Checkouts per second by outcome",
        ["sum by (outcome) (rate(cartwright_checkouts_total[30s]))"],
    ),
    (
        "checkout-latency",
        "Checkout latency p50, p95, p99",
        [
            f"histogram_quantile({q}, sum by (le) "
            "(rate(cartwright_checkout_duration_seconds_bucket[30s])))"
            for q in ("0.5", "0.95", "0.99")
        ],
    ),
    (
        "availability-burn",
        "Availability error ratio against its budget (burn rate)",
        [
            "cartwright:checkout_errors:ratio_rate5m / 0.001",
            "cartwright:checkout_slow:ratio_rate5m / 0.05",
        ],
    ),
    (
        "provider-calls",
        "Provider calls per second by operation and outcome",
        ["sum by (operation, outcome) (rate(cartwright_payment_provider_calls_total[30s]))"],
    ),
    (
        "provider-latency",
        "Provider call latency p95 by operation",
        [
            "histogram_quantile(0.95, sum by (operation, le) "
            "(rate(cartwright_payment_provider_duration_seconds_bucket[30s])))"
        ],
    ),
    (
        "orders-created",
        "Orders created and stock-outs per second",
        [
            "sum(rate(cartwright_orders_created_total[30s]))",
            "sum(rate(cartwright_stock_outs_total[30s]))",
        ],
    ),
    (
        "db-pool",
        "Database pool: connections in use and waits",
        [
            "sum by (pool) (cartwright_db_pool_connections_in_use)",
            "sum by (pool) (rate(cartwright_db_pool_waits_total[30s]))",
        ],
    ),
    (
        "unknown-payments",
        "Payments with an unknown result, and the oldest one's age (s)",
        [
            "max(cartwright_payments_unknown)",
            "max(cartwright_payments_unknown_oldest_age_seconds)",
        ],
    ),
]


def trickle(base_url: str, stop: threading.Event) -> None:
    """Checkouts that do not end in a paid order, a few per second: what the graphs of
    outcomes need to show more than one line."""
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=30) as client:
        sku = "OBSERVE-" + uuid.uuid4().hex[:8].upper()
        product = {
            "title": "Observed",
            "variants": [{"sku": sku, "prices": [{"amount": 500, "currency": "EUR"}]}],
        }
        assert client.post("/v1/products", json=product).status_code == 201
        client.put(f"/v1/inventory/{sku}", json={"on_hand": 1_000_000})
        sold_out = sku + "-SOLD-OUT"
        product["variants"] = [{"sku": sold_out, "prices": [{"amount": 500, "currency": "EUR"}]}]
        assert client.post("/v1/products", json=product).status_code == 201
        client.put(f"/v1/inventory/{sold_out}", json={"on_hand": 0})
        tokens = ["tok_declined", "tok_processing_error", "tok_timeout", "stock"]
        n = 0
        while not stop.is_set():
            token = tokens[n % len(tokens)]
            n += 1
            cart = client.post("/v1/carts", json={"currency": "EUR", "email": "o@example.com"})
            cart_id = cart.json()["id"]
            line_sku = sold_out if token == "stock" else sku
            client.post(f"/v1/carts/{cart_id}/lines", json={"sku": line_sku, "quantity": 1})
            client.patch(
                f"/v1/carts/{cart_id}",
                json={
                    "shipping_address": {
                        "name": "Observer",
                        "line1": "Main St 1",
                        "city": "Berlin",
                        "postal_code": "10117",
                        "country": "DE",
                    },
                    "shipping_method": "standard",
                },
            )
            client.post(
                f"/v1/carts/{cart_id}/checkout",
                json={
                    "payment": {
                        "method": "card",
                        "token": "tok_visa" if token == "stock" else token,
                    }
                },
                headers={"Idempotency-Key": uuid.uuid4().hex},
            )
            stop.wait(0.25)


def graph_url(prometheus_url: str, exprs: list[str], range_input: str) -> str:
    params: dict[str, str] = {}
    for i, expr in enumerate(exprs):
        params.update(
            {
                f"g{i}.expr": expr,
                f"g{i}.tab": "0",
                f"g{i}.stacked": "0",
                f"g{i}.show_exemplars": "0",
                f"g{i}.range_input": range_input,
            }
        )
    return f"{prometheus_url}/graph?{urlencode(params)}"


def screenshots(prometheus_url: str, out: Path, range_input: str) -> list[Path]:
    from playwright.sync_api import sync_playwright

    saved = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 720})
        for name, _title, exprs in [*GRAPHS]:
            # Debian's prometheus serves the classic UI: one rickshaw (SVG) graph per
            # expression, drawn once its query answers.
            page.goto(graph_url(prometheus_url, exprs, range_input))
            page.wait_for_load_state("networkidle", timeout=60_000)
            page.wait_for_selector(".legend", timeout=60_000)
            # The navigation bar is fixed: in a full-page shot it would cover a graph.
            page.add_style_tag(content=".navbar { position: static !important; }")
            page.wait_for_timeout(1500)
            path = out / f"prometheus-{name}.png"
            page.screenshot(path=str(path), full_page=True)
            saved.append(path)
            log(f"saved {path.relative_to(ROOT)}")
        page.goto(f"{prometheus_url}/alerts")
        page.wait_for_load_state("networkidle", timeout=60_000)
        path = out / "prometheus-alerts.png"
        page.screenshot(path=str(path), full_page=False)
        saved.append(path)
        browser.close()
    return saved


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=90, help="measured seconds of load")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    env = {
        "CARTWRIGHT_PSP_TIMEOUT_S": "1.0",
        "CARTWRIGHT_SANDBOX_SLOW_RESPONSE_S": "1.5",
        "CARTWRIGHT_PAYMENT_RECOVERY_AFTER_S": "10",
    }
    with (
        fresh_database() as database_url,
        serve(database_url, workers=2, no_worker=False, env=env) as server,
        prometheus(server.url.removeprefix("http://")) as prometheus_url,
    ):
        log(f"cartwright on {server.url}, prometheus on {prometheus_url}")
        started = time.monotonic()
        stop = threading.Event()
        mix = threading.Thread(target=trickle, args=(server.url, stop), daemon=True)
        mix.start()
        try:
            results = run_bench(
                server.url,
                "--mode",
                "flow",
                "--concurrency",
                str(args.concurrency),
                "--duration",
                str(args.duration),
            )
        finally:
            stop.set()
            mix.join(timeout=30)
        for result in results:
            log(f"bench: {result}")
        time.sleep(6)  # the last scrapes and rule evaluations
        minutes = max(2, int((time.monotonic() - started) / 60) + 1)
        screenshots(prometheus_url, args.out, f"{minutes}m")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
