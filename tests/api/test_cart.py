"""Carts: ids, lines, totals arithmetic, shipping methods, readiness and closing."""

from __future__ import annotations

import string
from fractions import Fraction
from typing import Any

import httpx
import pytest

from tests.api.support import assert_problem, assert_validation_error, idempotency_key
from tests.factories import ADDRESS, checkout, create_product, ready_cart

EUR = "EUR"
BASE62 = set(string.ascii_letters + string.digits)


def _half_up(value: Fraction) -> int:
    """Round half away from zero: the test's own oracle, independent of kit.money."""
    sign = -1 if value < 0 else 1
    magnitude = abs(value)
    whole = int(magnitude)
    if magnitude - whole >= Fraction(1, 2):
        whole += 1
    return sign * whole


def assert_totals_add_up(cart: dict[str, Any], tax_rate_bp: int) -> None:
    """The contract's arithmetic: integer money, line totals, per-line tax, the total."""
    currency = cart["currency"]
    totals = cart["totals"]
    for money in [
        *totals.values(),
        *(line["unit_price"] for line in cart["lines"]),
        *(line["total"] for line in cart["lines"]),
    ]:
        assert money["currency"] == currency
        assert type(money["amount"]) is int, money
    for line in cart["lines"]:
        assert line["total"]["amount"] == line["unit_price"]["amount"] * line["quantity"]
    subtotal = sum(line["total"]["amount"] for line in cart["lines"])
    assert totals["subtotal"]["amount"] == subtotal
    rate = Fraction(tax_rate_bp, 10_000)
    expected_tax = sum(_half_up(line["total"]["amount"] * rate) for line in cart["lines"])
    expected_tax += _half_up(totals["shipping"]["amount"] * rate)
    assert totals["tax"]["amount"] == expected_tax
    assert totals["total"]["amount"] == (
        subtotal
        - totals["discount"]["amount"]
        + totals["shipping"]["amount"]
        + totals["tax"]["amount"]
    )


