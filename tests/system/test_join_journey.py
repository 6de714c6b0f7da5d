"""An employee asks in Teams, the right owners decide in Teams, Exchange changes exactly once,
and everyone is told: the whole product over real HTTP, Redis, saq and the sandbox tenant."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from approvals import state
from approvals.models import ApprovalRequest, Person, RequestKind, RequestStatus
from approvals.redis_store import RedisRequestStore
from approvals.service import utc_now
from bot.cards.approval import message_card
from bot.jobs import SWEEP_FUNCTION
from bot.notifier import card_activity
from bot.services import Dlbot
from exchange.sandbox.server import ThreadedSandbox
from tests.approvals import demo
from tests.playground.harness import PEOPLE, Playground, eventually
from tests.system.conftest import cards_out, members, said, tell, writes

pytestmark = pytest.mark.asyncio(loop_scope="module")

ALEX = PEOPLE["alexw"]
MEGAN = PEOPLE["meganb"]
LEE = PEOPLE["leeg"]
ADELE = PEOPLE["adelev"]
PATTI = PEOPLE["pattif"]


async def _ask(playground: Playground, list_name: str, reason: str) -> None:
    await tell(playground, f"add me to {list_name}", "Why do you need to join?")
    await tell(playground, reason, "Send your request")
    await tell(playground, "yes", "I've asked")


async def _open_request(dlbot: Dlbot, list_address: str):  # type: ignore[no-untyped-def]
    for request in await dlbot.approvals.requests_of(ALEX):
        if request.group.address == list_address and request.is_open:
            return request
    raise AssertionError(f"no open request for {list_address}")


async def test_an_owner_approves_and_the_membership_appears_exactly_once(
    playground: Playground, dlbot: Dlbot, sandbox: ThreadedSandbox
) -> None:
    await playground.install()
    await _ask(playground, "finance emea", "I moved to the EMEA finance team")
    request = await _open_request(dlbot, "finance-emea@contoso.com")
    request = await cards_out(dlbot, request.id, 2)
    assert {c.approver_id for c in request.cards} == {MEGAN, LEE}
    megan_card = request.card_of(MEGAN)
    assert megan_card is not None
    seen = len(playground.stream.events)

    answer = await playground.invoke_card(
        "approve",
        {"requestId": request.id, "reason": "Welcome aboard"},
        reply_to_id=megan_card.activity_id,
        from_id=MEGAN,
        conversation_id=megan_card.conversation_id,
    )

    assert "Approved by Megan Bowen" in json.dumps(answer)
    await playground.stream.wait_for(said("you're now a member of Finance EMEA"), 20, seen)
    assert members(sandbox, "finance-emea").count("alexw@contoso.com") == 1
    assert writes(sandbox) == 1
    done = await dlbot.approvals.get(request.id)
    assert done.status is RequestStatus.COMPLETED


async def test_a_second_owner_clicking_after_the_decision_changes_nothing(
    playground: Playground, dlbot: Dlbot, sandbox: ThreadedSandbox
) -> None:
    (request,) = [
        r for r in await dlbot.approvals.requests_of(ALEX) if r.group.address.startswith("finance")
    ]
    lee_card = request.card_of(LEE)
    assert lee_card is not None
    before = writes(sandbox)

    answer = await playground.invoke_card(
        "deny",
        {"requestId": request.id},
        reply_to_id=lee_card.activity_id,
        from_id=LEE,
        conversation_id=lee_card.conversation_id,
    )

    assert "Approved by Megan Bowen" in json.dumps(answer)
    assert (await dlbot.approvals.get(request.id)).status is RequestStatus.COMPLETED
    assert writes(sandbox) == before


async def test_a_denial_reaches_the_requester_with_the_owners_reason(
    playground: Playground, dlbot: Dlbot, sandbox: ThreadedSandbox
) -> None:
    await _ask(playground, "all-staff@contoso.com", "I'd like the all-hands mail")
    request = await _open_request(dlbot, "all-staff@contoso.com")
    request = await cards_out(dlbot, request.id, 1)
    owner_card = request.cards[0]
    seen = len(playground.stream.events)

    answer = await playground.invoke_card(
        "deny",
        {"requestId": request.id, "reason": "Everyone is on it through HR"},
        reply_to_id=owner_card.activity_id,
        from_id=owner_card.approver_id,
        conversation_id=owner_card.conversation_id,
    )

    assert "Declined by" in json.dumps(answer)
    await playground.stream.wait_for(said("Everyone is on it through HR"), 20, seen)
    assert "alexw@contoso.com" not in members(sandbox, "all-staff-5k")


async def test_someone_who_is_not_an_owner_cannot_decide_and_nothing_changes(
    playground: Playground, dlbot: Dlbot, sandbox: ThreadedSandbox
) -> None:
    await _ask(playground, "marketing@eu.contoso.com", "Covering the EU campaign")
    request = await _open_request(dlbot, "marketing@eu.contoso.com")
    await cards_out(dlbot, request.id, 1)
    before = writes(sandbox)
    # Patti owns nothing here. She clicks a card in her own chat whose data names Alex's
    # request: card data is not trusted, the actor is checked against the owners now.
    posted = await dlbot.edge.messenger.send(PATTI, card_activity(message_card("hello"), "x"))
    assert posted is not None

    answer = await playground.invoke_card(
        "approve",
        {"requestId": request.id},
        reply_to_id=posted[1],
        from_id=PATTI,
        conversation_id=posted[0],
    )

    assert "not one of the people who can decide" in json.dumps(answer)
    assert (await dlbot.approvals.get(request.id)).status is RequestStatus.PENDING
    assert writes(sandbox) == before


async def test_owners_teams_cannot_reach_are_replaced_by_the_fallback_approver(
    playground: Playground, dlbot: Dlbot
) -> None:
    # The sales-team owners (jdoe, asmith) never installed the app: Teams refuses the chat.
    seen = len(playground.stream.events)
    await _ask(playground, "sales-team@contoso.com", "Covering for the sales lead")

    await playground.stream.wait_for(said("could not be reached in Teams"), 20, seen)
    request = await _open_request(dlbot, "sales-team@contoso.com")
    assert [a.object_id for a in request.approvers] == [ADELE]
    assert [c.approver_id for c in request.cards] == [ADELE]


async def test_an_open_list_adds_at_once_without_asking_anyone(
    playground: Playground, sandbox: ThreadedSandbox
) -> None:
    await tell(playground, "join the book club", "open to everyone")
    seen = len(playground.stream.events)
    await playground.send_message("yes")

    await playground.stream.wait_for(said("you're now a member of Book Club"), 20, seen)
    assert members(sandbox, "book-club").count("alexw@contoso.com") == 1


async def test_a_member_is_told_so_before_anyone_is_asked(
    playground: Playground, dlbot: Dlbot
) -> None:
    before = len(await dlbot.approvals.requests_of(ALEX))

    await tell(playground, "add me to marketing@contoso.com", "already a member of Marketing")

    assert len(await dlbot.approvals.requests_of(ALEX)) == before


async def test_an_ownerless_list_goes_to_the_fallback_approver(
    playground: Playground, dlbot: Dlbot, sandbox: ThreadedSandbox
) -> None:
    await tell(playground, "add me to former-interns@contoso.com", "Why do you need to join?")
    await tell(playground, "I mentor the interns", "no owner who can approve")
    await tell(playground, "yes", "Adele Vance")
    request = await _open_request(dlbot, "former-interns@contoso.com")
    request = await cards_out(dlbot, request.id, 1)
    assert [c.approver_id for c in request.cards] == [ADELE]
    seen = len(playground.stream.events)

    await playground.invoke_card(
        "approve",
        {"requestId": request.id},
        reply_to_id=request.cards[0].activity_id,
        from_id=ADELE,
        conversation_id=request.cards[0].conversation_id,
    )

    await playground.stream.wait_for(said("you're now a member of Former Interns"), 20, seen)
    assert "alexw@contoso.com" in members(sandbox, "former-interns")


async def test_every_approver_card_ends_up_showing_the_outcome(
    playground: Playground, dlbot: Dlbot
) -> None:
    (request,) = [
        r for r in await dlbot.approvals.requests_of(ALEX) if r.group.address.startswith("finance")
    ]
    lee_card = request.card_of(LEE)
    assert lee_card is not None

    async def lee_sees_outcome() -> bool:
        answer = await playground.invoke_card(
            "refresh",
            {"requestId": request.id},
            reply_to_id=lee_card.activity_id,
            from_id=LEE,
            conversation_id=lee_card.conversation_id,
        )
        return "is now a member" in json.dumps(answer)

    assert await eventually(lee_sees_outcome)


async def test_readiness_reports_redis_and_exchange(dlbot: Dlbot, bot_url: str) -> None:
    import aiohttp

    async with aiohttp.ClientSession() as session, session.get(f"{bot_url}/readyz") as response:
        body = await response.json()

    assert response.status == 200
    assert body["checks"] == {"redis": "ok", "exchange": "ok"}


# A bot or worker dying between storing a request and queueing its job ------------------------

NESTOR = Person(
    object_id=PEOPLE["nestorw"], display_name="Nestor Wilke", address="nestorw@contoso.com"
)
BOOK_CLUB = demo.listref(
    "fc377a4c-4a15-444d-85e7-ce8a3a578a8e", "book-club@contoso.com", "Book Club"
)


async def _stored_without_its_job(dlbot: Dlbot, request: ApprovalRequest) -> ApprovalRequest:
    """The request as a process that died right after storing it left it: with no job."""
    stored, created = await RedisRequestStore(dlbot.edge.redis).create(request)
    assert created
    return stored


async def _sweep_as_a_worker_does(dlbot: Dlbot) -> None:
    worker = dlbot.worker()
    [sweep] = [job for job in worker.cron_jobs if job.function.__name__ == SWEEP_FUNCTION]
    await sweep.function(worker.context)


async def test_a_request_whose_cards_were_never_queued_gets_them_from_the_workers_sweep(
    dlbot: Dlbot,
) -> None:
    request = await _stored_without_its_job(
        dlbot,
        state.new_request(
            kind=RequestKind.JOIN,
            requester=NESTOR,
            group=demo.FINANCE_EMEA,
            now=utc_now() - timedelta(minutes=2),
            approvers=(demo.approver(demo.MEGAN), demo.approver(demo.LEE)),
        ),
    )

    await _sweep_as_a_worker_does(dlbot)

    request = await cards_out(dlbot, request.id, 2)
    assert {c.approver_id for c in request.cards} == {MEGAN, LEE}


async def test_an_approved_change_never_queued_is_made_once_by_the_workers_sweep(
    dlbot: Dlbot, sandbox: ThreadedSandbox
) -> None:
    request = await _stored_without_its_job(
        dlbot,
        state.new_request(
            kind=RequestKind.JOIN,
            requester=NESTOR,
            group=BOOK_CLUB,
            now=utc_now() - timedelta(minutes=2),
            auto_approved="open list",
        ),
    )
    before = writes(sandbox)

    await _sweep_as_a_worker_does(dlbot)

    async def completed() -> bool:
        return (await dlbot.approvals.get(request.id)).status is RequestStatus.COMPLETED

    assert await eventually(completed, within=20)
    assert members(sandbox, "book-club").count("nestorw@contoso.com") == 1
    assert writes(sandbox) == before + 1
