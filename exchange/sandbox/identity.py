"""Identity resolution: which recipient an Identity, Member, ManagedBy or Members value names.

Values resolve like Exchange's id parameters (name, alias, address, GUID, DN ... through the
tenant's indexes); Get-* cmdlets also accept wildcards. Read and write cmdlets share this, and
Tenant.group_snapshot uses resolve_group.
"""

from __future__ import annotations

from collections.abc import Callable

from exchange.sandbox import opath
from exchange.sandbox.cmdlet_errors import ambiguous, not_found, object_not_found
from exchange.sandbox.recipients import Group, Recipient
from exchange.sandbox.tenant import Tenant

Accept = Callable[[Recipient], bool]


def is_distribution_group(r: Recipient) -> bool:
    return isinstance(r, Group) and r.is_distribution_group


def _wildcard_matches(t: Tenant, identity: str, accept: Accept) -> list[Recipient]:
    # Get-* cmdlets accept wildcards in Identity; such a value may name several objects.
    pattern = opath.wildcard_pattern(identity.strip())
    return [
        r
        for r in t.recipients()
        if accept(r)
        and any(
            pattern.fullmatch(v) for v in (r.name, r.alias, r.display_name, r.primary_smtp) if v
        )
    ]


def matching(t: Tenant, identity: str, accept: Accept) -> list[Recipient]:
    if "*" in identity:
        return _wildcard_matches(t, identity, accept)
    return [r for r in t.find(identity) if accept(r)]


def resolve_one(t: Tenant, identity: str, accept: Accept, *, parameter: str) -> Recipient:
    found = matching(t, identity, accept)
    if not found:
        raise not_found(t, identity) if parameter == "Identity" else object_not_found(identity)
    if len(found) > 1:
        raise ambiguous(identity)
    return found[0]


def resolve_group(t: Tenant, identity: str) -> Group:
    """The distribution group, security group or room list an Identity value names."""
    group = resolve_one(t, identity, is_distribution_group, parameter="Identity")
    assert isinstance(group, Group)
    return group
