"""Object rendering: recipients as the PascalCase objects cmdlets return, with annotations.

Each object carries the OData annotations the real service sends ("Guid@odata.type", ...) and
.NET's round-trip date format, so the server's $select and the client's parsing see what
Exchange Online would send.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

from exchange.sandbox.recipients import Group, Recipient, User
from exchange.sandbox.tenant import Tenant

COLLECTION: Final = "#Collection(String)"


def _date(value: datetime, *, utc_suffix: bool = False) -> str:
    # .NET's round-trip format: seven fractional digits, then the offset (or Z for *UTC).
    value = value.astimezone(UTC)
    text = f"{value:%Y-%m-%dT%H:%M:%S}.{value.microsecond:06d}0"
    return text + ("Z" if utc_suffix else "+00:00")


def _identity_fields(t: Tenant, r: Recipient, dn: str | None = None) -> dict[str, Any]:
    return {
        "Identity": r.name,
        "Id": r.name,
        "Name": r.name,
        "DistinguishedName": t.distinguished_name(r) if dn is None else dn,
        "Guid@data.type": "System.Guid",
        "Guid@odata.type": "#Guid",
        "Guid": r.guid,
        "ExchangeObjectId@data.type": "System.Guid",
        "ExchangeObjectId@odata.type": "#Guid",
        "ExchangeObjectId": r.guid,
        "ExternalDirectoryObjectId": r.external_id,
        "RecipientType": r.recipient_type,
        "RecipientTypeDetails": r.recipient_type_details,
        "IsDirSynced": r.is_dir_synced,
        "OrganizationalUnit": (
            f"EURPR01A001.PROD.OUTLOOK.COM/Microsoft Exchange Hosted Organizations/"
            f"{t.initial_domain}"
        ),
        "OrganizationId": f"EURPR01A001.PROD.OUTLOOK.COM/Microsoft Exchange Hosted Organizations/"
        f"{t.initial_domain} - EURPR01A001.PROD.OUTLOOK.COM/ConfigurationUnits/"
        f"{t.initial_domain}/Configuration",
        "WhenCreated@data.type": "System.DateTime",
        "WhenCreated": _date(r.when_created),
        "WhenCreatedUTC@data.type": "System.DateTime",
        "WhenCreatedUTC": _date(r.when_created, utc_suffix=True),
        "WhenChanged@data.type": "System.DateTime",
        "WhenChanged": _date(r.when_changed),
        "WhenChangedUTC@data.type": "System.DateTime",
        "WhenChangedUTC": _date(r.when_changed, utc_suffix=True),
        "IsValid": True,
        "ObjectState": "Unchanged",
    }


def _mail_fields(r: Recipient) -> dict[str, Any]:
    return {
        "DisplayName": r.display_name,
        "Alias": r.alias,
        "PrimarySmtpAddress": r.primary_smtp,
        "EmailAddresses@odata.type": COLLECTION,
        "EmailAddresses": list(r.email_addresses),
        "HiddenFromAddressListsEnabled": r.hidden,
    }


def _display_with_address(r: Recipient) -> str:
    return f"{r.display_name} <{r.primary_smtp}>" if r.primary_smtp else r.display_name


def group_object(
    t: Tenant, g: Group, *, with_display_names: bool = False, dn: str | None = None
) -> dict[str, Any]:
    obj = _identity_fields(t, g, dn)
    obj.update(_mail_fields(g))
    obj.update(
        {
            "GroupType": g.group_type,
            "ManagedBy@odata.type": COLLECTION,
            "ManagedBy": [owner.name for owner in g.managed_by],
            "MemberJoinRestriction": g.member_join_restriction,
            "MemberDepartRestriction": g.member_depart_restriction,
            "HiddenGroupMembershipEnabled": g.hidden_group_membership,
            "RequireSenderAuthenticationEnabled": g.require_sender_authentication,
            "Description@odata.type": COLLECTION,
            "Description": list(g.description),
            "BypassNestedModerationEnabled": False,
            "ModerationEnabled": False,
            "ReportToManagerEnabled": False,
            "ReportToOriginatorEnabled": True,
            "SendOofMessageToOriginatorEnabled": False,
        }
    )
    if with_display_names:
        obj["ManagedByWithDisplayNames@odata.type"] = COLLECTION
        obj["ManagedByWithDisplayNames"] = [_display_with_address(o) for o in g.managed_by]
    return obj


def recipient_object(t: Tenant, r: Recipient) -> dict[str, Any]:
    """The reduced recipient Get-Recipient and Get-DistributionGroupMember return."""
    obj = _identity_fields(t, r)
    obj.update(_mail_fields(r))
    user = r if isinstance(r, User) else None
    obj.update(
        {
            "ExternalEmailAddress": r.external_email or None,
            "FirstName": user.first_name if user else "",
            "LastName": user.last_name if user else "",
            "Department": user.department if user else "",
            "Title": user.title if user else "",
            "Manager": user.manager.name if user and user.manager else None,
            "WindowsLiveID": user.upn if user else "",
            "UserPrincipalName": user.upn if user else "",
        }
    )
    if isinstance(r, Group):
        obj["ManagedBy@odata.type"] = COLLECTION
        obj["ManagedBy"] = [owner.name for owner in r.managed_by]
    return obj


def user_object(t: Tenant, u: User) -> dict[str, Any]:
    obj = _identity_fields(t, u)
    obj.update(
        {
            "DisplayName": u.display_name,
            "FirstName": u.first_name,
            "LastName": u.last_name,
            "UserPrincipalName": u.upn,
            "WindowsLiveID": u.upn,
            "MicrosoftOnlineServicesID": u.upn,
            "WindowsEmailAddress": u.primary_smtp,
            "AccountDisabled": u.account_disabled,
            "Manager": u.manager.name if u.manager else None,
            "Department": u.department,
            "Title": u.title,
        }
    )
    return obj
