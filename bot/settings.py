"""Every setting dlbot reads, from environment variables (prefix DLBOT_) and an optional .env file.

This is the only place that reads the environment; everything else is handed what it needs.
.env.example lists each variable with its meaning.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from exchange.config import ExchangeConfig
from exchange.errors import ExchangeConfigError


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="DLBOT_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # Exchange Online (the app registration with Exchange.ManageAsApp)
    exchange_base_url: str = "https://outlook.office365.com"
    exchange_authority: str = Field(
        default="https://login.microsoftonline.com",
        description="Entra ID authority host; the tenant is appended.",
    )
    exchange_tenant: str = ""
    exchange_client_id: str = ""
    exchange_client_secret: SecretStr | None = None
    exchange_certificate_path: Path | None = None
    exchange_certificate_password: SecretStr | None = None
    exchange_ca_file: Path | None = None
    exchange_timeout_seconds: float = 120.0
    exchange_max_connections: int = 16
    exchange_max_retries: int = 5
    exchange_retry_backoff_seconds: float = 2.0

    def exchange(self) -> ExchangeConfig:
        """The Exchange client's configuration, or ExchangeConfigError naming what is missing."""
        missing = [
            name
            for name, value in (
                ("DLBOT_EXCHANGE_TENANT", self.exchange_tenant),
                ("DLBOT_EXCHANGE_CLIENT_ID", self.exchange_client_id),
            )
            if not value
        ]
        if self.exchange_client_secret is None and self.exchange_certificate_path is None:
            missing.append("DLBOT_EXCHANGE_CLIENT_SECRET or DLBOT_EXCHANGE_CERTIFICATE_PATH")
        if missing:
            raise ExchangeConfigError("Exchange is not configured: set " + ", ".join(missing))
        if self.exchange_client_secret is not None and self.exchange_certificate_path is not None:
            raise ExchangeConfigError(
                "set only one of DLBOT_EXCHANGE_CLIENT_SECRET and DLBOT_EXCHANGE_CERTIFICATE_PATH"
            )
        try:
            return ExchangeConfig(
                base_url=self.exchange_base_url,
                authority_host=self.exchange_authority,
                tenant=self.exchange_tenant,
                client_id=self.exchange_client_id,
                client_secret=self.exchange_client_secret,
                certificate_path=self.exchange_certificate_path,
                certificate_password=self.exchange_certificate_password,
                ca_file=self.exchange_ca_file,
                timeout_seconds=self.exchange_timeout_seconds,
                max_connections=self.exchange_max_connections,
                max_retries=self.exchange_max_retries,
                retry_backoff_seconds=self.exchange_retry_backoff_seconds,
            )
        except ValidationError as exc:
            raise ExchangeConfigError(f"Exchange settings are invalid: {exc}") from exc
