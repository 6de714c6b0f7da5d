""" "Take me off a list": find it, show it, confirm, hand over to skills.LeaveList.

The dialog only converses. Search is the in-memory index, every decision is the use case's, and
every sentence comes from bot.texts. Step values hold plain JSON (the dialog state is stored in
Redis between turns). Leaving asks for no reason (see skills.leave_dl).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botbuilder.core import MessageFactory
from botbuilder.dialogs import DialogTurnResult, WaterfallDialog, WaterfallStepContext
from botbuilder.dialogs.prompts import (
    ChoicePrompt,
    ConfirmPrompt,
    PromptOptions,
    TextPrompt,
)

from approvals.models import Person
from bot import texts
from bot.dialogs.interruptible import InterruptibleDialog
from bot.dialogs.picking import give_up_after_attempts, offer_lists, picked_list_id
from skills.find_dl import ListIndex
from skills.leave_dl import LeaveList, LeaveNeedsApproval, RemoveNow


@dataclass(frozen=True)
class LeaveDialogServices:
    leave: LeaveList
    index: ListIndex


class LeaveDialog(InterruptibleDialog):
    """Options: {"query": str, "requester": Person as a dict}."""

    def __init__(self, services: LeaveDialogServices) -> None:
        super().__init__(LeaveDialog.__name__)
        self._leave = services.leave
        self._index = services.index
        self.add_dialog(TextPrompt("leave-which"))
        self.add_dialog(ChoicePrompt("leave-pick", give_up_after_attempts))
        self.add_dialog(ConfirmPrompt("leave-confirm", give_up_after_attempts))
        self.add_dialog(
            WaterfallDialog("leave", [self._ask_which, self._search, self._preview, self._submit])
        )
        self.initial_dialog_id = "leave"

    async def _ask_which(self, step: WaterfallStepContext) -> DialogTurnResult:
        options: dict[str, Any] = step.options or {}
        step.values["requester"] = options["requester"]
        query = str(options.get("query") or "").strip()
        if query:
            return await step.next(query)
        return await step.prompt(
            "leave-which",
            PromptOptions(prompt=MessageFactory.text(texts.ASK_WHICH_LIST_TO_LEAVE)),
        )

    async def _search(self, step: WaterfallStepContext) -> DialogTurnResult:
        return await offer_lists(step, self._index, "leave-pick")

    async def _preview(self, step: WaterfallStepContext) -> DialogTurnResult:
        list_id = await picked_list_id(step)
        if list_id is None:
            return await step.end_dialog()
        requester = Person.model_validate(step.values["requester"])
        preview = await self._leave.preview(requester, list_id)
        summary = texts.describe_leave(preview)
        ending = texts.leave_decision_text(preview)
        if ending is not None:
            await step.context.send_activity(
                MessageFactory.text(f"{summary}\n\n{ending}" if summary else ending)
            )
            return await step.end_dialog()
        await step.context.send_activity(MessageFactory.text(summary))
        assert preview.list is not None
        decision = preview.decision
        if isinstance(decision, RemoveNow):
            question = texts.confirm_remove_now(preview.list.display_name, decision.reason)
        else:
            assert isinstance(decision, LeaveNeedsApproval)
            question = texts.confirm_leave_request(preview.list.display_name, decision)
        return await step.prompt(
            "leave-confirm",
            PromptOptions(
                prompt=MessageFactory.text(question),
                retry_prompt=MessageFactory.text(texts.CONFIRM_RETRY),
            ),
        )

    async def _submit(self, step: WaterfallStepContext) -> DialogTurnResult:
        if step.result is not True:
            await step.context.send_activity(MessageFactory.text(texts.NOT_LEFT))
            return await step.end_dialog()
        requester = Person.model_validate(step.values["requester"])
        outcome = await self._leave.submit(requester, step.values["list_id"])
        await step.context.send_activity(MessageFactory.text(texts.leave_outcome_text(outcome)))
        return await step.end_dialog(outcome.request.id if outcome.request else None)
