"""The sandbox tenant: recipients and their indexes, app registrations, and the tenant file.

This is the directory half of the sandbox (the HTTP half builds on it). It is pure Python with
no I/O beyond reading a tenant file. Cmdlet semantics live in cmdlets.py; Tenant.execute dispatches
there. Everything here mirrors what Exchange Online keeps per recipient, with the indexes a
directory server would have, so a 100,000-group tenant answers Identity lookups from dicts.
"""

from __future__ import annotations

import functools
import gc
import hashlib
import json
import re
import threading
import unicodedata
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from exchange.sandbox.generate import synthetic_users

DEMO_TENANT_FILE: Final = Path(__file__).with_name("demo-tenant.json")

# Every EXO recipient lives in one OU per tenant under this forest-specific suffix.
HOSTED_ORGANIZATIONS: Final = (
    "OU=Microsoft Exchange Hosted Organizations,DC=EURPR01A001,DC=PROD,DC=OUTLOOK,DC=COM"
)
DEFAULT_DOMAIN_CONTROLLER: Final = "AM6PR01A001DC03.EURPR01A001.PROD.OUTLOOK.COM"
DEFAULT_CREATED: Final = datetime(2019, 5, 6, 8, 30, tzinfo=UTC)
GUID_NAMES_SINCE: Final = datetime(2022, 11, 1, tzinfo=UTC)

# Derived object ids (Guid from ExternalDirectoryObjectId, new objects) come from this namespace
# so that a tenant file always yields the same directory.
_NAMESPACE: Final = uuid.UUID("5a1e7c52-3b0f-4c1e-9a43-6f0d2b8e11a7")


