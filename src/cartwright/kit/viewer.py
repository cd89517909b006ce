"""Who a request acts for, as the modules that own shoppers' data see it.

A storefront's publishable key is shared by all its shoppers, so a cart or order that
belongs to a signed-in customer opens only for that customer; one that belongs to nobody
(a guest's) opens for whoever holds its id or token. Back offices (secret keys) see all.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Viewer:
    customer_id: str | None = None
    sees_all: bool = False
    # The code of the channel the request sells in (a publishable key's own; a secret key's
    # `Cartwright-Channel` header, else the default channel).
    channel: str = "default"

    def may_see(self, owner: str | None) -> bool:
        return self.sees_all or owner is None or owner == self.customer_id


BACK_OFFICE = Viewer(sees_all=True)
GUEST = Viewer()
