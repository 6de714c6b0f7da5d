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
from botbuilder.dialogs.choices import Choice, FoundChoice, ListStyle
from botbuilder.dialogs.prompts import (
    ChoicePrompt,
    ConfirmPrompt,
    PromptOptions,
    PromptValidatorContext,
    TextPrompt,
)

from approvals.models import Person
from bot import texts
from bot.dialogs.interruptible import InterruptibleDialog
from skills.find_dl import ListIndex, MatchReason
from skills.leave_dl import LeaveList, LeaveNeedsApproval, RemoveNow

MAX_CANDIDATES = 5
# After this many answers that fit nothing, stop asking and say what to do instead.
MAX_ATTEMPTS = 3
_CONFIDENT = (MatchReason.ADDRESS, MatchReason.NAME)


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
        self.add_dialog(ChoicePrompt("leave-pick", _give_up_after_attempts))
        self.add_dialog(ConfirmPrompt("leave-confirm", _give_up_after_attempts))
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
        query = str(step.result or "").strip()[:200]
        matches = self._index.search(query, limit=MAX_CANDIDATES) if query else []
        if not matches:
            await step.context.send_activity(MessageFactory.text(texts.no_match(query)))
            return await step.end_dialog()
        confident = [m for m in matches if m.why in _CONFIDENT]
        if len(matches) == 1 or (len(confident) == 1 and matches[0] is confident[0]):
            step.values["list_id"] = matches[0].list.object_id
            return await step.next(None)
        step.values["candidates"] = [m.list.object_id for m in matches]
        choices = [Choice(texts.list_label(m.list.display_name, m.list.address)) for m in matches]
        choices.append(Choice(texts.NONE_OF_THESE))
        return await step.prompt(
            "leave-pick",
            PromptOptions(
                prompt=MessageFactory.text(texts.pick_prompt(query)),
                retry_prompt=MessageFactory.text(texts.PICK_RETRY),
                choices=choices,
                style=ListStyle.hero_card,
            ),
        )

    async def _preview(self, step: WaterfallStepContext) -> DialogTurnResult:
        if "list_id" not in step.values:
            picked = step.result
            candidates: list[str] = step.values["candidates"]
            if not isinstance(picked, FoundChoice) or picked.index >= len(candidates):
                await step.context.send_activity(MessageFactory.text(texts.GAVE_UP_PICKING))
                return await step.end_dialog()
            step.values["list_id"] = candidates[picked.index]
        requester = Person.model_validate(step.values["requester"])
        preview = await self._leave.preview(requester, step.values["list_id"])
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


async def _give_up_after_attempts(prompt: PromptValidatorContext) -> bool:
    # Accepting an unrecognised answer ends the prompt with no value; the next step then says
    # what to do instead of asking forever. (The SDK never counts attempts in Python, so the
    # prompt's own state keeps the count.)
    if prompt.recognized.succeeded:
        return True
    attempts = int(prompt.state.get("failed_answers", 0)) + 1
    prompt.state["failed_answers"] = attempts
    return attempts >= MAX_ATTEMPTS
