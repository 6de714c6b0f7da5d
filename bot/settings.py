"""Every setting dlbot reads, from environment variables (prefix DLBOT_) and an optional .env file.

This is the only place that reads the environment; everything else is handed what it needs.
.env.example lists each variable with its meaning.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from approvals.grants import MembershipRules
from approvals.lifecycle import Timings
from approvals.review_service import ReviewPolicy
from exchange.config import ExchangeConfig
from exchange.errors import ExchangeConfigError
from skills.policies import (
    BlockRule,
    ClosedLists,
    CreationApprovers,
    CreationPolicy,
    NamingPolicy,
    Policy,
)


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

    # Observability (docs/operations.md)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="Level of dlbot's own loggers; libraries stay quieter."
    )
    log_format: Literal["auto", "json", "console"] = Field(
        default="auto",
        description="json: one JSON object per line; auto: console for demo or a terminal.",
    )
    metrics_port: int = Field(
        default=0,
        description="`dlbot worker` serves /metrics, /healthz and /readyz here; 0: not at all.",
    )

    @field_validator("log_level", "log_format", mode="before")
    @classmethod
    def _any_case(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        return value.strip().upper() if value.strip().upper() in _LEVELS else value.strip().lower()

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

    # Pending requests (design.md "Policy defaults"), hours after the request was made; 0: off
    pending_remind_hours: float = Field(
        default=48, ge=0, description="Hours until the approvers get a reminder card."
    )
    pending_escalate_hours: float = Field(
        default=96, ge=0, description="Hours until the fallback approvers are asked too."
    )
    pending_expire_hours: float = Field(
        default=168, ge=0, description="Hours until an undecided request expires."
    )

    @model_validator(mode="after")
    def _timers_in_order(self) -> Settings:
        self.pending_timings()  # ValueError (a validation error) when out of order
        return self

    def pending_timings(self) -> Timings:
        return Timings.from_hours(
            self.pending_remind_hours, self.pending_escalate_hours, self.pending_expire_hours
        )

    # Time-boxed membership (approvals/grant_service.py, README "Time-boxed membership")
    membership_max_days: str = Field(
        default="",
        description="Longest membership per list pattern, e.g. 'proj-*=90, temp-*=30'; a join "
        "to a matching list ends after at most that many days. Empty: no maximum.",
    )

    @field_validator("membership_max_days")
    @classmethod
    def _membership_rules_parse(cls, value: str) -> str:
        MembershipRules.parse(value)  # ValueError (a validation error) naming the bad part
        return value

    def membership_rules(self) -> MembershipRules:
        return MembershipRules.parse(self.membership_max_days)

    # Owner access reviews (approvals/review_service.py, README "Access reviews")
    review_every_days: int = Field(
        default=90,
        ge=0,
        le=3650,
        description="Days between access reviews of a list the bot added people to; 0: off.",
    )
    review_all_members: bool = Field(
        default=False,
        description="Review every direct member, not only the members the bot added.",
    )
    review_remind_days: float = Field(
        default=3,
        ge=0,
        le=3650,  # beyond timedelta's range review_policy() would raise at start
        description="Days until an unanswered review is reminded; 0: never.",
    )
    review_escalate_days: float = Field(
        default=7,
        ge=0,
        le=3650,  # as above
        description="Days until an unanswered review goes to the fallback approvers; 0: never.",
    )
    review_close_days: float = Field(
        default=7,
        ge=0,
        le=3650,  # beyond timedelta's range ("inf", 1e10) review_policy() would raise at start
        description="Days after the escalation (after the start when escalation is off) until an "
        "unanswered review closes, keeping everyone nobody decided on; 0: never.",
    )

    def review_policy(self) -> ReviewPolicy:
        def after(days: float) -> timedelta | None:
            return timedelta(days=days) if days > 0 else None

        return ReviewPolicy(
            every_days=self.review_every_days,
            all_members=self.review_all_members,
            remind_after=after(self.review_remind_days),
            escalate_after=after(self.review_escalate_days),
            close_after=after(self.review_close_days),
        )

    # Audit retention (approvals/audit.py, bot/audit_retention.py): off unless asked for
    audit_retention_days: int = Field(
        default=0,
        ge=0,
        description="Days of audit trail kept; older entries of finished requests are pruned "
        "daily; 0: kept forever.",
    )
    audit_archive_dir: Path | None = Field(
        default=None,
        description="Where pruned entries are written (JSON lines, fsynced) before removal.",
    )

    @field_validator(
        "audit_archive_dir",
        "exchange_certificate_path",
        "exchange_ca_file",
        "exchange_client_secret",
        "exchange_certificate_password",
        mode="before",
    )
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        # `DLBOT_EXCHANGE_CA_FILE=` (as .env.example lists it) means none, not the working
        # directory, and an empty secret is no secret: a copied .env.example must not turn
        # into "both a secret and a certificate are set".
        return None if value == "" else value

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

    # Creating lists (README "Creating a list"), read by skills.policies.CreationPolicy
    create_approvers: str = Field(
        default="",
        description="Comma-separated addresses (people or groups) who approve new lists.",
    )
    create_approver_mode: CreationApprovers = Field(
        default=CreationApprovers.IT_GROUP,
        description="it_group: DLBOT_CREATE_APPROVERS; manager: the requester's manager.",
    )
    create_allow_outside_senders: bool = False
    naming_prefix: str = ""
    naming_suffix: str = ""
    naming_blocked_words: str = Field(
        default="", description="Comma-separated words no new list's name may contain."
    )

    def fallback_approver_addresses(self) -> tuple[str, ...]:
        return _listed(self.fallback_approvers)

    def creation_policy(self) -> CreationPolicy:
        return CreationPolicy(
            naming=NamingPolicy(
                prefix=self.naming_prefix,
                suffix=self.naming_suffix,
                blocked_words=_listed(self.naming_blocked_words),
            ),
            approvers=self.create_approver_mode,
            approver_addresses=_listed(self.create_approvers),
            allow_outside_senders=self.create_allow_outside_senders,
        )

    def admin_alert_object_ids(self) -> tuple[str, ...]:
        return _listed(self.admin_alerts)

    def policy(self) -> Policy:
        return Policy(
            blocked=self.policy_blocked,
            closed_lists=self.policy_closed_lists,
            require_justification=self.policy_require_justification,
            fallback_approvers=self.fallback_approver_addresses(),
        )


_LEVELS = frozenset({"DEBUG", "INFO", "WARNING", "ERROR"})


def _listed(text: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in text.split(",") if item.strip())
