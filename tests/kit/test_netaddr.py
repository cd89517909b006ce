"""The client's address behind trusted proxies (kit/netaddr.py)."""

from __future__ import annotations

import pytest

from cartwright.kit.netaddr import InvalidNetwork, client_address, parse_networks

PROXIES = parse_networks("10.0.0.0/8, 192.168.1.7, 2001:db8::/32")


def test_without_trusted_proxies_the_peer_is_the_client() -> None:
    assert client_address("127.0.0.1", ["203.0.113.9"], ()) == "127.0.0.1"


def test_forwarded_for_from_an_untrusted_peer_is_ignored() -> None:
    assert client_address("198.51.100.4", ["203.0.113.9"], PROXIES) == "198.51.100.4"


def test_the_right_most_entry_that_is_not_a_trusted_proxy_is_the_client() -> None:
    # The client wrote "1.1.1.1" itself; the first proxy appended what it saw.
    forwarded = ["1.1.1.1, 203.0.113.9, 10.1.2.3"]
    assert client_address("192.168.1.7", forwarded, PROXIES) == "203.0.113.9"
    # Several headers are one list, in order.
    assert client_address("10.0.0.1", ["1.1.1.1", "203.0.113.9"], PROXIES) == "203.0.113.9"


@pytest.mark.parametrize(
    "forwarded",
    [["garbage, 203.0.113.9"], ["203.0.113.9, , unknown"], ["203.0.113.9,\x00;--"]],
)
def test_entries_that_are_not_addresses_are_skipped(forwarded: list[str]) -> None:
    assert client_address("10.0.0.1", forwarded, PROXIES) == "203.0.113.9"


def test_ports_brackets_and_mapped_addresses_are_understood() -> None:
    assert client_address("10.0.0.1", ["203.0.113.9:4711"], PROXIES) == "203.0.113.9"
    assert client_address("10.0.0.1", ["[2001:db9::5]:443"], PROXIES) == "2001:db9::5"
    assert client_address("::ffff:10.0.0.1", ["::ffff:203.0.113.9"], PROXIES) == "203.0.113.9"


def test_when_every_hop_is_trusted_the_left_most_is_taken_or_the_peer() -> None:
    assert client_address("10.0.0.1", ["10.9.9.9, 10.0.0.2"], PROXIES) == "10.9.9.9"
    assert client_address("10.0.0.1", [], PROXIES) == "10.0.0.1"
    assert client_address("10.0.0.1", ["nonsense"], PROXIES) == "10.0.0.1"


def test_a_bad_proxy_list_is_refused() -> None:
    with pytest.raises(InvalidNetwork, match="not-an-ip"):
        parse_networks("10.0.0.0/8,not-an-ip")
    assert parse_networks(" , ") == ()
