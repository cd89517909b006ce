"""The standalone worker process."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from tests.conftest import free_port, start_worker


def test_standalone_worker_serves_its_metrics(pg_database: str, tmp_path: Path) -> None:
    port = free_port()
    worker = start_worker(
        pg_database, tmp_path / "worker.log", {"CARTWRIGHT_WORKER_METRICS_PORT": str(port)}
    )
    try:
        deadline, body = time.monotonic() + 20, ""
        while time.monotonic() < deadline and "cartwright_payment_recoveries" not in body:
            try:
                body = httpx.get(f"http://127.0.0.1:{port}/", timeout=1).text
            except httpx.HTTPError:
                time.sleep(0.2)
        assert "cartwright_payment_recoveries" in body, (tmp_path / "worker.log").read_text()
    finally:
        worker.terminate()
        worker.wait(timeout=15)
