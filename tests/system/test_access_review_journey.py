"""Owner access reviews, the whole product through the Agents Playground against the sandbox:
the bot adds Alex and Nestor to Finance EMEA (Megan approves both); 90 days later (time-machine:
the bot, its worker and the sandbox run in this process) the workers' daily cron starts a review,
each owner gets a card, Megan keeps Alex and removes Nestor, and the worker removes Nestor once.
Another 90 days on, nobody answers the next review: the owners are reminded, then the fallback
approver (Adele) is asked, and she keeps everyone. The third review nobody finishes at all: a
week after its escalation it closes unanswered, nobody is removed, the admin (Alex, whose chat
the Playground shows) is told in one message, and Megan's late click on her card is answered
with the close. The audit trail holds every step."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import time_machine

from approvals.audit import RedisStreamAudit
from approvals.models import RequestKind
from approvals.reviews import Review
from approvals.service import utc_now
from bot.jobs import REVIEWS_FUNCTION
from bot.services import Dlbot
from bot.settings import Settings
from exchange.sandbox.server import ThreadedSandbox
from tests.approvals import demo
from tests.playground.harness import PEOPLE, Playground, eventually
from tests.system.conftest import cards_out, members, said, tell, writes

pytestmark = pytest.mark.asyncio(loop_scope="module")

ALEX = PEOPLE["alexw"]
MEGAN = PEOPLE["meganb"]
LEE = PEOPLE["leeg"]
ADELE = PEOPLE["adelev"]
NESTOR = demo.person(PEOPLE["nestorw"], "Nestor Wilke", "nestorw@contoso.com")


@pytest.fixture(scope="module")
def playground_settings(playground_settings: Settings) -> Settings:
    # The signed-in user is the admin here: the Playground streams only their chat.
    return playground_settings.model_copy(update={"admin_alerts": ALEX})


async def approve_as_megan(playground: Playground, dlbot: Dlbot, request_id: str) -> None:
    megan = (await cards_out(dlbot, request_id, 2)).card_of(MEGAN)
    assert megan is not None
    await playground.invoke_card(
        "approve",
        {"requestId": request_id},
        reply_to_id=megan.activity_id,
        from_id=MEGAN,
        conversation_id=megan.conversation_id,
    )


async def reviews_cron_as_a_worker_runs_it(dlbot: Dlbot) -> int:
    worker = dlbot.worker()
    [cron] = [job for job in worker.cron_jobs if job.function.__name__ == REVIEWS_FUNCTION]
    return int(await cron.function(worker.context))


async def review_with(dlbot: Dlbot, cards: int, newer_than: str = "") -> Review:
    """The list's latest review once `cards` review cards are posted (the worker posts them)."""

    async def posted() -> Review | None:
        review = await dlbot.reviews.latest(demo.FINANCE_EMEA)
        if review is None or review.id == newer_than or len(review.cards) < cards:
            return None
        return review

    return await eventually(posted, within=30)


