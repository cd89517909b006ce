"""Named failpoints for fault-injection tests.

`CARTWRIGHT_FAILPOINTS="checkout.after_authorize=crash"` makes the process die (as with
`kill -9`: no cleanup, no rollback beyond what the database does) when the code reaches
`failpoint("checkout.after_authorize")`. `=error` raises instead. Unset, a failpoint costs
one dict lookup.
"""

from __future__ import annotations

import os


def _parse(raw: str) -> dict[str, str]:
    points = {}
    for item in filter(None, (part.strip() for part in raw.split(","))):
        name, _, action = item.partition("=")
        points[name.strip()] = action.strip() or "crash"
    return points


_ACTIVE = _parse(os.environ.get("CARTWRIGHT_FAILPOINTS", ""))


class FailpointError(RuntimeError):
    pass


def failpoint(name: str) -> None:
    action = _ACTIVE.get(name)
    if action is None:
        return
    if action == "crash":
        os._exit(137)
    raise FailpointError(f"failpoint {name}")
