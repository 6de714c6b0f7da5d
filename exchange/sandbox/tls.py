"""Key material for the sandbox: a private CA, the HTTPS server certificate, a client certificate
for certificate-based app auth, and the key that signs access tokens.

Why a CA and not one self-signed server certificate: clients (msal through requests, httpx) are
pointed at ONE file (`ca.pem`) and verify the chain normally, hostname check included, exactly as
they would against outlook.office365.com. The server certificate names 127.0.0.1, ::1 and localhost.

Everything is written to the state directory and reused on the next start while still valid, so a
restarted `dlbot sandbox` keeps the same CA (nobody has to re-trust it) and the same token signing
key (tokens cached by a running bot stay valid across a sandbox restart).
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import os
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# Admins try certificate auth with the .pfx; the password is public on purpose (test double).
PFX_PASSWORD = "sandbox-pfx-password"

CA_FILE = "ca.pem"
CA_KEY_FILE = "ca-key.pem"
SERVER_CERT_FILE = "server.pem"
SERVER_KEY_FILE = "server-key.pem"
CLIENT_PEM_FILE = "client-cert.pem"  # private key + certificate, as msal's PEM option wants
CLIENT_PFX_FILE = "client-cert.pfx"
SIGNING_KEY_FILE = "token-signing-key.pem"  # key + self-signed cert (for the JWKS x5c/x5t)

SERVER_DNS_NAMES = ("localhost",)
SERVER_IPS = (ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1"))

_CA_DAYS = 3650
_LEAF_DAYS = 397
# Material closer than this to expiry is regenerated at start rather than failing mid-demo.
_RENEW_MARGIN = dt.timedelta(days=7)

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


@dataclass(frozen=True)
class KeyPair:
    key: PrivateKey
    cert: x509.Certificate

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


@dataclass(frozen=True)
class SandboxKeys:
    """All key material of one sandbox, with the paths it was written to."""

    state_dir: Path
    ca: KeyPair
    server: KeyPair
    client: KeyPair  # RSA: Entra client assertions are RS256 / PS256
    signing: KeyPair  # RSA: access tokens are RS256

    @property
    def ca_file(self) -> Path:
        return self.state_dir / CA_FILE

    @property
    def server_cert_file(self) -> Path:
        return self.state_dir / SERVER_CERT_FILE

    @property
    def server_key_file(self) -> Path:
        return self.state_dir / SERVER_KEY_FILE

    @property
    def client_pem_file(self) -> Path:
        return self.state_dir / CLIENT_PEM_FILE

    @property
    def client_pfx_file(self) -> Path:
        return self.state_dir / CLIENT_PFX_FILE

    def server_ssl_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(self.server_cert_file, self.server_key_file)
        return ctx

    def client_ssl_context(self) -> ssl.SSLContext:
        """A context that trusts only the sandbox CA (what tests and the CLI's smoke checks use)."""
        return ssl.create_default_context(cafile=str(self.ca_file))


def thumbprint_sha1(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA1()).hex().upper()


def thumbprint_sha256(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex().upper()


def b64url_thumbprint(hex_thumbprint: str) -> str:
    """The JOSE form of a thumbprint (x5t, x5t#S256): base64url of the raw digest, no padding."""
    return base64.urlsafe_b64encode(bytes.fromhex(hex_thumbprint)).rstrip(b"=").decode("ascii")


# state dir -> (stat fingerprint of its files, keys): a test suite starts hundreds of sandboxes
# on one state dir, and parsing RSA keys and the PBKDF2-protected .pfx each time adds up.
_cache: dict[Path, tuple[tuple[tuple[str, int, int], ...], SandboxKeys]] = {}
_ALL_FILES = (
    CA_FILE,
    CA_KEY_FILE,
    SERVER_CERT_FILE,
    SERVER_KEY_FILE,
    CLIENT_PEM_FILE,
    CLIENT_PFX_FILE,
    SIGNING_KEY_FILE,
)


def _fingerprint(state_dir: Path) -> tuple[tuple[str, int, int], ...]:
    stats = []
    for name in _ALL_FILES:
        try:
            st = (state_dir / name).stat()
        except OSError:
            return ()
        stats.append((name, st.st_mtime_ns, st.st_size))
    return tuple(stats)


def ensure_keys(state_dir: Path) -> SandboxKeys:
    """Load the key material from `state_dir`, regenerating whatever is missing or no longer valid.

    A new CA invalidates everything it signed, so the leaves are regenerated with it.
    """
    state_dir = state_dir.resolve()
    cached = _cache.get(state_dir)
    if cached is not None and cached[0] == _fingerprint(state_dir) and _still_valid(cached[1]):
        return cached[1]
    keys = _load_or_generate(state_dir)
    _cache[state_dir] = (_fingerprint(state_dir), keys)
    return keys


def _still_valid(keys: SandboxKeys) -> bool:
    certs = (keys.ca.cert, keys.server.cert, keys.client.cert, keys.signing.cert)
    return all(_in_validity(c) for c in certs)


def _load_or_generate(state_dir: Path) -> SandboxKeys:
    state_dir.mkdir(parents=True, exist_ok=True)
    ca = _load_pair(state_dir / CA_FILE, state_dir / CA_KEY_FILE)
    if ca is None or not _valid_ca(ca):
        ca = _new_ca()
        _write_pair(ca, state_dir / CA_FILE, state_dir / CA_KEY_FILE)
        for stale in (SERVER_CERT_FILE, CLIENT_PEM_FILE, CLIENT_PFX_FILE):
            (state_dir / stale).unlink(missing_ok=True)

    server = _load_pair(state_dir / SERVER_CERT_FILE, state_dir / SERVER_KEY_FILE)
    if server is None or not _valid_server(server, ca):
        server = _new_leaf(ca, "dlbot sandbox server", server_auth=True, rsa_key=False)
        _write_pair(server, state_dir / SERVER_CERT_FILE, state_dir / SERVER_KEY_FILE)

    client = _load_pair(state_dir / CLIENT_PEM_FILE, state_dir / CLIENT_PEM_FILE)
    if (
        client is None
        or not _valid_leaf(client, ca)
        or not _pfx_matches(state_dir / CLIENT_PFX_FILE, client)
    ):
        client = _new_leaf(ca, "dlbot sandbox app", server_auth=False, rsa_key=True)
        _write_combined(client, state_dir / CLIENT_PEM_FILE)
        _write_private(state_dir / CLIENT_PFX_FILE, _pfx_bytes(client))

    signing = _load_pair(state_dir / SIGNING_KEY_FILE, state_dir / SIGNING_KEY_FILE)
    if signing is None or not _valid_signing(signing):
        signing = _new_signing_pair()
        _write_combined(signing, state_dir / SIGNING_KEY_FILE)

    return SandboxKeys(state_dir=state_dir, ca=ca, server=server, client=client, signing=signing)


# --- validity checks -----------------------------------------------------------------------------


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _in_validity(cert: x509.Certificate) -> bool:
    now = _now()
    return cert.not_valid_before_utc <= now and now + _RENEW_MARGIN < cert.not_valid_after_utc


def _key_matches(pair: KeyPair) -> bool:
    pub = pair.cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    own = pair.key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pub == own


def _valid_ca(ca: KeyPair) -> bool:
    try:
        bc = ca.cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return False
    return bc.ca and _in_validity(ca.cert) and _key_matches(ca)


def _valid_leaf(leaf: KeyPair, ca: KeyPair) -> bool:
    try:
        leaf.cert.verify_directly_issued_by(ca.cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return _in_validity(leaf.cert) and _key_matches(leaf)


def _valid_server(server: KeyPair, ca: KeyPair) -> bool:
    if not _valid_leaf(server, ca):
        return False
    try:
        san = server.cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    names = set(san.get_values_for_type(x509.DNSName))
    ips = set(san.get_values_for_type(x509.IPAddress))
    return set(SERVER_DNS_NAMES) <= names and set(SERVER_IPS) <= ips


def _valid_signing(pair: KeyPair) -> bool:
    return (
        isinstance(pair.key, rsa.RSAPrivateKey) and _in_validity(pair.cert) and _key_matches(pair)
    )


def _pfx_matches(path: Path, client: KeyPair) -> bool:
    try:
        _, cert, _ = pkcs12.load_key_and_certificates(path.read_bytes(), PFX_PASSWORD.encode())
    except (OSError, ValueError):
        return False
    return cert is not None and cert == client.cert


# --- generation ----------------------------------------------------------------------------------


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "dlbot sandbox (test double)"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _new_ca() -> KeyPair:
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    name = _name("dlbot sandbox CA")
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=_CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )
    return KeyPair(key, cert)


def _new_leaf(ca: KeyPair, common_name: str, *, server_auth: bool, rsa_key: bool) -> KeyPair:
    key: PrivateKey = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if rsa_key
        else ec.generate_private_key(ec.SECP256R1())
    )
    now = _now()
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=_LEAF_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=rsa_key,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [
                    ExtendedKeyUsageOID.SERVER_AUTH
                    if server_auth
                    else ExtendedKeyUsageOID.CLIENT_AUTH
                ]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        # Strict X.509 verification (default in newer Pythons) wants the AKI on every leaf.
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
            critical=False,
        )
    )
    if server_auth:
        sans: list[x509.GeneralName] = [x509.DNSName(n) for n in SERVER_DNS_NAMES]
        sans += [x509.IPAddress(ip) for ip in SERVER_IPS]
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return KeyPair(key, builder.sign(ca.key, hashes.SHA256()))


