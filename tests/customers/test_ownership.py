"""Signed-in shoppers through real servers (PostgreSQL and SQLite): tokens, their carts
and orders, claiming a guest cart, and stored answers that belong to key + customer."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from tests.api.support import assert_problem, idempotency_key
from tests.conftest import Server
from tests.customers.idp import IdentityProvider, new_key
from tests.factories import checkout, create_product, ready_cart

HEADER = "Cartwright-Customer-Token"


@asynccontextmanager
async def client(
    server: Server, key: str, token: str | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {key}"}
    if token is not None:
        headers[HEADER] = token
    async with httpx.AsyncClient(base_url=server.base_url, headers=headers, timeout=30) as c:
        yield c


def subject() -> str:
    return "user-" + uuid.uuid4().hex


async def test_me_is_made_on_first_sight_from_the_token(
    cserver: Server, pk: str, idp: IdentityProvider
) -> None:
    sub = subject()
    email = f"{sub}@example.com"
    async with client(cserver, pk, idp.token(sub, email=email)) as shopper:
        first = await shopper.get("/v1/customers/me")
        again = await shopper.get("/v1/customers/me")
    assert first.status_code == 200, first.text
    me = first.json()
    assert me["id"].startswith("cus_")
    assert (me["email"], me["subject"], me["status"]) == (email, sub, "active")
    assert again.json()["id"] == me["id"]
    async with client(cserver, pk, idp.token(sub, key=idp.ec)) as same_person:
        assert (await same_person.get("/v1/customers/me")).json()["id"] == me["id"]


async def test_two_first_requests_at_once_make_one_customer(
    cserver: Server, pk: str, c_admin: httpx.AsyncClient, idp: IdentityProvider
) -> None:
    sub = subject()
    email = f"{sub}@example.com"
    async with client(cserver, pk, idp.token(sub, email=email)) as shopper:
        answers = await asyncio.gather(*(shopper.get("/v1/customers/me") for _ in range(8)))
    assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1
    listed = await c_admin.get("/v1/customers", params={"email": email})
    assert listed.status_code == 200, listed.text
    assert [c["id"] for c in listed.json()["data"]] == [answers[0].json()["id"]]


async def test_bad_tokens_are_401_and_guests_are_unaffected(
    cserver: Server, pk: str, idp: IdentityProvider
) -> None:
    bad = {
        "expired": idp.token(subject(), expires_in=-120),
        "alg none": idp.none_token(subject()),
        "hs256": idp.hs256_with_public_key(subject()),
        "wrong audience": idp.token(subject(), audience="elsewhere"),
        "unknown kid": idp.token(subject(), key=new_key("RS256")),
    }
    for name, token in bad.items():
        async with client(cserver, pk, token) as shopper:
            me = await shopper.get("/v1/customers/me")
            cart = await shopper.post("/v1/carts", json={"currency": "EUR"})
        assert_problem(me, 401, "unauthenticated"), name
        assert_problem(cart, 401, "unauthenticated"), name
    async with client(cserver, pk) as guest:
        assert_problem(await guest.get("/v1/customers/me"), 401, "unauthenticated")
        created = await guest.post("/v1/carts", json={"currency": "EUR"})
    assert created.status_code == 201, created.text
    assert created.json()["customer_id"] is None


async def test_a_key_is_checked_before_the_customer_token(
    cserver: Server, idp: IdentityProvider
) -> None:
    async with client(cserver, "pk_not_a_key", idp.token(subject())) as stranger:
        assert_problem(await stranger.get("/v1/customers/me"), 401, "unauthenticated")


async def test_a_customers_cart_and_order_are_theirs_alone(
    cserver: Server, pk: str, c_admin: httpx.AsyncClient, idp: IdentityProvider
) -> None:
    product = await create_product(c_admin)
    sku = product["variants"][0]["sku"]
    a_sub, b_sub = subject(), subject()
    async with (
        client(cserver, pk, idp.token(a_sub, email=f"{a_sub}@example.com")) as a,
        client(cserver, pk, idp.token(b_sub, key=idp.ec)) as b,
        client(cserver, pk) as guest,
    ):
        a_id = (await a.get("/v1/customers/me")).json()["id"]
        created = await a.post("/v1/carts", json={"currency": "EUR"})
        assert created.status_code == 201, created.text
        cart = created.json()
        assert cart["customer_id"] == a_id
        assert cart["email"] == f"{a_sub}@example.com"  # from the token
        cart_id = cart["id"]
        for other in (b, guest):
            assert_problem(await other.get(f"/v1/carts/{cart_id}"), 404, "not_found")
            added = await other.post(f"/v1/carts/{cart_id}/lines", json={"sku": sku, "quantity": 1})
            assert_problem(added, 404, "not_found")
            patched = await other.patch(f"/v1/carts/{cart_id}", json={"email": "x@example.com"})
            assert_problem(patched, 404, "not_found")
            methods = await other.get(f"/v1/carts/{cart_id}/shipping-methods")
            assert_problem(methods, 404, "not_found")
            assert_problem(await checkout(other, cart_id), 404, "not_found")
        # What they tried changed nothing.
        assert (await a.get(f"/v1/carts/{cart_id}")).json()["email"] == f"{a_sub}@example.com"
        assert (await c_admin.get(f"/v1/carts/{cart_id}")).status_code == 200

        ready = await ready_cart(a, [(sku, 1)])
        assert ready["customer_id"] == a_id
        placed = await checkout(a, ready["id"])
        assert placed.status_code == 201, placed.text
        order = placed.json()
        assert order["customer_id"] == a_id
        # The customer's token opens the order without the order token; nobody else's.
        mine = await a.get(f"/v1/orders/{order['id']}")
        assert mine.status_code == 200 and mine.json()["id"] == order["id"]
        assert_problem(await b.get(f"/v1/orders/{order['id']}"), 404, "not_found")
        assert_problem(await guest.get(f"/v1/orders/{order['id']}"), 404, "not_found")
        confirm = await b.post(f"/v1/orders/{order['id']}/payment/confirm")
        assert_problem(confirm, 404, "not_found")
        with_token = await guest.get(
            f"/v1/orders/{order['id']}",
            headers={"Cartwright-Order-Token": order["access_token"]},
        )
        assert with_token.status_code == 200

        second = await checkout(a, (await ready_cart(a, [(sku, 1)]))["id"])
        assert second.status_code == 201, second.text
        listed = await a.get("/v1/customers/me/orders", params={"limit": 1})
        assert listed.status_code == 200, listed.text
        assert listed.json()["has_more"] is True
        assert [o["id"] for o in listed.json()["data"]] == [second.json()["id"]]  # newest first
        rest = await a.get(
            "/v1/customers/me/orders", params={"starting_after": second.json()["id"]}
        )
        assert [o["id"] for o in rest.json()["data"]] == [order["id"]]
        theirs = await b.get("/v1/customers/me/orders")
        assert theirs.json() == {"data": [], "has_more": False}


async def test_claiming_a_guest_cart(
    cserver: Server, pk: str, c_admin: httpx.AsyncClient, idp: IdentityProvider
) -> None:
    product = await create_product(c_admin)
    sku = product["variants"][0]["sku"]
    async with (
        client(cserver, pk, idp.token(subject(), email="claimer@example.com")) as a,
        client(cserver, pk, idp.token(subject())) as b,
        client(cserver, pk) as guest,
    ):
        a_id = (await a.get("/v1/customers/me")).json()["id"]
        cart_id = (await guest.post("/v1/carts", json={"currency": "EUR"})).json()["id"]
        assert_problem(await guest.post(f"/v1/carts/{cart_id}/claim"), 401, "unauthenticated")
        claimed = await a.post(f"/v1/carts/{cart_id}/claim")
        assert claimed.status_code == 200, claimed.text
        assert claimed.json()["customer_id"] == a_id
        assert claimed.json()["email"] == "claimer@example.com"
        again = await a.post(f"/v1/carts/{cart_id}/claim")
        assert again.status_code == 200 and again.json()["customer_id"] == a_id
        assert_problem(await b.post(f"/v1/carts/{cart_id}/claim"), 404, "not_found")
        assert_problem(await guest.get(f"/v1/carts/{cart_id}"), 404, "not_found")
        assert_problem(await a.post("/v1/carts/cart_missing/claim"), 404, "not_found")

        closed = await ready_cart(guest, [(sku, 1)])
        assert (await checkout(guest, closed["id"])).status_code == 201
        assert_problem(await a.post(f"/v1/carts/{closed['id']}/claim"), 409, "cart_closed")


async def test_stored_answers_belong_to_the_key_and_the_customer(
    cserver: Server, pk: str, idp: IdentityProvider
) -> None:
    key = idempotency_key()
    body = {"currency": "EUR"}
    async with (
        client(cserver, pk, idp.token(subject())) as a,
        client(cserver, pk, idp.token(subject())) as b,
        client(cserver, pk) as guest,
    ):
        first = await a.post("/v1/carts", json=body, headers={"Idempotency-Key": key})
        replay = await a.post("/v1/carts", json=body, headers={"Idempotency-Key": key})
        other = await b.post("/v1/carts", json=body, headers={"Idempotency-Key": key})
        anonymous = await guest.post("/v1/carts", json=body, headers={"Idempotency-Key": key})
    assert first.status_code == replay.status_code == 201
    assert replay.headers.get("Idempotent-Replayed") == "true"
    assert replay.json()["id"] == first.json()["id"]
    for response in (other, anonymous):
        assert response.status_code == 201, response.text
        assert "Idempotent-Replayed" not in response.headers
        assert response.json()["id"] != first.json()["id"]
    assert other.json()["customer_id"] not in (None, first.json()["customer_id"])
    assert anonymous.json()["customer_id"] is None


async def _me_until(shop: httpx.AsyncClient, token: str, status: int) -> httpx.Response:
    """GET /v1/customers/me until it answers `status` (each server process refreshes its
    keys on its own: an unknown kid at most every 0.2 s, all keys every 2 s here)."""
    deadline = asyncio.get_running_loop().time() + 20
    while True:
        answer = await shop.get("/v1/customers/me", headers={HEADER: token})
        if answer.status_code == status:
            return answer
        assert asyncio.get_running_loop().time() < deadline, (status, answer.text)
        await asyncio.sleep(0.25)


async def test_a_new_key_in_the_jwks_is_fetched_and_a_withdrawn_one_stops_working(
    cserver: Server, pk: str, idp: IdentityProvider
) -> None:
    old, new = new_key("RS256"), new_key("ES256")
    idp.publish(old)
    sub = subject()
    try:
        async with client(cserver, pk) as shop:
            me = await _me_until(shop, idp.token(sub, key=old), 200)
            idp.publish(new)
            rotated = await _me_until(shop, idp.token(sub, key=new), 200)  # kid refetched
            assert rotated.json()["id"] == me.json()["id"]
            still = await shop.get("/v1/customers/me", headers={HEADER: idp.token(sub, key=old)})
            assert still.status_code == 200  # both keys are published
            idp.withdraw(old)
            gone = await _me_until(shop, idp.token(sub, key=old), 401)
            assert_problem(gone, 401, "unauthenticated")
            fresh = await shop.get("/v1/customers/me", headers={HEADER: idp.token(sub, key=new)})
            assert fresh.status_code == 200
    finally:
        idp.withdraw(old)
        idp.withdraw(new)
