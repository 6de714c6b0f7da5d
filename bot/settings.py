"""Every setting dlbot reads, from environment variables (prefix DLBOT_) and an optional .env file.

This is the only place that reads the environment; everything else is handed what it needs.
.env.example lists each variable with its meaning.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from exchange.config import ExchangeConfig
from exchange.errors import ExchangeConfigError
from skills.policies import BlockRule, ClosedLists, Policy


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

    # The Teams edge (bot/app.py, bot/adapter.py)
    redis_url: str = Field(
        default="",
        description="Redis for state, references, turn locks and jobs; empty: a local one.",
    )
    bot_app_id: str = Field(
        default="",
        description="The Azure Bot's Microsoft App ID; empty switches authentication off.",
    )
    bot_app_password: SecretStr | None = None
    bot_app_tenant_id: str = Field(
        default="", description="Single-tenant bots: the tenant of the app registration."
    )
    bot_openid_metadata_url: str = (
        "https://login.botframework.com/v1/.well-known/openidconfiguration"
    )
    bot_token_issuer: str = "https://api.botframework.com"
    bot_service_url: str = Field(
        default="https://smba.trafficmanager.net/teams/",
        description="Bot Connector for opening a 1:1 chat before any activity taught us one.",
    )
    allowed_tenants: str = Field(
        default="", description="Comma-separated tenant ids; empty: DLBOT_EXCHANGE_TENANT only."
    )
    max_request_bytes: int = 256 * 1024
    turn_lock_ttl_seconds: float = 30.0
    turn_lock_wait_seconds: float = 20.0

    def allowed_tenant_ids(self) -> frozenset[str]:
        """Tenants whose activities the bot serves (lower case); empty means nobody."""
        listed = self.allowed_tenants or self.exchange_tenant
        return frozenset(t.strip().lower() for t in listed.split(",") if t.strip())

    def auth_enabled(self) -> bool:
        return bool(self.bot_app_id)

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

    # Directory sync (design.md "Directory index"): how often the workers read Exchange whole
    sync_lists_hours: int = Field(
        default=12,
        description="Hours between list syncs (Get-DistributionGroup): a divisor of 24, 0: off.",
    )
    sync_people_hours: int = Field(
        default=4, description="Hours between people syncs (Get-User): a divisor of 24, 0: off."
    )

    @field_validator("sync_lists_hours", "sync_people_hours")
    @classmethod
    def _divides_the_day(cls, hours: int) -> int:
        if hours != 0 and (hours < 0 or 24 % hours):
            raise ValueError("must be 0 (off) or divide 24: 1, 2, 3, 4, 6, 8, 12 or 24")
        return hours

    # Deployment: where Teams reaches the bot, and the Teams app package (manifest/)
    public_url: str = Field(
        default="",
        description="The bot's public https base URL; Teams posts to <public_url>/api/messages.",
    )
    teams_app_id: str = Field(
        default="",
        description="The Teams app's id (a GUID of its own); empty: the bot's app id.",
    )

    # Policy (design.md "Policy defaults"), read by skills.policies.Policy
    fallback_approvers: str = Field(
        default="",
        description="Comma-separated addresses who approve for lists with no usable owner.",
    )
    admin_alerts: str = Field(
        default="",
        description="Comma-separated Entra object ids of admins told when a change fails.",
    )
    policy_closed_lists: ClosedLists = ClosedLists.APPROVE
    policy_require_justification: bool = True
    policy_blocked: tuple[BlockRule, ...] = Field(
        default=(),
        description='JSON: [{"pattern": "exec-*", "message": "Ask the CEO office."}]',
    )

    def fallback_approver_addresses(self) -> tuple[str, ...]:
        return _listed(self.fallback_approvers)

    def admin_alert_object_ids(self) -> tuple[str, ...]:
        return _listed(self.admin_alerts)

    def policy(self) -> Policy:
        return Policy(
            blocked=self.policy_blocked,
            closed_lists=self.policy_closed_lists,
            require_justification=self.policy_require_justification,
            fallback_approvers=self.fallback_approver_addresses(),
        )


def _listed(text: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in text.split(",") if item.strip())
