"""Which URLs a webhook may be sent to, and the address a delivery connects to.

A webhook endpoint is a URL a merchant typed, fetched by our servers: without these rules it
would let anyone with a secret key make the platform call its own private network (the
database, the cloud metadata service at 169.254.169.254, an admin port on loopback). So a
URL must be http(s) with no credentials in it, and its host must be, and resolve only to,
public unicast addresses. The check is made when the endpoint is created or changed and
again on every delivery, after resolving the name; the delivery then connects to the very
address that was checked (no second lookup a changed DNS answer could slip through).
`CARTWRIGHT_WEBHOOKS_ALLOW_PRIVATE=1` lifts the address rule (development, tests).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

import httpx

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
# host, port -> every address the name resolves to (an IP literal resolves to itself).
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]

# NAT64's well-known prefix carries an IPv4 address in its last 32 bits.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class UnsafeUrl(ValueError):
    """The URL may not be a webhook endpoint (the message says why, for the client)."""


@dataclass(frozen=True, slots=True)
class Target:
    """Where a delivery goes: the URL as configured and the vetted address to connect to."""

    url: str
    host: str
    port: int
    address: str


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    return None


def refusal(address: Address) -> str | None:
    """Why a delivery may not connect to `address` (None: a public unicast address)."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = _embedded_ipv4(address)
        if inner is not None:
            why = refusal(inner)
            if why is not None:
                return f"{why} (inside the IPv6 address {address})"
    for flag, name in (
        ("is_unspecified", "unspecified"),
        ("is_loopback", "loopback"),
        ("is_link_local", "link-local"),
        ("is_multicast", "multicast"),
        ("is_private", "private"),
        ("is_reserved", "reserved"),
    ):
        if getattr(address, flag):
            return f"{address} is a {name} address"
    if not address.is_global:  # shared address space (100.64/10), documentation, ...
        return f"{address} is not a public address"
    return None


def parse(url: str) -> SplitResult:
    """The URL's parts, or `UnsafeUrl` if it is not an http(s) URL we may call."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError on a bad port)
    except ValueError:
        raise UnsafeUrl("is not a valid URL") from None
    if parts.scheme not in ("http", "https"):
        raise UnsafeUrl("must be an http:// or https:// URL")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise UnsafeUrl("must not carry a user name or password")
    if not parts.hostname:
        raise UnsafeUrl("has no host")
    if parts.fragment:
        raise UnsafeUrl("must not have a #fragment")
    try:
        # What the sender will build its request from, and a name DNS can carry.
        httpx.URL(url)
        if _literal(parts.hostname) is None:
            parts.hostname.encode("idna")
    except (httpx.InvalidURL, UnicodeError):
        raise UnsafeUrl("has a host that is not a valid name or address") from None
    return parts


def _literal(host: str) -> Address | None:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    return address


async def system_resolver(host: str, port: int) -> Sequence[str]:
    """Every address the system's resolver gives for `host`."""
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    return [str(info[4][0]) for info in infos]


async def vet(url: str, *, allow_private: bool, resolver: Resolver) -> Target:
    """Resolve the URL's host and check every address it gave; the first is where the
    delivery connects. Raises `UnsafeUrl` (refused) or `OSError` (did not resolve)."""
    parts = parse(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    literal = _literal(host)
    answers = [str(literal)] if literal is not None else list(await resolver(host, port))
    if not answers:
        raise OSError(f"{host} did not resolve")
    addresses: list[Address] = []
    for answer in answers:
        address = ipaddress.ip_address(answer.split("%", 1)[0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        addresses.append(address)
    if not allow_private:
        # Every answer must be public: a name with one private answer among public ones
        # is refused, or a retry could land on the private one.
        for address in addresses:
            why = refusal(address)
            if why is not None:
                detail = (
                    why if literal is not None else f"{host} resolves to a blocked address: {why}"
                )
                raise UnsafeUrl(f"may not be called: {detail}")
    return Target(url=url, host=host, port=port, address=str(addresses[0]))


async def check_new_url(url: str, *, allow_private: bool, resolver: Resolver) -> None:
    """The check when an endpoint is created or its URL changed: the URL's form, and the
    addresses its host resolves to now. A name that does not resolve yet is accepted (it is
    checked again on every delivery)."""
    try:
        await vet(url, allow_private=allow_private, resolver=resolver)
    except (OSError, UnicodeError):
        return
