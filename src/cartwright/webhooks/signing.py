"""The `Cartwright-Signature` header: what a receiver checks (docs/webhooks.md).

`t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>" under the endpoint's secret>`,
with one `v1=` per secret that signs at that moment (two while a secret is rotated).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

HEADER = "Cartwright-Signature"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def header(secrets: Sequence[str], timestamp: int, body: bytes) -> str:
    return ",".join([f"t={timestamp}", *(f"v1={signature(s, timestamp, body)}" for s in secrets)])


def verify(secret: str, value: str, body: bytes, *, now: int, tolerance_s: int = 300) -> bool:
    """What a receiver does: one of the `v1=` matches, and `t` is recent."""
    timestamp: int | None = None
    candidates: list[str] = []
    for part in value.split(","):
        key, _, item = part.strip().partition("=")
        if key == "t" and item.isdigit():
            timestamp = int(item)
        elif key == "v1":
            candidates.append(item)
    if timestamp is None or abs(now - timestamp) > tolerance_s:
        return False
    expected = signature(secret, timestamp, body)
    return any(hmac.compare_digest(expected, c) for c in candidates)
