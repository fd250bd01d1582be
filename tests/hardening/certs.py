"""Certificates a man in the middle might present: self-signed, or from a trusted CA but for another host."""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class BadCert:
    cert_pem: Path
    key_pem: Path
    ca_pem: Path  # what the client is told to trust (--ca-file)
    reason: str  # words the refusal must contain


def self_signed(directory: Path, trusted_ca: Path) -> BadCert:
    """A self-signed certificate valid for the loopback names (only the hostname would check out)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_pem, key_pem = directory / "self-signed.pem", directory / "self-signed-key.pem"
    cert_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_pem.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return BadCert(cert_pem, key_pem, trusted_ca, "self-signed certificate")


def wrong_host(directory: Path) -> BadCert:
    """A certificate from a CA the client trusts, issued for a different host than the one dialled."""
    ca = trustme.CA(organization_name="Trusted but elsewhere")
    leaf = ca.issue_cert("mail.elsewhere.test")
    directory.mkdir(parents=True, exist_ok=True)
    ca_pem, cert_pem, key_pem = directory / "other-ca.pem", directory / "wrong-host.pem", directory / "wrong-host-key.pem"
    ca.cert_pem.write_to_path(str(ca_pem))
    cert_pem.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    leaf.private_key_pem.write_to_path(str(key_pem))
    return BadCert(cert_pem, key_pem, ca_pem, "IP address mismatch, certificate is not valid for '127.0.0.1'")
