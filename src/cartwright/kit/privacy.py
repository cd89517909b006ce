"""Personal data in stored JSON documents: finding it and replacing it (GDPR art. 17).

A module erases its own rows; what it stores as JSON (addresses, snapshots, event payloads,
stored answers) goes through `redact`, so every module replaces the same fields with the
same placeholder.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

# What an erased value reads as, wherever it was.
PLACEHOLDER = "[erased]"

# Members that hold personal data wherever they appear in a document. `country` is not
# among them: it identifies nobody and tax records need it.
PERSONAL_FIELDS: frozenset[str] = frozenset(
    {
        "email",
        "name",
        "first_name",
        "last_name",
        "company",
        "phone",
        "line1",
        "line2",
        "city",
        "postal_code",
        "region",
    }
)


def redact(document: Any, fields: frozenset[str] = PERSONAL_FIELDS) -> Any:
    """A copy of `document` with the value of every member named in `fields`, at any depth,
    replaced by `PLACEHOLDER` (null stays null: there is nothing to erase)."""
    if isinstance(document, dict):
        return {
            key: (PLACEHOLDER if value is not None else None)
            if key in fields
            else redact(value, fields)
            for key, value in document.items()
        }
    if isinstance(document, list):
        return [redact(item, fields) for item in document]
    return document


def redact_json(raw: str | bytes | dict[str, Any] | list[Any] | None) -> str | None:
    """`redact` for a document stored as JSON text (or already decoded); returns JSON text."""
    if raw is None:
        return None
    document = orjson.loads(raw) if isinstance(raw, str | bytes) else raw
    return orjson.dumps(redact(document)).decode()


def erased(value: str | None) -> str | None:
    """A personal value in a column of its own, erased."""
    return None if value is None else PLACEHOLDER


def erased_contact(row: Mapping[str, Any]) -> dict[str, str | None]:
    """A cart's or an order's contact columns, erased: the email, and the addresses but
    their country."""
    return {
        "email": erased(row["email"]),
        "shipping_address": redact_json(row["shipping_address"]),
        "billing_address": redact_json(row["billing_address"]),
    }
