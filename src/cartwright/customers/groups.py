"""Customers' groups as pricing reads them (price lists and promotions match on them).

A seam of its own, beside `service.py`: the cart prices with it, and the customers' service
imports the cart, so the composition root hands this lookup to the cart's `Pricing`.
"""

from __future__ import annotations

from cartwright.customers import repository
from cartwright.kit.db import Conn


async def group_of(conn: Conn, customer_id: str) -> str | None:
    """The customer's group (None: no group, or no such customer)."""
    return await repository.group_of(conn, customer_id)
