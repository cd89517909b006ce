"""Checkout load benchmark for Cartwright.

Drives the HTTP API v1 with aiohttp and reports orders per second and latencies, optionally
against the PostgreSQL ceiling measured by ../shared/bench/pg-ceiling/run.sh in the same run.

    .venv/bin/python bench/checkout.py --run-ceiling --concurrency 16 --duration 20

See bench/README.md for the set-up and what each figure means.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import random
import re
import signal
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

try:
    import orjson

    def dumps(obj: Any) -> bytes:
        return orjson.dumps(obj)

    loads: Callable[[bytes], Any] = orjson.loads
except ImportError:  # pragma: no cover - orjson is a project dependency
    import json

    def dumps(obj: Any) -> bytes:
        return json.dumps(obj, separators=(",", ":")).encode()

    loads = json.loads


REPO_ROOT = Path(__file__).resolve().parent.parent
CEILING_SCRIPT = REPO_ROOT.parent / "shared" / "bench" / "pg-ceiling" / "run.sh"
CEILING_ARGS = ("16", "15")  # clients, seconds
CEILING_TIMEOUT_S = 120.0

EXIT_OK = 0
EXIT_NO_ORDERS = 1  # a mode ran but placed no order in its window
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
EXIT_SETUP_FAILED = 4

PRICE = {"amount": 1999, "currency": "EUR"}
ON_HAND = 100_000_000
ADDRESS = {
    "name": "Erika Mustermann",
    "line1": "Heidestrasse 17",
    "city": "Berlin",
    "postal_code": "10557",
    "country": "DE",
}
ERROR_BACKOFF_S = 0.1  # after a transport error, so a dead server does not spin the client
GRACE_S = 10.0  # after the timed phase, how long in-flight requests may finish before cancel

ErrorKey = tuple[str, int | str, str]  # (step, status or "exc", problem code or exception)


def now() -> float:
    return time.perf_counter()


def log(msg: str = "") -> None:
    print(msg, flush=True)


# --------------------------------------------------------------------------- HTTP


@dataclass
class Ctx:
    session: aiohttp.ClientSession
    base: str
    runid: str
    cart_body: bytes = b""
    line_bodies: list[bytes] = field(default_factory=list)
    shipping_body: bytes = dumps({"shipping_address": ADDRESS, "shipping_method": "standard"})
    checkout_body: bytes = dumps({"payment": {"method": "card", "token": "tok_visa"}})
    # Carts and checkouts go with a publishable key, as a storefront's do (a secret key's
    # checkouts are audited: one more INSERT, serialised on the audit chain's lock).
    storefront_key: str | None = None

    def url(self, path: str) -> str:
        return self.base + path


async def send(ctx: Ctx, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
    """One request; every POST carries a fresh Idempotency-Key. Returns (status, raw body)."""
    headers: dict[str, str] = {}
    if body is not None:
        headers["Content-Type"] = "application/json"
    if method == "POST":
        headers["Idempotency-Key"] = str(uuid.uuid4())
    if ctx.storefront_key is not None and path.startswith("/v1/carts"):
        headers["Authorization"] = f"Bearer {ctx.storefront_key}"
    async with ctx.session.request(method, ctx.url(path), data=body, headers=headers) as resp:
        return resp.status, await resp.read()


def problem_code(raw: bytes) -> str:
    try:
        doc = loads(raw)
    except Exception:
        return "-"
    code = doc.get("code") if isinstance(doc, dict) else None
    return str(code) if code else "-"


def exc_name(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timeout"
    return type(exc).__name__


def is_2xx(status: int) -> bool:
    return 200 <= status < 300


async def build_cart(ctx: Ctx, rng: random.Random) -> tuple[str | None, ErrorKey | None]:
    """Cart with one line, a DE shipping address and the standard method: ready to check out."""
    step = "create_cart"
    try:
        status, raw = await send(ctx, "POST", "/v1/carts", ctx.cart_body)
        if not is_2xx(status):
            return None, (step, status, problem_code(raw))
        cart_id = loads(raw).get("id")
        if not isinstance(cart_id, str):
            return None, (step, status, "no_id_in_response")
        step = "add_line"
        status, raw = await send(
            ctx, "POST", f"/v1/carts/{cart_id}/lines", rng.choice(ctx.line_bodies)
        )
        if not is_2xx(status):
            return None, (step, status, problem_code(raw))
        step = "set_shipping"
        status, raw = await send(ctx, "PATCH", f"/v1/carts/{cart_id}", ctx.shipping_body)
        if not is_2xx(status):
            return None, (step, status, problem_code(raw))
        return cart_id, None
    except Exception as exc:  # transport errors, timeouts, unparseable bodies
        return None, (step, "exc", exc_name(exc))


# --------------------------------------------------------------------------- figures


@dataclass
class Phase:
    mode: str
    t_start: float = 0.0
    t_warm: float = 0.0  # results before this are warm-up and not counted
    t_end: float = 0.0  # window end; workers start nothing new after it
    completed: int = 0  # orders placed inside the window
    completed_all: int = 0
    flow_ms: list[float] = field(default_factory=list)
    checkout_ms: list[float] = field(default_factory=list)
    errors: int = 0  # inside the window
    errors_all: Counter[ErrorKey] = field(default_factory=Counter)
    other_2xx: Counter[int] = field(default_factory=Counter)  # checkout 2xx that is not 201
    pool_exhausted_at: float | None = None
    cancelled: int = 0  # workers still busy at the hard stop
    cpu_s: float = 0.0
    wall_s: float = 0.0

    def in_window(self, t: float) -> bool:
        return self.t_warm <= t <= self.t_end

    def placed(self, t: float, flow_ms: float | None, checkout_ms: float) -> None:
        self.completed_all += 1
        if self.in_window(t):
            self.completed += 1
            self.checkout_ms.append(checkout_ms)
            if flow_ms is not None:
                self.flow_ms.append(flow_ms)

    def failed(self, t: float, key: ErrorKey) -> None:
        self.errors_all[key] += 1
        if self.in_window(t):
            self.errors += 1


def percentile(samples: list[float], p: float) -> float | None:
    """Nearest-rank percentile; None without samples."""
    if not samples:
        return None
    ordered = sorted(samples)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def fmt(value: float | None, digits: int = 1) -> str:
    return "na" if value is None else f"{value:.{digits}f}"


def print_errors(title: str, errors: Counter[ErrorKey], top: int = 8) -> None:
    if not errors:
        return
    log(f"  {title} (total {sum(errors.values())}, step / status / code, top {top}):")
    for (step, status, code), n in errors.most_common(top):
        log(f"    {n:>7}  {step:<13} {status!s:<5} {code}")


def report(phase: Phase, concurrency: int, ceiling: float | None) -> int:
    """Prints the human-readable figures and the RESULT line; returns orders placed."""
    window = phase.t_end - phase.t_warm
    rate = phase.completed / window if window > 0 else None
    ratio = rate / ceiling if rate is not None and ceiling else None
    unit = "orders/s (flows)" if phase.mode == "flow" else "checkouts/s"
    log(f"== {phase.mode}: results")
    if phase.pool_exhausted_at is not None:
        log(
            f"  cart pool ran dry at t={phase.pool_exhausted_at - phase.t_start:.1f}s: "
            "the window was cut short there (use --carts to prepare more)"
        )
    if window <= 0:
        log("  no measurement window left after warm-up: no figures")
    warm = phase.t_warm - phase.t_start
    log(f"  window            {max(window, 0):.1f} s (after {warm:.1f} s warm-up)")
    log(
        f"  throughput        {fmt(rate)} {unit} ({phase.completed} in window, "
        f"{phase.completed_all} including warm-up)"
    )
    errors_all = sum(phase.errors_all.values())
    log(f"  errors            {phase.errors} in window, {errors_all} including warm-up")
    if phase.mode == "flow":
        log(
            "  flow latency      "
            f"p50 {fmt(percentile(phase.flow_ms, 50))} ms  "
            f"p95 {fmt(percentile(phase.flow_ms, 95))} ms  "
            f"p99 {fmt(percentile(phase.flow_ms, 99))} ms"
        )
    log(
        "  checkout latency  "
        f"p50 {fmt(percentile(phase.checkout_ms, 50))} ms  "
        f"p95 {fmt(percentile(phase.checkout_ms, 95))} ms  "
        f"p99 {fmt(percentile(phase.checkout_ms, 99))} ms"
    )
    if ceiling:
        log(f"  vs pg ceiling     {fmt(ratio, 3)} of {ceiling:.1f} tps")
    cpu_pct = 100 * phase.cpu_s / phase.wall_s if phase.wall_s > 0 else 0.0
    log(f"  client CPU        {cpu_pct:.0f}% of one core (shared with server and PostgreSQL)")
    if phase.other_2xx:
        log(f"  checkout 2xx other than 201 (not counted as orders): {dict(phase.other_2xx)}")
    if phase.cancelled:
        log(f"  {phase.cancelled} worker(s) still waiting at the hard stop were cancelled")
    print_errors("errors", phase.errors_all)

    fields = [
        f"mode={phase.mode}",
        f"orders_per_s={fmt(rate)}",
        f"errors={phase.errors}",
    ]
    if phase.mode == "flow":
        fields += [
            f"flow_p50_ms={fmt(percentile(phase.flow_ms, 50))}",
            f"flow_p95_ms={fmt(percentile(phase.flow_ms, 95))}",
            f"flow_p99_ms={fmt(percentile(phase.flow_ms, 99))}",
        ]
    fields += [
        f"checkout_p50_ms={fmt(percentile(phase.checkout_ms, 50))}",
        f"checkout_p95_ms={fmt(percentile(phase.checkout_ms, 95))}",
        f"checkout_p99_ms={fmt(percentile(phase.checkout_ms, 99))}",
        f"ceiling_tps={fmt(ceiling)}",
        f"ratio={fmt(ratio, 3)}",
        f"completed={phase.completed}",
        f"window_s={max(window, 0):.1f}",
        f"concurrency={concurrency}",
        f"client_cpu_pct={cpu_pct:.0f}",
    ]
    if phase.mode == "checkout":
        fields.append(f"pool_exhausted={int(phase.pool_exhausted_at is not None)}")
    log("RESULT " + " ".join(fields))
    return phase.completed


# --------------------------------------------------------------------------- running


async def bounded(
    n: int, concurrency: int, deadline: float, fn: Callable[[int], Awaitable[Any]]
) -> list[Any]:
    """fn(0..n-1) with at most `concurrency` at a time; stops starting new ones at deadline."""
    results: list[Any] = [None] * n
    indices = iter(range(n))

    async def worker() -> None:
        for i in indices:
            if now() >= deadline:
                return
            results[i] = await fn(i)

    tasks = [asyncio.create_task(worker()) for _ in range(min(concurrency, n))]
    if not tasks:
        return results
    _, pending = await asyncio.wait(tasks, timeout=max(0.0, deadline - now()) + GRACE_S)
    for task in pending:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return results


async def timed(
    phase: Phase,
    concurrency: int,
    warmup: float,
    duration: float,
    worker: Callable[[int], Coroutine[Any, Any, None]],
) -> None:
    """Runs `concurrency` workers for warmup + duration seconds, then a hard stop."""
    cpu0 = time.process_time()
    phase.t_start = now()
    phase.t_warm = phase.t_start + warmup
    phase.t_end = phase.t_warm + duration

    async def progress() -> None:
        while True:
            await asyncio.sleep(5)
            log(
                f"  t={now() - phase.t_start:5.1f}s  placed={phase.completed_all}  "
                f"errors={sum(phase.errors_all.values())}"
            )

    ticker = asyncio.create_task(progress())
    tasks = [asyncio.create_task(worker(i)) for i in range(concurrency)]
    _, pending = await asyncio.wait(tasks, timeout=warmup + duration)
    phase.wall_s = now() - phase.t_start
    phase.cpu_s = time.process_time() - cpu0
    if pending:  # requests in flight at the end: let them finish, but not for ever
        _, pending = await asyncio.wait(pending, timeout=GRACE_S)
    phase.cancelled = len(pending)
    for task in pending:
        task.cancel()
    ticker.cancel()
    outcomes = await asyncio.gather(*tasks, ticker, return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, Exception) and not isinstance(outcome, asyncio.CancelledError):
            log(f"  worker crashed: {outcome!r}")


async def run_flow(ctx: Ctx, args: argparse.Namespace) -> Phase:
    phase = Phase("flow")

    async def user(i: int) -> None:
        rng = random.Random(i)
        while now() < phase.t_end:
            t0 = now()
            cart_id, err = await build_cart(ctx, rng)
            if cart_id is None:
                assert err is not None
                phase.failed(now(), err)
                if err[1] == "exc":
                    await asyncio.sleep(ERROR_BACKOFF_S)
                continue
            await checkout_once(ctx, phase, cart_id, t0)

    log(
        f"== flow: {args.concurrency} users x (cart, line, shipping, checkout) "
        f"for {args.warmup:g}+{args.duration:g} s"
    )
    await timed(phase, args.concurrency, args.warmup, args.duration, user)
    return phase


async def checkout_once(ctx: Ctx, phase: Phase, cart_id: str, flow_t0: float | None) -> None:
    t0 = now()
    try:
        status, raw = await send(ctx, "POST", f"/v1/carts/{cart_id}/checkout", ctx.checkout_body)
    except Exception as exc:
        phase.failed(now(), ("checkout", "exc", exc_name(exc)))
        await asyncio.sleep(ERROR_BACKOFF_S)
        return
    t1 = now()
    if status == 201:
        flow_ms = (t1 - flow_t0) * 1000 if flow_t0 is not None else None
        phase.placed(t1, flow_ms, (t1 - t0) * 1000)
    elif is_2xx(status):
        phase.other_2xx[status] += 1
    else:
        phase.failed(t1, ("checkout", status, problem_code(raw)))


async def run_checkout(ctx: Ctx, args: argparse.Namespace) -> Phase | None:
    # Enough for ~1000 checkouts/s over the whole phase; a dry pool cuts the window short.
    wanted = args.carts or max(2000, math.ceil(1000 * (args.duration + args.warmup)))
    log(f"== checkout: preparing {wanted} carts (untimed, {args.setup_concurrency} at a time)")
    prep_errors: Counter[ErrorKey] = Counter()
    rng = random.Random(4242)

    async def prepare(i: int) -> str | None:
        cart_id, err = await build_cart(ctx, rng)
        if err is not None:
            prep_errors[err] += 1
        return cart_id

    t0 = now()
    prepared = await bounded(wanted, args.setup_concurrency, t0 + args.setup_timeout, prepare)
    pool = [c for c in prepared if c is not None]
    log(f"  {len(pool)} carts ready in {now() - t0:.1f} s")
    print_errors("preparation errors", prep_errors)
    if not pool:
        log("  no cart could be prepared: checkout mode skipped")
        return None

    phase = Phase("checkout")

    async def worker(i: int) -> None:
        while now() < phase.t_end:
            if not pool:
                if phase.pool_exhausted_at is None:
                    phase.pool_exhausted_at = now()
                    phase.t_end = min(phase.t_end, phase.pool_exhausted_at)
                return
            await checkout_once(ctx, phase, pool.pop(), None)

    log(
        f"== checkout: {args.concurrency} workers x checkout on prepared carts "
        f"for {args.warmup:g}+{args.duration:g} s"
    )
    await timed(phase, args.concurrency, args.warmup, args.duration, worker)
    return phase


async def setup_catalog(ctx: Ctx, args: argparse.Namespace) -> list[str] | None:
    errors: Counter[ErrorKey] = Counter()

    async def create(i: int) -> str | None:
        sku = f"BENCH-{ctx.runid}-{i}"
        product = {
            "title": f"Bench product {ctx.runid} {i}",
            "variants": [{"sku": sku, "title": "Default", "prices": [PRICE]}],
        }
        step = "create_product"
        try:
            status, raw = await send(ctx, "POST", "/v1/products", dumps(product))
            if not is_2xx(status):
                errors[(step, status, problem_code(raw))] += 1
                return None
            step = "set_stock"
            stock = dumps({"on_hand": ON_HAND})
            status, raw = await send(ctx, "PUT", f"/v1/inventory/{sku}", stock)
            if not is_2xx(status):
                errors[(step, status, problem_code(raw))] += 1
                return None
        except Exception as exc:
            errors[(step, "exc", exc_name(exc))] += 1
            return None
        return sku

    log(f"== setup: {args.skus} products with stock {ON_HAND} ({args.setup_concurrency} at a time)")
    t0 = now()
    first = await create(0)  # one probe, so a wrong key or a missing route fails fast
    if first is None:
        print_errors("setup failed", errors)
        return None
    rest = await bounded(
        args.skus - 1, args.setup_concurrency, t0 + args.setup_timeout, lambda i: create(i + 1)
    )
    skus = [first] + [s for s in rest if s is not None]
    log(f"  {len(skus)} SKUs ready in {now() - t0:.1f} s")
    if len(skus) < args.skus:
        missing = args.skus - len(skus)
        log(f"  warning: {missing} SKUs could not be set up; spreading over {len(skus)}")
        print_errors("setup errors", errors)
    return skus


async def check_reachable(ctx: Ctx) -> bool:
    try:
        async with ctx.session.get(
            ctx.url("/healthz"), timeout=aiohttp.ClientTimeout(total=10)
        ) as resp:
            await resp.read()
            log(f"== server {ctx.base}: /healthz {resp.status}")
            return True
    except Exception as exc:
        log(f"error: server {ctx.base} unreachable: {exc_name(exc)}: {exc}")
        return False


async def run_ceiling() -> float | None:
    if not CEILING_SCRIPT.is_file():
        log(f"warning: {CEILING_SCRIPT} not found: no ceiling")
        return None
    cmd = f"bash {CEILING_SCRIPT} {' '.join(CEILING_ARGS)}"
    log(f"== pg ceiling: {cmd} (takes ~{CEILING_ARGS[1]} s)")
    proc = await asyncio.create_subprocess_exec(
        "bash",
        str(CEILING_SCRIPT),
        *CEILING_ARGS,
        cwd=REPO_ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,  # its own process group, so a timeout can stop pgbench too
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), CEILING_TIMEOUT_S)
    except TimeoutError:
        os.killpg(proc.pid, signal.SIGKILL)
        await proc.wait()
        log(f"warning: ceiling script did not finish in {CEILING_TIMEOUT_S:.0f} s: no ceiling")
        return None
    match = re.search(r"ceiling_tps=([0-9]+(?:\.[0-9]*)?)", out.decode(errors="replace"))
    if proc.returncode != 0 or match is None:
        tail = err.decode(errors="replace").strip().splitlines()[-5:]
        log(f"warning: ceiling script failed (exit {proc.returncode}): no ceiling")
        for line in tail:
            log(f"    {line}")
        return None
    ceiling = float(match.group(1))
    log(f"  ceiling_tps={ceiling:.1f}")
    return ceiling if ceiling > 0 else None


async def main(args: argparse.Namespace) -> int:
    runid = time.strftime("%m%d%H%M%S") + uuid.uuid4().hex[:4]
    log(
        f"cartwright checkout bench: run {runid}, url {args.url}, mode {args.mode}, "
        f"concurrency {args.concurrency}, {args.warmup:g}s warm-up + {args.duration:g}s, "
        f"{args.skus} SKUs, loop {type(asyncio.get_running_loop()).__module__.split('.')[0]}, "
        f"{os.cpu_count()} CPUs"
    )
    connector = aiohttp.TCPConnector(limit=args.concurrency * 2, keepalive_timeout=75)
    async with aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=args.timeout),
        headers={"Authorization": f"Bearer {args.key}", "Accept": "application/json"},
    ) as session:
        ctx = Ctx(session=session, base=args.url.rstrip("/"), runid=runid)
        if not await check_reachable(ctx):
            return EXIT_UNREACHABLE

        ceiling: float | None = args.ceiling
        if ceiling is None and args.run_ceiling:
            ceiling = await run_ceiling()

        skus = await setup_catalog(ctx, args)
        if not skus:
            return EXIT_SETUP_FAILED
        status, raw = await send(
            ctx, "POST", "/v1/api-keys", dumps({"type": "publishable", "name": "bench " + runid})
        )
        if status != 201:
            log(f"setup failed: minting a publishable key answered {status}")
            return EXIT_SETUP_FAILED
        ctx.storefront_key = loads(raw)["key"]
        promotion = None
        if args.promotion:
            # One automatic promotion every cart gets (issue 9: the ratio must hold with it).
            body = {"name": f"bench {runid}", "kind": "percentage", "value": 10}
            status, raw = await send(
                ctx, "POST", "/v1/promotions", dumps({**body, "stacking": "stackable"})
            )
            if status != 201:
                log(f"setup failed: creating the promotion answered {status}")
                return EXIT_SETUP_FAILED
            promotion = loads(raw)["id"]
            log(f"== one automatic promotion active: {promotion} (10 %, stackable)")
        ctx.cart_body = dumps({"currency": "EUR", "email": f"bench-{runid}@example.com"})
        ctx.line_bodies = [dumps({"sku": sku, "quantity": 1}) for sku in skus]

        placed: list[int] = []
        if args.mode in ("flow", "both"):
            placed.append(report(await run_flow(ctx, args), args.concurrency, ceiling))
        if args.mode in ("checkout", "both"):
            phase = await run_checkout(ctx, args)
            placed.append(report(phase, args.concurrency, ceiling) if phase else 0)
        if promotion is not None:
            status, raw = await send(ctx, "GET", f"/v1/promotions/{promotion}", None)
            if status == 200:
                got = loads(raw)
                log(f"  the promotion was taken by {got['uses']} orders")
            await send(ctx, "POST", f"/v1/promotions/{promotion}/deactivate", None)
    return EXIT_OK if all(placed) else EXIT_NO_ORDERS


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Cartwright checkout load benchmark (see bench/README.md)."
    )
    add = parser.add_argument
    add("--url", default="http://127.0.0.1:8000", help="server base URL (%(default)s)")
    add("--key", help="secret key with every scope (default: $CARTWRIGHT_ADMIN_KEY)")
    add("--concurrency", type=int, default=16, help="virtual users / workers (%(default)s)")
    add("--duration", type=float, default=20, help="measured seconds per mode (%(default)s)")
    add(
        "--warmup",
        type=float,
        default=3,
        help="seconds run and discarded before the measured window (%(default)s)",
    )
    add("--skus", type=int, default=500, help="SKUs the carts spread over (%(default)s)")
    add("--mode", choices=("flow", "checkout", "both"), default="both", help="(%(default)s)")
    add("--ceiling", type=float, help="PostgreSQL ceiling in tps to compare against")
    add(
        "--run-ceiling",
        action="store_true",
        help="without --ceiling: run ../shared/bench/pg-ceiling/run.sh 16 15 first",
    )
    add(
        "--carts",
        type=int,
        default=0,
        help="carts to prepare for checkout mode (0: max(2000, 1000 x (warmup+duration)))",
    )
    add(
        "--setup-concurrency",
        type=int,
        default=16,
        help="parallel requests during setup (%(default)s)",
    )
    add(
        "--setup-timeout",
        type=float,
        default=300,
        help="bound in seconds on each untimed setup step (%(default)s)",
    )
    add(
        "--promotion",
        action="store_true",
        help="with one automatic promotion (10 %%) active for every cart",
    )
    add("--timeout", type=float, default=30, help="per-request timeout in seconds (%(default)s)")
    args = parser.parse_args(argv)
    args.key = args.key or os.environ.get("CARTWRIGHT_ADMIN_KEY")
    if not args.key:
        parser.error("no key: pass --key or set CARTWRIGHT_ADMIN_KEY")
    for name in ("concurrency", "skus", "setup_concurrency"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1")
    if args.duration <= 0 or args.warmup < 0 or args.timeout <= 0 or args.setup_timeout <= 0:
        parser.error("--duration, --timeout and --setup-timeout must be > 0, --warmup >= 0")
    if args.carts < 0:
        parser.error("--carts must be >= 0")
    if args.ceiling is not None and args.ceiling <= 0:
        parser.error("--ceiling must be > 0")
    return args


def run() -> int:
    args = parse_args()
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main(args))
    return uvloop.run(main(args))


if __name__ == "__main__":
    try:
        sys.exit(run())
    except KeyboardInterrupt:
        log("interrupted")
        sys.exit(130)
