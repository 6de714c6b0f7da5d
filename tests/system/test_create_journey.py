"""An employee asks for a new list in Teams, a creation approver approves it on the card, and
Exchange makes exactly one group, as asked; a colleague joins it right after. Also the two ways
making it can go wrong: the name taken between approval and creation, and New-DistributionGroup's
answer lost. The whole product over real HTTP, Redis, saq and the sandbox tenant, driven
through the Agents Playground."""

from __future__ import annotations

import json
from typing import Any

import pytest

from approvals.models import ApprovalRequest, RequestKind, RequestStatus
from bot.services import Dlbot
from bot.settings import Settings
from exchange.models import NewDistributionGroup
from exchange.sandbox.faults import Fault
from exchange.sandbox.server import ThreadedSandbox
from tests.playground.harness import PEOPLE, Playground, eventually
from tests.system.conftest import cards_out, members, said, tell

pytestmark = pytest.mark.asyncio(loop_scope="module")

ALEX = PEOPLE["alexw"]
ADELE = PEOPLE["adelev"]
LEE = PEOPLE["leeg"]
NEW_GROUP = "New-DistributionGroup"


@pytest.fixture(scope="module")
def playground_settings(playground_settings: Settings) -> Settings:
    return playground_settings.model_copy(
        update={
            # The IT approvers (both reachable in the Playground); the tenant's blocked words.
            "create_approvers": "adelev@contoso.com,nestorw@contoso.com",
            "naming_blocked_words": "ceo,payroll-all,everyone",
        }
    )


async def _ask_for(playground: Playground, name: str, *, owners: str, join: str) -> None:
    await tell(playground, "I need a new list for the Q3 launch", "What should the list be called?")
    await tell(playground, name, "Which domain")
    await tell(playground, "1", "Its email address")
    await tell(playground, "ok", "A description")
    await tell(playground, "same", "Who else should own it?")
    await tell(playground, owners, "Who may join the list?")
    await tell(playground, join, "Anyone to add as first members?")
    await tell(playground, "no", "Send it to the IT approvers for approval?")
    await tell(playground, "yes", "I've sent your new list to")


async def _open_create(dlbot: Dlbot, name: str) -> ApprovalRequest:
    (request,) = [
        r
        for r in await dlbot.approvals.requests_of(ALEX)
        if r.kind is RequestKind.CREATE and r.group.display_name == name and r.is_open
    ]
    return request


async def _approve_as_adele(playground: Playground, dlbot: Dlbot, request_id: str) -> Any:
    request = await cards_out(dlbot, request_id, 2)
    card = request.card_of(ADELE)
    assert card is not None
    return await playground.invoke_card(
        "approve",
        {"requestId": request.id},
        reply_to_id=card.activity_id,
        from_id=ADELE,
        conversation_id=card.conversation_id,
    )


def _groups_named(sandbox: ThreadedSandbox, name: str) -> list[str]:
    tenant = sandbox.server.tenant
    return [
        r.primary_smtp
        for r in tenant.recipients()
        if r.name.casefold() == name.casefold() and "Group" in r.recipient_type_details
    ]


def _new_group_calls(sandbox: ThreadedSandbox) -> list[int]:
    return [r.status for r in sandbox.server.requests if r.cmdlet == NEW_GROUP]


async def test_an_approved_list_is_created_once_as_asked_and_a_colleague_joins_it_at_once(
    playground: Playground, dlbot: Dlbot, sandbox: ThreadedSandbox
) -> None:
    await playground.install()
    await _ask_for(playground, "Q3 Launch Team", owners="Megan Bowen", join="1")
    request = await _open_create(dlbot, "Q3 Launch Team")
    assert {a.object_id for a in request.approvers} == {ADELE, PEOPLE["nestorw"]}
    seen = len(playground.stream.events)

    answer = await _approve_as_adele(playground, dlbot, request.id)

    assert "Approved by Adele Vance" in json.dumps(answer)
    await playground.stream.wait_for(
        said("Q3 Launch Team (q3-launch-team@contoso.com) is created"), 30, seen
    )
    assert _groups_named(sandbox, "Q3 Launch Team") == ["q3-launch-team@contoso.com"]
    group = sandbox.server.tenant.group_snapshot("Q3 Launch Team")
    owners = {
        r.primary_smtp for r in sandbox.server.tenant.recipients() if r.name in group["managed_by"]
    }
    assert owners == {"alexw@contoso.com", "meganb@contoso.com"}
    assert group["member_join_restriction"] == "Open"
    assert group["require_sender_authentication_enabled"] is True
    assert _new_group_calls(sandbox) == [200]
    done = await dlbot.approvals.get(request.id)
    assert done.status is RequestStatus.COMPLETED
    assert done.group.object_id == group["external_directory_object_id"]

    # Its owner is not yet a member: he joins it straight away, found by its name (indexed).
    await tell(playground, "add me to Q3 Launch Team", "You own Q3 Launch Team")
    await tell(playground, "yes", "you're now a member of Q3 Launch Team", within=20)
    assert members(sandbox, "Q3 Launch Team") == ["alexw@contoso.com"]


async def test_a_name_taken_after_approval_is_reported_with_free_alternatives_and_not_retried(
    playground: Playground, dlbot: Dlbot, sandbox: ThreadedSandbox
) -> None:
    await _ask_for(playground, "Budget Review", owners="no", join="2")
    request = await _open_create(dlbot, "Budget Review")
    # Someone makes a group of that name in Outlook while the approvers think it over.
    await dlbot.exchange.new_distribution_group(
        NewDistributionGroup(
            name="Budget Review",
            alias="budget-finance",
            primary_smtp_address="budget-finance@contoso.com",
        )
    )
    calls = len(_new_group_calls(sandbox))
    seen = len(playground.stream.events)

    await _approve_as_adele(playground, dlbot, request.id)

    await playground.stream.wait_for(said("someone took that name or address"), 30, seen)
    await playground.stream.wait_for(
        said("**Budget Review 2** (budget-review-2@contoso.com)"), 5, seen
    )
    failed = await dlbot.approvals.get(request.id)
    assert failed.status is RequestStatus.FAILED
    assert failed.execution.outcome == "name_taken"
    assert failed.execution.alternatives[0].address == "budget-review-2@contoso.com"
    assert _new_group_calls(sandbox)[calls:] == [400]
    assert _groups_named(sandbox, "Budget Review") == ["budget-finance@contoso.com"]


async def test_a_lost_answer_to_new_distribution_group_still_ends_with_exactly_one_group(
    playground: Playground, dlbot: Dlbot, sandbox: ThreadedSandbox
) -> None:
    await _ask_for(playground, "Autumn Offsite", owners="no", join="2")
    request = await _open_create(dlbot, "Autumn Offsite")
    sandbox.server.inject(Fault("drop_after_execute", cmdlet=NEW_GROUP, count=1))
    seen = len(playground.stream.events)

    await _approve_as_adele(playground, dlbot, request.id)

    await playground.stream.wait_for(
        said("Autumn Offsite (autumn-offsite@contoso.com) is created"), 30, seen
    )
    assert not sandbox.server.faults.active()  # the answer was in fact lost once
    assert _groups_named(sandbox, "Autumn Offsite") == ["autumn-offsite@contoso.com"]
    done = await eventually(lambda: _completed(dlbot, request.id), within=10)
    assert done.group.address == "autumn-offsite@contoso.com"


async def _completed(dlbot: Dlbot, request_id: str) -> ApprovalRequest | None:
    request = await dlbot.approvals.get(request_id)
    return request if request.status is RequestStatus.COMPLETED else None
