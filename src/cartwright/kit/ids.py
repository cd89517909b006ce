"""Prefixed, opaque ids.

`new_id` makes time-ordered ids (48-bit millisecond time + 80 random bits, Crockford
base32, like a ULID) so lists can page by id. `new_secret_id` makes ids that must be
unguessable (carts, keys): 130 random bits and nothing else.
"""

from __future__ import annotations

import secrets
import time

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _base32(value: int, length: int) -> str:
    out = []
    for _ in range(length):
        value, digit = divmod(value, 32)
        out.append(_CROCKFORD[digit])
    return "".join(reversed(out))


def new_id(prefix: str) -> str:
    value = (time.time_ns() // 1_000_000) << 80 | secrets.randbits(80)
    return f"{prefix}_{_base32(value, 26)}"


def new_secret_id(prefix: str, random_chars: int = 22) -> str:
    """`random_chars` base62 characters: 22 of them carry 130 bits."""
    value = secrets.randbits(6 * random_chars)  # more bits than needed: no visible bias
    out = []
    for _ in range(random_chars):
        value, digit = divmod(value, 62)
        out.append(_BASE62[digit])
    return prefix + "_" + "".join(out)


def has_prefix(value: str, prefix: str) -> bool:
    return value.startswith(prefix + "_") and len(value) > len(prefix) + 1
