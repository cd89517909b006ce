"""Flags in one process, without a server: the payment gateway routes past a provider whose
flag is off (as past an open breaker), refuses with 503 when none is left, and still sends
an existing payment's capture to it; the OpenFeature provider answers from the snapshot;
a refresh that fails keeps the last values (counted, never flipped); unknown keys are bugs.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from openfeature import api as openfeature
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import Reason
from prometheus_client import REGISTRY

from cartwright.flags import service as flags
from cartwright.flags.known import CHECKOUT, FRAUD_EXTERNAL, known_flags, payment_flag
from cartwright.flags.provider import DatabaseFlagProvider
from cartwright.flags.service import Flags
from cartwright.kit import context
from cartwright.kit.db import Database
from cartwright.kit.errors import ProviderUnavailable
from cartwright.payments.connector import AuthorizeRequest, CaptureRequest, PaymentConnector
from cartwright.payments.gateway import Gateway
from cartwright.payments.routing import parse_routes
from tests.conftest import new_sqlite
from tests.fakes.connectors import FakeConnector, Operation


class Switches:
    """A kill switch per provider, as `Flags.payment_provider_enabled` would answer."""

    def __init__(self) -> None:
        self.off: set[str] = set()

    def __call__(self, provider: str) -> bool:
        return provider not in self.off


def _gateway() -> tuple[Gateway, FakeConnector, FakeConnector, Switches]:
    suffix = uuid.uuid4().hex[:8]
    first, second = FakeConnector(f"first-{suffix}"), FakeConnector(f"second-{suffix}")
    connectors: dict[str, PaymentConnector] = {c.name: c for c in (first, second)}
    switches = Switches()
    gateway = Gateway(
        connectors,
        timeout_s=1.0,
        max_attempts=1,
        routes=parse_routes("", list(connectors)),
        switched_on=switches,
        switched_off_retry_after_s=42,
    )
    return gateway, first, second, switches


def _authorize_request() -> AuthorizeRequest:
    return AuthorizeRequest(f"pay_{uuid.uuid4().hex}", 1000, "EUR", "tok")


async def test_new_authorizations_skip_a_provider_switched_off() -> None:
    gateway, first, second, switches = _gateway()
    assert gateway.route(currency="EUR", amount=1000) == first.name
    switches.off.add(first.name)
    assert gateway.route(currency="EUR", amount=1000) == second.name
    result = await gateway.authorize(second.name, _authorize_request())
    assert result.status.value == "authorized"
    assert first.keys(Operation.AUTHORIZE) == []
    switches.off.clear()
    assert gateway.route(currency="EUR", amount=1000) == first.name


async def test_every_provider_switched_off_is_503_with_the_switch_s_retry_after() -> None:
    gateway, first, second, switches = _gateway()
    switches.off.update({first.name, second.name})
    with pytest.raises(ProviderUnavailable) as refused:
        gateway.route(currency="EUR", amount=1000)
    assert refused.value.status == 503
    assert refused.value.code == "provider_unavailable"
    assert refused.value.headers["Retry-After"] == "42"
    assert first.calls == [] and second.calls == []


async def test_a_provider_switched_off_after_routing_is_not_called() -> None:
    gateway, first, _, switches = _gateway()
    provider = gateway.route(currency="EUR", amount=1000)
    switches.off.add(provider)
    request = _authorize_request()
    with pytest.raises(ProviderUnavailable):
        await gateway.authorize(provider, request)
    assert first.calls == []


async def test_captures_and_refunds_of_existing_payments_still_reach_their_provider() -> None:
    gateway, first, _, switches = _gateway()
    switches.off.add(first.name)
    capture = CaptureRequest("pay_1", "ref_1", "cap_1", 1000, "EUR", final=True)
    result = await gateway.capture(first.name, capture)
    assert result.status.value == "succeeded"
    assert first.keys(Operation.CAPTURE) == ["cap_1"]


def test_the_provider_answers_from_its_snapshot_and_the_defaults() -> None:
    known = known_flags(["sandbox"])
    provider = DatabaseFlagProvider(known)
    domain = f"test-{uuid.uuid4().hex}"
    openfeature.set_provider_and_wait(provider, domain)
    client = openfeature.get_client(domain)
    default = client.get_boolean_details(CHECKOUT, True)
    assert (default.value, default.reason, default.variant) == (True, Reason.DEFAULT, "on")
    provider.load({CHECKOUT: False, "not.a.flag": False})
    stored = client.get_boolean_details(CHECKOUT, True)
    assert (stored.value, stored.reason, stored.variant) == (False, Reason.CACHED, "off")
    unknown = client.get_boolean_details("not.a.flag", True)
    assert unknown.value is True and unknown.error_code is ErrorCode.FLAG_NOT_FOUND
    typed = client.get_string_details(CHECKOUT, "x")
    assert typed.value == "x" and typed.error_code is ErrorCode.TYPE_MISMATCH


class FlakyDatabase:
    """The real database, until `down`: then every connection fails as a lost one would."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.down = False
        self.dialect = db.dialect

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Any]:
        if self.down:
            raise OSError("connection refused")
        async with self.db.connection() as conn:
            yield conn


