"""The client's address: the TCP peer, or what trusted proxies say it was.

Behind a reverse proxy or load balancer, every request comes from the proxy; the proxy
appends the address it saw to `X-Forwarded-For`. Only a peer named in
`CARTWRIGHT_TRUSTED_PROXIES` is believed, and only for the entries it and the other trusted
proxies appended: the right-most entry that is not itself a trusted proxy is the client.
Entries to its left were written by the client and may say anything. Entries that are not
IP addresses are skipped.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class InvalidNetwork(ValueError):
    pass


def parse_networks(value: str) -> tuple[Network, ...]:
    """Comma-separated IPs or CIDRs (`10.0.0.0/8, 192.168.1.7, ::1`)."""
    networks = []
    for part in value.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise InvalidNetwork(f"{part!r} is not an IP address or network") from None
    return tuple(networks)


def _address(text: str) -> Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # "[2001:db8::1]:443"
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # "203.0.113.7:51234"
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: Address, trusted: tuple[Network, ...]) -> bool:
    return any(address.version == net.version and address in net for net in trusted)


def client_address(
    peer: str | None, forwarded_for: Iterable[str], trusted: tuple[Network, ...]
) -> str | None:
    """`forwarded_for`: every X-Forwarded-For header's value, in the order received."""
    if peer is None or not trusted:
        return peer
    peer_address = _address(peer)
    if peer_address is None or not _trusted(peer_address, trusted):
        return peer
    entries = [e for value in forwarded_for for e in value.split(",")]
    found: Address | None = None
    for entry in reversed(entries):
        address = _address(entry)
        if address is None:
            continue
        found = address
        if not _trusted(address, trusted):
            break
    # Every hop a trusted proxy (or no usable entry): the left-most one seen, or the peer.
    return str(found) if found is not None else peer


def vouched(address: str, peer: str | None, trusted: tuple[Network, ...]) -> bool:
    """Whether `address` (from `client_address`) came from a trusted proxy's
    X-Forwarded-For: the peer is a trusted proxy and the address is neither the peer nor
    another trusted proxy."""
    if peer is None or address == peer or not trusted:
        return False
    peer_address, parsed = _address(peer), _address(address)
    if peer_address is None or parsed is None or not _trusted(peer_address, trusted):
        return False
    return not _trusted(parsed, trusted)
