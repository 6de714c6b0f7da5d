"""The "create a list" use case: a draft, checked the way Exchange will check it, then asked for.

What a person fills in is a Draft (the name in their words, an alias and one of the tenant's
accepted domains, a description, owners, who may join, first members). Each field is checked
as soon as it is given, so the dialog can ask again for just that field:

    name       not empty; at most 64 characters once the naming policy's prefix and suffix
               are added (Exchange's limit on Name); no blocked word; no recipient has it
    alias      not empty, at most 64; only the characters the contract allows, dots neither
               leading, trailing nor doubled; no recipient has it (aliases are not unique in
               Exchange, but a second one only confuses people)
    address    alias@domain with an accepted domain; no recipient has it as any address

The problems are typed data with the value that caused them; bot/ turns them into words. The
same checks run again at submit, on live data, and the list as it will be made (NewList: the
exact final name and address) is what the request stores and the approvers see.

Names and addresses taken later still happen (between approval and creation): the workflow
then asks NewListHooks.alternatives for free ones to offer, and indexes the list once made
(NewListHooks.created), so "add me to <new list>" works at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from approvals.models import ApprovalRequest, ListRef, NewList, Person, RequestKind, planned_list_id
from skills.find_dl import ListIndex
from skills.policies import CreationPolicy
from skills.ports import DirectoryList, ListKind, Restriction, Submitted

MAX_NAME_LENGTH = 64
MAX_ALIAS_LENGTH = 64
# How many lists like the new one are shown before it is made, and free names offered after a
# collision.
MAX_SIMILAR = 5
MAX_ALTERNATIVES = 3

_ALIAS_CHARACTER = re.compile(r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~.]")
# Characters people put in a name that are not allowed in an alias: become a hyphen.
_ALIAS_SEPARATORS = re.compile(r"[^A-Za-z0-9]+")


class Problem(StrEnum):
    NAME_EMPTY = "name_empty"
    NAME_TOO_LONG = "name_too_long"
    NAME_BLOCKED_WORD = "name_blocked_word"
    NAME_TAKEN = "name_taken"
    ALIAS_EMPTY = "alias_empty"
    ALIAS_TOO_LONG = "alias_too_long"
    ALIAS_CHARACTERS = "alias_characters"
    ALIAS_DOTS = "alias_dots"
    ALIAS_TAKEN = "alias_taken"
    DOMAIN_NOT_ACCEPTED = "domain_not_accepted"
    ADDRESS_TAKEN = "address_taken"
    DESCRIPTION_TOO_LONG = "description_too_long"
    NO_OWNER = "no_owner"


@dataclass(frozen=True)
class ValidationProblem:
    kind: Problem
    # What caused it: the final name, the blocked word, the bad characters, the domain, or the
    # recipient that holds the name, alias or address.
    detail: str = ""
    limit: int = 0  # *_TOO_LONG: the maximum
    domains: tuple[str, ...] = ()  # DOMAIN_NOT_ACCEPTED: the ones to choose from


@dataclass(frozen=True)
class Draft:
    name: str  # in the person's words, before the naming policy's prefix and suffix
    alias: str
    domain: str
    description: str = ""
    owners: tuple[Person, ...] = ()  # the requester first
    members: tuple[Person, ...] = ()
    join_restriction: Restriction = Restriction.APPROVAL_REQUIRED

    @property
    def address(self) -> str:
        return f"{self.alias}@{self.domain}"


@dataclass(frozen=True)
class Holders:
    """The recipients (display names) already holding what a new list wants; "" when free."""

    name: str = ""
    alias: str = ""
    address: str = ""


class CreationDirectory(Protocol):
    async def accepted_domains(self) -> tuple[str, ...]:
        """The tenant's accepted domains, the default first."""
        ...

    async def holders(self, *, name: str, alias: str, address: str) -> Holders:
        """Which recipients already have this Name or DisplayName, Alias, or address."""
        ...

    async def find_people(self, query: str, limit: int) -> list[Person]:
        """People (mailboxes and mail users) by address, or by name (ambiguous resolution)."""
        ...


class CreateSubmitter(Protocol):
    """approvals.ApprovalService.submit, as this use case calls it."""

    async def submit(
        self,
        *,
        kind: RequestKind,
        requester: Person,
        group: ListRef,
        justification: str = "",
        auto_approved: str = "",
        new_list: NewList | None = None,
    ) -> Submitted: ...


class ListSnapshots(Protocol):
    """skills.index_store.ListSnapshotStore: where every replica's index learns of a list."""

    async def upsert(self, item: DirectoryList) -> None: ...


# Pure checks ------------------------------------------------------------------------------------


