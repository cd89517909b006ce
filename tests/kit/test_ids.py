"""Properties of `cartwright.kit.ids`: prefixed, time-ordered ids and unguessable ones."""

from __future__ import annotations

import math
import string
import time
from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from cartwright.kit.ids import has_prefix, new_id, new_secret_id

CROCKFORD = set("0123456789ABCDEFGHJKMNPQRSTVWXYZ")
BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
prefixes = st.text(alphabet=string.ascii_lowercase, min_size=1, max_size=8)


def _crockford_value(text: str) -> int:
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    value = 0
    for char in text:
        value = value * 32 + alphabet.index(char)
    return value


@given(prefixes)
def test_new_id_has_its_prefix_and_26_crockford_characters(prefix: str) -> None:
    value = new_id(prefix)
    head, _, body = value.partition("_")
    assert head == prefix
    assert len(body) == 26
    assert set(body) <= CROCKFORD
    assert has_prefix(value, prefix)


def test_new_id_carries_the_current_millisecond() -> None:
    before = time.time_ns() // 1_000_000
    value = new_id("ord")
    after = time.time_ns() // 1_000_000
    millis = _crockford_value(value.removeprefix("ord_")) >> 80
    assert before <= millis <= after


def test_new_ids_sort_by_time_across_milliseconds() -> None:
    ids = []
    for _ in range(20):
        ids.append(new_id("evt"))
        time.sleep(0.002)
    assert ids == sorted(ids)


def test_new_ids_are_unique() -> None:
    ids = [new_id("x") for _ in range(20_000)]
    assert len(set(ids)) == len(ids)


@given(prefixes, st.integers(min_value=22, max_value=64))
def test_new_secret_id_is_prefix_and_base62(prefix: str, length: int) -> None:
    value = new_secret_id(prefix, length)
    assert value.startswith(prefix + "_")
    body = value.removeprefix(prefix + "_")
    assert len(body) == length
    assert set(body) <= set(BASE62)
    assert has_prefix(value, prefix)


def test_default_secret_id_carries_at_least_128_bits() -> None:
    body = new_secret_id("cart").removeprefix("cart_")
    assert len(body) * math.log2(62) >= 128


def test_secret_ids_are_unique_and_not_ordered() -> None:
    ids = [new_secret_id("cart") for _ in range(20_000)]
    assert len(set(ids)) == len(ids)
    assert ids != sorted(ids)


def test_every_position_of_a_secret_id_uses_the_whole_alphabet_evenly() -> None:
    # A generator with fewer random bits than characters (say 128 bits spread over 22
    # base62 digits) leaves some position with a few symbols only; uniform draws do not.
    samples = 20_000
    bodies = [new_secret_id("cart").removeprefix("cart_") for _ in range(samples)]
    expected = samples / 62
    for position in range(22):
        counts = Counter(body[position] for body in bodies)
        assert set(counts) == set(BASE62), position
        # About nine standard deviations wide: flags real bias, never chance.
        assert all(abs(n - expected) < expected * 0.5 for n in counts.values()), (
            position,
            counts.most_common(3),
            counts.most_common()[-3:],
        )


def test_has_prefix() -> None:
    assert has_prefix("cart_abc", "cart")
    assert not has_prefix("cart_", "cart")
    assert not has_prefix("carts_abc", "cart")
    assert not has_prefix("cartabc", "cart")
    assert not has_prefix("ord_abc", "cart")
    assert not has_prefix("", "cart")


def test_a_forked_process_hands_out_ids_of_its_own() -> None:
    import os

    from cartwright.kit import ids as ids_module

    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next ids, to the parent
        os.close(read_end)
        os.write(write_end, ",".join(ids_module.new_id("x") for _ in range(50)).encode())
        os._exit(0)
    os.close(write_end)
    parent = {ids_module.new_id("x") for _ in range(50)}
    with os.fdopen(read_end) as pipe:
        child = set(pipe.read().split(","))
    os.waitpid(pid, 0)
    assert len(child) == 50
    # Same millisecond or not, the random parts differ: no id is handed out twice.
    assert not parent & child
    assert {i[-16:] for i in parent}.isdisjoint({i[-16:] for i in child})
