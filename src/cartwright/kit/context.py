"""What the current request (or worker job) is, for code that must not take it as an
argument: the request id (logs, problem bodies, the audit log) and who acts (the audit log).

Set by `web.request_context.RequestContext` for HTTP requests (the actor once the key is
authenticated, `web.deps.caller`) and by the CLI for its own commands (`act_as`); read
anywhere through `current()`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from enum import StrEnum

from cartwright.kit import ids


class ActorKind(StrEnum):
    """Who acts. Changes made by the last three are audited; a storefront's are not."""

    PUBLISHABLE_KEY = "publishable_key"
    SECRET_KEY = "secret_key"
    ADMIN = "admin"  # CARTWRIGHT_ADMIN_KEY
    CLI = "cli"  # an operator at the command line


AUDITED_ACTORS = frozenset({ActorKind.SECRET_KEY, ActorKind.ADMIN, ActorKind.CLI})


@dataclass(slots=True)
class RequestInfo:
    request_id: str
    # The client's IP address: the TCP peer, or what a trusted proxy says (kit/netaddr.py).
    client_address: str | None = None
    # The API key (or `cli`) that acts; set once the caller is authenticated.
    actor_key_id: str | None = None
    actor_kind: ActorKind | None = None
    # True when `client_address` is what a trusted proxy said (not the TCP peer, not a
    # proxy itself): only such an address is counted by the fraud screening's velocity.
    client_address_vouched: bool = False

    @property
    def audited(self) -> bool:
        return self.actor_kind in AUDITED_ACTORS

    # Headers the answer must carry whatever it is (the rate-limit state), added by
    # web.request_context when the answer starts.
    response_headers: list[tuple[bytes, bytes]] = field(default_factory=list)


_current: ContextVar[RequestInfo | None] = ContextVar("cartwright_request", default=None)


def new_request_id() -> str:
    return ids.new_id("req")


def begin(request_id: str | None = None, client_address: str | None = None) -> RequestInfo:
    """Start a new context (a request, a CLI command, a worker job) and return it."""
    info = RequestInfo(request_id or new_request_id(), client_address)
    _current.set(info)
    return info


@contextmanager
def act_as(actor_key_id: str, kind: ActorKind = ActorKind.CLI) -> Iterator[RequestInfo]:
    """A context of its own for work that is not an HTTP request (a CLI command): its
    changes are recorded as made by `actor_key_id`. The previous context comes back after."""
    info = RequestInfo(new_request_id(), None, actor_key_id, kind)
    token = _current.set(info)
    try:
        yield info
    finally:
        _current.reset(token)


def current() -> RequestInfo | None:
    return _current.get()


def request_id() -> str | None:
    info = _current.get()
    return info.request_id if info is not None else None
