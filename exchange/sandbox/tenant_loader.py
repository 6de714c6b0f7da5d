"""Loading a tenant: TenantLoader turns a validated TenantFile into a Tenant, objects first,
then the references between them (managers, owners, members), then synthetic members.

Apart from the Tenant, which only indexes and answers; this is the one place that knows how a
file's references, default names, addresses and creation dates become directory objects.
Tenant.from_dict is its entry point.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Final

from exchange.sandbox.app_registration import AppRegistration
from exchange.sandbox.directory_names import derive_alias
from exchange.sandbox.generate import synthetic_users
from exchange.sandbox.recipients import GROUP_KINDS, MAILBOX_TYPES, Group, Recipient, User
from exchange.sandbox.tenant import AcceptedDomain, NamingPolicy, Tenant
from exchange.sandbox.tenant_file import (
    ContactSpec,
    GroupSpec,
    RecipientSpec,
    TenantFile,
    UserSpec,
)

GUID_NAMES_SINCE: Final = datetime(2022, 11, 1, tzinfo=UTC)


class TenantLoader:
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
