"""App certificates for tests of certificate authentication (the client's, the doctor's)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID


def app_certificate(*, days_valid: int) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    """A self-signed app certificate, issued 30 days ago, valid `days_valid` more days
    (negative: already expired)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dlbot test app")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=30))
        .not_valid_after(now + dt.timedelta(days=days_valid))
        .sign(key, hashes.SHA256())
    )
    return key, cert


def write_pem(path: Path, key: rsa.RSAPrivateKey, cert: x509.Certificate) -> Path:
    """Key and certificate in one PEM file, as DLBOT_EXCHANGE_CERTIFICATE_PATH takes them."""
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        + cert.public_bytes(serialization.Encoding.PEM)
    )
    return path
