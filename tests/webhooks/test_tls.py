"""HTTPS to a pinned address: the delivery connects to the IP it checked, yet TLS speaks the
URL's host (SNI) and the certificate is verified against that host, not the IP."""

from __future__ import annotations

import datetime as dt
import ssl
from collections.abc import Sequence
from pathlib import Path

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.webhooks.support import Receiver, Rig


def _certificate(tmp_path: Path, name: str) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


async def _to_loopback(host: str, port: int) -> Sequence[str]:
    return ["127.0.0.1"]


async def _deliver_over_tls(rig: Rig, tmp_path: Path, served_as: str) -> tuple[Receiver, dict]:
    cert, key = _certificate(tmp_path, served_as)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    receiver = await Receiver().start(tls=server_tls)
    trust = ssl.create_default_context(cafile=str(cert))
    endpoint = await rig.endpoint(f"https://hooks.example.test:{receiver.port}/hooks")
    await rig.emit(1)
    await rig.dispatch()
    rig.sender(resolver=_to_loopback, transport=httpx.AsyncHTTPTransport(verify=trust))
    await rig.flush()
    (listed,) = await rig.deliveries(endpoint["id"])
    return receiver, await rig.delivery(listed["id"])


async def test_tls_to_the_pinned_address_verifies_the_urls_host(rig: Rig, tmp_path: Path) -> None:
    receiver, delivery = await _deliver_over_tls(rig, tmp_path, "hooks.example.test")
    try:
        assert delivery["status"] == "succeeded", delivery
        assert receiver.hosts == [f"hooks.example.test:{receiver.port}"]
    finally:
        await receiver.stop()


async def test_a_certificate_for_another_host_fails_the_attempt(rig: Rig, tmp_path: Path) -> None:
    receiver, delivery = await _deliver_over_tls(rig, tmp_path, "other.example.test")
    try:
        assert delivery["status"] == "failed"
        (attempt,) = delivery["attempts"]
        assert attempt["status_code"] is None
        assert (
            "CERTIFICATE_VERIFY_FAILED" in attempt["error"]
            or "certificate" in attempt["error"].lower()
        ), attempt
        assert receiver.received == []
    finally:
        await receiver.stop()
