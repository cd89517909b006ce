"""Derived tokens and sealed values: deterministic, bound to their use, rotatable."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cartwright.kit.crypto import SecretKeyError, SecretKeys, is_sealed, load_or_create_key_file

OLD = "o" * 40
NEW = "n" * 40


def test_a_derived_token_verifies_for_its_subject_and_purpose_only() -> None:
    keys = SecretKeys(NEW)
    token = keys.derive("order-access", "ord_1")
    assert token == keys.derive("order-access", "ord_1")  # the same on every process
    assert keys.verify("order-access", "ord_1", token)
    assert not keys.verify("order-access", "ord_2", token)
    assert not keys.verify("other-use", "ord_1", token)
    assert not keys.verify("order-access", "ord_1", token[:-1] + ("0" if token[-1] != "0" else "1"))
    assert not keys.verify("order-access", "ord_1", "")


def test_tokens_of_a_previous_key_verify_until_it_is_dropped() -> None:
    token = SecretKeys(OLD).derive("order-access", "ord_1")
    assert SecretKeys(NEW, [OLD]).verify("order-access", "ord_1", token)
    assert not SecretKeys(NEW).verify("order-access", "ord_1", token)
    # New tokens come from the current key.
    assert SecretKeys(NEW, [OLD]).derive("order-access", "ord_1") != token


@given(st.binary(max_size=2000))
def test_sealed_values_open_to_what_was_sealed(plaintext: bytes) -> None:
    keys = SecretKeys(NEW)
    sealed = keys.seal("answer", plaintext)
    assert is_sealed(sealed) and is_sealed(sealed.encode())
    assert keys.open("answer", sealed) == plaintext


def test_a_sealed_value_opens_only_for_its_use_with_a_key_that_made_it() -> None:
    sealed = SecretKeys(OLD).seal("answer", b"sk_live_secret")
    assert b"sk_live_secret" not in sealed.encode()
    assert SecretKeys(NEW, [OLD]).open("answer", sealed) == b"sk_live_secret"
    with pytest.raises(SecretKeyError):
        SecretKeys(NEW).open("answer", sealed)
    with pytest.raises(SecretKeyError):
        SecretKeys(OLD).open("other", sealed)
    prefix, kid, blob = sealed.split(".", 2)
    flipped = blob[:10] + ("A" if blob[10] != "A" else "B") + blob[11:]
    with pytest.raises(SecretKeyError):
        SecretKeys(OLD).open("answer", f"{prefix}.{kid}.{flipped}")


def test_a_short_secret_key_is_refused() -> None:
    with pytest.raises(SecretKeyError):
        SecretKeys("too short")


def test_concurrent_processes_agree_on_one_generated_key(tmp_path: Path) -> None:
    path = tmp_path / "cartwright.db.secret-key"
    found: list[str] = []
    threads = [
        threading.Thread(target=lambda: found.append(load_or_create_key_file(path)))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(found)) == 1 and len(found[0]) >= 32
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # nothing left aside
