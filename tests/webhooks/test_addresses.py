"""Which URLs a webhook may go to: every class of address refused (IPv4, IPv6, IPv4 inside
IPv6), checked again after DNS at delivery time, and the connection made to the address
that was checked."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cartwright.kit.errors import ValidationFailed
from cartwright.webhooks import addresses, service
from tests.fakes.clock import FakeClock
from tests.webhooks.support import Receiver, Rig, settings

REFUSED = [
    ("http://127.0.0.1/", "loopback"),
    ("http://127.5.6.7:8080/", "loopback"),
    ("http://[::1]/", "loopback"),
    ("http://10.1.2.3/", "private"),
    ("http://172.16.0.1/", "private"),
    ("http://192.168.1.1/", "private"),
    ("http://[fc00::1]/", "private"),
    ("http://[fd12:3456::1]/", "private"),
    ("http://169.254.169.254/latest/meta-data", "link-local"),
    ("http://[fe80::1]/", "link-local"),
    ("http://224.0.0.1/", "multicast"),
    ("http://[ff02::1]/", "multicast"),
    ("http://0.0.0.0/", "unspecified"),
    ("http://[::]/", "unspecified"),
    ("http://240.0.0.1/", "reserved"),
    ("http://255.255.255.255/", "broadcast or reserved"),
    ("http://100.64.0.1/", "shared address space"),
    ("http://192.0.2.1/", "documentation"),
    ("http://[2001:db8::1]/", "documentation"),
    ("http://[::ffff:127.0.0.1]/", "IPv4-mapped loopback"),
    ("http://[::ffff:10.0.0.1]/", "IPv4-mapped private"),
    ("http://[::ffff:169.254.169.254]/", "IPv4-mapped link-local"),
    ("http://[64:ff9b::a9fe:a9fe]/", "NAT64 of link-local"),
    ("http://[2002:a00:1::1]/", "6to4 of private"),
]


async def _no_dns(host: str, port: int) -> Sequence[str]:
    raise OSError("no DNS in this test")


@pytest.mark.parametrize(("url", "kind"), REFUSED)
async def test_each_class_of_address_is_refused(url: str, kind: str) -> None:
    with pytest.raises(addresses.UnsafeUrl):
        await addresses.vet(url, allow_private=False, resolver=_no_dns)
    with pytest.raises(ValidationFailed) as refused:
        await service.vet_url(url, allow_private=False, resolver=_no_dns)
    assert refused.value.errors and refused.value.errors[0]["field"] == "url"
    # Allowed for development and tests.
    await addresses.vet(url, allow_private=True, resolver=_no_dns)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://hooks.example.com/",
        "file:///etc/passwd",
        "gopher://hooks.example.com/",
        "http://user:pw@hooks.example.com/",
        "https://user@hooks.example.com/",
        "https://hooks.example.com:99999/",
        "http:///nohost",
        "https://hooks.example.com/#frag",
        "not a url",
    ],
)
async def test_urls_that_are_not_plain_http_are_refused_even_when_private_is_allowed(
    url: str,
) -> None:
    with pytest.raises(addresses.UnsafeUrl):
        await addresses.vet(url, allow_private=True, resolver=_no_dns)


async def test_a_public_address_is_accepted() -> None:
    target = await addresses.vet(
        "https://[2606:4700::1111]:8443/x", allow_private=False, resolver=_no_dns
    )
    assert (target.address, target.port) == ("2606:4700::1111", 8443)
    target = await addresses.vet("http://8.8.8.8/hook", allow_private=False, resolver=_no_dns)
    assert (target.address, target.port) == ("8.8.8.8", 80)


async def test_a_name_is_refused_if_any_answer_is_not_public() -> None:
    async def mixed(host: str, port: int) -> Sequence[str]:
        return ["93.184.216.34", "10.0.0.7"]

    with pytest.raises(addresses.UnsafeUrl, match="10.0.0.7"):
        await addresses.vet("https://hooks.example.com/", allow_private=False, resolver=mixed)


async def test_a_name_that_does_not_resolve_yet_may_be_created() -> None:
    await service.vet_url("https://hooks.example.com/", allow_private=False, resolver=_no_dns)


_private_v4 = st.sampled_from(
    ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8", "169.254.0.0/16"]
).flatmap(
    lambda net: st.integers(0, ipaddress.ip_network(net).num_addresses - 1).map(
        lambda i: ipaddress.ip_network(net)[i]
    )
)


@given(_private_v4)
def test_any_private_ipv4_is_refused_plain_or_mapped_into_ipv6(
    address: ipaddress.IPv4Address,
) -> None:
    assert addresses.refusal(address) is not None
    assert addresses.refusal(ipaddress.IPv6Address(f"::ffff:{address}")) is not None
    nat64 = ipaddress.IPv6Address(int(ipaddress.IPv6Address("64:ff9b::")) | int(address))
    assert addresses.refusal(nat64) is not None


class ChangingDns:
    """Answers `answers[n]` on the n-th lookup (the last one after that), and counts."""

    def __init__(self, *answers: str) -> None:
        self.answers = answers
        self.lookups = 0

    async def __call__(self, host: str, port: int) -> Sequence[str]:
        answer = self.answers[min(self.lookups, len(self.answers) - 1)]
        self.lookups += 1
        return [answer]


async def test_a_dns_answer_that_changes_to_a_private_address_is_refused_at_delivery(
    rig: Rig, receiver: Receiver
) -> None:
    rig.config = settings(webhooks_allow_private=False)
    url = f"http://hooks.example.test:{receiver.port}/hooks"
    dns = ChangingDns("93.184.216.34", "127.0.0.1")
    await service.vet_url(url, allow_private=False, resolver=dns)  # public when created
    endpoint = await rig.endpoint(url)
    await rig.emit(1)
    await rig.dispatch()
    rig.sender(resolver=dns)
    await rig.flush()
    assert receiver.received == []  # never connected
    (listed,) = await rig.deliveries(endpoint["id"])
    (attempt,) = (await rig.delivery(listed["id"]))["attempts"]
    assert attempt["status_code"] is None
    assert attempt["error"].startswith("address not allowed")
    assert "127.0.0.1" in attempt["error"]


async def test_the_delivery_connects_to_the_address_it_checked_with_the_hosts_name(
    rig: Rig, receiver: Receiver, fake_clock: FakeClock
) -> None:
    # The first answer is the receiver; any later lookup would send it nowhere.
    dns = ChangingDns("127.0.0.1", "192.0.2.99")
    url = f"http://hooks.example.test:{receiver.port}/hooks"
    await rig.endpoint(url)
    (event_id,) = await rig.emit(1)
    await rig.dispatch()
    rig.sender(resolver=dns)
    await rig.flush()
    assert receiver.count(event_id) == 1
    assert dns.lookups == 1  # resolved once, connected to what was checked
    assert receiver.hosts == [f"hooks.example.test:{receiver.port}"]
