"""The sandbox tenant: one organisation's recipients and the indexes a directory server keeps
over them, its accepted domains, naming policy and app registrations.

This is the directory half of the sandbox (the HTTP half builds on it). It is pure Python with
no I/O beyond reading a tenant file. Cmdlet semantics live in cmdlets.py; Tenant.execute dispatches
there. Everything here mirrors what Exchange Online keeps per recipient, with the indexes a
directory server would have, so a 100,000-group tenant answers Identity lookups from dicts.

The rest of the directory lives in one module per concern:

    recipients.py        Recipient, User, Group and the recipient type tables
    directory_names.py   aliases and distinguished names
    app_registration.py  AppRegistration
    cmdlet_outcome.py    CmdletResult and CmdletError
    tenant_file.py       the tenant file format (pydantic)
    tenant_loader.py     a TenantFile turned into a Tenant (Tenant.from_dict)
"""

from __future__ import annotations

import functools
import gc
import hashlib
import json
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from exchange.sandbox.app_registration import AppRegistration
from exchange.sandbox.cmdlet_outcome import CmdletResult
from exchange.sandbox.directory_names import escape_rdn, split_dn
from exchange.sandbox.recipients import Group, Recipient, User
from exchange.sandbox.tenant_file import DEFAULT_DOMAIN_CONTROLLER, TenantFile

DEMO_TENANT_FILE: Final = Path(__file__).with_name("demo-tenant.json")

# Every EXO recipient lives in one OU per tenant under this forest-specific suffix.
HOSTED_ORGANIZATIONS: Final = (
    "OU=Microsoft Exchange Hosted Organizations,DC=EURPR01A001,DC=PROD,DC=OUTLOOK,DC=COM"
)

# Derived object ids (Guid from ExternalDirectoryObjectId, new objects) come from this namespace
# so that a tenant file always yields the same directory.
_NAMESPACE: Final = uuid.UUID("5a1e7c52-3b0f-4c1e-9a43-6f0d2b8e11a7")


def _lower_key(value: str) -> str:
    key = value.strip().lower()
    # Most keys (GUIDs, addresses) are lower-case already: keep one string, not two.
    return value if key == value else key


@dataclass
class AcceptedDomain:
    name: str
    default: bool
    initial: bool
    guid: str


@dataclass
class NamingPolicy:
    prefix: str = ""
    suffix: str = ""
    blocked_words: list[str] = field(default_factory=list)


@functools.cache
def _demo_data() -> dict[str, Any]:
    # Parsed once per process; from_dict never mutates its input, so sharing it is safe.
    data: dict[str, Any] = json.loads(DEMO_TENANT_FILE.read_text(encoding="utf-8"))
    return data


