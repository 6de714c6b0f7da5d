"""Renewing a time-limited membership reads the list live: open to everyone or owned by the
member renews at once; otherwise the owners are asked; someone else's membership, one that
ended, a list gone or moved on-premises are refused without changing anything."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from approvals.grants import Grant
from skills.memory_directory import InMemoryListDirectory
from skills.ports import DirectoryList, ListKind, Restriction
from skills.renew_membership import RenewMembership, RenewRefusal, RenewRefused
from tests.approvals import demo
from tests.approvals.conftest import START
from tests.approvals.grant_world import GrantWorld

FINANCE = DirectoryList(
    object_id=demo.FINANCE_EMEA.object_id,
    name="finance-emea",
    display_name=demo.FINANCE_EMEA.display_name,
    alias="finance-emea",
    address=demo.FINANCE_EMEA.address,
    kind=ListKind.DISTRIBUTION,
    join_restriction=Restriction.APPROVAL_REQUIRED,
    depart_restriction=Restriction.CLOSED,
)


def why(grant: Grant) -> str:
    return f"renewing {grant.group.display_name}"


async def setup(
    directory_list: DirectoryList | None = FINANCE,
) -> tuple[GrantWorld, Grant, RenewMembership]:
    world = GrantWorld()
    request = await world.ask_for(30)
    await world.service.decide(request.id, demo.MEGAN, approve=True)
    await world.run_jobs()
    grant = await world.grants.get(request.id)
    assert grant is not None
    directory = InMemoryListDirectory([directory_list] if directory_list else [])
    return world, grant, RenewMembership(directory, world.approvers, world.grants)


async def test_on_a_list_that_needs_approval_the_owners_are_asked_with_the_words_given() -> None:
    world, grant, renew = await setup()
    outcome = await renew.renew(demo.ALEX, grant.id, why)
    assert not isinstance(outcome, RenewRefused) and outcome.request is not None
    assert outcome.request.justification == "renewing Finance EMEA"
    assert outcome.request.auto_approved == ""


async def test_on_an_open_list_the_membership_is_renewed_at_once() -> None:
    world, grant, renew = await setup(replace(FINANCE, join_restriction=Restriction.OPEN))
    outcome = await renew.renew(demo.ALEX, grant.id, why)
    assert not isinstance(outcome, RenewRefused) and outcome.request is None
    assert outcome.grant.ends_at == START + timedelta(days=60)


async def test_someone_elses_membership_is_refused_as_not_theirs() -> None:
    world, grant, renew = await setup()
    assert await renew.renew(demo.LEE, grant.id, why) == RenewRefused(RenewRefusal.NOT_YOURS)
    assert await renew.renew(demo.ALEX, "no-such-grant", why) == RenewRefused(
        RenewRefusal.NOT_YOURS
    )
    assert (await world.grants.get(grant.id)) == grant


async def test_a_list_moved_on_premises_or_gone_cannot_be_renewed() -> None:
    _, grant, renew = await setup(replace(FINANCE, dir_synced=True))
    refused = await renew.renew(demo.ALEX, grant.id, why)
    assert isinstance(refused, RenewRefused) and refused.reason is RenewRefusal.DIR_SYNCED
    _, grant, renew = await setup(None)
    refused = await renew.renew(demo.ALEX, grant.id, why)
    assert isinstance(refused, RenewRefused) and refused.reason is RenewRefusal.LIST_GONE


async def test_an_ended_membership_cannot_be_renewed() -> None:
    world, grant, renew = await setup()
    await world.after(days=30)
    refused = await renew.renew(demo.ALEX, grant.id, why)
    assert isinstance(refused, RenewRefused) and refused.reason is RenewRefusal.ENDED
