"""The recipient data model: Recipient (contacts), User and Group as Exchange Online keeps them,
and the tables of recipient types.

Apart from the tenant (which indexes these objects) because every cmdlet module, the filters
and the object serialisation read and write them without needing the indexes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

MAILBOX_TYPES: Final = frozenset(
    {"UserMailbox", "SharedMailbox", "RoomMailbox", "EquipmentMailbox"}
)
# Groups that the *-DistributionGroup* cmdlets see; dynamic groups have their own cmdlets.
DISTRIBUTION_GROUP_TYPES: Final = frozenset(
    {"MailUniversalDistributionGroup", "MailUniversalSecurityGroup", "RoomList"}
)
GROUP_KINDS: Final[dict[str, str]] = {
    "Distribution": "MailUniversalDistributionGroup",
    "Security": "MailUniversalSecurityGroup",
    "RoomList": "RoomList",
    "Dynamic": "DynamicDistributionGroup",
}
RECIPIENT_TYPE: Final[dict[str, str]] = {
    "UserMailbox": "UserMailbox",
    "SharedMailbox": "UserMailbox",
    "RoomMailbox": "UserMailbox",
    "EquipmentMailbox": "UserMailbox",
    "MailUser": "MailUser",
    "GuestMailUser": "MailUser",
    "User": "User",
    "MailContact": "MailContact",
    "MailUniversalDistributionGroup": "MailUniversalDistributionGroup",
    "RoomList": "MailUniversalDistributionGroup",
    "MailUniversalSecurityGroup": "MailUniversalSecurityGroup",
    "DynamicDistributionGroup": "DynamicDistributionGroup",
}


@dataclass(eq=False, kw_only=True, slots=True)
class Recipient:
    """Any directory object with an address-book presence (contacts use this class directly)."""

    seq: int  # creation order: every listing is returned in this order, so paging is stable
    guid: str
    external_id: str
    name: str
    display_name: str
    alias: str
    primary_smtp: str  # "" for objects that are not mail-enabled
    email_addresses: list[str]  # proxy addresses with prefix, "SMTP:" (primary) first
    recipient_type_details: str
    when_created: datetime
    when_changed: datetime
    hidden: bool = False
    is_dir_synced: bool = False
    external_email: str = ""  # contacts and mail users: where mail really goes

    @property
    def recipient_type(self) -> str:
        return RECIPIENT_TYPE[self.recipient_type_details]

    @property
    def mail_enabled(self) -> bool:
        return self.recipient_type_details != "User"

    def smtp_addresses(self) -> list[str]:
        return [a[5:] for a in self.email_addresses if a.lower().startswith("smtp:")]


@dataclass(eq=False, kw_only=True, slots=True)
class User(Recipient):
    first_name: str = ""
    last_name: str = ""
    upn: str = ""
    department: str = ""
    title: str = ""
    manager: User | None = None
    account_disabled: bool = False


@dataclass(eq=False, kw_only=True, slots=True)
class Group(Recipient):
    managed_by: list[Recipient] = field(default_factory=list)
    # Keyed by member Guid: insertion-ordered like a list, O(1) for "is X a member".
    members: dict[str, Recipient] = field(default_factory=dict)
    member_join_restriction: str = "Closed"
    member_depart_restriction: str = "Open"
    hidden_group_membership: bool = False
    require_sender_authentication: bool = True
    description: list[str] = field(default_factory=list)
    notes: str = ""
    recipient_filter: str = ""  # dynamic groups only; membership is not computed from it

    @property
    def group_type(self) -> str:
        if self.recipient_type_details == "MailUniversalSecurityGroup":
            return "Universal, SecurityEnabled"
        return "Universal"

    @property
    def is_distribution_group(self) -> bool:
        return self.recipient_type_details in DISTRIBUTION_GROUP_TYPES
