"""Stock levels per SKU: set, read, and what checkout holds."""

from __future__ import annotations

import httpx
import pytest

from tests.api.support import assert_problem, assert_validation_error
from tests.factories import checkout, contract_stock, create_product, ready_cart, unique_sku


async def test_put_then_get_stock(admin: httpx.AsyncClient) -> None:
    sku = (await create_product(admin, stock=None))["variants"][0]["sku"]

    put = await admin.put(f"/v1/inventory/{sku}", json={"on_hand": 7})
    assert put.status_code == 200, put.text
    expected = {"sku": sku, "on_hand": 7, "reserved": 0, "available": 7}
    assert contract_stock(put.json()) == expected
    got = await admin.get(f"/v1/inventory/{sku}")
    assert got.status_code == 200
    assert contract_stock(got.json()) == expected

    # PUT sets the level; it does not add to it.
    assert (await admin.put(f"/v1/inventory/{sku}", json={"on_hand": 3})).json()["on_hand"] == 3
    assert contract_stock(
        (await admin.put(f"/v1/inventory/{sku}", json={"on_hand": 0})).json()
    ) == {
        "sku": sku,
        "on_hand": 0,
        "reserved": 0,
        "available": 0,
    }
    assert (await admin.get(f"/v1/inventory/{sku}")).json()["available"] == 0


async def test_a_sku_never_stocked_has_nothing(admin: httpx.AsyncClient) -> None:
    sku = (await create_product(admin, stock=None))["variants"][0]["sku"]
    assert contract_stock((await admin.get(f"/v1/inventory/{sku}")).json()) == {
        "sku": sku,
        "on_hand": 0,
        "reserved": 0,
        "available": 0,
    }


async def test_checkout_reserves_and_available_drops(admin: httpx.AsyncClient) -> None:
    sku = (await create_product(admin, stock=7))["variants"][0]["sku"]
    placed = await checkout(admin, (await ready_cart(admin, [(sku, 2)]))["id"])
    assert placed.status_code == 201, placed.text
    assert contract_stock((await admin.get(f"/v1/inventory/{sku}")).json()) == {
        "sku": sku,
        "on_hand": 7,
        "reserved": 2,
        "available": 5,
    }
    # Setting on_hand keeps what is reserved.
    assert contract_stock(
        (await admin.put(f"/v1/inventory/{sku}", json={"on_hand": 10})).json()
    ) == {
        "sku": sku,
        "on_hand": 10,
        "reserved": 2,
        "available": 8,
    }


async def test_unknown_sku_is_404(admin: httpx.AsyncClient) -> None:
    sku = unique_sku("GHOST")
    assert_problem(await admin.get(f"/v1/inventory/{sku}"), 404, "not_found")
    assert_problem(await admin.put(f"/v1/inventory/{sku}", json={"on_hand": 1}), 404, "not_found")


@pytest.mark.parametrize("on_hand", [-1, -(10**6), "4", 4.5, 2.5, None, True, [4]])
async def test_on_hand_must_be_an_integer_at_least_zero(
    admin: httpx.AsyncClient, on_hand: object
) -> None:
    sku = (await create_product(admin, stock=4))["variants"][0]["sku"]
    response = await admin.put(f"/v1/inventory/{sku}", json={"on_hand": on_hand})
    assert_validation_error(response, "on_hand")
    assert (await admin.get(f"/v1/inventory/{sku}")).json()["on_hand"] == 4


async def test_an_integral_number_written_with_a_fraction_is_that_integer(
    admin: httpx.AsyncClient,
) -> None:
    """`7.0` and `7` are the same JSON number (and JSON Schema integer): taken as 7."""
    sku = (await create_product(admin, stock=4))["variants"][0]["sku"]
    response = await admin.put(f"/v1/inventory/{sku}", json={"on_hand": 7.0})
    assert response.status_code == 200, response.text
    assert response.json()["on_hand"] == 7
    assert isinstance(response.json()["on_hand"], int)
