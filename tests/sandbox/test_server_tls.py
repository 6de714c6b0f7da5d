"""tls.py: the sandbox's CA, server and client certificates, and their reuse across restarts."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs12

from exchange.sandbox import tls
from exchange.sandbox.server import SandboxServer


def _san(cert: x509.Certificate) -> x509.SubjectAlternativeName:
    return cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value


def test_the_server_certificate_names_both_loopback_addresses_and_localhost(tmp_path: Path) -> None:
    keys = tls.ensure_keys(tmp_path)
    san = _san(keys.server.cert)
    assert set(san.get_values_for_type(x509.DNSName)) == {"localhost"}
    assert set(san.get_values_for_type(x509.IPAddress)) == {
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
    }
    keys.server.cert.verify_directly_issued_by(keys.ca.cert)


def test_the_key_material_is_written_to_the_state_dir(tmp_path: Path) -> None:
    keys = tls.ensure_keys(tmp_path)
    for name in ("ca.pem", "server.pem", "server-key.pem", "client-cert.pem", "client-cert.pfx"):
        assert (tmp_path / name).is_file(), name
    assert keys.ca_file == tmp_path / "ca.pem"
    assert (tmp_path / "server-key.pem").stat().st_mode & 0o077 == 0  # private keys owner-only


def test_a_second_start_reuses_the_same_ca_and_certificates(tmp_path: Path) -> None:
    first = tls.ensure_keys(tmp_path)
    ca_bytes = (tmp_path / "ca.pem").read_bytes()
    second = tls.ensure_keys(tmp_path)
    assert (tmp_path / "ca.pem").read_bytes() == ca_bytes
    assert second.server.cert == first.server.cert
    assert second.client.cert == first.client.cert
    assert second.signing.cert == first.signing.cert


def test_a_corrupt_server_certificate_is_regenerated_under_the_same_ca(tmp_path: Path) -> None:
    first = tls.ensure_keys(tmp_path)
    (tmp_path / "server.pem").write_text("not a certificate")
    second = tls.ensure_keys(tmp_path)
    assert second.ca.cert == first.ca.cert
    assert second.server.cert != first.server.cert
    second.server.cert.verify_directly_issued_by(second.ca.cert)


def test_a_new_ca_replaces_every_certificate_it_signed(tmp_path: Path) -> None:
    first = tls.ensure_keys(tmp_path)
    (tmp_path / "ca-key.pem").unlink()
    second = tls.ensure_keys(tmp_path)
    assert second.ca.cert != first.ca.cert
    assert second.server.cert != first.server.cert
    assert second.client.cert != first.client.cert
    second.client.cert.verify_directly_issued_by(second.ca.cert)


def test_an_expiring_server_certificate_is_renewed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = tls.ensure_keys(tmp_path)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=395)  # inside the 7-day renewal margin
    monkeypatch.setattr(tls, "_now", lambda: later)
    second = tls.ensure_keys(tmp_path)
    assert second.ca.cert == first.ca.cert  # the CA lives ten years
    assert second.server.cert != first.server.cert


def test_the_client_pfx_opens_with_the_documented_password(tmp_path: Path) -> None:
    keys = tls.ensure_keys(tmp_path)
    key, cert, _ = pkcs12.load_key_and_certificates(
        (tmp_path / "client-cert.pfx").read_bytes(), b"sandbox-pfx-password"
    )
    assert key is not None and cert == keys.client.cert
    with pytest.raises(ValueError):
        pkcs12.load_key_and_certificates((tmp_path / "client-cert.pfx").read_bytes(), b"wrong")


def test_the_client_pem_holds_key_and_certificate(tmp_path: Path) -> None:
    keys = tls.ensure_keys(tmp_path)
    text = (tmp_path / "client-cert.pem").read_text()
    assert "PRIVATE KEY-----" in text and "BEGIN CERTIFICATE-----" in text
    assert x509.load_pem_x509_certificate(text.encode()) == keys.client.cert


async def test_the_demo_app_accepts_the_generated_client_certificate(
    sandbox: SandboxServer,
) -> None:
    app = sandbox.demo_app
    assert app is not None
    assert tls.thumbprint_sha1(sandbox.keys.client.cert) in app.certificate_thumbprints
    assert tls.thumbprint_sha256(sandbox.keys.client.cert) in app.certificate_thumbprints


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_https_verifies_against_the_ca_file_by_ip_and_by_name(
    sandbox: SandboxServer, host: str
) -> None:
    ctx = ssl.create_default_context(cafile=str(sandbox.ca_file))
    async with httpx.AsyncClient(verify=ctx, trust_env=False) as client:
        response = await client.get(f"https://{host}:{sandbox.port}/_sandbox/state")
    assert response.status_code == 200


async def test_a_client_that_does_not_trust_the_ca_is_refused(sandbox: SandboxServer) -> None:
    ctx = ssl.create_default_context()  # the system store: the sandbox CA is not in it
    async with httpx.AsyncClient(verify=ctx, trust_env=False) as client:
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            await client.get(f"{sandbox.base_url}/_sandbox/state")
