"""The OpenAPI document holds: schemathesis, driven by `/openapi.json` alone, against real
servers on both databases, with a secret key and with a publishable key.

Two runs per server and key:
- examples and fuzzing (positive and negative data): no 5xx outside the contract's, every
  answer's status, content type, headers and body as documented, invalid input refused;
- stateful, following the document's links from cart to checkout to order, with the few
  values a fuzzer cannot guess (a SKU in stock, an address, a test card token) fixed: it
  must reach checkout and read the placed order.

Bounded (examples per operation, steps per scenario) so the suite stays in time.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cartwright.migrations.runner import upgrade
from tests.conftest import ADMIN_KEY, ROOT, Server, start_server
from tests.factories import create_product, unique_sku

EXAMPLES_PER_OPERATION = 6
STATEFUL_EXAMPLES = 25
STATEFUL_STEPS = 20

# Answers the data decides rather than the document: a well-formed SKU that names no
# variant (422), a cart already checked out (409), a declined test card (402), ...
# Every one is declared in the document; the positive-data check is told they are fine.
_DATA_DEPENDENT = {
    # Unique SKUs and one price per currency: JSON Schema cannot say "unique by field".
    "create_product": [201, 409, 422],
    "create_key": [201, 422],  # also: a channel no channel has the code of
    "add_line": [200, 404, 409, 422],
    "update_cart": [200, 404, 409, 422],
    "change_line": [200, 404, 409],
    "remove_line": [200, 404, 409],
    "checkout": [201, 202, 402, 404, 409, 503],
    "confirm_payment": [200, 404, 409, 503],
    "list_events": [200, 422],
    # Inventory: an unknown `starting_after` (422); a count or adjustment below what is
    # reserved (409); a delta of 0, a sign the reason forbids, an unknown warehouse or a PUT
    # that sets nothing (422: rules across fields or over the data).
    "list_movements": [200, 422],
    "list_warehouses": [200, 422],
    "set_stock": [200, 409, 422],
    "adjust_stock": [201, 409, 422],
    "create_warehouse": [201, 409],
    "roll_key": [201, 409],
    "claim_cart": [200, 409],
    # The payment's state decides: an order captured at checkout cannot be captured again.
    "capture_order": [200, 202, 409],
    "void_payment": [200, 202, 409],
    "refund_order": [201, 409],
    # A report's contents decide (any text a schema allows is rarely a valid report), and
    # ids a fuzzer makes up name no run or discrepancy.
    "create_run": [201, 415, 422],
    "get_run": [200, 404],
    "list_discrepancies": [200, 404],
    "resolve_discrepancy": [200, 404, 409],
    # Only the provider's signature opens it: any body a schema allows is refused.
    "provider_webhook": [400],
    # A URL that may not be called, or an event type nobody emits.
    "create_endpoint": [201, 422],
    "update_endpoint": [200, 422],
    "replay_range": [202, 422],
    # Rules across fields or over the data: a window that ends before it starts or lies
    # outside 1970-9999, a channel code or price list that names none, a code taken, a SKU
    # and tier twice in one request, a key for an unknown channel.
    "create_price_list": [201, 422],
    "update_price_list": [200, 404, 422],
    "set_prices": [200, 404, 422],
    "create_channel": [201, 409, 422],
    "update_channel": [200, 404, 422],
    # A value that is not of its kind (an email without @, an address that is no IP), or
    # listed already; the review of an order that is not in review.
    "add_to_denylist": [200, 201, 422],
    "approve_review": [200, 202, 409],
    "reject_review": [200, 202, 409],
    # Rules across fields (a percentage needs its value, a fixed amount its currency, a
    # window must not be empty), a code taken; a code that names no promotion, or one that
    # cannot apply to the cart; a code the cart does not hold.
    "create_promotion": [201, 409, 422],
    "update_promotion": [200, 404, 422],
    "add_promotion_code": [200, 404, 409, 422],
    "remove_promotion_code": [200, 404, 409],
    "generate_codes": [201, 404],
}


ADDRESS = (
    '{ name = "Ada", line1 = "Unter den Linden 1", city = "Berlin", postal_code = "10117",'
    ' country = "DE" }'
)


# What the positive-data check accepts anywhere: the key may not reach the route (a
# publishable key on an admin route), or the id in the path names nothing.
_ALWAYS = [401, 403, 404]


def _operations(stateful_overrides: bool, sku: str) -> str:
    shipping = f'"body.shipping_method" = "standard", "body.shipping_address" = {ADDRESS}'
    blocks = []
    for operation_id, answers in _DATA_DEPENDENT.items():
        statuses = sorted({*answers, *_ALWAYS})
        blocks.append(
            textwrap.dedent(
                f"""
                [[operations]]
                include-operation-id = "{operation_id}"
                checks.positive_data_acceptance.expected-statuses = {statuses}
                """
            )
        )
    # The fuzzer switches only a flag nothing here depends on: with `checkout` switched off
    # (a key it found or guessed) every later checkout would be 503 `checkout_disabled`.
    blocks.append(
        textwrap.dedent(
            """
            [[operations]]
            include-operation-id = "set_flag"
            parameters = { "path.key" = "fraud.external" }
            checks.positive_data_acceptance.expected-statuses = [200, 401, 403, 404]
            """
        )
    )
    # A few codes per request: the fuzzer's examples would otherwise ask for 100,000 each.
    blocks.append(
        textwrap.dedent(
            """
            [[operations]]
            include-operation-id = "generate_codes"
            parameters = { "body.count" = 3 }
            """
        )
    )
    if stateful_overrides:
        blocks.append(
            textwrap.dedent(
                f"""
                [[operations]]
                include-operation-id = "create_cart"
                parameters = {{ "body.currency" = "EUR" }}

                [[operations]]
                include-operation-id = "add_line"
                parameters = {{ "body.sku" = "{sku}", "body.quantity" = 1 }}

                [[operations]]
                include-operation-id = "update_cart"
                parameters = {{ {shipping} }}

                [[operations]]
                include-operation-id = "checkout"
                parameters = {{ "body.payment.token" = "tok_visa", "body.payment.method" = "card" }}
                """
            )
        )
    return "\n".join(blocks)


def _config(path: Path, *, key: str, phases: str, sku: str) -> Path:
    stateful = phases == "stateful"
    examples = STATEFUL_EXAMPLES if stateful else EXAMPLES_PER_OPERATION
    path.write_text(
        textwrap.dedent(
            f"""
            headers = {{ Authorization = "Bearer {key}" }}
            hooks = "tests.fuzz.hooks"
            request-timeout = 30
            generation.max-examples = {examples}
            generation.allow-x00 = false
            generation.deterministic = true
            generation.database = "none"
            phases.stateful.max-steps = {STATEFUL_STEPS}
            # Only the document's own links: guessed ones (a cart id taken for a line id)
            # would be the fuzzer's mistakes, not the API's.
            phases.stateful.inference.algorithms = []
            # Scenarios walk valid requests (the fuzzing run tries the invalid ones).
            phases.stateful.generation.mode = "positive"
            """
        )
        + _operations(stateful, sku)
    )
    return path


def _schemathesis(server: Server, config: Path, phases: str, log: Path) -> str:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "FUZZ_GUEST": "1" if phases == "stateful" else "0",
    }
    run = subprocess.run(
        [
            str(Path(sys.executable).with_name("schemathesis")),
            "--config-file",
            str(config),
            "run",
            f"{server.base_url}/openapi.json",
            "--url",
            server.base_url,
            "--phases",
            phases,
            "--workers",
            "1",
            "--no-color",
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = run.stdout + run.stderr
    log.write_text(output)
    assert run.returncode == 0, output[-12000:]
    return output


@pytest.fixture(params=["postgres", "sqlite"])
def fuzz_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """A server on a database of its own: the fuzzer's data stays out of other tests."""
    logs = tmp_path_factory.mktemp("fuzz")
    if request.param == "postgres":
        url = request.getfixturevalue("own_pg_database")
    else:
        url = f"sqlite:///{logs / 'fuzz.db'}"
        upgrade(url)
    # Info level: the line per request shows which routes the scenarios reached.
    server = start_server(url, logs / "server.log", extra_env={"CARTWRIGHT_LOG_LEVEL": "info"})
    yield server
    server.stop()


