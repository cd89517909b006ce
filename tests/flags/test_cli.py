"""`cartwright flags list | set KEY on|off` against a database of its own: listed with
their source, a change stored and audited as `cli`, an unknown key or value refused."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from cartwright.audit import service as audit
from cartwright.kit.db import Database
from cartwright.migrations.runner import upgrade
from tests.conftest import ROOT


def _cli(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CARTWRIGHT_DATABASE_URL": url, "CARTWRIGHT_LOG_LEVEL": "warning"}
    return subprocess.run(
        [sys.executable, "-m", "cartwright.cli", "flags", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def _entries(url: str) -> list[dict[str, object]]:
    db = Database(url)
    await db.connect()
    try:
        async with db.connection() as conn:
            page = await audit.list_events(
                conn, limit=100, starting_after=None, action="feature_flag.updated"
            )
            return list(page["data"])
    finally:
        await db.close()


def test_list_and_set_audited_as_cli(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    upgrade(url)
    listed = _cli(url, "list")
    assert listed.returncode == 0, listed.stderr
    lines = {line.split()[0]: line.split()[1:] for line in listed.stdout.splitlines()}
    assert lines["checkout"] == ["on", "default"]
    assert lines["payments.sandbox"] == ["on", "default"]

    switched = _cli(url, "set", "checkout", "off")
    assert switched.returncode == 0, switched.stderr
    assert switched.stdout.strip() == "checkout off"
    listed = _cli(url, "list")
    assert "checkout off database by cli" in " ".join(listed.stdout.split())

    entries = asyncio.run(_entries(url))
    assert [(e["actor"], e["target"], e["changes"]) for e in entries] == [
        (
            {"key_id": "cli"},
            {"type": "feature_flag", "id": "checkout"},
            {"enabled": {"from": True, "to": False}},
        )
    ]

    unknown = _cli(url, "set", "checkout.all", "off")
    assert unknown.returncode == 2 and "no feature flag" in unknown.stderr
    bad = _cli(url, "set", "checkout", "maybe")
    assert bad.returncode == 2
    assert len(asyncio.run(_entries(url))) == 1