def name_problem(policy: CreationPolicy, words: str) -> ValidationProblem | None:
    words = words.strip()
    if not words:
        return ValidationProblem(Problem.NAME_EMPTY)
    final = policy.naming.final_name(words)
    if len(final) > MAX_NAME_LENGTH:
        return ValidationProblem(Problem.NAME_TOO_LONG, final, limit=MAX_NAME_LENGTH)
    word = policy.naming.blocked_word(words)
    if word is not None:
        return ValidationProblem(Problem.NAME_BLOCKED_WORD, word)
    return None


def alias_problem(alias: str) -> ValidationProblem | None:
    if not alias:
        return ValidationProblem(Problem.ALIAS_EMPTY)
    if len(alias) > MAX_ALIAS_LENGTH:
        return ValidationProblem(Problem.ALIAS_TOO_LONG, alias, limit=MAX_ALIAS_LENGTH)
    bad = "".join(dict.fromkeys(ch for ch in alias if not _ALIAS_CHARACTER.fullmatch(ch)))
    if bad:
        return ValidationProblem(Problem.ALIAS_CHARACTERS, bad)
    if alias.startswith(".") or alias.endswith(".") or ".." in alias:
        return ValidationProblem(Problem.ALIAS_DOTS, alias)
    return None


def suggest_alias(words: str) -> str:
    """An alias from a name: "Q3 Launch (EMEA)" -> "q3-launch-emea"."""
    alias = _ALIAS_SEPARATORS.sub("-", words.casefold()).strip("-")
    return alias[:MAX_ALIAS_LENGTH].rstrip("-")


def pick_domain(answer: str, domains: tuple[str, ...]) -> str | None:
    """The accepted domain an answer names: "2", "eu.contoso.com", "@eu.contoso.com"."""
    answer = answer.strip().lstrip("@").casefold()
    if answer.isdigit() and 1 <= int(answer) <= len(domains):
        return domains[int(answer) - 1]
    return next((d for d in domains if d.casefold() == answer), None)


def planned_ref(spec: NewList) -> ListRef:
    """The request's `group` until Exchange makes the list (no object id yet)."""
    return ListRef(
        object_id=planned_list_id(spec.address), address=spec.address, display_name=spec.name
    )


# The use case -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CreateOutcome:
    problems: tuple[ValidationProblem, ...]  # non-empty: nothing was asked
    spec: NewList | None = None
    request: ApprovalRequest | None = None
    created: bool = False  # False with a request: the same list was already asked for


@dataclass
class CreateList:
    directory: CreationDirectory
    index: ListIndex
    approvals: CreateSubmitter
    policy: CreationPolicy
    _domains: tuple[str, ...] = field(default=(), init=False)

    async def domains(self) -> tuple[str, ...]:
        # Accepted domains change a few times in a tenant's life: read once per process.
        if not self._domains:
            self._domains = await self.directory.accepted_domains()
        return self._domains

    def final_name(self, words: str) -> str:
        return self.policy.naming.final_name(words.strip())

    def similar(self, words: str) -> list[DirectoryList]:
        """Existing lists like the one about to be made, best first: perhaps join one of them."""
        return [m.list for m in self.index.search(words, limit=MAX_SIMILAR)]

    async def check_name(self, words: str) -> ValidationProblem | None:
        problem = name_problem(self.policy, words)
        if problem is not None:
            return problem
        final = self.final_name(words)
        holders = await self.directory.holders(name=final, alias="", address="")
        return ValidationProblem(Problem.NAME_TAKEN, holders.name) if holders.name else None

    async def check_alias(self, alias: str) -> ValidationProblem | None:
        problem = alias_problem(alias)
        if problem is not None:
            return problem
        holders = await self.directory.holders(name="", alias=alias, address="")
        return ValidationProblem(Problem.ALIAS_TAKEN, holders.alias) if holders.alias else None

    async def check_address(self, alias: str, domain: str) -> ValidationProblem | None:
        domains = await self.domains()
        if pick_domain(domain, domains) is None:
            return ValidationProblem(Problem.DOMAIN_NOT_ACCEPTED, domain, domains=domains)
        address = f"{alias}@{domain}"
        holders = await self.directory.holders(name="", alias="", address=address)
        if holders.address:
            return ValidationProblem(Problem.ADDRESS_TAKEN, holders.address)
        return None

    def check_description(self, text: str) -> ValidationProblem | None:
        limit = self.policy.max_description_length
        if len(text) > limit:
            return ValidationProblem(Problem.DESCRIPTION_TOO_LONG, limit=limit)
        return None

    async def find_people(self, query: str, limit: int = 5) -> list[Person]:
        query = query.strip()
        return await self.directory.find_people(query, limit) if query else []

    async def validate(self, draft: Draft) -> tuple[ValidationProblem, ...]:
        """Every problem with the draft, on live data (one Get-Recipient for the collisions)."""
        problems = [
            p
            for p in (
                name_problem(self.policy, draft.name),
                alias_problem(draft.alias),
                self.check_description(draft.description),
            )
            if p is not None
        ]
        domains = await self.domains()
        if pick_domain(draft.domain, domains) is None:
            problems.append(
                ValidationProblem(Problem.DOMAIN_NOT_ACCEPTED, draft.domain, domains=domains)
            )
        if not draft.owners:
            problems.append(ValidationProblem(Problem.NO_OWNER))
        if problems:
            return tuple(problems)
        holders = await self.directory.holders(
            name=self.final_name(draft.name), alias=draft.alias, address=draft.address
        )
        taken = (
            (Problem.NAME_TAKEN, holders.name),
            (Problem.ALIAS_TAKEN, holders.alias),
            (Problem.ADDRESS_TAKEN, holders.address),
        )
        return tuple(ValidationProblem(kind, holder) for kind, holder in taken if holder)

    def plan(self, draft: Draft) -> NewList:
        """The list exactly as it will be made: Name is the final name (policy applied), and
        DisplayName carries the person's words, to which Exchange adds the same prefix and
        suffix (see skills.policies.NamingPolicy)."""
        words = draft.name.strip()
        owners = _unique(draft.owners)
        return NewList(
            name=self.final_name(words),
            display_name=words,
            alias=draft.alias,
            address=draft.address.casefold(),
            description=draft.description.strip(),
            owners=owners,
            members=_unique(draft.members),
            join_restriction=draft.join_restriction.value,
            internal_senders_only=not self.policy.allow_outside_senders,
        )

    async def submit(self, requester: Person, draft: Draft, purpose: str) -> CreateOutcome:
        """Check the draft again on live data, then ask the creation approvers."""
        problems = await self.validate(draft)
        if problems:
            return CreateOutcome(problems)
        spec = self.plan(draft)
        result = await self.approvals.submit(
            kind=RequestKind.CREATE,
            requester=requester,
            group=planned_ref(spec),
            justification=purpose.strip(),
            new_list=spec,
        )
        return CreateOutcome((), spec, result.request, result.created)


