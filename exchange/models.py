"""Typed views of what Exchange returns; unknown properties are ignored, nulls become defaults.

Exchange names properties in PascalCase and adds annotation keys ("Guid@data.type"); the
transport strips annotations before these models see an object.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.alias_generators import to_pascal


def _none_to_empty_text(value: Any) -> Any:
    return "" if value is None else value


def _none_to_empty_list(value: Any) -> Any:
    if value is None:
        return []
    # A single-valued answer where a collection was expected still means one item.
    return [value] if isinstance(value, str) else value


Text = Annotated[str, BeforeValidator(_none_to_empty_text)]
TextList = Annotated[list[str], BeforeValidator(_none_to_empty_list)]


class ExchangeObject(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_pascal, populate_by_name=True, extra="ignore", frozen=True
    )


class DistributionGroup(ExchangeObject):
    name: Text
    display_name: Text = ""
    alias: Text = ""
    primary_smtp_address: Text = ""
    email_addresses: TextList = []
    identity: Text = ""
    distinguished_name: Text = ""
    guid: Text = ""
    external_directory_object_id: Text = ""
    recipient_type_details: Text = ""
    group_type: Text = ""
    managed_by: TextList = []
    member_join_restriction: Text = ""
    member_depart_restriction: Text = ""
    hidden_from_address_lists_enabled: bool = False
    hidden_group_membership_enabled: bool = False
    require_sender_authentication_enabled: bool = True
    is_dir_synced: bool = False
    description: TextList = []
    when_created_utc: datetime | None = Field(default=None, alias="WhenCreatedUTC")
    when_changed: datetime | None = None

    @property
    def best_identity(self) -> str:
        """An identity that names this group alone: aliases are not unique, these are."""
        return self.external_directory_object_id or self.guid or self.primary_smtp_address


class Recipient(ExchangeObject):
    name: Text
    display_name: Text = ""
    alias: Text = ""
    primary_smtp_address: Text = ""
    identity: Text = ""
    distinguished_name: Text = ""
    guid: Text = ""
    external_directory_object_id: Text = ""
    recipient_type: Text = ""
    recipient_type_details: Text = ""

    @property
    def is_group(self) -> bool:
        return "Group" in self.recipient_type_details or "Group" in self.recipient_type


class User(ExchangeObject):
    name: Text
    display_name: Text = ""
    identity: Text = ""
    user_principal_name: Text = ""
    windows_live_id: Text = Field(
        default="", validation_alias=AliasChoices("WindowsLiveID", "WindowsLiveId")
    )
    external_directory_object_id: Text = ""
    guid: Text = ""
    recipient_type_details: Text = ""
    windows_email_address: Text = ""  # the primary SMTP address, when the user has mail
    account_disabled: bool = False
    manager: Text = ""
    first_name: Text = ""
    last_name: Text = ""
    department: Text = ""
    title: Text = ""


class AcceptedDomain(ExchangeObject):
    domain_name: Text
    name: Text = ""
    default: bool = False
    domain_type: Text = ""


class MembershipOutcome(StrEnum):
    ADDED = "added"
    ALREADY_MEMBER = "already_member"
    REMOVED = "removed"
    NOT_A_MEMBER = "not_a_member"


@dataclass(frozen=True)
class MembershipChange:
    """The result of an add or remove: what happened, and the id Exchange logged the call under."""

    outcome: MembershipOutcome
    request_id: str


@dataclass(frozen=True)
class CreatedGroup:
    group: DistributionGroup
    request_id: str
    # True when the first response was lost and the group was found to exist on replay.
    recovered_after_lost_response: bool = False


class NewDistributionGroup(BaseModel):
    """Parameters for New-DistributionGroup, in the names the product uses."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(max_length=64)
    alias: str = Field(max_length=64)
    display_name: str = Field(default="", max_length=256)
    primary_smtp_address: str
    managed_by: list[str] = []
    members: list[str] = Field(default=[], max_length=10_000)
    member_join_restriction: str = "Closed"
    member_depart_restriction: str = "Open"
    require_sender_authentication_enabled: bool = True
    notes: str = ""
    security_enabled: bool = False

    def parameters(self) -> dict[str, Any]:
        parameters: dict[str, Any] = {
            "Name": self.name,
            "Alias": self.alias,
            "DisplayName": self.display_name or self.name,
            "PrimarySmtpAddress": self.primary_smtp_address,
            "Type": "Security" if self.security_enabled else "Distribution",
            "MemberJoinRestriction": self.member_join_restriction,
            "MemberDepartRestriction": self.member_depart_restriction,
            "RequireSenderAuthenticationEnabled": self.require_sender_authentication_enabled,
        }
        if self.managed_by:
            parameters["ManagedBy"] = list(self.managed_by)
        if self.members:
            parameters["Members"] = list(self.members)
        if self.notes:
            parameters["Notes"] = self.notes
        return parameters
