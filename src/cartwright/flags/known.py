"""Every flag the platform knows, with its default, in one place. Every default is on: a
flag switches something off, and a flag without a row in `feature_flags` takes its
default, so a new database (or a flag added by an upgrade) changes nothing.

- `checkout`: off, `POST /v1/carts/{id}/checkout` answers 503 `checkout_disabled`.
- `payments.<provider>`: off, new authorizations skip that provider (captures, refunds
  and voids of its existing payments still go to it).
- `promotions`, `tax.external`, `shipping.external`, `fraud.external`: off, promotions
  are not applied, and the external tax, shipping-rate and fraud providers are not called
  (their declared fallback is taken, kit/external.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

CHECKOUT = "checkout"
PROMOTIONS = "promotions"
TAX_EXTERNAL = "tax.external"
SHIPPING_EXTERNAL = "shipping.external"
FRAUD_EXTERNAL = "fraud.external"
PAYMENTS_PREFIX = "payments."


def payment_flag(provider: str) -> str:
    """The flag that switches new authorizations to `provider` on and off."""
    return PAYMENTS_PREFIX + provider


@dataclass(frozen=True, slots=True)
class KnownFlag:
    key: str
    default: bool
    description: str


def known_flags(payment_providers: Sequence[str]) -> dict[str, KnownFlag]:
    """The flags of a process whose enabled payment providers are `payment_providers`
    (`platform.enabled_providers`), in the order they are listed."""
    flags = [
        KnownFlag(CHECKOUT, True, "Checkout; off: 503 checkout_disabled, nothing is touched."),
        *(
            KnownFlag(
                payment_flag(name),
                True,
                f"New authorizations at the payment provider {name}; off: routed past it.",
            )
            for name in payment_providers
        ),
        KnownFlag(PROMOTIONS, True, "Promotions applied to carts."),
        KnownFlag(TAX_EXTERNAL, True, "Calls to the external tax provider; off: fallback."),
        KnownFlag(
            SHIPPING_EXTERNAL, True, "Calls to the carrier's live-rate API; off: flat rates."
        ),
        KnownFlag(FRAUD_EXTERNAL, True, "Calls to the external fraud service; off: fallback."),
    ]
    return {flag.key: flag for flag in flags}