def _placed_orders(base_url: str) -> int:
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as c:
        events = c.get("/v1/events", params={"type": "order.placed", "limit": 100})
        assert events.status_code == 200, events.text
        return len(events.json()["data"])


@pytest.mark.parametrize("holder", ["secret", "publishable"])
async def test_the_document_holds_under_fuzzing(
    fuzz_server: Server, holder: str, tmp_path: Path
) -> None:
    async with httpx.AsyncClient(
        base_url=fuzz_server.base_url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}
    ) as admin:
        sku = unique_sku("FUZZ")
        await create_product(admin, sku=sku, stock=1_000_000)
        if holder == "secret":
            key = ADMIN_KEY
        else:
            made = await admin.post("/v1/api-keys", json={"type": "publishable", "name": "fuzz"})
            assert made.status_code == 201, made.text
            key = made.json()["key"]

    fuzz = _config(tmp_path / "fuzz.toml", key=key, phases="examples,fuzzing", sku=sku)
    _schemathesis(fuzz_server, fuzz, "examples,fuzzing", tmp_path / "fuzz.log")

    before = _placed_orders(fuzz_server.base_url)
    stateful = _config(tmp_path / "stateful.toml", key=key, phases="stateful", sku=sku)
    output = _schemathesis(fuzz_server, stateful, "stateful", tmp_path / "stateful.log")
    # The scenarios went from a cart through checkout to a placed order, and read it back.
    assert _placed_orders(fuzz_server.base_url) > before, output[-6000:]
    reached = _answered(fuzz_server.log_path)
    assert ("POST", "/v1/carts/{cart_id}/checkout", 201) in reached, sorted(reached)
    assert ("GET", "/v1/orders/{order_id}", 200) in reached, sorted(reached)


def _answered(server_log: Path) -> set[tuple[str, str, int]]:
    """(method, route, status) of every request the server's log lines record."""
    seen = set()
    for line in server_log.read_text().splitlines():
        with contextlib.suppress(ValueError):
            entry = json.loads(line)
            if entry.get("event") == "request" and entry.get("route"):
                seen.add((entry["method"], entry["route"], entry["status"]))
    return seen
