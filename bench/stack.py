"""What bench/observe.py and bench/tracing_cost.py run: a fresh PostgreSQL database, a
`cartwright serve`, an OTLP sink, a local Prometheus with the shipped rules, and the
checkout benchmark, each as a context manager that cleans up after itself."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import psycopg

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN = os.environ.get("CARTWRIGHT_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
ADMIN_KEY = "sk_bench_admin_" + secrets.token_hex(8)
SECRET_KEY = secrets.token_urlsafe(40)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer 200 within {timeout:g} s")


@contextlib.contextmanager
def fresh_database() -> Iterator[str]:
    from cartwright.migrations.runner import upgrade

    name = "cw_bench_" + secrets.token_hex(5)
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    try:
        upgrade(url)
        yield url
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (name,),
            )
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


@dataclass
class Served:
    url: str
    process: subprocess.Popen[bytes]


@contextlib.contextmanager
def serve(
    database_url: str,
    *,
    workers: int = 2,
    no_worker: bool = True,
    env: dict[str, str] | None = None,
    log_path: Path | None = None,
) -> Iterator[Served]:
    port = free_port()
    args = [sys.executable, "-m", "cartwright.cli", "serve", "--port", str(port)]
    args += ["--workers", str(workers)] + (["--no-worker"] if no_worker else [])
    full_env = {
        **os.environ,
        "CARTWRIGHT_DATABASE_URL": database_url,
        "CARTWRIGHT_ADMIN_KEY": ADMIN_KEY,
        "CARTWRIGHT_SECRET_KEY": SECRET_KEY,
        "CARTWRIGHT_LOG_LEVEL": "warning",
        **(env or {}),
    }
    log_path = log_path or Path(tempfile.mkstemp(prefix="cartwright-serve-", suffix=".log")[1])
    out = log_path.open("wb")
    process = subprocess.Popen(args, env=full_env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        try:
            wait_until(f"http://127.0.0.1:{port}/readyz", timeout=120)
        except RuntimeError:
            sys.stderr.write(log_path.read_text())
            raise
        yield Served(f"http://127.0.0.1:{port}", process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class Sink:
    url: str
    requests: int = 0
    bytes: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


@contextlib.contextmanager
def otlp_sink() -> Iterator[Sink]:
    """Accepts OTLP/HTTP exports and throws them away (counting them), so a traced run
    pays for exporting but not for a collector."""
    sink = Sink("")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            size = int(self.headers.get("Content-Length", 0))
            self.rfile.read(size)
            with sink.lock:
                sink.requests += 1
                sink.bytes += size
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return None

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    sink.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield sink
    finally:
        httpd.shutdown()


PROMETHEUS_CONFIG = """\
global:
  scrape_interval: 2s
  evaluation_interval: 5s
rule_files:
{rules}
scrape_configs:
  - job_name: cartwright
    static_configs:
      - targets: ["{target}"]
        labels:
          role: api
"""


@contextlib.contextmanager
def prometheus(target: str) -> Iterator[str]:
    """Debian's `prometheus` scraping `target` (host:port) every 2 s, with the shipped
    rules (deploy/prometheus/rules). Yields its base URL."""
    binary = shutil.which("prometheus") or "/usr/bin/prometheus"
    rules = sorted((ROOT / "deploy" / "prometheus" / "rules").glob("*.yml"))
    workdir = Path(tempfile.mkdtemp(prefix="cartwright-prometheus-"))
    config = workdir / "prometheus.yml"
    config.write_text(
        PROMETHEUS_CONFIG.format(
            rules="\n".join(f"  - {r}" for r in rules),
            target=target,
        )
    )
    port = free_port()
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        stdout=(workdir / "prometheus.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(url + "/-/ready")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)
        shutil.rmtree(workdir, ignore_errors=True)


RESULT = re.compile(r"^RESULT (.*)$", re.MULTILINE)


def run_bench(url: str, *args: str) -> list[dict[str, str]]:
    """bench/checkout.py against `url`; its RESULT lines as dicts."""
    command = [sys.executable, str(ROOT / "bench" / "checkout.py"), "--url", url, "--key"]
    command += [ADMIN_KEY, *args]
    log("bench: " + " ".join(command[2:3] + list(args)))
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=1800)
    sys.stderr.write(result.stdout)
    if result.returncode != 0:
        raise RuntimeError(f"bench/checkout.py exited {result.returncode}:\n{result.stderr}")
    return [
        dict(pair.split("=", 1) for pair in line.split()) for line in RESULT.findall(result.stdout)
    ]
