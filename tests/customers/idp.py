"""A small OpenID Connect identity provider for the tests: keys made here with
`cryptography`, a JWKS served over HTTP by a thread, tokens minted with PyJWT."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm


@dataclass
class SigningKey:
    kid: str
    alg: str
    private_key: Any

    @property
    def public_jwk(self) -> dict[str, Any]:
        public = self.private_key.public_key()
        if self.alg == "RS256":
            jwk: dict[str, Any] = RSAAlgorithm.to_jwk(public, as_dict=True)
        else:
            jwk = ECAlgorithm.to_jwk(public, as_dict=True)
        return {**jwk, "kid": self.kid, "use": "sig", "alg": self.alg}

    @property
    def public_pem(self) -> bytes:
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


def new_key(alg: str, kid: str | None = None) -> SigningKey:
    kid = kid or f"{alg.lower()}-{secrets.token_hex(4)}"
    if alg == "RS256":
        return SigningKey(kid, alg, rsa.generate_private_key(public_exponent=65537, key_size=2048))
    return SigningKey(kid, alg, ec.generate_private_key(ec.SECP256R1()))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned_token(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    head = _b64(json.dumps(header).encode()) + "." + _b64(json.dumps(claims).encode())
    return head + "." + _b64(signature)


class IdentityProvider:
    def __init__(self) -> None:
        self.issuer = "https://idp.example.test/" + secrets.token_hex(4)
        self.audience = "cartwright-shop-" + secrets.token_hex(4)
        self.rsa = new_key("RS256")
        self.ec = new_key("ES256")
        self._published: dict[str, SigningKey] = {k.kid: k for k in (self.rsa, self.ec)}
        self._lock = threading.Lock()
        self.fetches = 0
        self.down = False
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                with provider._lock:
                    provider.fetches += 1
                    down = provider.down
                    body = json.dumps(provider.jwks()).encode()
                if down or self.path != "/jwks.json":
                    self.send_response(503 if down else 404)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def jwks_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/jwks.json"

    def start(self) -> IdentityProvider:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def jwks(self) -> dict[str, Any]:
        return {"keys": [k.public_jwk for k in self._published.values()]}

    def publish(self, key: SigningKey) -> None:
        with self._lock:
            self._published[key.kid] = key

    def withdraw(self, key: SigningKey) -> None:
        with self._lock:
            self._published.pop(key.kid, None)

    def server_env(self, **overrides: str) -> dict[str, str]:
        return {
            "CARTWRIGHT_CUSTOMER_JWKS_URL": self.jwks_url,
            "CARTWRIGHT_CUSTOMER_ISSUER": self.issuer,
            "CARTWRIGHT_CUSTOMER_AUDIENCE": self.audience,
            "CARTWRIGHT_CUSTOMER_JWKS_TTL_S": "2",
            "CARTWRIGHT_CUSTOMER_JWKS_REFETCH_INTERVAL_S": "0.2",
            **overrides,
        }

    def claims(
        self,
        sub: str,
        *,
        email: str | None = None,
        expires_in: float = 300,
        not_before_in: float | None = None,
        issuer: str | None = None,
        audience: str | None = None,
    ) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": issuer or self.issuer,
            "aud": audience or self.audience,
            "sub": sub,
            "iat": now,
            "exp": now + int(expires_in),
        }
        if email is not None:
            claims["email"] = email
        if not_before_in is not None:
            claims["nbf"] = now + int(not_before_in)
        return claims

    def token(self, sub: str, *, key: SigningKey | None = None, **claims: Any) -> str:
        key = key or self.rsa
        return jwt.encode(
            self.claims(sub, **claims), key.private_key, algorithm=key.alg, headers={"kid": key.kid}
        )

    def none_token(self, sub: str) -> str:
        return unsigned_token({"alg": "none", "typ": "JWT", "kid": self.rsa.kid}, self.claims(sub))

    def hs256_with_public_key(self, sub: str) -> str:
        """The classic confusion attack: HMAC keyed with the (public) RSA key's PEM."""
        header = {"alg": "HS256", "typ": "JWT", "kid": self.rsa.kid}
        body = self.claims(sub)
        head = unsigned_token(header, body).rsplit(".", 1)[0]
        signature = hmac.new(self.rsa.public_pem, head.encode(), hashlib.sha256).digest()
        return head + "." + _b64(signature)

    def rs256_header_on_ec_key(self, sub: str) -> str:
        """Signed with the RSA key but naming the EC key's kid (alg/kty mismatch)."""
        return jwt.encode(
            self.claims(sub), self.rsa.private_key, algorithm="RS256", headers={"kid": self.ec.kid}
        )