def _new_signing_pair() -> KeyPair:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = _now()
    name = _name("dlbot sandbox token signing")
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=_CA_DAYS))
        .sign(key, hashes.SHA256())
    )
    return KeyPair(key, cert)


def _pfx_bytes(pair: KeyPair) -> bytes:
    return pkcs12.serialize_key_and_certificates(
        name=b"dlbot sandbox app",
        key=pair.key,
        cert=pair.cert,
        cas=None,
        encryption_algorithm=serialization.BestAvailableEncryption(PFX_PASSWORD.encode()),
    )


# --- files ---------------------------------------------------------------------------------------


def _load_pair(cert_path: Path, key_path: Path) -> KeyPair | None:
    """Read a certificate and its key; None when absent or unreadable (then we regenerate)."""
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        # Skipping RSA's (slow) consistency check is safe: we wrote these keys ourselves, and
        # _key_matches still compares each key with its certificate.
        key = serialization.load_pem_private_key(
            key_path.read_bytes(), password=None, unsafe_skip_rsa_key_validation=True
        )
    except (OSError, ValueError, TypeError):
        return None
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        return None
    return KeyPair(key, cert)


def _write_private(path: Path, data: bytes) -> None:
    """Write atomically with owner-only permissions: a half-written key must never be reused."""
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def _write_public(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _write_pair(pair: KeyPair, cert_path: Path, key_path: Path) -> None:
    _write_private(key_path, pair.key_pem)
    _write_public(cert_path, pair.cert_pem)


def _write_combined(pair: KeyPair, path: Path) -> None:
    _write_private(path, pair.key_pem + pair.cert_pem)
