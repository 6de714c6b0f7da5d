"""Which cmdlets the app's Exchange role grants, found out without changing anything.

Each cmdlet dlbot uses is called once, in a way that cannot change the directory:

- the reads with ResultSize 1;
- Remove-DistributionGroupMember of a list from itself: a list is never its own member, so
  Exchange answers "isn't a member";
- Add-DistributionGroupMember of one of a list's existing members: "already a member";
- New-DistributionGroup with a Type that is no GroupType and a Name longer than Exchange allows:
  parameter binding refuses it before anything is created.

A cmdlet the role does not grant is refused before Exchange looks at the parameters ("is not
allowed to call", or a 403 whose body may be empty); any answer of the cmdlet itself (not found,
already a member, a parameter error) proves the role let the call through. The membership probes
send BypassSecurityGroupManagerCheck as the bot does, so they also show whether the role may use
it: the sandbox checks who manages the list before it looks at the member, as Exchange is
understood to (the contract does not say; were it the other way round, "already a member" would
prove the cmdlet but not the switch).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from functools import partial

from exchange.client import ExchangeClient
from exchange.errors import (
    CmdletError,
    DirSyncedObject,
    ExchangeError,
    ExchangePermissionError,
    InvalidParameter,
    NotGroupManager,
    ObjectNotFound,
)
from exchange.models import DistributionGroup, MembershipOutcome, Recipient

READ_CMDLETS = (
    "Get-DistributionGroup",
    "Get-DistributionGroupMember",
    "Get-Recipient",
    "Get-User",
    "Get-AcceptedDomain",
)
ADD_MEMBER = "Add-DistributionGroupMember"
REMOVE_MEMBER = "Remove-DistributionGroupMember"
NEW_GROUP = "New-DistributionGroup"
MEMBERSHIP_CMDLETS = (ADD_MEMBER, REMOVE_MEMBER)
BOT_CMDLETS = (*READ_CMDLETS, *MEMBERSHIP_CMDLETS, NEW_GROUP)

# Lists looked at to find one with a member to probe with; each costs one ResultSize 1 read.
CANDIDATE_LISTS = 20
# Longer than the 64 characters Exchange allows a Name, so even a Type it accepted could not
# create the list.
PROBE_GROUP_NAME_PREFIX = "dlbot-doctor-permission-probe-never-created-"
PROBE_GROUP_TYPE = "dlbot-doctor-not-a-group-type"


class Verdict(StrEnum):
    ALLOWED = "allowed"
    DENIED = "denied"
    UNKNOWN = "unknown"  # Exchange did not answer (unreachable, throttled, not the contract)


class Bypass(StrEnum):
    """What a membership probe showed about BypassSecurityGroupManagerCheck."""

    PROVEN = "proven"  # Exchange passed the manager check and answered about the member
    REFUSED = "refused"  # OperationRequiresGroupManagerException despite the switch
    NOT_REACHED = "not_reached"  # the probe stopped before the manager check (or did not run)


@dataclass(frozen=True)
class Probe:
    cmdlet: str
    verdict: Verdict
    evidence: str  # how Exchange answered, in a few words
    bypass: Bypass = Bypass.NOT_REACHED
    changed: str = ""  # what the probe changed, if Exchange did something it never should
    error: ExchangeError | None = None


@dataclass
class RoleProbes:
    probes: dict[str, Probe] = field(default_factory=dict)
    list_probed: str = ""  # the address of the list the membership probes used, if any

    def denied(self) -> list[Probe]:
        return [p for p in self.probes.values() if p.verdict is Verdict.DENIED]

    def unknown(self) -> list[Probe]:
        return [p for p in self.probes.values() if p.verdict is Verdict.UNKNOWN]

    def changed(self) -> list[Probe]:
        return [p for p in self.probes.values() if p.changed]


@dataclass(frozen=True)
class _Target:
    """The list the membership probes use, and one of its members when one was found."""

    group: DistributionGroup | None
    member: Recipient | None


async def probe_role(client: ExchangeClient) -> RoleProbes:
    report = RoleProbes()

    async def run(cmdlet: str, call: Callable[[], Awaitable[Probe]]) -> Probe:
        report.probes[cmdlet] = probe = await _attempt(cmdlet, call)
        return probe

    async def read(cmdlet: str, parameters: dict[str, object]) -> Probe:
        objects = await client.call_cmdlet(cmdlet, parameters)
        return Probe(cmdlet, Verdict.ALLOWED, f"{len(objects)} object(s)")

    await run("Get-AcceptedDomain", lambda: read("Get-AcceptedDomain", {"ResultSize": 1}))
    groups = await run(
        "Get-DistributionGroup", lambda: read("Get-DistributionGroup", {"ResultSize": 1})
    )
    await run("Get-Recipient", lambda: read("Get-Recipient", {"ResultSize": 1}))
    await run("Get-User", lambda: read("Get-User", {"ResultSize": 1}))

    target = _Target(None, None)
    if groups.verdict is Verdict.ALLOWED:
        target = await _find_target(client, report)
    if "Get-DistributionGroupMember" not in report.probes:
        # No list to read: a list that does not exist still shows whether the cmdlet may run.
        await run(
            "Get-DistributionGroupMember",
            lambda: read(
                "Get-DistributionGroupMember", {"Identity": _nonexistent(), "ResultSize": 1}
            ),
        )
    if target.group is not None:
        report.list_probed = target.group.primary_smtp_address or target.group.name

    await run(REMOVE_MEMBER, lambda: _remove_probe(client, target))
    await run(ADD_MEMBER, lambda: _add_probe(client, target))
    await run(NEW_GROUP, lambda: _new_group_probe(client))
    return report


async def _find_target(client: ExchangeClient, report: RoleProbes) -> _Target:
    """A cloud-mastered distribution list, preferably one with a member, found cheaply."""
    try:
        try:
            groups = await client.find_distribution_groups(
                opath_filter="IsDirSynced -eq $false",
                recipient_type_details=["MailUniversalDistributionGroup"],
                result_size=CANDIDATE_LISTS,
            )
        except CmdletError:
            # A filter this Exchange refuses: look at the first lists as they come instead.
            groups = await client.find_distribution_groups(result_size=CANDIDATE_LISTS)
    except ExchangeError:
        return _Target(None, None)
    groups = [
        g
        for g in groups
        if not g.is_dir_synced
        and g.best_identity
        and g.recipient_type_details in ("", "MailUniversalDistributionGroup")
    ]
    for group in groups:
        members: list[Recipient] = []
        probe = await _attempt(
            "Get-DistributionGroupMember", partial(_first_member, client, group, members)
        )
        report.probes.setdefault("Get-DistributionGroupMember", probe)
        if probe.verdict is not Verdict.ALLOWED:
            return _Target(group, None)
        member = next((m for m in members if _identity_of(m)), None)
        if member is not None:
            return _Target(group, member)
    return _Target(groups[0] if groups else None, None)


async def _first_member(
    client: ExchangeClient, group: DistributionGroup, into: list[Recipient]
) -> Probe:
    into.extend(await client.get_distribution_group_members(group.best_identity, result_size=1))
    return Probe("Get-DistributionGroupMember", Verdict.ALLOWED, f"{len(into)} member(s)")


async def _remove_probe(client: ExchangeClient, target: _Target) -> Probe:
    group = target.group
    if group is None:
        await client.remove_distribution_group_member(_nonexistent(), _nonexistent())
        return Probe(REMOVE_MEMBER, Verdict.ALLOWED, "answered for a list that doesn't exist")
    # A list is never a member of itself: Exchange can only answer "isn't a member".
    change = await client.remove_distribution_group_member(
        group.best_identity, group.primary_smtp_address or group.guid or group.best_identity
    )
    if change.outcome is MembershipOutcome.NOT_A_MEMBER:
        return Probe(REMOVE_MEMBER, Verdict.ALLOWED, '"isn\'t a member"', Bypass.PROVEN)
    return Probe(
        REMOVE_MEMBER,
        Verdict.ALLOWED,
        "removed",
        Bypass.PROVEN,
        changed=f"removed {group.name} from itself",
    )


async def _add_probe(client: ExchangeClient, target: _Target) -> Probe:
    group, member = target.group, target.member
    if group is None:
        await client.add_distribution_group_member(_nonexistent(), _nonexistent())
        return Probe(ADD_MEMBER, Verdict.ALLOWED, "answered for a list that doesn't exist")
    if member is None:
        # No member to re-add: a recipient that does not exist cannot be added either.
        await client.add_distribution_group_member(group.best_identity, _nonexistent())
        return Probe(ADD_MEMBER, Verdict.ALLOWED, "answered for a recipient that doesn't exist")
    member_identity = _identity_of(member)
    change = await client.add_distribution_group_member(group.best_identity, member_identity)
    if change.outcome is MembershipOutcome.ALREADY_MEMBER:
        return Probe(ADD_MEMBER, Verdict.ALLOWED, '"already a member"', Bypass.PROVEN)
    # Only possible when the member left the list between the read and this call.
    return Probe(
        ADD_MEMBER,
        Verdict.ALLOWED,
        "added",
        Bypass.PROVEN,
        changed=f"added {member.primary_smtp_address or member.name} back to {group.name}",
    )


async def _new_group_probe(client: ExchangeClient) -> Probe:
    name = PROBE_GROUP_NAME_PREFIX + uuid.uuid4().hex
    try:
        await client.call_cmdlet(NEW_GROUP, {"Name": name, "Type": PROBE_GROUP_TYPE})
    except InvalidParameter:
        return Probe(NEW_GROUP, Verdict.ALLOWED, "refused the invalid Type at parameter binding")
    return Probe(NEW_GROUP, Verdict.ALLOWED, "created", changed=f"created the list {name}")


async def _attempt(cmdlet: str, call: Callable[[], Awaitable[Probe]]) -> Probe:
    """Run one probe and read Exchange's answer as a verdict on the role."""
    try:
        return await call()
    except ExchangePermissionError as exc:
        return Probe(cmdlet, Verdict.DENIED, _permission_reason(exc), error=exc)
    except NotGroupManager as exc:
        return Probe(
            cmdlet, Verdict.ALLOWED, "not a manager of the list", Bypass.REFUSED, error=exc
        )
    except DirSyncedObject as exc:
        return Probe(cmdlet, Verdict.ALLOWED, "the list is synced from on-premises", error=exc)
    except ObjectNotFound as exc:
        return Probe(cmdlet, Verdict.ALLOWED, 'answered "couldn\'t be found"', error=exc)
    except CmdletError as exc:
        if _command_not_found(exc):
            return Probe(cmdlet, Verdict.DENIED, "the cmdlet isn't available to the app", error=exc)
        # Exchange ran the cmdlet and refused its input: the role let the call through.
        return Probe(cmdlet, Verdict.ALLOWED, f"answered {_kind(exc)}", error=exc)
    except ExchangeError as exc:
        # Unavailable, a protocol error, or the token itself: nothing learnt about the role.
        return Probe(cmdlet, Verdict.UNKNOWN, f"{type(exc).__name__}: {exc.message}", error=exc)


def _permission_reason(exc: ExchangePermissionError) -> str:
    status = f"HTTP {exc.status}" if exc.status is not None else "refused"
    # Pipe-format details with no error id or type arrive as "||<message>".
    message = exc.message.strip().lstrip("|").strip()
    # An x-ms-diagnostics value: 2000003;reason="...";error_category="..."
    if 'reason="' in message:
        message = message.split('reason="', 1)[1].split('"', 1)[0]
    return f"{status}: {message}" if message and message != "(empty body)" else status


def _command_not_found(exc: CmdletError) -> bool:
    return exc.exception_type.endswith("CommandNotFoundException") or (
        "is not recognized as a name of a cmdlet" in exc.message
    )


def _kind(exc: CmdletError) -> str:
    return exc.exception_type.rsplit(".", 1)[-1] or type(exc).__name__


def _identity_of(recipient: Recipient) -> str:
    return (
        recipient.external_directory_object_id
        or recipient.guid
        or recipient.primary_smtp_address
        or ""
    )


def _nonexistent() -> str:
    """An identity no object has: a fresh random GUID."""
    return str(uuid.uuid4())