def _unique(people: tuple[Person, ...]) -> tuple[Person, ...]:
    """Each person once, in the order first given (the requester stays the first owner)."""
    return tuple(
        {p.object_id: p for p in reversed(people)}[k]
        for k in dict.fromkeys(p.object_id for p in people)
    )


# What the approval workflow needs around creation ----------------------------------------------


class NewListIndexer:
    """approvals.ports.NewListHooks: index a list once made; offer free names after a collision.

    The list goes into the Redis snapshot (every replica's index follows it within seconds)
    and into this process's index at once, so the person told "it's made" can join it now.
    """

    def __init__(
        self,
        directory: CreationDirectory,
        snapshots: ListSnapshots,
        index: ListIndex,
        policy: CreationPolicy,
    ) -> None:
        self._directory = directory
        self._snapshots = snapshots
        self._index = index
        self._policy = policy

    async def created(self, request: ApprovalRequest) -> None:
        spec = request.new_list
        if spec is None or not request.group.object_id:
            return
        item = DirectoryList(
            object_id=request.group.object_id,
            name=spec.name,
            display_name=request.group.display_name,
            alias=spec.alias,
            address=request.group.address.casefold(),
            kind=ListKind.DISTRIBUTION,
            join_restriction=Restriction(spec.join_restriction),
            depart_restriction=Restriction.OPEN,
            owners=tuple(p.object_id for p in spec.owners),
            description=spec.description,
        )
        await self._snapshots.upsert(item)
        self._index.upsert(item)

    async def alternatives(self, spec: NewList) -> tuple[ListRef, ...]:
        """Up to three free variants ("Q3 Launch 2", q3-launch-2@...), checked live."""
        local, _, domain = spec.address.partition("@")
        found: list[ListRef] = []
        for n in range(2, 2 + MAX_ALTERNATIVES * 3):
            words = f"{spec.display_name} {n}"
            alias = f"{local}-{n}"
            if name_problem(self._policy, words) or alias_problem(alias):
                break  # longer variants only get longer
            final = self._policy.naming.final_name(words)
            address = f"{alias}@{domain}"
            holders = await self._directory.holders(name=final, alias=alias, address=address)
            if not (holders.name or holders.alias or holders.address):
                found.append(ListRef(object_id="", address=address, display_name=final))
                if len(found) == MAX_ALTERNATIVES:
                    break
        return tuple(found)


if TYPE_CHECKING:  # mypy proves the indexer fits the workflow's port, and the service this one
    from approvals.ports import NewListHooks
    from approvals.service import ApprovalService

    def _conforms(
        indexer: NewListIndexer, service: ApprovalService
    ) -> tuple[NewListHooks, CreateSubmitter]:
        return indexer, service