@pytest.fixture
async def sqlite_db(tmp_path: Path, sqlite_template: Path) -> AsyncIterator[Database]:
    db = Database(new_sqlite(sqlite_template, tmp_path / "flags.db"))
    await db.connect()
    yield db
    await db.close()


def _errors() -> float:
    return REGISTRY.get_sample_value("cartwright_flag_refresh_errors_total") or 0.0


def _gauge(key: str) -> float | None:
    return REGISTRY.get_sample_value("cartwright_flag_enabled", {"key": key})


async def test_a_refresh_that_keeps_failing_keeps_the_last_values(sqlite_db: Database) -> None:
    known = known_flags(["sandbox"])
    flaky = FlakyDatabase(sqlite_db)
    process = Flags(flaky, known, refresh_interval_s=60)  # type: ignore[arg-type]
    assert process.enabled(CHECKOUT) and process.enabled(payment_flag("sandbox"))
    with context.act_as("cli"):
        async with sqlite_db.transaction() as conn:
            await flags.set_flag(conn, known, CHECKOUT, enabled=False)
    # Nothing reads the database between refreshes: still the value last read.
    assert process.enabled(CHECKOUT)
    assert await process.refresh()
    assert not process.enabled(CHECKOUT) and _gauge(CHECKOUT) == 0

    flaky.down = True
    before = _errors()
    for _ in range(3):
        assert not await process.refresh()
    assert _errors() == before + 3
    assert not process.enabled(CHECKOUT), "a failing refresh must not flip a flag"
    assert _gauge(CHECKOUT) == 0

    flaky.down = False
    with context.act_as("cli"):
        async with sqlite_db.transaction() as conn:
            await flags.set_flag(conn, known, CHECKOUT, enabled=True)
    assert await process.refresh()
    assert process.enabled(CHECKOUT) and _gauge(CHECKOUT) == 1


async def test_the_first_read_must_succeed(sqlite_db: Database) -> None:
    flaky = FlakyDatabase(sqlite_db)
    flaky.down = True
    process = Flags(flaky, known_flags([]), refresh_interval_s=60)  # type: ignore[arg-type]
    with pytest.raises(OSError):
        await process.start()
    flaky.down = False
    await process.start()
    await process.stop()


async def test_an_unknown_key_is_a_bug_not_a_flag_that_is_on(sqlite_db: Database) -> None:
    process = Flags(sqlite_db, known_flags(["sandbox"]))
    with pytest.raises(KeyError):
        process.enabled("chekout")
    with pytest.raises(KeyError):
        process.switch("tax.externall")
    switch = process.switch(FRAUD_EXTERNAL)
    assert switch() is True
    # A provider without a flag (not enabled here) is not switched off by its absence.
    assert process.payment_provider_enabled("stripe")
