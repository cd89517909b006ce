"""Servers for the customer tests: configured with a test identity provider's JWKS."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from cartwright.migrations.runner import upgrade
from tests.conftest import ADMIN_KEY, Server, start_server
from tests.customers.idp import IdentityProvider


@pytest.fixture(scope="session")
def idp() -> Iterator[IdentityProvider]:
    provider = IdentityProvider().start()
    yield provider
    provider.stop()


@pytest.fixture(scope="session")
def customers_pg_server(
    pg_database: str, idp: IdentityProvider, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    log = tmp_path_factory.mktemp("logs") / "customers-pg-server.log"
    server = start_server(pg_database, log, workers=2, extra_env=idp.server_env())
    yield server
    server.stop()


@pytest.fixture(scope="session")
def customers_sqlite_server(
    idp: IdentityProvider, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    url = f"sqlite:///{tmp_path_factory.mktemp('customers-sqlite') / 'cartwright.db'}"
    upgrade(url)
    log = tmp_path_factory.mktemp("logs") / "customers-sqlite-server.log"
    server = start_server(url, log, extra_env=idp.server_env())
    yield server
    server.stop()


@pytest.fixture(params=["postgres", "sqlite"])
def cserver(request: pytest.FixtureRequest) -> Server:
    """A server that knows the test identity provider, once per database."""
    name = "customers_pg_server" if request.param == "postgres" else "customers_sqlite_server"
    return request.getfixturevalue(name)  # type: ignore[no-any-return]


@pytest.fixture
async def c_admin(cserver: Server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=cserver.base_url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=30
    ) as client:
        yield client


@pytest.fixture
async def pk(c_admin: httpx.AsyncClient) -> str:
    """A fresh publishable key on the customer server."""
    created = await c_admin.post("/v1/api-keys", json={"type": "publishable", "name": "shop"})
    assert created.status_code == 201, created.text
    return str(created.json()["key"])
