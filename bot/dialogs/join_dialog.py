""" "Add me to a list": find it, show it, collect a reason, confirm, hand over to skills.JoinList.

The dialog only converses. Search is the in-memory index, every decision is the use case's, and
every sentence comes from bot.texts. What the preview read is kept for the submit (Previewed), so
confirming costs no second read of the list or the membership. Step values hold plain JSON (the
dialog state is stored in Redis between turns).
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
    PromptValidatorContext,
    TextPrompt,
)

from approvals.models import Person
from bot import texts
from bot.dialogs.interruptible import InterruptibleDialog
from bot.dialogs.picking import give_up_after_attempts, offer_lists, picked_list_id
from skills.errors import InvalidJustification
from skills.find_dl import ListIndex
from skills.join_dl import AddNow, JoinList, NeedsApproval, Previewed
from skills.policies import clean_justification


@dataclass(frozen=True)
class JoinDialogServices:
    join: JoinList
    index: ListIndex


class JoinDialog(InterruptibleDialog):
    """Options: {"query": str, "requester": Person as a dict, "days": int or None (a
    time-limited membership asked for: "for 30 days")}."""

    def __init__(self, services: JoinDialogServices) -> None:
        super().__init__(JoinDialog.__name__)
        self._join = services.join
        self._index = services.index
        self.add_dialog(TextPrompt("which"))
        self.add_dialog(ChoicePrompt("pick", give_up_after_attempts))
        self.add_dialog(TextPrompt("why", _reason_fits))
        self.add_dialog(ConfirmPrompt("confirm", give_up_after_attempts))
        self.add_dialog(
            WaterfallDialog(
                "join",
                [self._ask_which, self._search, self._preview, self._confirm, self._submit],
            )
        )
        self.initial_dialog_id = "join"

    async def _ask_which(self, step: WaterfallStepContext) -> DialogTurnResult:
        options: dict[str, Any] = step.options or {}
        step.values["requester"] = options["requester"]
        days = options.get("days")
        step.values["days"] = days if isinstance(days, int) else None
        query = str(options.get("query") or "").strip()
        if query:
            return await step.next(query)
        return await step.prompt(
            "which", PromptOptions(prompt=MessageFactory.text(texts.ASK_WHICH_LIST))
        )

    async def _search(self, step: WaterfallStepContext) -> DialogTurnResult:
        return await offer_lists(step, self._index, "pick")

    async def _preview(self, step: WaterfallStepContext) -> DialogTurnResult:
        list_id = await picked_list_id(step)
        if list_id is None:
            return await step.end_dialog()
        requester = Person.model_validate(step.values["requester"])
        preview = await self._join.preview(requester, list_id)
        ending = texts.decision_text(preview)
        summary = texts.describe_list(preview)
        if ending is not None:
            await step.context.send_activity(
                MessageFactory.text(f"{summary}\n\n{ending}" if summary else ending)
            )
            return await step.end_dialog()
        await step.context.send_activity(MessageFactory.text(summary))
        decision = preview.decision
        previewed = preview.previewed()
        assert preview.list is not None and previewed is not None
        # Submit acts on what this preview read live instead of asking Exchange again.
        step.values["previewed"] = previewed.to_json()
        name = preview.list.display_name
        if isinstance(decision, AddNow):
            step.values["confirm"] = texts.confirm_with_duration(
                texts.confirm_add_now(name, decision.reason.value), step.values.get("days")
            )
            return await step.next("")
        assert isinstance(decision, NeedsApproval)
        asked = tuple(a.display_name for a in decision.approvers)
        step.values["confirm"] = texts.confirm_with_duration(
            texts.confirm_request(name, asked, decision.orphaned), step.values.get("days")
        )
        step.values["max_length"] = decision.max_justification_length
        if not decision.justification_required:
            return await step.next("")
        return await step.prompt(
            "why",
            PromptOptions(
                prompt=MessageFactory.text(
                    texts.ask_justification(asked, decision.max_justification_length)
                ),
                retry_prompt=MessageFactory.text(
                    texts.justification_retry(decision.max_justification_length)
                ),
                validations={"max_length": decision.max_justification_length},
            ),
        )

    async def _confirm(self, step: WaterfallStepContext) -> DialogTurnResult:
        step.values["justification"] = clean_justification(str(step.result or ""))
        return await step.prompt(
            "confirm",
            PromptOptions(
                prompt=MessageFactory.text(step.values["confirm"]),
                retry_prompt=MessageFactory.text(texts.CONFIRM_RETRY),
            ),
        )

    async def _submit(self, step: WaterfallStepContext) -> DialogTurnResult:
        if step.result is not True:
            await step.context.send_activity(MessageFactory.text(texts.NOT_SENT))
            return await step.end_dialog()
        requester = Person.model_validate(step.values["requester"])
        try:
            outcome = await self._join.submit(
                requester,
                step.values["list_id"],
                step.values["justification"],
                previewed=Previewed.from_json(step.values["previewed"]),
                membership_days=step.values.get("days"),
            )
        except InvalidJustification as problem:
            await step.context.send_activity(
                MessageFactory.text(texts.justification_problem(problem))
            )
            return await step.end_dialog()
        await step.context.send_activity(MessageFactory.text(texts.outcome_text(outcome)))
        return await step.end_dialog(outcome.request.id if outcome.request else None)


async def _reason_fits(prompt: PromptValidatorContext) -> bool:
    text = clean_justification(str(prompt.recognized.value or ""))
    max_length = int((prompt.options.validations or {}).get("max_length", 500))
    return 0 < len(text) <= max_length
