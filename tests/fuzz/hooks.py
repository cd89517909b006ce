"""Schemathesis hooks for the suite's fuzz runs (loaded with SCHEMATHESIS_HOOKS).

Each generated call gets an `Idempotency-Key` of its own when the generated one is valid:
generated keys repeat across calls with different bodies, and the contract answers that
with 422 `idempotency_key_reused`, which would hide every other answer. Invalid keys (too
long, empty) are left alone, so the document's limits on them are still tried.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

import schemathesis

_HEADER = "Idempotency-Key"
# A fuzzer cannot sign a customer token: any it makes up is 401. The stateful run walks the
# path of a guest shopper (the customer tests cover signed-in ones), so it sends none.
_CUSTOMER = "Cartwright-Customer-Token"
GUEST = os.environ.get("FUZZ_GUEST") == "1"


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: Any) -> None:
    headers = case.headers
    if GUEST and headers:
        headers.pop(_CUSTOMER, None)
    if headers and _HEADER in headers:
        value = headers[_HEADER]
        if isinstance(value, str) and 1 <= len(value) <= 255:
            headers[_HEADER] = uuid.uuid4().hex
