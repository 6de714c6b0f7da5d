"""The bot in process for the leave and my-requests conversations: the real handler, dialogs,
use cases and approvals service over an in-memory directory and the approvals' in-memory
store and fakes, driven through botbuilder's TestAdapter."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botbuilder.core import ConversationState, MemoryStorage
from botbuilder.core.adapters import TestAdapter
from botbuilder.schema import Activity, ActivityTypes, ChannelAccount, ConversationAccount

from approvals.audit import InMemoryAudit
from approvals.models import ApprovalRequest
from approvals.service import ApprovalService
from approvals.store import InMemoryRequestStore
from approvals.testing import InMemoryJobQueue, InMemoryMembershipWriter, InMemoryNotifier
from bot.dialogs.join_dialog import JoinDialog, JoinDialogServices
from bot.dialogs.leave_dialog import LeaveDialog, LeaveDialogServices
from bot.handler import DlBot
from skills.find_dl import ListIndex
from skills.join_dl import JoinList
from skills.leave_dl import LeaveList
from skills.memory_directory import InMemoryListDirectory
from skills.policies import Policy
from tests.skills.factories import (
    ALEX,
    HENRIETTA,
    MEGAN,
    PATTI,
    demo_approvers,
    demo_list,
    demo_lists,
    demo_people,
)


@dataclass
class World:
    adapter: TestAdapter
    service: ApprovalService
    jobs: InMemoryJobQueue
    notifier: InMemoryNotifier
    directory: InMemoryListDirectory

    async def say(self, text: str) -> list[str]:
        """Send one message as the user; the bot's replies, each as its text (or card text)."""
        return [_shown(reply) for reply in await self._exchange(text)]

    async def say_for_cards(self, text: str) -> list[dict[str, Any]]:
        """Send one message; the Adaptive Cards the bot answers with."""
        cards = []
        for reply in await self._exchange(text):
            for attachment in reply.attachments or []:
                if attachment.content_type == "application/vnd.microsoft.card.adaptive":
                    cards.append(attachment.content)
        return cards

    async def click(self, verb: str, data: dict[str, Any], as_user: str | None = None) -> Any:
        """An Action.Execute click on a card, as the world's user or `as_user` (an object
        id); the card (or error) the bot answers with."""
        template = self.adapter.template
        sender = template.from_property
        if as_user is not None:
            sender = ChannelAccount(id=f"29:{as_user}", name="someone", aad_object_id=as_user)
        activity = Activity(
            type=ActivityTypes.invoke,
            name="adaptiveCard/action",
            value={"action": {"type": "Action.Execute", "verb": verb, "data": data}},
            from_property=sender,
        )
        await self.adapter.receive_activity(activity)
        answers = []
        while self.adapter.activity_buffer:
            reply = self.adapter.activity_buffer.pop(0)
            if reply.type == ActivityTypes.invoke_response:
                answers.append(reply.value.body.value)
        (answer,) = answers
        return answer

    async def _exchange(self, text: str) -> list[Activity]:
        await self.adapter.receive_activity(text)
        replies = []
        while self.adapter.activity_buffer:
            reply = self.adapter.activity_buffer.pop(0)
            if reply.type == ActivityTypes.message:
                replies.append(reply)
        return replies

    async def requests(self, user: str = ALEX) -> list[ApprovalRequest]:
        return await self.service.requests_of(user)


def _shown(reply: Activity) -> str:
    shown = [reply.text] if reply.text else []
    for attachment in reply.attachments or []:
        content = attachment.content
        if isinstance(content, dict):  # an Adaptive Card: every text block and button title
            shown.append(" | ".join(_card_words(content)))
        else:  # a hero card, as prompts send choices in Teams
            buttons = [b.title if not isinstance(b, dict) else b["title"] for b in content.buttons]
            shown.append(f"{content.text or ''} || buttons: " + " | ".join(buttons))
    return "\n".join(shown)


def _card_words(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [str(node[k]) for k in ("text", "title") if isinstance(node.get(k), str)]
        for value in node.values():
            found.extend(_card_words(value))
        return found
    if isinstance(node, list):
        return [word for item in node for word in _card_words(item)]
    return []


def make_world(user: str = ALEX, *, with_leave: bool = True) -> World:
    directory = InMemoryListDirectory(demo_lists(), demo_people())
    ids = {item.name: item.object_id for item in demo_lists()}
    directory.add_member(ids["marketing"], ALEX)  # depart Open
    directory.add_member(ids["leadership-team"], ALEX)  # depart Closed, Patti owns it
    directory.add_member(ids["leadership-team"], PATTI)
    directory.add_member(ids["finance-emea"], MEGAN)  # Megan owns it
    directory.add_member(ids["onprem-engineering"], ALEX)  # dir-synced
    directory.add_member(ids["engineering-all"], ids["engineering-platform"])
    directory.add_member(ids["engineering-platform"], HENRIETTA)
    approvers = demo_approvers()
    jobs = InMemoryJobQueue()
    notifier = InMemoryNotifier()
    service = ApprovalService(
        store=InMemoryRequestStore(),
        approvers=approvers,
        notifier=notifier,
        jobs=jobs,
        writer=InMemoryMembershipWriter(),
        audit=InMemoryAudit(),
    )
    index = ListIndex(demo_lists())
    join = JoinList(directory, service, approvers, Policy())
    leave = LeaveList(directory, service, approvers)
    bot = DlBot(
        conversation_state=ConversationState(MemoryStorage()),
        join_dialog=JoinDialog(JoinDialogServices(join=join, index=index)),
        people=directory,
        approvals=service,
        leave_dialog=LeaveDialog(LeaveDialogServices(leave=leave, index=index))
        if with_leave
        else None,
    )
    template = Activity(
        channel_id="msteams",
        service_url="https://test.invalid",
        from_property=ChannelAccount(id=f"29:{user}", name="someone", aad_object_id=user),
        recipient=ChannelAccount(id="28:bot", name="dlbot"),
        conversation=ConversationAccount(id=f"a:{user}", conversation_type="personal"),
    )
    return World(TestAdapter(bot.on_turn, template), service, jobs, notifier, directory)


__all__ = ["World", "demo_list", "make_world"]
