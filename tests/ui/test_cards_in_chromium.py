"""The real client renders and runs our messages and cards: the join journey in Chromium.

The whole of dlbot (app + saq worker + Redis + sandbox Exchange tenant, as tests/system runs it)
with two Microsoft Agents Playgrounds, each page in its own headless Chromium:
- page A, Playground A: Alex Wilber, who asks to join Finance EMEA;
- page B, Playground B: Megan Bowen, one of its owners. Opening the page installs the app in her
  personal chat, so the bot reaches her there (a stored personal-chat reference wins).

The tests run in order and share the module's state, as in the journey they tell. Every wait is
on something the page shows, bounded. Screenshots go to the module's temporary directory, and
to docs/screenshots/ as well when DLBOT_SAVE_SCREENSHOTS is set.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio

from approvals.models import ApprovalRequest, RequestStatus
from bot.services import Dlbot
from exchange.sandbox.server import ThreadedSandbox
from tests.playground.harness import PEOPLE, Playground, eventually
from tests.system.conftest import cards_out, members, writes
from tests.ui.conftest import UiDriver, keep_screenshot

pytestmark = pytest.mark.asyncio(loop_scope="module")

ALEX = PEOPLE["alexw"]
MEGAN = PEOPLE["meganb"]
LIST_ADDRESS = "finance-emea@contoso.com"
JUSTIFICATION = "I moved to the EMEA finance team"
OWNER_REASON = "Welcome to the team"
CARD = "Request to join"  # the approval card, whatever state it shows
OPEN_WAIT_MS = 20_000  # starting a browser and loading the Playground's page
CARD_WAIT_MS = 20_000  # the worker posts and updates cards


@dataclass(frozen=True)
class Pages:
    ui: UiDriver
    requester: str  # page names in the driver
    owner: str
    screenshots: Path

    async def screenshot(self, page: str, name: str, card: str | None = None) -> Path:
        path = self.screenshots / name
        fields = {"card": card} if card else {}
        await self.ui.run("screenshot", page=page, path=str(path), **fields)
        assert path.stat().st_size > 0
        keep_screenshot(path)
        return path


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def pages(
    playground: Playground,
    owner_playground: Playground,
    dlbot: Dlbot,
    ui: UiDriver,
    screenshots: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Pages]:
    """Both pages open, each person's app installed by that page (the UI has no history: they
    must be open before the bot speaks)."""
    profiles = tmp_path_factory.mktemp("chromium-profiles")
    for name, client in (("a", playground), ("b", owner_playground)):
        await ui.run(
            "open",
            page=name,
            url=f"{client.base_url}/",
            profile=str(profiles / name),
            timeout_ms=OPEN_WAIT_MS,
        )
        await ui.run("waitText", page=name, text="I can add you to email distribution lists")
    for person, client in ((ALEX, playground), (MEGAN, owner_playground)):
        reference = await eventually(lambda p=person: dlbot.edge.references.get(p))
        assert reference.service_url == client.service_url
        assert reference.conversation.id == client.personal_chat_id
    yield Pages(ui=ui, requester="a", owner="b", screenshots=screenshots)


async def _finance_request(dlbot: Dlbot) -> ApprovalRequest:
    requests = [
        r for r in await dlbot.approvals.requests_of(ALEX) if r.group.address == LIST_ADDRESS
    ]
    assert len(requests) == 1, requests
    return requests[0]


async def test_the_requester_asks_in_the_chat_and_is_told_who_was_asked(pages: Pages) -> None:
    ui, alex = pages.ui, pages.requester

    await ui.run("say", page=alex, text="add me to finance emea")
    await ui.run("waitText", page=alex, text="Why do you need to join?")
    await ui.run("say", page=alex, text=JUSTIFICATION)
    prompt = "Send your request to join Finance EMEA"
    await ui.run("waitText", page=alex, text=prompt, card=prompt)
    assert (await ui.run("buttons", page=alex, card=prompt))["buttons"] == ["Yes", "No"]
    # The prompt's buttons are imBack, which Teams sends as the button's text; this Playground
    # does not support imBack ("not supported yet"), so Alex types the answer.
    await ui.run("say", page=alex, text="yes")

    await ui.run("waitText", page=alex, text="I've asked Megan Bowen and Lee Gu")
    await pages.screenshot(alex, "requester-asks.png")


async def test_the_owner_sees_the_approval_card_in_her_own_chat(
    pages: Pages, owner_playground: Playground, dlbot: Dlbot
) -> None:
    ui, megan = pages.ui, pages.owner
    request = await cards_out(dlbot, (await _finance_request(dlbot)).id, 2)
    megan_card = request.card_of(MEGAN)
    assert megan_card is not None
    assert megan_card.conversation_id == owner_playground.personal_chat_id

    await ui.run(
        "waitText", page=megan, text="Your reason (optional)", card=CARD, timeout_ms=CARD_WAIT_MS
    )

    (shown,) = (await ui.run("cards", page=megan))["cards"]
    for text in ("Finance EMEA", "Alex Wilber (alexw@contoso.com)", LIST_ADDRESS, JUSTIFICATION):
        assert text in shown
    assert "How long (optional)" in shown
    buttons = (await ui.run("buttons", page=megan, card=CARD))["buttons"]
    # The renderer draws the "How long" choice as a dropdown button without a title.
    assert [title for title in buttons if title] == ["Approve", "Deny"]
    assert len(buttons) == 3
    assert (await ui.run("errors", page=megan))["errors"] == []
    await pages.screenshot(megan, "approval-card.png", card=CARD)


async def test_the_owner_approves_in_the_card_and_it_turns_into_the_outcome(
    pages: Pages, dlbot: Dlbot
) -> None:
    ui, megan = pages.ui, pages.owner

    await ui.run("fill", page=megan, card=CARD, label="Your reason (optional)", text=OWNER_REASON)
    await ui.run("click", page=megan, card=CARD, name="Approve")

    await ui.run("waitText", page=megan, card=CARD, text="Approved by Megan Bowen")
    await ui.run("waitText", page=megan, card=CARD, text="is now a member", timeout_ms=CARD_WAIT_MS)
    (shown,) = (await ui.run("cards", page=megan))["cards"]
    assert f'Approved by Megan Bowen: "{OWNER_REASON}".' in shown
    assert (await ui.run("buttons", page=megan, card=CARD))["buttons"] == []
    decided = await _finance_request(dlbot)
    assert decided.decision is not None
    assert decided.decision.actor.object_id == MEGAN
    assert decided.decision.reason == OWNER_REASON
    await pages.screenshot(megan, "approval-card-approved.png", card=CARD)


async def test_the_requester_is_told_and_exchange_has_them_exactly_once(
    pages: Pages, dlbot: Dlbot, sandbox: ThreadedSandbox
) -> None:
    ui, alex = pages.ui, pages.requester

    await ui.run(
        "waitText",
        page=alex,
        text="Done: you're now a member of Finance EMEA",
        timeout_ms=CARD_WAIT_MS,
    )

    await pages.screenshot(alex, "requester-done.png")
    assert members(sandbox, "finance-emea").count("alexw@contoso.com") == 1
    assert writes(sandbox) == 1
    assert (await _finance_request(dlbot)).status is RequestStatus.COMPLETED
