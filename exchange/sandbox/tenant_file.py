"""The tenant file format (see TENANT-FORMAT.md), validated with pydantic: one *Spec model per
section, TenantFile for the whole document.

Apart from the loader that turns a TenantFile into a Tenant: this module is the format alone
(what a hand-written file may say, and its defaults), the loader is how it becomes a directory.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_DOMAIN_CONTROLLER: Final = "AM6PR01A001DC03.EURPR01A001.PROD.OUTLOOK.COM"
DEFAULT_CREATED: Final = datetime(2019, 5, 6, 8, 30, tzinfo=UTC)


class _Spec(BaseModel):
    # Typos in a hand-written tenant file must fail loudly rather than be ignored.
    model_config = ConfigDict(extra="forbid", frozen=True)


class AcceptedDomainSpec(_Spec):
    domain: str
    default: bool = False


class NamingPolicySpec(_Spec):
    prefix: str = ""
    suffix: str = ""
    blocked_words: list[str] = Field(default_factory=list)


class TenantSpec(_Spec):
    id: uuid.UUID
    initial_domain: str
    display_name: str = ""
    accepted_domains: list[AcceptedDomainSpec] = Field(default_factory=list)
    naming_policy: NamingPolicySpec = NamingPolicySpec()
    domain_controller: str = DEFAULT_DOMAIN_CONTROLLER
    created: datetime = DEFAULT_CREATED


class AppSpec(_Spec):
    client_id: str
    display_name: str
    secrets: list[str] = Field(default_factory=list)
    certificate_thumbprints: list[str] = Field(default_factory=list)
    granted_cmdlets: list[str] | None = None


class RecipientSpec(_Spec):
    id: uuid.UUID  # ExternalDirectoryObjectId, the Entra object id
    name: str | None = None  # default: the id, as Exchange names objects since late 2022
    guid: uuid.UUID | None = None  # default: derived from id
    display_name: str = ""
    alias: str | None = None
    email: str | None = None  # primary SMTP address
    addresses: list[str] = Field(default_factory=list)  # further SMTP proxy addresses
    hidden_from_address_lists: bool = False
    is_dir_synced: bool = False
    created: datetime | None = None


class UserSpec(RecipientSpec):
    type: Literal[
        "UserMailbox",
        "SharedMailbox",
        "RoomMailbox",
        "EquipmentMailbox",
        "MailUser",
        "GuestMailUser",
        "User",
    ] = "UserMailbox"
    first_name: str = ""
    last_name: str = ""
    upn: str | None = None
    department: str = ""
    title: str = ""
    manager: str | None = None  # a reference, see TENANT-FORMAT.md
    account_disabled: bool = False


class ContactSpec(RecipientSpec):
    email: str  # the external address is what makes a mail contact


class GroupSpec(RecipientSpec):
    type: Literal["Distribution", "Security", "RoomList", "Dynamic"] = "Distribution"
    managed_by: list[str] = Field(default_factory=list)
    members: list[str] = Field(default_factory=list)
    synthetic_members: int = Field(default=0, ge=0, le=1_000_000)
    member_join_restriction: Literal["Open", "Closed", "ApprovalRequired"] = "Closed"
    member_depart_restriction: Literal["Open", "Closed", "ApprovalRequired"] = "Open"
    hidden_group_membership: bool = False
    require_sender_authentication: bool = True
    description: str | list[str] = Field(default_factory=list)
    notes: str = ""
    recipient_filter: str = ""


class TenantFile(_Spec):
    format_version: Literal[1] = 1
    tenant: TenantSpec
    apps: list[AppSpec] = Field(default_factory=list)
    users: list[UserSpec] = Field(default_factory=list)
    contacts: list[ContactSpec] = Field(default_factory=list)
    groups: list[GroupSpec] = Field(default_factory=list)
