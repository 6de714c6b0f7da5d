"""How to reach one Exchange Online tenant: endpoints, app credentials, TLS trust, limits.

The bot's settings build this; the exchange package never reads the environment itself.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from exchange.errors import ExchangeConfigError

# The resource Exchange Online's admin API accepts tokens for, in every worldwide/GCC tenant.
EXCHANGE_SCOPE = "https://outlook.office365.com/.default"


class ExchangeConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    base_url: str = "https://outlook.office365.com"
    authority_host: str = "https://login.microsoftonline.com"
    tenant: str = Field(description="Tenant GUID or initial domain (contoso.onmicrosoft.com).")
    client_id: str
    client_secret: SecretStr | None = None
    certificate_path: Path | None = Field(
        default=None, description="PEM holding private key and certificate, or a PFX/P12 file."
    )
    certificate_password: SecretStr | None = None
    ca_file: Path | None = Field(
        default=None, description="Extra CA bundle to trust (the sandbox's, or a TLS proxy's)."
    )
    scope: str = EXCHANGE_SCOPE
    timeout_seconds: float = Field(default=120.0, gt=0, description="Huge groups take minutes.")
    connect_timeout_seconds: float = Field(default=10.0, gt=0)
    max_connections: int = Field(default=16, ge=1)
    max_retries: int = Field(default=5, ge=0, le=10)
    retry_backoff_seconds: float = Field(default=2.0, ge=0)
    max_retry_after_seconds: float = Field(default=120.0, ge=0)
    page_size: int = Field(default=1000, ge=1, le=1000)

    @model_validator(mode="after")
    def _one_credential(self) -> ExchangeConfig:
        if not self.tenant or not self.client_id:
            raise ValueError("the tenant and the app's client id are both required")
        if (self.client_secret is None) == (self.certificate_path is None):
            raise ValueError("give exactly one credential: a client secret or a certificate path")
        return self

    @property
    def authority(self) -> str:
        return f"{self.authority_host.rstrip('/')}/{self.tenant}"

    @property
    def invoke_url(self) -> str:
        return f"{self.base_url.rstrip('/')}/adminapi/beta/{self.tenant}/InvokeCommand"

    @property
    def anchor_mailbox(self) -> str:
        # Routes app-only calls to the tenant's system mailbox, as the PowerShell module does.
        return f"APP:SystemMailbox{{bb558c35-97f1-4cb9-8ff7-d53741dc928c}}@{self.tenant}"


def require_file(path: Path | None, what: str) -> Path | None:
    """Fail early, naming the setting, when a configured file is missing."""
    if path is not None and not path.is_file():
        raise ExchangeConfigError(f"{what} {str(path)!r} does not exist or is not a file")
    return path
