"""Prefixed, opaque ids.

`new_id` makes time-ordered ids (48-bit millisecond time + 80 random bits, Crockford
base32, like a ULID) so lists can page by id. `new_secret_id` makes ids that must be
unguessable (carts, keys): 130 random bits and nothing else.
"""

from __future__ import annotations

import hashlib
import os
import random
import secrets
import time
from datetime import datetime

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


# Two Crockford digits for every 10-bit value: an id is encoded ten bits at a time.
_PAIRS = [a + b for a in _CROCKFORD for b in _CROCKFORD]


def _base32(value: int, length: int) -> str:
    """`value` as `length` Crockford base32 digits, most significant first (so ids sort
    as their values do)."""
    digits = []
    if length % 2:
        digits.append(_CROCKFORD[value & 31])
        value >>= 5
    for _ in range(length // 2):
        digits.append(_PAIRS[value & 1023])
        value >>= 10
    return "".join(reversed(digits))


# Time-ordered ids are not secrets: they need uniqueness, not unpredictability, so their
# random part comes from a fast PRNG seeded by the OS (one per process), not a syscall each.
_fast_random = random.Random(secrets.randbits(128))


def _reseed() -> None:
    _fast_random.seed(secrets.randbits(128))


# A forked child would otherwise continue its parent's sequence and hand out its ids.
os.register_at_fork(after_in_child=_reseed)


def new_id(prefix: str) -> str:
    value = (time.time_ns() // 1_000_000) << 80 | _fast_random.getrandbits(80)
    return f"{prefix}_{_base32(value, 26)}"


def new_secret_id(prefix: str, random_chars: int = 22) -> str:
    """`random_chars` base62 characters: 22 of them carry 130 bits."""
    value = secrets.randbits(6 * random_chars)  # more bits than needed: no visible bias
    out = []
    for _ in range(random_chars):
        value, digit = divmod(value, 62)
        out.append(_BASE62[digit])
    return prefix + "_" + "".join(out)


def derived_id(prefix: str, *parts: str) -> str:
    """The same id for the same parts (a digest, 130 bits): what a retried request must
    find again, e.g. a capture made under one Idempotency-Key."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return f"{prefix}_{_base32(int.from_bytes(digest[:17]) >> 6, 26)}"


def has_prefix(value: str, prefix: str) -> bool:
    return value.startswith(prefix + "_") and len(value) > len(prefix) + 1


def first_id_at(prefix: str, when: datetime) -> str:
    """The smallest time-ordered id `new_id(prefix)` could make at `when`: ids at least
    this one were made at or after it (a range scan over an id index reads "since when")."""
    value = max(int(when.timestamp() * 1000), 0) << 80
    return f"{prefix}_{_base32(value, 26)}"
