"""An app registration as the sandbox tenant keeps it: client id, secrets, certificate
thumbprints, and the cmdlets its Exchange role grants.

Apart from the directory because two owners read it: the Entra stand-in checks client
credentials against it (client_credentials.py) and the cmdlet dispatch checks RBAC with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class AppRegistration:
    client_id: str
    display_name: str
    secrets: list[str] = field(default_factory=list)
    certificate_thumbprints: set[str] = field(default_factory=set)
    granted_cmdlets: set[str] | None = None

    def register_certificate(self, cert_pem: bytes) -> None:
        """Accept this certificate for client assertions (SHA-1 and SHA-256 thumbprints)."""
        # Imported here: only certificate tests pay for loading the x509 machinery.
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes

        cert = x509.load_pem_x509_certificate(cert_pem)
        for algorithm in (hashes.SHA1(), hashes.SHA256()):  # noqa: S303 - thumbprint, not security
            self.certificate_thumbprints.add(cert.fingerprint(algorithm).hex().upper())

    def allows(self, cmdlet: str) -> bool:
        if self.granted_cmdlets is None:
            return True
        return cmdlet.lower() in {c.lower() for c in self.granted_cmdlets}
