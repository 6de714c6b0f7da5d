"""The read cmdlets (Get-*) and the selection they share.

Every Get-* cmdlet picks rows the same way: Identity | Anr | everything, narrowed by -Filter,
ordered by -SortBy and cut by -ResultSize with the warning Exchange adds; only the read cmdlets
select like this, so the selection lives with them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final

from exchange.sandbox.cmdlet_errors import ambiguous, binding_error, not_found
from exchange.sandbox.cmdlet_outcome import CmdletResult
from exchange.sandbox.filters import (
    GROUP_FILTERABLE,
    RECIPIENT_FILTERABLE,
    USER_FILTERABLE,
    compile_filter,
    indexed_candidates,
)
from exchange.sandbox.identity import Accept, is_distribution_group, matching, resolve_group
from exchange.sandbox.objects import group_object, recipient_object, user_object
from exchange.sandbox.parameters import Bound
from exchange.sandbox.recipients import Group, Recipient, User
from exchange.sandbox.tenant import Tenant

DEFAULT_SIZE_WARNING: Final = (
    "By default, only the first {n} items are returned. Use the ResultSize parameter to specify "
    'the number of items returned. To return all items, specify "-ResultSize Unlimited". Be '
    "aware that, depending upon the actual number of items, returning all items can take a long "
    "time and consume a large amount of memory. Also, we don't recommend storing the results in "
    "a variable. Instead, pipe the results to another task or script to perform batch changes."
)
# What Exchange says instead when the caller chose the ResultSize that cut the list short.
EXPLICIT_SIZE_WARNING: Final = (
    "There are more results available than are currently displayed. To view them, increase the "
    "value for the ResultSize parameter."
)


# --- selection shared by the Get-* cmdlets ---------------------------------------------------


def _anr_match(r: Recipient, prefix: str) -> bool:
    values = [r.name, r.display_name, r.alias, *r.smtp_addresses()]
    if isinstance(r, User):
        values += [r.first_name, r.last_name]
    return any(v.lower().startswith(prefix) for v in values if v)


def select(t: Tenant, b: Bound, accept: Accept, filterable: Sequence[str]) -> list[Recipient]:
    """Identity | Anr | everything, narrowed by Filter; in creation order."""
    compiled = None
    filter_text = b.string("Filter")
    if filter_text is not None:
        compiled = compile_filter(t, filter_text, filterable)
    identity, anr = b.string("Identity"), b.string("Anr")
    rows: Iterable[Recipient]
    if identity is not None:
        found = matching(t, identity, accept)
        if not found:
            raise not_found(t, identity)
        if len(found) > 1 and "*" not in identity:
            raise ambiguous(identity)
        rows = found
    elif anr is not None:
        prefix = anr.strip().lower()
        rows = [r for r in t.recipients() if accept(r) and _anr_match(r, prefix)]
    else:
        candidates = indexed_candidates(t, compiled.node) if compiled else None
        rows = t.recipients() if candidates is None else sorted(candidates, key=lambda r: r.seq)
        rows = [r for r in rows if accept(r)]
    if compiled is not None:
        rows = [r for r in rows if compiled.predicate(r)]
    return _sorted(list(rows), b.string("SortBy"))


SORTABLE: Final[dict[str, Callable[[Recipient], str]]] = {
    "name": lambda r: r.name.lower(),
    "displayname": lambda r: r.display_name.lower(),
    "alias": lambda r: r.alias.lower(),
    "firstname": lambda r: r.first_name.lower() if isinstance(r, User) else "",
    "lastname": lambda r: r.last_name.lower() if isinstance(r, User) else "",
}


def _sorted(rows: list[Recipient], sort_by: str | None) -> list[Recipient]:
    if sort_by is None:
        return rows
    descending = sort_by.startswith("-")
    key = SORTABLE.get(sort_by.lstrip("+-").lower())
    if key is None:
        raise binding_error(
            f'The SortBy property "{sort_by}" isn\'t valid. Valid values are: Name, DisplayName, '
            "Alias, FirstName, LastName."
        )
    return sorted(rows, key=key, reverse=descending)


def limit(rows: list[Any], b: Bound) -> tuple[list[Any], list[str]]:
    """Apply ResultSize; a cut-short list carries the warning Exchange adds."""
    size = b.result_size()
    if size is None or len(rows) <= size:
        return rows, []
    warning = EXPLICIT_SIZE_WARNING if b.has("ResultSize") else DEFAULT_SIZE_WARNING
    return rows[:size], [warning.format(n=size)]


def _recipient_types(b: Bound) -> Accept:
    wanted = b.strings("RecipientTypeDetails")
    if wanted is None:
        return lambda r: True
    chosen = set(wanted)
    return lambda r: r.recipient_type_details in chosen


# --- the read cmdlets ----------------------------------------------------------------------


def get_distribution_group(t: Tenant, b: Bound) -> CmdletResult:
    of_type = _recipient_types(b)
    rows = select(t, b, lambda r: is_distribution_group(r) and of_type(r), GROUP_FILTERABLE)
    rows, warnings = limit(rows, b)
    with_names = b.flag("IncludeManagedByWithDisplayNames")
    return CmdletResult(
        [group_object(t, g, with_display_names=with_names) for g in rows if isinstance(g, Group)],
        warnings,
    )


def get_distribution_group_member(t: Tenant, b: Bound) -> CmdletResult:
    group = resolve_group(t, b.required("Identity"))
    members, warnings = limit(list(group.members.values()), b)
    return CmdletResult([recipient_object(t, m) for m in members], warnings)


def get_recipient(t: Tenant, b: Bound) -> CmdletResult:
    wanted = b.strings("RecipientTypeDetails")
    of_type = _recipient_types(b)

    def accept(r: Recipient) -> bool:
        # Users without a mailbox are not recipients unless asked for by type.
        if not r.mail_enabled and (wanted is None or "User" not in wanted):
            return False
        return of_type(r)

    rows, warnings = limit(select(t, b, accept, RECIPIENT_FILTERABLE), b)
    return CmdletResult([recipient_object(t, r) for r in rows], warnings)


def get_user(t: Tenant, b: Bound) -> CmdletResult:
    of_type = _recipient_types(b)
    rows = select(t, b, lambda r: isinstance(r, User) and of_type(r), USER_FILTERABLE)
    rows, warnings = limit(rows, b)
    return CmdletResult([user_object(t, u) for u in rows if isinstance(u, User)], warnings)


def get_accepted_domain(t: Tenant, b: Bound) -> CmdletResult:
    domains = t.accepted_domains
    identity = b.string("Identity")
    if identity is not None:
        domains = [d for d in domains if d.name.lower() == identity.strip().lower()]
        if not domains:
            raise not_found(t, identity)
    return CmdletResult(
        [
            {
                "Identity": d.name,
                "Id": d.name,
                "Name": d.name,
                "DomainName": d.name,
                "Default": d.default,
                "DomainType": "Authoritative",
                "InitialDomain": d.initial,
                "MatchSubDomains": False,
                "Guid@data.type": "System.Guid",
                "Guid@odata.type": "#Guid",
                "Guid": d.guid,
                "IsValid": True,
            }
            for d in domains
        ]
    )