async def _new_cart(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await client.post("/v1/carts", json={"currency": EUR, **body})
    assert response.status_code == 201, response.text
    return response.json()


async def _add(client: httpx.AsyncClient, cart_id: str, sku: str, quantity: int) -> httpx.Response:
    return await client.post(f"/v1/carts/{cart_id}/lines", json={"sku": sku, "quantity": quantity})


async def test_create_cart(storefront: httpx.AsyncClient) -> None:
    response = await storefront.post(
        "/v1/carts", json={"currency": EUR, "email": "ada@example.com"}
    )
    assert response.status_code == 201, response.text
    cart = response.json()
    assert cart["currency"] == EUR
    assert cart["email"] == "ada@example.com"
    assert cart["lines"] == []
    zero = {"amount": 0, "currency": EUR}
    assert cart["totals"] == {
        "subtotal": zero,
        "discount": zero,
        "shipping": zero,
        "tax": zero,
        "total": zero,
    }
    got = await storefront.get(f"/v1/carts/{cart['id']}")
    assert got.status_code == 200 and got.json() == cart


async def test_cart_ids_are_unguessable(storefront: httpx.AsyncClient) -> None:
    ids = [(await _new_cart(storefront))["id"] for _ in range(20)]
    assert len(set(ids)) == len(ids)
    for cart_id in ids:
        assert cart_id.startswith("cart_")
        random_part = cart_id.removeprefix("cart_")
        # >= 128 random bits: at least 22 base62 characters (22 * log2(62) > 130).
        assert len(random_part) >= 22, cart_id
        assert set(random_part) <= BASE62, cart_id
    # Not sequential or time-ordered: consecutive ids share no long common prefix.
    prefixes = [len(_common_prefix(a, b)) for a, b in zip(ids, ids[1:], strict=False)]
    assert max(prefixes) < len("cart_") + 6, ids


def _common_prefix(a: str, b: str) -> str:
    out = []
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        out.append(x)
    return "".join(out)


async def test_unknown_cart_is_404(storefront: httpx.AsyncClient) -> None:
    missing = "cart_" + "A" * 22
    assert_problem(await storefront.get(f"/v1/carts/{missing}"), 404, "not_found")
    assert_problem(
        await storefront.patch(f"/v1/carts/{missing}", json={"email": "a@b.de"}), 404, "not_found"
    )
    assert_problem(await _add(storefront, missing, "SKU-1", 1), 404, "not_found")
    assert_problem(await storefront.get(f"/v1/carts/{missing}/shipping-methods"), 404, "not_found")
    assert_problem(await checkout(storefront, missing), 404, "not_found")


async def test_add_change_and_remove_lines(
    admin: httpx.AsyncClient, storefront: httpx.AsyncClient
) -> None:
    a = (await create_product(admin, price=1999))["variants"][0]["sku"]
    b = (await create_product(admin, price=250))["variants"][0]["sku"]
    cart = await _new_cart(storefront)

    added = await _add(storefront, cart["id"], a, 2)
    assert added.status_code == 200, added.text
    [line] = added.json()["lines"]
    assert line["sku"] == a and line["quantity"] == 2 and line["id"]
    assert line["unit_price"] == {"amount": 1999, "currency": EUR}
    assert line["total"] == {"amount": 3998, "currency": EUR}

    # The same SKU again merges into its line.
    merged = (await _add(storefront, cart["id"], a, 3)).json()
    assert [(ln["id"], ln["sku"], ln["quantity"]) for ln in merged["lines"]] == [(line["id"], a, 5)]
    two = (await _add(storefront, cart["id"], b, 1)).json()
    assert [(ln["sku"], ln["quantity"]) for ln in two["lines"]] == [(a, 5), (b, 1)]
    b_line = two["lines"][1]["id"]

    changed = await storefront.patch(
        f"/v1/carts/{cart['id']}/lines/{line['id']}", json={"quantity": 1}
    )
    assert changed.status_code == 200, changed.text
    assert [(ln["sku"], ln["quantity"]) for ln in changed.json()["lines"]] == [(a, 1), (b, 1)]
    assert changed.json()["totals"]["subtotal"]["amount"] == 1999 + 250

    removed = await storefront.delete(f"/v1/carts/{cart['id']}/lines/{b_line}")
    assert removed.status_code == 200, removed.text
    assert [ln["sku"] for ln in removed.json()["lines"]] == [a]
    assert removed.json()["totals"]["subtotal"]["amount"] == 1999
    assert (await storefront.get(f"/v1/carts/{cart['id']}")).json() == removed.json()

    # The removed line is gone for good.
    assert_problem(
        await storefront.delete(f"/v1/carts/{cart['id']}/lines/{b_line}"), 404, "not_found"
    )


async def test_unknown_line_is_404(admin: httpx.AsyncClient, storefront: httpx.AsyncClient) -> None:
    sku = (await create_product(admin))["variants"][0]["sku"]
    cart = await _new_cart(storefront)
    other = await _new_cart(storefront)
    line_id = (await _add(storefront, cart["id"], sku, 1)).json()["lines"][0]["id"]
    for cart_id, line in [(cart["id"], "line_nope"), (other["id"], line_id)]:
        path = f"/v1/carts/{cart_id}/lines/{line}"
        assert_problem(await storefront.patch(path, json={"quantity": 2}), 404, "not_found")
        assert_problem(await storefront.delete(path), 404, "not_found")
    # The line of the first cart was not touched through the other one.
    assert (await storefront.get(f"/v1/carts/{cart['id']}")).json()["lines"][0]["quantity"] == 1


@pytest.mark.parametrize("quantity", [-1, "2", 1.5, None])
async def test_line_quantity_change_is_validated(
    admin: httpx.AsyncClient, storefront: httpx.AsyncClient, quantity: object
) -> None:
    sku = (await create_product(admin))["variants"][0]["sku"]
    cart = await _new_cart(storefront)
    line_id = (await _add(storefront, cart["id"], sku, 2)).json()["lines"][0]["id"]
    response = await storefront.patch(
        f"/v1/carts/{cart['id']}/lines/{line_id}", json={"quantity": quantity}
    )
    assert_validation_error(response, "quantity")
    assert (await storefront.get(f"/v1/carts/{cart['id']}")).json()["lines"][0]["quantity"] == 2


async def test_unknown_or_unpriced_sku_is_422(
    admin: httpx.AsyncClient, storefront: httpx.AsyncClient
) -> None:
    cart = await _new_cart(storefront)
    assert_validation_error(await _add(storefront, cart["id"], "NO-SUCH-SKU-HERE", 1), "sku")
    usd_only = (await create_product(admin, currency="USD"))["variants"][0]["sku"]
    assert_validation_error(await _add(storefront, cart["id"], usd_only, 1), "sku")
    assert (await storefront.get(f"/v1/carts/{cart['id']}")).json()["lines"] == []


async def test_a_line_cannot_grow_past_the_line_limit_by_merging(
    admin: httpx.AsyncClient, storefront: httpx.AsyncClient
) -> None:
    sku = (await create_product(admin, price=1))["variants"][0]["sku"]
    cart = await _new_cart(storefront)
    assert (await _add(storefront, cart["id"], sku, 10_000)).status_code == 200
    assert_validation_error(await _add(storefront, cart["id"], sku, 1), "quantity")
    assert_validation_error(await _add(storefront, cart["id"], sku, 10_001), "quantity")
    assert (await storefront.get(f"/v1/carts/{cart['id']}")).json()["lines"][0][
        "quantity"
    ] == 10_000


async def test_totals_worked_example_de(
    admin: httpx.AsyncClient, storefront: httpx.AsyncClient
) -> None:
    a = (await create_product(admin, price=1999))["variants"][0]["sku"]
    b = (await create_product(admin, price=250))["variants"][0]["sku"]
    cart = await ready_cart(storefront, [(a, 3), (b, 1)], country="DE")

    def amount(name: str) -> int:
        return int(cart["totals"][name]["amount"])

    assert amount("subtotal") == 3 * 1999 + 250 == 6247
    assert amount("discount") == 0
    assert amount("shipping") == 500
    # 19 % per line and on shipping, each rounded half up: 1139.43 -> 1139, 47.5 -> 48, 95.
    assert amount("tax") == 1139 + 48 + 95
    assert amount("total") == 6247 - 0 + 500 + 1282 == 8029
    assert_totals_add_up(cart, 1900)


@pytest.mark.parametrize(
    "lines",
    [
        [(1, 1)],
        [(5, 1), (15, 3), (25, 2)],  # halves everywhere: 0.95, 2.85 ... exercise rounding
        [(2631, 7), (1, 10_000), (99_999, 2)],
        [(10**9, 3), (7, 13)],
    ],
)
async def test_totals_add_up_for_any_lines(
    admin: httpx.AsyncClient, storefront: httpx.AsyncClient, lines: list[tuple[int, int]]
) -> None:
    skus = []
    for price, quantity in lines:
        skus.append(((await create_product(admin, price=price))["variants"][0]["sku"], quantity))
    cart = await ready_cart(storefront, skus, country="DE")
    assert cart["totals"]["shipping"]["amount"] == 500
    assert_totals_add_up(cart, 1900)


async def test_totals_follow_the_cart_as_it_changes(
    admin: httpx.AsyncClient, storefront: httpx.AsyncClient
) -> None:
    sku = (await create_product(admin, price=1050))["variants"][0]["sku"]
    cart = await _new_cart(storefront)
    added = (await _add(storefront, cart["id"], sku, 3)).json()
    assert added["totals"]["subtotal"]["amount"] == 3150
    # No address yet: no tax; no method: no shipping.
    assert added["totals"]["shipping"]["amount"] == 0
    patched = await storefront.patch(
        f"/v1/carts/{cart['id']}", json={"shipping_address": ADDRESS, "shipping_method": "standard"}
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["shipping_method"] == "standard"
    assert patched.json()["shipping_address"]["country"] == "DE"
    assert_totals_add_up(patched.json(), 1900)
    assert patched.json()["totals"]["total"]["amount"] == 3150 + 500 + 599 + 95


async def test_shipping_methods_include_standard_everywhere(storefront: httpx.AsyncClient) -> None:
    cart = await _new_cart(storefront)
    for country in (None, "DE", "US", "JP", "BR"):
        if country is not None:
            patched = await storefront.patch(
                f"/v1/carts/{cart['id']}",
                json={"shipping_address": {**ADDRESS, "country": country}},
            )
            assert patched.status_code == 200, patched.text
        response = await storefront.get(f"/v1/carts/{cart['id']}/shipping-methods")
        assert response.status_code == 200, response.text
        methods = {m["code"]: m for m in response.json()["data"]}
        assert "standard" in methods, country
        assert methods["standard"]["price"] == {"amount": 500, "currency": EUR}
        for method in methods.values():
            assert isinstance(method["title"], str) and method["title"]
            assert type(method["price"]["amount"]) is int


async def test_checkout_of_a_cart_that_is_not_ready_is_409(
    admin: httpx.AsyncClient, storefront: httpx.AsyncClient
) -> None:
    sku = (await create_product(admin, stock=5))["variants"][0]["sku"]
    empty = await _new_cart(storefront)
    assert_problem(await checkout(storefront, empty["id"]), 409, "cart_not_ready")

    no_address = await _new_cart(storefront)
    await _add(storefront, no_address["id"], sku, 1)
    assert_problem(await checkout(storefront, no_address["id"]), 409, "cart_not_ready")

    no_method = await _new_cart(storefront)
    await _add(storefront, no_method["id"], sku, 1)
    await storefront.patch(f"/v1/carts/{no_method['id']}", json={"shipping_address": ADDRESS})
    assert_problem(await checkout(storefront, no_method["id"]), 409, "cart_not_ready")

    # Nothing was held, and the carts are still open: complete one and it checks out.
    assert (await admin.get(f"/v1/inventory/{sku}")).json()["reserved"] == 0
    ready = await storefront.patch(
        f"/v1/carts/{no_method['id']}", json={"shipping_method": "standard"}
    )
    assert ready.status_code == 200, ready.text
    assert (await checkout(storefront, no_method["id"])).status_code == 201


async def test_a_checked_out_cart_is_closed(
    admin: httpx.AsyncClient, storefront: httpx.AsyncClient
) -> None:
    sku = (await create_product(admin, stock=5))["variants"][0]["sku"]
    other = (await create_product(admin, stock=5))["variants"][0]["sku"]
    cart = await ready_cart(storefront, [(sku, 1)])
    line_id = cart["lines"][0]["id"]
    placed = await checkout(storefront, cart["id"])
    assert placed.status_code == 201, placed.text
    cart_id = cart["id"]

    attempts = [
        await _add(storefront, cart_id, other, 1),
        await _add(storefront, cart_id, sku, 1),
        await storefront.patch(f"/v1/carts/{cart_id}/lines/{line_id}", json={"quantity": 3}),
        await storefront.delete(f"/v1/carts/{cart_id}/lines/{line_id}"),
        await storefront.patch(f"/v1/carts/{cart_id}", json={"email": "eve@example.com"}),
        await storefront.patch(f"/v1/carts/{cart_id}", json={"shipping_method": "express"}),
        await checkout(storefront, cart_id, key=idempotency_key()),
    ]
    for response in attempts:
        assert_problem(response, 409, "cart_closed")
    after = await storefront.get(f"/v1/carts/{cart_id}")
    assert after.status_code == 200
    assert [(ln["sku"], ln["quantity"]) for ln in after.json()["lines"]] == [(sku, 1)]
    assert after.json()["email"] == cart["email"]
    assert after.json()["totals"] == placed.json()["totals"]
    assert (await admin.get(f"/v1/inventory/{sku}")).json()["reserved"] == 1
    assert (await admin.get(f"/v1/inventory/{other}")).json()["reserved"] == 0