class CmdletError(Exception):
    """A cmdlet failure as Exchange reports it; the server turns it into an error body."""

    def __init__(
        self,
        status: int,
        exception_type: str,
        message: str,
        *,
        error_id: str = "",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.exception_type = exception_type
        self.message = message
        self.error_id = error_id
        self.headers = dict(headers or {})

    @property
    def not_found(self) -> bool:
        """True for ManagementObjectNotFoundException: its status (404 or 400) is a setting."""
        return self.exception_type.endswith("ManagementObjectNotFoundException")

    def __repr__(self) -> str:
        return f"CmdletError({self.status}, {self.exception_type!r}, {self.message!r})"


@dataclass
class CmdletResult:
    objects: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


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


# --- recipients --------------------------------------------------------------------------------

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


# --- names, aliases, distinguished names -------------------------------------------------------

_ALIAS_ATOM: Final = r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+"
ALIAS_PATTERN: Final = re.compile(rf"{_ALIAS_ATOM}(?:\.{_ALIAS_ATOM})*")
_NOT_ALIAS_CHAR: Final = re.compile(r"[^A-Za-z0-9!#$%&'*+\-/=?^_`{|}~.]")
_DN_SPECIAL: Final = frozenset(',+"\\<>;=')


def derive_alias(name: str, *, max_length: int = 64) -> str:
    """The alias Exchange derives from a Name: accents folded, invalid characters dropped."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    alias = _NOT_ALIAS_CHAR.sub("", folded)
    alias = re.sub(r"\.{2,}", ".", alias).strip(".")
    return alias[:max_length].rstrip(".")


def escape_rdn(value: str) -> str:
    """Escape one RDN value the way Active Directory writes it (RFC 4514 specials)."""
    out = []
    for i, ch in enumerate(value):
        special = ch in _DN_SPECIAL or (ch == "#" and i == 0)
        edge_space = ch == " " and (i == 0 or i == len(value) - 1)
        out.append("\\" + ch if special or edge_space else ch)
    return "".join(out)


def split_dn(dn: str) -> list[tuple[str, str]] | None:
    """Split a DN into (attribute, unescaped value) pairs; None when it is not a DN at all."""
    parts: list[tuple[str, str]] = []
    attr: str | None = None
    buf: list[str] = []
    i = 0
    while i <= len(dn):
        ch = dn[i] if i < len(dn) else ","
        if ch == "\\" and i + 1 < len(dn):
            pair = dn[i + 1 : i + 3]
            if re.fullmatch(r"[0-9A-Fa-f]{2}", pair):
                buf.append(chr(int(pair, 16)))
                i += 3
                continue
            buf.append(dn[i + 1])
            i += 2
            continue
        if ch == "=" and attr is None:
            attr = "".join(buf).strip()
            buf = []
        elif ch == ",":
            if attr is None or not re.fullmatch(r"[A-Za-z][A-Za-z0-9-]*", attr):
                return None
            parts.append((attr, "".join(buf).strip()))
            attr, buf = None, []
        else:
            buf.append(ch)
        i += 1
    return parts or None


def _lower_key(value: str) -> str:
    key = value.strip().lower()
    # Most keys (GUIDs, addresses) are lower-case already: keep one string, not two.
    return value if key == value else key


# --- the tenant file (validated with pydantic, then turned into the objects above) -------------


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
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            return _TenantLoader(TenantFile.model_validate(data)).build()
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


class _TenantLoader:
    """Turns a validated TenantFile into a Tenant: objects first, then references."""

    def __init__(self, spec: TenantFile) -> None:
        self.spec = spec
        t = spec.tenant
        domains = [
            AcceptedDomain(
                name=d.domain,
                default=d.default,
                initial=d.domain.lower() == t.initial_domain.lower(),
                guid="",
            )
            for d in t.accepted_domains
        ]
        if not any(d.initial for d in domains):
            domains.append(AcceptedDomain(t.initial_domain, False, True, ""))
        if sum(d.default for d in domains) > 1:
            raise ValueError("tenant.accepted_domains: more than one default domain")
        self.tenant = Tenant(
            tenant_id=str(t.id),
            initial_domain=t.initial_domain,
            display_name=t.display_name,
            accepted_domains=domains,
            naming_policy=NamingPolicy(
                t.naming_policy.prefix, t.naming_policy.suffix, list(t.naming_policy.blocked_words)
            ),
            domain_controller=t.domain_controller,
            apps={
                a.client_id: AppRegistration(
                    client_id=a.client_id,
                    display_name=a.display_name,
                    secrets=list(a.secrets),
                    certificate_thumbprints={x.upper() for x in a.certificate_thumbprints},
                    granted_cmdlets=None if a.granted_cmdlets is None else set(a.granted_cmdlets),
                )
                for a in spec.apps
            },
        )
        for d in domains:
            d.guid = self.tenant.derived_guid("accepted-domain", d.name.lower())
        self.created = t.created if t.created.tzinfo else t.created.replace(tzinfo=UTC)
        self.synthetic_number = 0

    def build(self) -> Tenant:
        managers: list[tuple[User, str]] = []
        groups: list[tuple[Group, GroupSpec]] = []
        for u in self.spec.users:
            user = self._user(u)
            if u.manager:
                managers.append((user, u.manager))
        for c in self.spec.contacts:
            self._contact(c)
        for g in self.spec.groups:
            groups.append((self._group(g), g))
        for group, g in groups:
            if g.synthetic_members:
                self._synthetic_members(group, g.synthetic_members)
        for user, ref in managers:
            manager = self._resolve(ref, f"user {user.name!r} manager")
            if not isinstance(manager, User):
                raise ValueError(f"user {user.name!r}: manager {ref!r} is not a user")
            user.manager = manager
        for group, g in groups:
            group.managed_by = [
                self._resolve(r, f"group {group.name!r} managed_by") for r in g.managed_by
            ]
            explicit = [self._resolve(r, f"group {group.name!r} members") for r in g.members]
            synthetic = group.members
            group.members = {m.guid: m for m in explicit}
            group.members.update(synthetic)
        return self.tenant

    def _resolve(self, ref: str, context: str) -> Recipient:
        found = self.tenant.reference(ref)
        if found is None:
            raise ValueError(f"{context}: no recipient {ref!r}")
        return found

    def _base(self, spec: RecipientSpec, kind: str) -> dict[str, Any]:
        t = self.tenant
        seq = t.next_seq()
        external_id = str(spec.id)
        name = spec.name or external_id
        # GUID names only exist since late 2022, so such objects default to a later date.
        base = max(self.created, GUID_NAMES_SINCE) if name == external_id else self.created
        created = spec.created or (base + timedelta(hours=7 * seq, minutes=13 * seq))
        if created.tzinfo is None:
            created = created.replace(tzinfo=UTC)  # the file format says UTC when unsaid
        return {
            "seq": seq,
            "guid": str(spec.guid) if spec.guid else t.derived_guid("guid", external_id),
            "external_id": external_id,
            "name": name,
            "display_name": spec.display_name or name,
            "when_created": created,
            "when_changed": created,
            "hidden": spec.hidden_from_address_lists,
            "is_dir_synced": spec.is_dir_synced,
            "recipient_type_details": kind,
        }

    def _addresses(
        self, spec: RecipientSpec, alias: str, *, internal: bool
    ) -> tuple[str, list[str]]:
        """Primary SMTP and the proxy list; internal objects also get an initial-domain proxy."""
        t = self.tenant
        primary = spec.email or ""
        if not primary and internal and alias:
            primary = t.unique_address(alias, t.default_domain)
        addresses = [f"SMTP:{primary}"] if primary else []
        addresses += [f"smtp:{a}" for a in spec.addresses if a.lower() != primary.lower()]
        if internal and alias:
            initial = t.initial_domain.lower()
            if not any(a.lower().endswith("@" + initial) for a in addresses):
                addresses.append(f"smtp:{t.unique_address(alias, t.initial_domain)}")
        return primary, addresses

    def _user(self, u: UserSpec) -> User:
        t = self.tenant
        base = self._base(u, u.type)
        internal = u.type in MAILBOX_TYPES
        mail_enabled = u.type != "User"
        local = (u.email or "").split("@")[0]
        alias = u.alias if u.alias is not None else (local or derive_alias(base["name"]))
        primary, addresses = self._addresses(u, alias, internal=internal)
        if not mail_enabled:
            alias, primary, addresses = "", "", []
        if u.upn:
            upn = u.upn
        elif u.type == "GuestMailUser" and primary:
            upn = f"{primary.replace('@', '_')}#EXT#@{t.initial_domain}"
        else:
            upn = (
                primary or f"{derive_alias(base['name']) or base['external_id']}@{t.initial_domain}"
            )
        user = User(
            **base,
            alias=alias,
            primary_smtp=primary,
            email_addresses=addresses,
            external_email=f"SMTP:{primary}" if u.type in ("MailUser", "GuestMailUser") else "",
            first_name=u.first_name,
            last_name=u.last_name,
            upn=upn,
            department=u.department,
            title=u.title,
            account_disabled=u.account_disabled,
        )
        t.add_recipient(user)
        return user

    def _contact(self, c: ContactSpec) -> Recipient:
        base = self._base(c, "MailContact")
        alias = c.alias if c.alias is not None else derive_alias(base["name"])
        primary, addresses = self._addresses(c, alias, internal=False)
        contact = Recipient(
            **base,
            alias=alias,
            primary_smtp=primary,
            email_addresses=addresses,
            external_email=f"SMTP:{primary}",
        )
        self.tenant.add_recipient(contact)
        return contact

    def _group(self, g: GroupSpec) -> Group:
        base = self._base(g, GROUP_KINDS[g.type])
        local = (g.email or "").split("@")[0]
        alias = g.alias if g.alias is not None else (local or derive_alias(base["name"]))
        primary, addresses = self._addresses(g, alias, internal=True)
        description = [g.description] if isinstance(g.description, str) else list(g.description)
        group = Group(
            **base,
            alias=alias,
            primary_smtp=primary,
            email_addresses=addresses,
            member_join_restriction=g.member_join_restriction,
            member_depart_restriction=g.member_depart_restriction,
            hidden_group_membership=g.hidden_group_membership,
            require_sender_authentication=g.require_sender_authentication,
            description=[d for d in description if d],
            notes=g.notes,
            recipient_filter=g.recipient_filter,
        )
        self.tenant.add_recipient(group)
        return group

    def _synthetic_members(self, group: Group, count: int) -> None:
        """Expand "synthetic_members": N into N deterministic mailbox users of this group."""
        key = f"{self.tenant.tenant_id}/{group.external_id}"
        specs = synthetic_users(
            key, count, self.tenant.default_domain, first_number=self.synthetic_number + 1
        )
        self.synthetic_number += count
        for data in specs:
            user = self._user(UserSpec.model_validate(data))
            group.members[user.guid] = user
