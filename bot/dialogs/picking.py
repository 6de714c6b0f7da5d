"""Finding the list a person means, shared by the dialogs that act on one existing list (join,
leave): search the in-memory index, take a sure match at once, otherwise offer the few best as
buttons, and give up politely after answers that fit nothing.

A dialog uses it in two waterfall steps: `offer_lists` after the person named the list, then
`picked_list_id` at the start of the next step. What was offered is kept in the step values as
plain object ids (the dialog state is stored in Redis between turns).
"""

from __future__ import annotations

from botbuilder.core import MessageFactory
from botbuilder.dialogs import DialogTurnResult, WaterfallStepContext
from botbuilder.dialogs.choices import Choice, FoundChoice, ListStyle
from botbuilder.dialogs.prompts import PromptOptions, PromptValidatorContext

from bot import texts
from skills.find_dl import ListIndex, MatchReason

MAX_CANDIDATES = 5
# After this many answers that fit nothing, stop asking and say what to do instead.
MAX_ATTEMPTS = 3
# A match by address or by exact name is the list meant when no other match is as sure.
_CONFIDENT = (MatchReason.ADDRESS, MatchReason.NAME)
# What people type is cut to this before searching: no list name is longer.
_MAX_QUERY = 200


async def offer_lists(
    step: WaterfallStepContext, index: ListIndex, pick_prompt_id: str
) -> DialogTurnResult:
    """Search for what the person typed (`step.result`). No match ends the dialog saying so;
    one sure match goes straight to the next step; otherwise `pick_prompt_id` (a ChoicePrompt)
    offers the best matches and "none of these"."""
    query = str(step.result or "").strip()[:_MAX_QUERY]
    matches = index.search(query, limit=MAX_CANDIDATES) if query else []
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
        pick_prompt_id,
        PromptOptions(
            prompt=MessageFactory.text(texts.pick_prompt(query)),
            retry_prompt=MessageFactory.text(texts.PICK_RETRY),
            choices=choices,
            style=ListStyle.hero_card,
        ),
    )


async def picked_list_id(step: WaterfallStepContext) -> str | None:
    """The object id of the list found or picked in the step before; None when the person
    picked "none of these" or gave up (they have been told what to do instead)."""
    if "list_id" not in step.values:
        picked = step.result
        candidates: list[str] = step.values["candidates"]
        if not isinstance(picked, FoundChoice) or picked.index >= len(candidates):
            await step.context.send_activity(MessageFactory.text(texts.GAVE_UP_PICKING))
            return None
        step.values["list_id"] = candidates[picked.index]
    return str(step.values["list_id"])


async def give_up_after_attempts(prompt: PromptValidatorContext) -> bool:
    """A prompt validator: accept what was recognised, and after MAX_ATTEMPTS answers that fit
    nothing accept that too, so the prompt ends with no value and the next step says what to
    do instead of asking the same question forever. (The SDK never counts attempts in Python,
    so the prompt's own state keeps the count.)"""
    if prompt.recognized.succeeded:
        return True
    attempts = int(prompt.state.get("failed_answers", 0)) + 1
    prompt.state["failed_answers"] = attempts
    return attempts >= MAX_ATTEMPTS
