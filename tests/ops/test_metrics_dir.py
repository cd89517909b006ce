"""`cartwright serve --workers N` shares metrics through a temporary directory: every
process's counts add up on `/metrics`, and the directory is gone once the server stops."""

from __future__ import annotations

from pathlib import Path

import httpx

from cartwright.migrations.runner import upgrade
from tests.conftest import start_server


def _children(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(c) for c in children]


def _multiproc_dir(pid: int) -> Path | None:
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    for entry in environ:
        if entry.startswith(b"PROMETHEUS_MULTIPROC_DIR="):
            return Path(entry.split(b"=", 1)[1].decode())
    return None


def test_the_temporary_metrics_directory_is_removed_when_the_server_stops(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'metrics.db'}"
    upgrade(url)
    server = start_server(url, tmp_path / "server.log", workers=2)
    try:
        dirs = {d for d in map(_multiproc_dir, _children(server.process.pid)) if d is not None}
        assert len(dirs) == 1, dirs
        (metrics_dir,) = dirs
        assert metrics_dir.is_dir() and metrics_dir.name.startswith("cartwright-metrics-")
        for _ in range(20):  # answered by either process: the sum of both
            body = httpx.get(server.base_url + "/metrics", timeout=5).text
            assert "cartwright_checkout_duration_seconds" in body
        assert list(metrics_dir.glob("*.db"))
    finally:
        server.stop()
    assert server.process.returncode is not None
    assert not metrics_dir.exists(), sorted(metrics_dir.iterdir())