class Tenant:
    """One Exchange Online organisation: recipients, accepted domains, naming policy, apps."""

    def __init__(
        self,
        *,
        tenant_id: str,
        initial_domain: str,
        accepted_domains: list[AcceptedDomain],
        display_name: str = "",
        naming_policy: NamingPolicy | None = None,
        domain_controller: str = DEFAULT_DOMAIN_CONTROLLER,
        apps: dict[str, AppRegistration] | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.tenant_id = tenant_id
        self.initial_domain = initial_domain
        self.display_name = display_name
        self.accepted_domains = accepted_domains
        self.naming_policy = naming_policy or NamingPolicy()
        self.domain_controller = domain_controller
        self.apps: dict[str, AppRegistration] = apps or {}
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        # The server runs cmdlets on its own thread while tests read snapshots: one lock.
        self.lock = threading.RLock()
        self._seq = 0
        self._by_guid: dict[str, Recipient] = {}  # also the canonical, creation-ordered list
        self._by_external_id: dict[str, Recipient] = {}
        self._by_name: dict[str, Recipient] = {}
        self._by_address: dict[str, Recipient] = {}
        self._by_upn: dict[str, Recipient] = {}
        self._by_alias: dict[str, list[Recipient]] = {}
        self._by_display_name: dict[str, list[Recipient]] = {}
        self._unique_indexes = {
            "guid": self._by_guid,
            "external_id": self._by_external_id,
            "name": self._by_name,
            "address": self._by_address,
            "upn": self._by_upn,
        }
        self._dn_suffix = f"OU={escape_rdn(initial_domain)},{HOSTED_ORGANIZATIONS}"
        self._dn_suffix_parts = [(a.lower(), v.lower()) for a, v in split_dn(self._dn_suffix) or []]

    # --- construction ---------------------------------------------------------------------

    @classmethod
    def load(cls, path: Path) -> Tenant:
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))

    @classmethod
    def demo(cls) -> Tenant:
        """A fresh, mutable copy of the shipped demo tenant."""
        return cls.from_dict(_demo_data())

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Tenant:
        """Build a tenant from a tenant-file dict; ValueError (incl. pydantic's) when invalid."""
        # A big tenant is a million long-lived objects and no garbage: cyclic GC passes would
        # only rescan the growing heap (they more than double the load time of 100,000 lists).
        # tenant_loader.py builds on this module, so it is imported when first needed.
        from exchange.sandbox.tenant_loader import TenantLoader

        was_enabled = gc.isenabled()
        gc.disable()
        try:
            return TenantLoader(TenantFile.model_validate(data)).build()
        finally:
            if was_enabled:
                gc.enable()

    # --- identity of the organisation ----------------------------------------------------

    def matches_tenant(self, value: str) -> bool:
        value = value.strip().lower()
        return value in (self.tenant_id.lower(), self.initial_domain.lower())

    @property
    def default_domain(self) -> str:
        for domain in self.accepted_domains:
            if domain.default:
                return domain.name
        return self.initial_domain

    def accepted_domain(self, name: str) -> AcceptedDomain | None:
        for domain in self.accepted_domains:
            if domain.name.lower() == name.lower():
                return domain
        return None

    # --- recipients ------------------------------------------------------------------------

    def next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def derived_guid(self, *parts: str) -> str:
        """A name-based GUID (version 5 layout). blake2b instead of uuid5: loading 100,000
        groups derives 100,000 Guids, and this is several times cheaper."""
        digest = hashlib.blake2b(
            "/".join((self.tenant_id, *parts)).encode(), digest_size=16, key=_NAMESPACE.bytes
        ).hexdigest()
        variant = "89ab"[int(digest[16], 16) & 3]
        return (
            f"{digest[:8]}-{digest[8:12]}-5{digest[13:16]}-{variant}{digest[17:20]}-{digest[20:]}"
        )

    def recipients(self) -> Iterator[Recipient]:
        return iter(self._by_guid.values())

    def add_recipient(self, recipient: Recipient) -> None:
        """Index a new recipient; ValueError when a unique key is already held."""
        unique: list[tuple[dict[str, Recipient], str, str]] = [
            (self._by_guid, _lower_key(recipient.guid), "Guid"),
            (self._by_external_id, _lower_key(recipient.external_id), "ExternalDirectoryObjectId"),
            (self._by_name, _lower_key(recipient.name), "Name"),
        ]
        for address in recipient.email_addresses:
            if address[:5].lower() == "smtp:":
                unique.append((self._by_address, _lower_key(address[5:]), "address"))
        if isinstance(recipient, User) and recipient.upn:
            unique.append((self._by_upn, _lower_key(recipient.upn), "UserPrincipalName"))
        for index, key, label in unique:
            holder = index.get(key)
            if holder is not None:
                raise ValueError(
                    f"{label} {key!r} of {recipient.name!r} is used by {holder.name!r}"
                )
        for index, key, _ in unique:
            index[key] = recipient
        if recipient.alias:
            self._by_alias.setdefault(_lower_key(recipient.alias), []).append(recipient)
        if recipient.display_name:
            self._by_display_name.setdefault(_lower_key(recipient.display_name), []).append(
                recipient
            )

    def address_holder(self, address: str) -> Recipient | None:
        return self._by_address.get(_lower_key(address))

    def name_holder(self, name: str) -> Recipient | None:
        return self._by_name.get(_lower_key(name))

    def unique_address(self, local: str, domain: str) -> str:
        """local@domain, or local2@domain, local3@... as Exchange does when it is taken."""
        candidate, n = f"{local}@{domain}", 1
        while self.address_holder(candidate) is not None:
            n += 1
            candidate = f"{local}{n}@{domain}"
        return candidate

    def lookup(self, key: str, value: str) -> list[Recipient]:
        """Exact, case-insensitive index lookup; key is one of the index names below."""
        k = _lower_key(value)
        if key == "alias":
            return list(self._by_alias.get(k, ()))
        if key == "display_name":
            return list(self._by_display_name.get(k, ()))
        if key == "distinguished_name":
            found = self.from_distinguished_name(value)
            return [found] if found is not None else []
        hit = self._unique_indexes[key].get(k)
        return [hit] if hit is not None else []

    def reference(self, ref: str) -> Recipient | None:
        """How tenant files name a recipient: id, else Name, else SMTP address, else UPN."""
        k = _lower_key(ref)
        address = k[5:] if k.startswith("smtp:") else k
        return (
            self._by_external_id.get(k)
            or self._by_name.get(k)
            or self._by_address.get(address)
            or self._by_upn.get(k)
        )

    def find(self, identity: str) -> list[Recipient]:
        """Every recipient an Identity value names exactly, in creation order.

        Exchange's id parameters try Guid, ExternalDirectoryObjectId, DN, Name, Alias,
        DisplayName, any SMTP proxy address and UPN; a value naming two objects is ambiguous.
        """
        value = identity.strip()
        address = value[5:] if value.lower().startswith("smtp:") else value
        hits: dict[str, Recipient] = {}
        for key, v in (
            ("guid", value),
            ("external_id", value),
            ("distinguished_name", value),
            ("name", value),
            ("alias", value),
            ("display_name", value),
            ("address", address),
            ("upn", value),
        ):
            for r in self.lookup(key, v):
                hits[r.guid] = r
        return sorted(hits.values(), key=lambda r: r.seq)

    def distinguished_name(self, recipient: Recipient) -> str:
        return self.distinguished_name_for(recipient.name)

    def distinguished_name_for(self, name: str) -> str:
        return f"CN={escape_rdn(name)},{self._dn_suffix}"

    def is_own_distinguished_name(self, dn: str) -> bool:
        """Syntactically a DN of this tenant's OU (whether or not the object exists)."""
        parts = split_dn(dn)
        if not parts or len(parts) < 2 or parts[0][0].lower() != "cn":
            return False
        return [(a.lower(), v.lower()) for a, v in parts[1:]] == self._dn_suffix_parts

    def from_distinguished_name(self, dn: str) -> Recipient | None:
        if not dn.strip().lower().startswith("cn=") or not self.is_own_distinguished_name(dn):
            return None
        parts = split_dn(dn)
        assert parts is not None  # checked by is_own_distinguished_name
        return self._by_name.get(_lower_key(parts[0][1]))

    # --- the seam to the server ----------------------------------------------------------

    def execute(self, cmdlet: str, parameters: dict[str, Any], *, app_id: str) -> CmdletResult:
        """Run one cmdlet as the app would over InvokeCommand; raises CmdletError."""
        # cmdlets.py builds on this module, so it is imported when first needed.
        from exchange.sandbox.cmdlets import run_cmdlet

        with self.lock:
            return run_cmdlet(self, cmdlet, parameters, app_id=app_id)

    def group_snapshot(self, identity: str) -> dict[str, Any]:
        """A group and its full direct membership, for tests and the control endpoints.

        An exact Name (unique in a tenant) wins, so a test can name a group whose alias another
        group shares; anything else resolves like Get-DistributionGroup -Identity and raises
        its CmdletError (not found / ambiguous).
        """
        from exchange.sandbox.cmdlets import resolve_group

        with self.lock:
            named = self.name_holder(identity)
            group = named if isinstance(named, Group) else resolve_group(self, identity)
            return {
                "name": group.name,
                "display_name": group.display_name,
                "alias": group.alias,
                "primary_smtp_address": group.primary_smtp,
                "external_directory_object_id": group.external_id,
                "guid": group.guid,
                "distinguished_name": self.distinguished_name(group),
                "recipient_type_details": group.recipient_type_details,
                "managed_by": [owner.name for owner in group.managed_by],
                "member_join_restriction": group.member_join_restriction,
                "member_depart_restriction": group.member_depart_restriction,
                "is_dir_synced": group.is_dir_synced,
                "hidden_from_address_lists": group.hidden,
                "require_sender_authentication_enabled": group.require_sender_authentication,
                "members": [
                    {
                        "name": m.name,
                        "display_name": m.display_name,
                        "primary_smtp_address": m.primary_smtp,
                        "external_directory_object_id": m.external_id,
                        "recipient_type_details": m.recipient_type_details,
                    }
                    for m in group.members.values()
                ],
            }

    def summary(self) -> dict[str, Any]:
        with self.lock:
            users = contacts = groups = memberships = 0
            largest: Group | None = None
            for r in self.recipients():
                if isinstance(r, User):
                    users += 1
                elif isinstance(r, Group):
                    groups += 1
                    memberships += len(r.members)
                    if largest is None or len(r.members) > len(largest.members):
                        largest = r
                else:
                    contacts += 1
            return {
                "tenant_id": self.tenant_id,
                "initial_domain": self.initial_domain,
                "users": users,
                "contacts": contacts,
                "groups": groups,
                "memberships": memberships,
                "largest_group": (
                    {"name": largest.name, "members": len(largest.members)} if largest else None
                ),
                "apps": sorted(self.apps),
            }