async def test_a_review_removes_an_escalated_one_is_kept_and_an_unanswered_one_closes(
    playground: Playground, dlbot: Dlbot, sandbox: ThreadedSandbox
) -> None:
    await playground.install()
    await tell(playground, "add me to finance emea", "Why do you need to join?")
    await tell(playground, "Quarter close", "Send your request")
    await tell(playground, "yes", "I've asked")
    (alex_join,) = [r for r in await dlbot.approvals.requests_of(ALEX) if r.is_open]
    seen = len(playground.stream.events)
    await approve_as_megan(playground, dlbot, alex_join.id)
    await playground.stream.wait_for(said("you're now a member of Finance EMEA"), 20, seen)
    # Nestor asks too (not the signed-in Playground user, so through the workflow directly).
    nestor_join = await dlbot.approvals.submit(
        kind=RequestKind.JOIN,
        requester=NESTOR,
        group=demo.FINANCE_EMEA,
        justification="Budget owner",
    )
    await approve_as_megan(playground, dlbot, nestor_join.request.id)
    assert await eventually(lambda: _is_member(sandbox, "nestorw@contoso.com"), within=20), (
        "Nestor was never added"
    )

    with time_machine.travel(utc_now(), tick=True) as traveller:
        traveller.shift(timedelta(days=90, minutes=1))
        assert await reviews_cron_as_a_worker_runs_it(dlbot) == 1
        assert await reviews_cron_as_a_worker_runs_it(dlbot) == 0  # one start per round
        first = await review_with(dlbot, cards=2)
        assert {c.approver_id for c in first.cards} == {MEGAN, LEE}
        assert [m.display_name for m in first.members] == ["Alex Wilber", "Nestor Wilke"]
        megan = next(c for c in first.cards if c.approver_id == MEGAN)

        answer = await playground.invoke_card(
            "review_finish",
            {"requestId": first.id, "page": 0, "m0": "keep", "m1": "remove"},
            reply_to_id=megan.activity_id,
            from_id=MEGAN,
            conversation_id=megan.conversation_id,
        )

        assert "1 stay, 1 person being removed" in json.dumps(answer)

        async def nestor_gone() -> bool:
            return not await _is_member(sandbox, "nestorw@contoso.com")

        assert await eventually(nestor_gone, within=30)
        assert members(sandbox, "finance-emea").count("alexw@contoso.com") == 1
        assert writes(sandbox, "Remove-DistributionGroupMember") == 1

        # The next round: nobody answers.
        traveller.shift(timedelta(days=90))
        assert await reviews_cron_as_a_worker_runs_it(dlbot) == 1
        second = await review_with(dlbot, cards=2, newer_than=first.id)
        assert [m.display_name for m in second.members] == ["Alex Wilber"]
        traveller.shift(timedelta(days=3, minutes=1))
        await review_with(dlbot, cards=4, newer_than=first.id)  # a reminder card to each owner
        traveller.shift(timedelta(days=4))
        escalated = await review_with(dlbot, cards=5, newer_than=first.id)
        adele = next(c for c in escalated.cards if c.approver_id == ADELE)

        kept = await playground.invoke_card(
            "review_keep_all",
            {"requestId": second.id, "page": 0},
            reply_to_id=adele.activity_id,
            from_id=ADELE,
            conversation_id=adele.conversation_id,
        )

        assert "everyone stays" in json.dumps(kept)
        assert members(sandbox, "finance-emea").count("alexw@contoso.com") == 1
        assert writes(sandbox, "Remove-DistributionGroupMember") == 1

        # The third round: nobody ever finishes it.
        traveller.shift(timedelta(days=90 - 7))
        assert await reviews_cron_as_a_worker_runs_it(dlbot) == 1
        third = await review_with(dlbot, cards=2, newer_than=second.id)
        seen = len(playground.stream.events)
        traveller.shift(timedelta(days=3, minutes=1))
        await review_with(dlbot, cards=4, newer_than=second.id)
        traveller.shift(timedelta(days=4))
        await review_with(dlbot, cards=5, newer_than=second.id)
        traveller.shift(timedelta(days=7))

        async def closed() -> Review | None:
            review = await dlbot.reviews.get(third.id)
            return review if review.closed_unanswered else None

        final = await eventually(closed, within=30)
        await playground.stream.wait_for(
            said("The access review of Finance EMEA (finance-emea@contoso.com) closed unanswered"),
            20,
            seen,
        )
        megan = next(c for c in final.cards if c.approver_id == MEGAN)

        late = await playground.invoke_card(
            "review_finish",
            {"requestId": third.id, "page": 0, "m0": "remove"},
            reply_to_id=megan.activity_id,
            from_id=MEGAN,
            conversation_id=megan.conversation_id,
        )

        assert "This review closed on" in json.dumps(late)
        assert "actions" not in late["value"]
        assert members(sandbox, "finance-emea").count("alexw@contoso.com") == 1
        assert writes(sandbox, "Remove-DistributionGroupMember") == 1

    events = [
        (e.event, e.request_id)
        for e in await RedisStreamAudit(dlbot.edge.redis).read()
        if e.kind == "review"
    ]
    assert events == [
        ("review_started", first.id),
        ("review_decided", first.id),
        ("review_completed", first.id),
        ("review_started", second.id),
        ("review_reminded", second.id),
        ("review_escalated", second.id),
        ("review_completed", second.id),
        ("review_started", third.id),
        ("review_reminded", third.id),
        ("review_escalated", third.id),
        ("review_closed_unanswered", third.id),
    ]


async def _is_member(sandbox: ThreadedSandbox, address: str) -> bool:
    return address in members(sandbox, "finance-emea")
