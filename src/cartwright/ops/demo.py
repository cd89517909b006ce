"""Demo data for `cartwright serve --demo`: a small shop and a pair of keys."""

from __future__ import annotations

from typing import Any

from cartwright.access import service as access
from cartwright.access.service import KeyType
from cartwright.catalog import service as catalog
from cartwright.catalog.schemas import ProductIn
from cartwright.inventory import service as inventory
from cartwright.kit import context
from cartwright.kit.db import Database

PRODUCTS: list[dict[str, Any]] = [
    {
        "title": "Canvas Tote Bag",
        "description": "Heavy cotton canvas, reinforced handles.",
        "variants": [
            {
                "sku": "TOTE-NATURAL",
                "title": "Natural",
                "weight_grams": 400,
                "prices": [
                    {"amount": 2500, "currency": "EUR"},
                    {"amount": 2700, "currency": "USD"},
                ],
            },
            {
                "sku": "TOTE-BLACK",
                "title": "Black",
                "weight_grams": 400,
                "prices": [
                    {"amount": 2500, "currency": "EUR"},
                    {"amount": 2700, "currency": "USD"},
                ],
            },
        ],
        "stock": {"TOTE-NATURAL": 50, "TOTE-BLACK": 5},
    },
    {
        "title": "Enamel Mug",
        "description": "350 ml, dishwasher safe.",
        "variants": [
            {
                "sku": "MUG-WHITE",
                "title": "White",
                "weight_grams": 300,
                "prices": [
                    {"amount": 1490, "currency": "EUR"},
                    {"amount": 1590, "currency": "USD"},
                ],
            },
        ],
        "stock": {"MUG-WHITE": 100},
    },
    {
        "title": "Merino Beanie",
        "description": "Fine merino wool, one size.",
        "variants": [
            {
                "sku": "BEANIE-GREY",
                "title": "Grey",
                "weight_grams": 90,
                "prices": [
                    {"amount": 3200, "currency": "EUR"},
                    {"amount": 3500, "currency": "USD"},
                ],
            },
            {
                "sku": "BEANIE-RUST",
                "title": "Rust",
                "weight_grams": 90,
                "prices": [
                    {"amount": 3200, "currency": "EUR"},
                    {"amount": 3500, "currency": "USD"},
                ],
            },
        ],
        "stock": {"BEANIE-GREY": 20, "BEANIE-RUST": 1},
    },
]


async def load(db: Database) -> tuple[dict[str, Any], dict[str, Any]]:
    """Load the demo shop unless the catalog already has it; always make a fresh key pair
    (keys are stored hashed, so old ones cannot be shown again)."""
    with context.act_as(access.CLI_ACTOR):  # run by `cartwright serve --demo`: audited as cli
        async with db.transaction() as conn:
            existing = await catalog.list_products(conn, limit=1, starting_after=None, query=None)
            if not existing["data"]:
                for spec in PRODUCTS:
                    await catalog.create_product(conn, ProductIn.model_validate(spec))
                    for sku, on_hand in spec["stock"].items():
                        await inventory.set_on_hand(conn, sku, on_hand)
            publishable = await access.create_key(
                conn,
                key_type=KeyType.PUBLISHABLE,
                name="demo storefront",
                scopes=None,
                holder=access.CLI,
            )
            secret = await access.create_key(
                conn,
                key_type=KeyType.SECRET,
                name="demo back office",
                scopes=None,
                holder=access.CLI,
            )
    return publishable, secret
