"""The server's secret keys: tokens derived with HMAC, values sealed with AES-GCM.

Nothing secret that the platform hands out is kept where a database dump would show it:
- tokens it can recompute (an order's access token) are HMACs of the thing they open, made
  with a key that lives only in the environment (`CARTWRIGHT_SECRET_KEY`), so nothing is
  stored at all;
- values it must give back later (the stored answer of an idempotent request that minted
  an API key) are sealed with AES-256-GCM under a key derived from the same secret.

Every token and sealed value names the key that made it (`kid`, 8 hex digits of a hash of
the key), so keys rotate: the current key makes new ones, and the keys listed in
`CARTWRIGHT_SECRET_KEY_PREVIOUS` still verify and open old ones until they are dropped.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MIN_SECRET_LENGTH = 32
SEALED_PREFIX = "enc1."
_NONCE_BYTES = 12


class SecretKeyError(Exception):
    """A secret key is missing, too short, or unknown for a value made with it."""


def _subkey(secret: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(secret)


@dataclass(frozen=True, slots=True)
class _Key:
    kid: str
    signing: bytes
    sealing: AESGCM


def _key(secret: str) -> _Key:
    if len(secret) < MIN_SECRET_LENGTH:
        raise SecretKeyError(f"a secret key must be at least {MIN_SECRET_LENGTH} characters")
    raw = secret.encode()
    kid = hashlib.sha256(b"cartwright-kid:" + raw).hexdigest()[:8]
    return _Key(
        kid, _subkey(raw, b"cartwright/hmac/v1"), AESGCM(_subkey(raw, b"cartwright/aead/v1"))
    )


class SecretKeys:
    """The current key (derives and seals) and the previous ones (still verify and open)."""

    def __init__(self, current: str, previous: Sequence[str] = ()) -> None:
        self._current = _key(current)
        self._by_kid = {k.kid: k for k in (self._current, *(_key(p) for p in previous))}

    @property
    def kid(self) -> str:
        return self._current.kid

    # ------------------------------------------------------------------ derived tokens

    def derive(self, purpose: str, subject: str, *, kid: str | None = None) -> str:
        """`kid` + 40 hex digits (160 bits) of HMAC-SHA256 over purpose and subject.
        Deterministic: the same subject gives the same token, on every process."""
        key = self._current if kid is None else self._by_kid.get(kid)
        if key is None:
            raise SecretKeyError(f"no secret key {kid!r}")
        mac = hmac.new(key.signing, f"{purpose}\x00{subject}".encode(), hashlib.sha256)
        return key.kid + mac.hexdigest()[:40]

    def verify(self, purpose: str, subject: str, token: str) -> bool:
        """Whether `token` was derived for `subject`, by the current or a previous key."""
        kid = token[:8]
        if len(token) != 48 or kid not in self._by_kid:
            return False
        return hmac.compare_digest(self.derive(purpose, subject, kid=kid), token)

    # ------------------------------------------------------------------ sealed values

    def seal(self, purpose: str, plaintext: bytes) -> str:
        """`enc1.<kid>.<base64url(nonce | ciphertext | tag)>`; `purpose` is bound in as
        associated data, so a value sealed for one use cannot be opened as another."""
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._current.sealing.encrypt(nonce, plaintext, purpose.encode())
        blob = base64.urlsafe_b64encode(nonce + sealed).decode()
        return f"{SEALED_PREFIX}{self._current.kid}.{blob}"

    def open(self, purpose: str, value: str) -> bytes:
        try:
            _, kid, blob = value.split(".", 2)
            raw = base64.urlsafe_b64decode(blob)
        except ValueError:
            raise SecretKeyError("not a sealed value") from None
        key = self._by_kid.get(kid)
        if key is None:
            raise SecretKeyError(f"sealed with secret key {kid!r}, which is not configured")
        try:
            return key.sealing.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], purpose.encode())
        except InvalidTag:
            raise SecretKeyError("the sealed value was altered or sealed for another use") from None


def is_sealed(value: str | bytes) -> bool:
    prefix = SEALED_PREFIX if isinstance(value, str) else SEALED_PREFIX.encode()
    return value.startswith(prefix)  # type: ignore[arg-type]


def load_or_create_key_file(path: Path) -> str:
    """The development fallback: a random key kept in `path` (mode 0600), created by the
    first process that needs it; every later process on the same machine reads it. The
    file appears whole or not at all (written aside, then hard-linked into place)."""
    if path.exists():
        return path.read_text().strip()
    aside = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(secrets.token_urlsafe(48) + "\n")
    try:
        os.link(aside, path)
    except FileExistsError:
        pass  # another process was first: use its key
    finally:
        aside.unlink()
    return path.read_text().strip()
