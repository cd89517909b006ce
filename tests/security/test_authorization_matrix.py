"""Who may call what, for every operation of `/openapi.json`, on both databases.

RULES names, for each operationId, who owns it or what it needs. A route in the document
without a rule fails `test_every_route_has_a_rule` (so does a rule for a route that is
gone). For each operation the test builds real targets (a product, carts and orders of
customer A and of guests, api keys, customers) and calls them as everybody who must be
refused: no key, a revoked key, a bad customer token, the publishable key alone, another
order's token, another customer, another storefront, a secret key holding every scope but
the one needed. Each gets exactly the contract's answer (401 / 403 / 404, with a valid body
and with an invalid one, so a 422 never hides a missing check), and none of those answers
carries a token, a key, an email or an id of the owner. Then the owner gets a 2xx.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.api.support import assert_problem
from tests.conftest import ADMIN_KEY, Server
from tests.customers.idp import IdentityProvider
from tests.factories import ADDRESS, create_product, unique_sku

CUSTOMER = "Cartwright-Customer-Token"
ORDER = "Cartwright-Order-Token"
METHODS = ("get", "post", "put", "patch", "delete")
ALL_SCOPES = [
    "catalog:write",
    "inventory:read",
    "inventory:write",
    "orders:read",
    "orders:write",
    "events:read",
    "api_keys:write",
    "audit:read",
    "customers:read",
    "customers:write",
    "webhooks:read",
    "webhooks:write",
    "ledger:read",
    "flags:read",
    "flags:write",
    "risk:read",
    "risk:write",
    "reconciliation:read",
    "reconciliation:write",
    "catalog:read",
    "carts:write",
    "checkout",
]


MATRIX_PROVIDER = "matrix_psp"
MATRIX_REPORT = (
    "type,id,payment,merchant_reference,idempotency_key,currency,gross,fee,net,created_at\n"
    "capture,pay_{id},pay_{id},pay_nobody,pay_nobody,EUR,1000,39,961,2026-12-02T10:00:00Z\n"
)


@dataclass(frozen=True)
class Rule:
    """`kind`: public | secret (secret key with `scope`, publishable 403) | catalog
    (`scope`, publishable keys too) | new_cart | cart (a cart of customer A, `scope`) |
    claim (signed-in customer, a cart of theirs) | order (order token or owner customer,
    secret keys with `scope`) | me (signed-in customer) | provider (no key: the payment
    provider's signature; an unsigned call is 400)."""

    kind: str
    scope: str | None = None


RULES: dict[str, Rule] = {
    "healthz": Rule("public"),
    "readyz": Rule("public"),
    "metrics": Rule("public"),
    "create_product": Rule("secret", "catalog:write"),
    "list_products": Rule("catalog", "catalog:read"),
    "get_product": Rule("catalog", "catalog:read"),
    "set_stock": Rule("secret", "inventory:write"),
    "get_stock": Rule("secret", "inventory:read"),
    "adjust_stock": Rule("secret", "inventory:write"),
    "list_movements": Rule("secret", "inventory:read"),
    "create_warehouse": Rule("secret", "inventory:write"),
    "list_warehouses": Rule("secret", "inventory:read"),
    "get_warehouse": Rule("secret", "inventory:read"),
    "list_events": Rule("secret", "events:read"),
    "list_orders": Rule("secret", "orders:read"),
    "list_customers": Rule("secret", "customers:read"),
    "get_customer": Rule("secret", "customers:read"),
    "export_customer": Rule("secret", "customers:read"),
    "erase_customer": Rule("secret", "customers:write"),
    "update_customer": Rule("secret", "customers:write"),
    "list_channels": Rule("secret", "channels:read"),
    "get_channel": Rule("secret", "channels:read"),
    "create_channel": Rule("secret", "channels:write"),
    "update_channel": Rule("secret", "channels:write"),
    "list_price_lists": Rule("secret", "pricing:read"),
    "get_price_list": Rule("secret", "pricing:read"),
    "create_price_list": Rule("secret", "pricing:write"),
    "update_price_list": Rule("secret", "pricing:write"),
    "set_prices": Rule("secret", "pricing:write"),
    "delete_price": Rule("secret", "pricing:write"),
    "create_key": Rule("secret", "api_keys:write"),
    "list_keys": Rule("secret", "api_keys:write"),
    "get_key": Rule("secret", "api_keys:write"),
    "revoke_key": Rule("secret", "api_keys:write"),
    "roll_key": Rule("secret", "api_keys:write"),
    "list_audit_events": Rule("secret", "audit:read"),
    "create_endpoint": Rule("secret", "webhooks:write"),
    "list_endpoints": Rule("secret", "webhooks:read"),
    "get_endpoint": Rule("secret", "webhooks:read"),
    "update_endpoint": Rule("secret", "webhooks:write"),
    "delete_endpoint": Rule("secret", "webhooks:write"),
    "rotate_secret": Rule("secret", "webhooks:write"),
    "list_deliveries": Rule("secret", "webhooks:read"),
    "get_delivery": Rule("secret", "webhooks:read"),
    "replay_delivery": Rule("secret", "webhooks:write"),
    "replay_range": Rule("secret", "webhooks:write"),
    "ledger_trial_balance": Rule("secret", "ledger:read"),
    "ledger_accounts": Rule("secret", "ledger:read"),
    "ledger_entries": Rule("secret", "ledger:read"),
    "list_flags": Rule("secret", "flags:read"),
    "set_flag": Rule("secret", "flags:write"),
    "list_stock_alerts": Rule("secret", "inventory:read"),
    "acknowledge_stock_alert": Rule("secret", "inventory:write"),
    "list_denylist": Rule("secret", "risk:read"),
    "add_to_denylist": Rule("secret", "risk:write"),
    "remove_from_denylist": Rule("secret", "risk:write"),
    "approve_review": Rule("secret", "risk:write"),
    "reject_review": Rule("secret", "risk:write"),
    "create_run": Rule("secret", "reconciliation:write"),
    "get_run": Rule("secret", "reconciliation:read"),
    "list_discrepancies": Rule("secret", "reconciliation:read"),
    "resolve_discrepancy": Rule("secret", "reconciliation:write"),
    "list_promotions": Rule("secret", "promotions:read"),
    "get_promotion": Rule("secret", "promotions:read"),
    "list_codes": Rule("secret", "promotions:read"),
    "create_promotion": Rule("secret", "promotions:write"),
    "update_promotion": Rule("secret", "promotions:write"),
    "deactivate_promotion": Rule("secret", "promotions:write"),
    "generate_codes": Rule("secret", "promotions:write"),
    "add_promotion_code": Rule("cart", "carts:write"),
    "remove_promotion_code": Rule("cart", "carts:write"),
    "create_cart": Rule("new_cart", "carts:write"),
    "get_cart": Rule("cart", "carts:write"),
    "update_cart": Rule("cart", "carts:write"),
    "add_line": Rule("cart", "carts:write"),
    "change_line": Rule("cart", "carts:write"),
    "remove_line": Rule("cart", "carts:write"),
    "shipping_methods": Rule("cart", "carts:write"),
    "checkout": Rule("cart", "checkout"),
    "claim_cart": Rule("claim", "carts:write"),
    "get_order": Rule("order", "orders:read"),
    "confirm_payment": Rule("order", "orders:write"),
    "capture_order": Rule("secret", "orders:write"),
    "void_payment": Rule("secret", "orders:write"),
    "refund_order": Rule("secret", "orders:write"),
    "list_refunds": Rule("secret", "orders:read"),
    "create_fulfillment": Rule("secret", "orders:write"),
    "list_fulfillments": Rule("secret", "orders:read"),
    "cancel_order": Rule("secret", "orders:write"),
    "edit_order_line": Rule("secret", "orders:write"),
    "remove_order_line": Rule("secret", "orders:write"),
    "request_return": Rule("secret", "orders:write"),
    "receive_return": Rule("secret", "orders:write"),
    "refund_return": Rule("secret", "orders:write"),
    "provider_webhook": Rule("provider"),
    "me": Rule("me"),
    "my_orders": Rule("me"),
}


@dataclass
class Targets:
    """Everything one database's matrix calls, made once per server."""

    operations: dict[str, tuple[str, str, bool]]  # operationId -> (method, path, has body)
    sku: str
    product_id: str
    pk: str
    pk_other: str
    revoked_pk: str
    revoked_sk: str
    sub_a: str
    sub_b: str
    email_a: str
    customer_a: str
    customer_erase: str
    cart_a: str
    line_a: str
    cart_checkout_a: str
    cart_remove_a: str
    line_remove_a: str
    order_guest: str
    token_guest: str
    token_other: str
    # A return requested of a captured order with one unit fulfilled, and its line.
    return_id: str
    return_line: str
    order_a: str
    token_a: str
    key_get: str
    key_revoke: str
    key_roll: str
    run_id: str
    discrepancy_id: str
    stock_alert: str
    webhook_endpoint: str = ""
    webhook_endpoint_delete: str = ""
    webhook_delivery: str = ""
    price_list: str = ""
    denylist_entry: str = ""
    # A code promotion for a SKU no cart holds, its code, one to deactivate, and a cart of
    # customer A holding the code (for its removal).
    promotion: str = ""
    promotion_code: str = ""
    promotion_deactivate: str = ""
    cart_code_remove_a: str = ""
    only: dict[str, str] = field(default_factory=dict)  # scope -> key with just it
    all_but: dict[str, str] = field(default_factory=dict)  # scope -> key with all others

    def secrets(self) -> list[str]:
        """What no refusal may show."""
        return [
            self.pk,
            self.pk_other,
            self.revoked_pk,
            self.revoked_sk,
            ADMIN_KEY,
            self.email_a,
            self.customer_a,
            self.sub_a,
            self.token_guest,
            self.token_other,
            self.token_a,
            *self.only.values(),
            *self.all_but.values(),
        ]


_TARGETS: dict[str, Targets] = {}


@pytest.fixture
async def admin_client(cserver: Server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=cserver.base_url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=30
    ) as c:
        yield c


def bearer(key: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", **extra}


async def _stock_alert(admin: httpx.AsyncClient, sku: str) -> str:
    """The low-stock alert the session server's worker records for `sku` (it polls)."""
    for _ in range(80):
        listed = await admin.get("/v1/stock-alerts", params={"limit": 100})
        mine = [a["id"] for a in listed.json()["data"] if a["sku"] == sku]
        if mine:
            return mine[0]
        await asyncio.sleep(0.25)
    raise AssertionError(f"no stock alert for {sku}")


async def ok(response: httpx.Response, *statuses: int) -> dict[str, Any]:
    assert response.status_code in (statuses or (200, 201)), response.text
    body: dict[str, Any] = response.json()
    return body


async def new_key(
    admin: httpx.AsyncClient, key_type: str, scopes: list[str] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"type": key_type, "name": "matrix"}
    if scopes is not None:
        body["scopes"] = scopes
    return await ok(await admin.post("/v1/api-keys", json=body), 201)


async def cart_with_line(
    c: httpx.AsyncClient, headers: dict[str, str], sku: str, *, ready: bool = False
) -> tuple[str, str]:
    cart = await ok(await c.post("/v1/carts", json={"currency": "EUR"}, headers=headers), 201)
    cart = await ok(
        await c.post(
            f"/v1/carts/{cart['id']}/lines", json={"sku": sku, "quantity": 1}, headers=headers
        )
    )
    if ready:
        await ok(
            await c.patch(
                f"/v1/carts/{cart['id']}",
                json={
                    "email": "shopper@example.com",
                    "shipping_address": ADDRESS,
                    "shipping_method": "standard",
                },
                headers=headers,
            )
        )
    return cart["id"], cart["lines"][0]["id"]


async def placed(
    c: httpx.AsyncClient, headers: dict[str, str], sku: str, token: str
) -> tuple[str, str]:
    cart_id, _ = await cart_with_line(c, headers, sku, ready=True)
    order = await ok(
        await c.post(
            f"/v1/carts/{cart_id}/checkout",
            json={"payment": {"method": "card", "token": token}},
            headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
        ),
        201,
        202,
    )
    return order["id"], order["access_token"]


def order_line(order_id: str) -> str:
    """The id of the order's first line (`orders.service` derives it from the order's)."""
    return order_id.replace("ord_", "oli_", 1) + "_0"


async def build(server: Server, admin: httpx.AsyncClient, idp: IdentityProvider) -> Targets:
    document = await ok(await admin.get("/openapi.json"))
    operations: dict[str, tuple[str, str, bool]] = {}
    for path, item in document["paths"].items():
        for method, op in item.items():
            if method in METHODS:
                assert op["operationId"] not in operations, op["operationId"]
                operations[op["operationId"]] = (method, path, "requestBody" in op)

    product = await create_product(admin, stock=1000)
    sku = product["variants"][0]["sku"]
    pk = (await new_key(admin, "publishable"))["key"]
    pk_other = (await new_key(admin, "publishable"))["key"]
    revoked = []
    for key_type in ("publishable", "secret"):
        made = await new_key(admin, key_type)
        await ok(await admin.delete(f"/v1/api-keys/{made['id']}"))
        revoked.append(made["key"])
    sub_a, sub_b = "user-" + uuid.uuid4().hex, "user-" + uuid.uuid4().hex
    email_a = f"{sub_a}@example.com"
    as_a = bearer(pk, **{CUSTOMER: idp.token(sub_a, email=email_a)})
    guest = bearer(pk)
    c = admin
    customer_a = (await ok(await c.get("/v1/customers/me", headers=as_a)))["id"]
    sub_c = "user-" + uuid.uuid4().hex
    as_c = bearer(pk, **{CUSTOMER: idp.token(sub_c, email=f"{sub_c}@example.com")})
    customer_erase = (await ok(await c.get("/v1/customers/me", headers=as_c)))["id"]
    cart_a, line_a = await cart_with_line(c, as_a, sku)
    cart_checkout_a, _ = await cart_with_line(c, as_a, sku, ready=True)
    cart_remove_a, line_remove_a = await cart_with_line(c, as_a, sku)
    order_guest, token_guest = await placed(c, guest, sku, "tok_3ds_required")
    _, token_other = await placed(c, guest, sku, "tok_visa")
    order_a, token_a = await placed(c, as_a, sku, "tok_3ds_required")
    order_returned, _ = await placed(c, guest, sku, "tok_visa")
    return_line = order_line(order_returned)
    one = {"lines": [{"line_id": return_line, "quantity": 1}]}
    await ok(await c.post(f"/v1/orders/{order_returned}/fulfillments", json=one), 201)
    returned = await ok(await c.post(f"/v1/orders/{order_returned}/returns", json=one), 201)
    run = await ok(
        await admin.post(
            f"/v1/reconciliation/runs?provider={MATRIX_PROVIDER}",
            content=MATRIX_REPORT.replace("{id}", uuid.uuid4().hex),
            headers={"Content-Type": "text/csv"},
        )
    )
    found = await ok(await admin.get(f"/v1/reconciliation/runs/{run['id']}/discrepancies"))
    low_sku = (await create_product(admin, stock=10))["variants"][0]["sku"]
    await ok(await admin.put(f"/v1/inventory/{low_sku}", json={"low_stock_threshold": 3}))
    await ok(
        await admin.post(
            f"/v1/inventory/{low_sku}/adjustments", json={"delta": -8, "reason": "damaged"}
        )
    )
    stock_alert = await _stock_alert(admin, low_sku)
    targets = Targets(
        operations=operations,
        sku=sku,
        product_id=product["id"],
        pk=pk,
        pk_other=pk_other,
        revoked_pk=revoked[0],
        revoked_sk=revoked[1],
        sub_a=sub_a,
        sub_b=sub_b,
        email_a=email_a,
        customer_a=customer_a,
        customer_erase=customer_erase,
        cart_a=cart_a,
        line_a=line_a,
        cart_checkout_a=cart_checkout_a,
        cart_remove_a=cart_remove_a,
        line_remove_a=line_remove_a,
        order_guest=order_guest,
        token_guest=token_guest,
        token_other=token_other,
        order_a=order_a,
        token_a=token_a,
        return_id=returned["id"],
        return_line=return_line,
        key_get=(await new_key(admin, "publishable"))["id"],
        key_revoke=(await new_key(admin, "publishable"))["id"],
        key_roll=(await new_key(admin, "secret", ["api_keys:write"]))["id"],
        run_id=run["id"],
        discrepancy_id=found["data"][0]["id"],
        stock_alert=stock_alert,
    )
    for scope in {r.scope for r in RULES.values() if r.scope}:
        targets.only[scope] = (await new_key(admin, "secret", [scope]))["key"]
        others = [s for s in ALL_SCOPES if s != scope]
        targets.all_but[scope] = (await new_key(admin, "secret", others))["key"]
    await _webhook_targets(admin, targets)
    # A price list whose only price is of a SKU no cart holds (deleted by `delete_price`).
    made = await ok(await admin.post("/v1/price-lists", json={"name": "Matrix"}), 201)
    targets.price_list = made["id"]
    nobody = [{"sku": MATRIX_NOBODY, "currency": "EUR", "amount": 1}]
    await ok(await admin.put(f"/v1/price-lists/{made['id']}/prices", json=nobody))
    listed = await admin.post(
        "/v1/risk/denylist", json={"kind": "email", "value": "matrix@fraud.invalid"}
    )
    targets.denylist_entry = (await ok(listed, 201))["id"]
    code = "MATRIX" + uuid.uuid4().hex[:10].upper()
    promotion = {"kind": "percentage", "value": 5, "stacking": "stackable", "skus": [MATRIX_NOBODY]}
    made = await ok(
        await admin.post("/v1/promotions", json={"name": "Matrix", "code": code, **promotion}),
        201,
    )
    targets.promotion, targets.promotion_code = made["id"], code
    other = {"name": "Matrix off", "code": code + "X", **promotion}
    targets.promotion_deactivate = (await ok(await admin.post("/v1/promotions", json=other), 201))[
        "id"
    ]
    targets.cart_code_remove_a, _ = await cart_with_line(c, as_a, sku)
    await ok(
        await c.post(
            f"/v1/carts/{targets.cart_code_remove_a}/promotion-codes",
            json={"code": code},
            headers=as_a,
        )
    )
    return targets


MATRIX_NOBODY = "MATRIX-NOBODY"


async def _webhook_targets(admin: httpx.AsyncClient, targets: Targets) -> None:
    """An endpoint with a delivery (a replay of the orders placed above), left disabled so
    the session's senders leave it alone, and one to delete."""
    made = []
    for _ in range(2):
        body = {
            "url": f"https://matrix-{uuid.uuid4().hex[:8]}.invalid/",
            "events": ["order.placed"],
        }
        made.append((await ok(await admin.post("/v1/webhook-endpoints", json=body), 201))["id"])
    targets.webhook_endpoint, targets.webhook_endpoint_delete = made
    replayed = await ok(
        await admin.post(
            f"/v1/webhook-endpoints/{made[0]}/replay",
            json={"from": "2000-01-01T00:00:00Z", "to": "2100-01-01T00:00:00Z"},
        ),
        202,
    )
    targets.webhook_delivery = replayed["delivery_ids"][0]
    for endpoint_id in made:
        await ok(await admin.patch(f"/v1/webhook-endpoints/{endpoint_id}", json={"enabled": False}))


@pytest.fixture
async def targets(
    cserver: Server, admin_client: httpx.AsyncClient, idp: IdentityProvider
) -> Targets:
    if cserver.base_url not in _TARGETS:
        _TARGETS[cserver.base_url] = await build(cserver, admin_client, idp)
    return _TARGETS[cserver.base_url]


def valid_body(op_id: str, t: Targets) -> Any:
    bodies: dict[str, Any] = {
        "create_product": {
            "title": "Matrix",
            "variants": [{"sku": unique_sku(), "prices": [{"amount": 100, "currency": "EUR"}]}],
        },
        "set_stock": {"on_hand": 1000},
        "adjust_stock": {"delta": 1, "reason": "received"},
        "create_warehouse": {"name": "Matrix"},
        "create_key": {"type": "secret", "name": "made", "scopes": ["api_keys:write"]},
        "roll_key": {"overlap_s": 0},
        "erase_customer": None,
        "create_cart": {"currency": "EUR"},
        "update_cart": {"email": "shopper@example.com"},
        "add_line": {"sku": t.sku, "quantity": 1},
        "change_line": {"quantity": 2},
        "checkout": {"payment": {"method": "card", "token": "tok_visa"}},
        "claim_cart": None,
        "confirm_payment": None,
        "capture_order": {"amount": 1},
        "void_payment": None,
        "refund_order": {"amount": 1, "reason": "matrix"},
        "create_fulfillment": {"lines": [{"line_id": order_line(t.order_guest), "quantity": 1}]},
        "edit_order_line": {"quantity": 0},
        "request_return": {"lines": [{"line_id": order_line(t.order_guest), "quantity": 1}]},
        "receive_return": {"lines": [{"line_id": t.return_line, "quantity": 1, "restock": True}]},
        "refund_return": None,
        "cancel_order": None,
        "resolve_discrepancy": {"resolution": "dismissed", "note": "matrix"},
        # A report is CSV (sent as text/csv by `call`): one line of nobody's.
        "create_run": MATRIX_REPORT.replace("{id}", uuid.uuid4().hex),
        # Subscribed to an event the session never writes: its senders leave it alone.
        "create_endpoint": {
            "url": "https://matrix-new.invalid/",
            "events": ["webhook_endpoint.disabled"],
        },
        "update_endpoint": {"description": "matrix"},
        "update_customer": {"group": None},
        "create_channel": {"code": f"matrix-{uuid.uuid4().hex[:12]}", "name": "Matrix"},
        "update_channel": {"name": "Default"},
        # A list for a channel nobody sells in: no other test's cart is priced by it.
        "create_price_list": {"name": "Matrix"},
        "update_price_list": {"name": "Matrix"},
        "set_prices": [{"sku": MATRIX_NOBODY, "currency": "EUR", "amount": 1}],
        "rotate_secret": None,
        "replay_range": {"from": "2000-01-01T00:00:00Z", "to": "2000-01-02T00:00:00Z"},
        # On, as it is: a kill switch the session's other tests never see move.
        "set_flag": {"enabled": True},
        "add_to_denylist": {"kind": "email_domain", "value": "matrix.invalid"},
        # A code promotion (applied to no cart but by its code) for a SKU no cart holds.
        "create_promotion": {
            "name": "Matrix",
            "code": "MATRIX" + uuid.uuid4().hex[:10].upper(),
            "kind": "free_shipping",
            "stacking": "stackable",
            "skus": [MATRIX_NOBODY],
        },
        "update_promotion": {"name": "Matrix"},
        "generate_codes": {"count": 1},
        "add_promotion_code": {"code": t.promotion_code},
    }
    return bodies.get(op_id)


def url(op_id: str, t: Targets) -> str:
    _, path, _ = t.operations[op_id]
    cart = {
        "checkout": t.cart_checkout_a,
        "remove_line": t.cart_remove_a,
        "remove_promotion_code": t.cart_code_remove_a,
    }.get(op_id, t.cart_a)
    line = t.line_remove_a if op_id == "remove_line" else t.line_a
    if op_id in ("edit_order_line", "remove_order_line"):
        line = order_line(t.order_guest)
    key = {"revoke_key": t.key_revoke, "roll_key": t.key_roll}.get(op_id, t.key_get)
    customer = t.customer_erase if op_id == "erase_customer" else t.customer_a
    values = {
        "cart_id": cart,
        "line_id": line,
        "order_id": t.order_guest,
        "customer_id": customer,
        "key_id": key,
        "sku": t.sku,
        "product_id": t.product_id,
        "provider": "sandbox",
        "warehouse_id": "wh_default",
        "return_id": t.return_id,
        "run_id": t.run_id,
        "discrepancy_id": t.discrepancy_id,
        "endpoint_id": (
            t.webhook_endpoint_delete if op_id == "delete_endpoint" else t.webhook_endpoint
        ),
        "delivery_id": t.webhook_delivery,
        "channel_id": "chn_default",
        "key": "fraud.external",
        "alert_id": t.stock_alert,
        "price_list_id": t.price_list,
        "entry_id": t.denylist_entry,
        "promotion_id": (
            t.promotion_deactivate if op_id == "deactivate_promotion" else t.promotion
        ),
        "code": t.promotion_code,
    }
    if op_id == "delete_price":
        values["sku"] = MATRIX_NOBODY
        path += "?currency=EUR"
    for name, value in values.items():
        path = path.replace("{" + name + "}", value)
    assert "{" not in path, path
    return path


def refusals(
    rule: Rule, t: Targets, idp: IdentityProvider
) -> list[tuple[str, dict[str, str], int]]:
    """(who, headers, status) for everybody the operation must refuse."""
    bad_token = idp.token(t.sub_b, audience="elsewhere")
    as_b = idp.token(t.sub_b)
    unauthenticated: list[tuple[str, dict[str, str], int]] = [
        ("no key", {}, 401),
        ("revoked publishable key", bearer(t.revoked_pk), 401),
        ("revoked secret key", bearer(t.revoked_sk), 401),
        ("garbage key", bearer("sk_" + uuid.uuid4().hex), 401),
    ]
    assert rule.scope is not None or rule.kind == "me"
    lacking = (
        [("secret key lacking the scope", bearer(t.all_but[rule.scope]), 403)] if rule.scope else []
    )
    if rule.kind == "secret":
        return [
            *unauthenticated,
            *lacking,
            ("publishable key", bearer(t.pk), 403),
            ("publishable key of a signed-in customer", bearer(t.pk, **{CUSTOMER: as_b}), 403),
        ]
    if rule.kind == "catalog":
        return [*unauthenticated, *lacking]
    if rule.kind == "new_cart":
        return [
            *unauthenticated,
            *lacking,
            ("bad customer token", bearer(t.pk, **{CUSTOMER: bad_token}), 401),
        ]
    if rule.kind == "cart":
        return [
            *unauthenticated,
            *lacking,
            ("bad customer token", bearer(t.pk, **{CUSTOMER: bad_token}), 401),
            ("publishable key alone", bearer(t.pk), 404),
            ("another customer", bearer(t.pk, **{CUSTOMER: as_b}), 404),
            ("another storefront, another customer", bearer(t.pk_other, **{CUSTOMER: as_b}), 404),
            ("the cart's order token", bearer(t.pk, **{ORDER: t.token_a}), 404),
        ]
    if rule.kind == "claim":
        return [
            *unauthenticated,
            *lacking,
            ("bad customer token", bearer(t.pk, **{CUSTOMER: bad_token}), 401),
            ("publishable key alone", bearer(t.pk), 401),
            ("another customer", bearer(t.pk, **{CUSTOMER: as_b}), 404),
            ("another storefront, another customer", bearer(t.pk_other, **{CUSTOMER: as_b}), 404),
        ]
    if rule.kind == "order":
        return [
            *unauthenticated,
            *lacking,
            ("bad customer token", bearer(t.pk, **{CUSTOMER: bad_token}), 401),
            ("publishable key alone", bearer(t.pk), 404),
            ("another storefront alone", bearer(t.pk_other), 404),
            ("another order's token", bearer(t.pk, **{ORDER: t.token_other}), 404),
            ("a made-up order token", bearer(t.pk, **{ORDER: "x" * 43}), 404),
            ("a customer", bearer(t.pk, **{CUSTOMER: as_b}), 404),
        ]
    if rule.kind == "me":
        return [
            *unauthenticated,
            ("bad customer token", bearer(t.pk, **{CUSTOMER: bad_token}), 401),
            ("publishable key alone", bearer(t.pk), 401),
            ("an order token instead", bearer(t.pk, **{ORDER: t.token_guest}), 401),
        ]
    raise AssertionError(rule)


def owners(
    op_id: str, rule: Rule, t: Targets, idp: IdentityProvider
) -> list[tuple[str, str, dict[str, str]]]:
    """(who, url, headers) of those who must get a 2xx, the last one may change the target."""
    as_a = bearer(t.pk, **{CUSTOMER: idp.token(t.sub_a)})
    target = url(op_id, t)
    if rule.kind in ("secret", "catalog"):
        assert rule.scope is not None
        callers = [("secret key with just the scope", target, bearer(t.only[rule.scope]))]
        if rule.kind == "catalog":
            callers.append(("publishable key", target, bearer(t.pk)))
        return callers
    if rule.kind == "new_cart":
        return [("signed-in customer", target, as_a), ("guest", target, bearer(t.pk))]
    if rule.kind == "cart" and op_id not in ("checkout", "remove_line", "remove_promotion_code"):
        # A back office sees every cart; checkout and removing the line happen once.
        assert rule.scope is not None
        return [
            ("secret key with just the scope", target, bearer(t.only[rule.scope])),
            ("customer A", target, as_a),
        ]
    if rule.kind in ("cart", "claim", "me"):
        return [("customer A", target, as_a)]
    if rule.kind == "order":
        of_a = target.replace(t.order_guest, t.order_a)
        back_office = [("secret key with just the scope", target, bearer(t.only[rule.scope]))]
        return [
            *(back_office if op_id == "get_order" else []),
            ("the order's token", target, bearer(t.pk, **{ORDER: t.token_guest})),
            ("the owning customer", of_a, as_a),
        ]
    raise AssertionError(rule)


async def call(
    c: httpx.AsyncClient, method: str, path: str, headers: dict[str, str], body: Any, has_body: bool
) -> httpx.Response:
    headers = {**headers}
    if method == "post":
        headers["Idempotency-Key"] = uuid.uuid4().hex
    kwargs: dict[str, Any] = {"headers": headers}
    if path.startswith("/v1/reconciliation/runs") and method == "post":
        path += f"?provider={MATRIX_PROVIDER}"
    if has_body and isinstance(body, str):
        kwargs["content"] = body
        headers["Content-Type"] = "text/csv"
    elif has_body and body is not None:
        kwargs["json"] = body
    return await c.request(method.upper(), path, **kwargs)


# Operations on money whose owner may be told the payment's state does not allow them (the
# order of the matrix is paid and captured at checkout): authorization let them through.
# The lifecycle's routes run on that order as the others leave it (a cancellation before its
# payment is confirmed, an edit after a fulfilment): the state decides those too.
_DECIDED_BY_STATE = {
    "capture_order",
    "void_payment",
    "cancel_order",
    "edit_order_line",
    "remove_order_line",
    "request_return",
    # The matrix's order was never sent to fraud review.
    "approve_review",
    "reject_review",
}


async def test_every_route_has_a_rule(targets: Targets) -> None:
    in_document = set(targets.operations)
    assert not in_document - set(RULES), f"routes without a rule: {in_document - set(RULES)}"
    assert not set(RULES) - in_document, f"rules for gone routes: {set(RULES) - in_document}"


@pytest.mark.parametrize("op_id", sorted(RULES))
async def test_only_the_owner_gets_through(
    op_id: str, cserver: Server, targets: Targets, idp: IdentityProvider
) -> None:
    rule = RULES[op_id]
    method, _, has_body = targets.operations[op_id]
    path = url(op_id, targets)
    body = valid_body(op_id, targets)
    async with httpx.AsyncClient(base_url=cserver.base_url, timeout=30) as c:
        if rule.kind == "public":
            response = await call(c, method, path, {}, None, False)
            assert response.status_code == 200, response.text
            return
        if rule.kind == "provider":  # no key opens it; only the provider's signature does
            for headers in ({}, bearer(ADMIN_KEY), bearer(targets.pk)):
                response = await call(c, method, path, headers, {"type": "forged"}, True)
                assert_problem(response, 400, "webhook_rejected")
            return
        codes = {401: "unauthenticated", 403: "forbidden", 404: "not_found"}
        for who, headers, status in refusals(rule, targets, idp):
            tries = [body, []] if has_body else [body]
            for attempt in tries:
                response = await call(c, method, path, headers, attempt, has_body)
                assert response.status_code == status, (who, attempt, response.text)
                assert_problem(response, status, codes[status])
                for secret in targets.secrets():
                    assert secret not in response.text, (who, secret, response.text)
        for who, target, headers in owners(op_id, rule, targets, idp):
            if has_body:
                invalid = await call(c, method, target, headers, [], True)
                # A report must be CSV: a JSON body is the wrong media type.
                expected = 415 if op_id == "create_run" else 422
                assert invalid.status_code == expected, (who, "invalid body", invalid.text)
            response = await call(c, method, target, headers, body, has_body)
            if op_id in _DECIDED_BY_STATE and response.status_code == 409:
                assert_problem(response, 409, "invalid_state")  # let in; the state decides
                continue
            assert response.status_code in (200, 201, 202), (who, response.text)


async def test_a_customer_lists_only_their_own_orders(
    cserver: Server, targets: Targets, idp: IdentityProvider
) -> None:
    async with httpx.AsyncClient(base_url=cserver.base_url, timeout=30) as c:
        mine = await c.get(
            "/v1/customers/me/orders",
            headers=bearer(targets.pk, **{CUSTOMER: idp.token(targets.sub_a)}),
        )
        theirs = await c.get(
            "/v1/customers/me/orders",
            headers=bearer(targets.pk, **{CUSTOMER: idp.token(targets.sub_b)}),
        )
    assert targets.order_a in [o["id"] for o in (await ok(mine))["data"]]
    assert (await ok(theirs))["data"] == []
    assert targets.email_a not in theirs.text and targets.customer_a not in theirs.text
