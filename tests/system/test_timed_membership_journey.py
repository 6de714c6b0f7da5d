"""A time-limited membership, the whole product through the Agents Playground: Alex asks "add me
to finance emea for 30 days", Megan approves it for 7, Alex is told until when; the clock moves
on (time-machine: the bot, its worker and the sandbox run in this process) to the day before the
end, when a renewal card arrives; Alex taps Renew, Megan approves the renewal, and at the new end
the worker removes Alex exactly once and tells him; `my requests` shows the end date."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import time_machine

from approvals.grants import GrantStatus
from approvals.models import RequestStatus
from approvals.service import utc_now
from bot.services import Dlbot
from exchange.sandbox.server import ThreadedSandbox
from tests.playground.harness import PEOPLE, Playground, eventually
from tests.system.conftest import cards_out, members, said, tell, writes

pytestmark = pytest.mark.asyncio(loop_scope="module")

ALEX = PEOPLE["alexw"]
MEGAN = PEOPLE["meganb"]
PATTI = PEOPLE["pattif"]


async def test_asked_for_30_days_approved_for_7_renewed_then_removed_once_at_the_end(
    playground: Playground, dlbot: Dlbot, sandbox: ThreadedSandbox
) -> None:
    await playground.install()
    await tell(playground, "add me to finance emea for 30 days", "Why do you need to join?")
    await tell(playground, "Apollo launch", "(for 30 days)?")
    await tell(playground, "yes", "I've asked")
    (request,) = [r for r in await dlbot.approvals.requests_of(ALEX) if r.is_open]
    assert request.membership_days == 30
    megan = (await cards_out(dlbot, request.id, 2)).card_of(MEGAN)
    assert megan is not None
    seen = len(playground.stream.events)

    answer = await playground.invoke_card(
        "approve",
        {"requestId": request.id, "days": "7"},
        reply_to_id=megan.activity_id,
        from_id=MEGAN,
        conversation_id=megan.conversation_id,
    )

    assert "Approved by Megan Bowen" in json.dumps(answer)
    await playground.stream.wait_for(said("you're now a member of Finance EMEA until"), 20, seen)
    assert members(sandbox, "finance-emea").count("alexw@contoso.com") == 1
    grant = await dlbot.grants.get(request.id)
    assert grant is not None and grant.days == 7
    await tell(playground, "my requests", f"Ends on {grant.ends_at:%a %d %b %Y}")

    with time_machine.travel(utc_now(), tick=True) as traveller:
        seen = len(playground.stream.events)
        traveller.shift(timedelta(days=6, minutes=1))
        prompt = await playground.stream.wait_for(said("ends tomorrow"), 30, seen)

        renewed = await playground.invoke_card(
            "renew", {"requestId": grant.id}, reply_to_id=prompt["message"]["messageId"]
        )

        assert "to renew your membership of Finance EMEA" in json.dumps(renewed)
        current = await dlbot.grants.get(grant.id)
        assert current is not None and current.renewal_request_id
        renewal = await cards_out(dlbot, current.renewal_request_id, 2)
        assert renewal.grant_id == grant.id
        megan = renewal.card_of(MEGAN)
        assert megan is not None
        seen = len(playground.stream.events)
        await playground.invoke_card(
            "approve",
            {"requestId": renewal.id},
            reply_to_id=megan.activity_id,
            from_id=MEGAN,
            conversation_id=megan.conversation_id,
        )
        await playground.stream.wait_for(said("Renewed: you're on Finance EMEA until"), 20, seen)
        assert (await dlbot.approvals.get(renewal.id)).status is RequestStatus.COMPLETED

        # The first term's end passes: still a member.
        traveller.shift(timedelta(days=1, minutes=5))
        seen = len(playground.stream.events)
        traveller.shift(timedelta(days=6))
        await playground.stream.wait_for(said("ends tomorrow"), 30, seen)
        assert writes(sandbox, "Remove-DistributionGroupMember") == 0

        traveller.shift(timedelta(days=1))
        await playground.stream.wait_for(said("Your time on Finance EMEA is up"), 30, seen)

        async def ended() -> bool:
            found = await dlbot.grants.get(grant.id)
            return found is not None and found.status is GrantStatus.ENDED

        assert await eventually(ended, within=20)
        assert "alexw@contoso.com" not in members(sandbox, "finance-emea")
        assert writes(sandbox, "Remove-DistributionGroupMember") == 1


async def test_a_list_closed_to_leaving_still_loses_the_member_when_the_time_is_up(
    playground: Playground, dlbot: Dlbot, sandbox: ThreadedSandbox
) -> None:
    """all-staff-5k's MemberDepartRestriction is Closed: it stops members leaving by
    themselves, not the end its owners agreed to when they approved the time limit."""
    await tell(playground, "add me to all-staff@contoso.com for 2 days", "Why do you need to join?")
    await tell(playground, "The offsite", "(for 2 days)?")
    await tell(playground, "yes", "I've asked")
    (request,) = [r for r in await dlbot.approvals.requests_of(ALEX) if r.is_open]
    owner = (await cards_out(dlbot, request.id, 1)).card_of(PATTI)
    assert owner is not None
    seen = len(playground.stream.events)
    await playground.invoke_card(
        "approve",
        {"requestId": request.id},
        reply_to_id=owner.activity_id,
        from_id=PATTI,
        conversation_id=owner.conversation_id,
    )
    await playground.stream.wait_for(said("you're now a member of All Staff"), 20, seen)
    assert "alexw@contoso.com" in members(sandbox, "all-staff-5k")
    removals = writes(sandbox, "Remove-DistributionGroupMember")

    with time_machine.travel(utc_now(), tick=True) as traveller:
        seen = len(playground.stream.events)
        traveller.shift(timedelta(days=2, minutes=1))
        await playground.stream.wait_for(said("Your time on All Staff"), 30, seen)

    assert "alexw@contoso.com" not in members(sandbox, "all-staff-5k")
    assert writes(sandbox, "Remove-DistributionGroupMember") == removals + 1
