""" "Create a list": collect a draft one field at a time, show it exactly, hand it to approvals.

The dialog only converses: every check is skills.create_dl's, every sentence is bot.texts'.
A field that will not do is asked for again at once, with the reason (the prompt's validator
says it), so a person never fills in the whole form to learn the name was taken. The order puts
the cheap questions that decide the most first: purpose, name (and the similar lists that
might make a new one unnecessary), then the address (domain before alias, so the alias answer
is checked as the whole address), description, owners, who may join, first members.

Step values hold plain JSON (the dialog state is stored in Redis between turns).
"""

from __future__ import annotations

import re
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
from skills.create_dl import (
    CreateList,
    Draft,
    ValidationProblem,
    pick_domain,
    suggest_alias,
)
from skills.ports import Restriction

MAX_PURPOSE_LENGTH = 500
# A person named in one answer is looked up among this many matches.
PEOPLE_MATCHES = 5
_SEPARATORS = re.compile(r"\s*(?:[,;\n]|\band\b)\s*", re.IGNORECASE)
_KEEP_SUGGESTION = {"ok", "okay", "yes", "y", "sure", "fine", "use it", "that's fine", ""}
_SAME = {"same", "same as above", "ok", "yes", "y", ""}


@dataclass(frozen=True)
class CreateDialogServices:
    create: CreateList


class CreateDialog(InterruptibleDialog):
    """Options: {"query": the purpose, if the person already said it; "requester": Person}."""

    def __init__(self, services: CreateDialogServices) -> None:
        super().__init__(CreateDialog.__name__)
        self._create = services.create
        self.add_dialog(TextPrompt("create-purpose", _purpose_given))
        self.add_dialog(TextPrompt("create-name", self._name_valid))
        self.add_dialog(ConfirmPrompt("create-anyway"))
        self.add_dialog(TextPrompt("create-domain", self._domain_valid))
        self.add_dialog(TextPrompt("create-alias", self._alias_valid))
        self.add_dialog(TextPrompt("create-description", self._description_valid))
        self.add_dialog(TextPrompt("create-people", self._people_valid))
        self.add_dialog(ChoicePrompt("create-join-rule"))
        self.add_dialog(ConfirmPrompt("create-confirm"))
        self.add_dialog(
            WaterfallDialog(
                "create",
                [
                    self._ask_purpose,
                    self._ask_name,
                    self._show_similar,
                    self._ask_domain,
                    self._ask_alias,
                    self._ask_description,
                    self._ask_owners,
                    self._ask_join_rule,
                    self._ask_members,
                    self._confirm,
                    self._submit,
                ],
            )
        )
        self.initial_dialog_id = "create"

    # Steps --------------------------------------------------------------------------------

    async def _ask_purpose(self, step: WaterfallStepContext) -> DialogTurnResult:
        options: dict[str, Any] = step.options or {}
        step.values["requester"] = options["requester"]
        purpose = str(options.get("query") or "").strip()
        if purpose:
            return await step.next(purpose[:MAX_PURPOSE_LENGTH])
        return await _ask(step, "create-purpose", texts.ASK_PURPOSE)

    async def _ask_name(self, step: WaterfallStepContext) -> DialogTurnResult:
        step.values["purpose"] = str(step.result).strip()
        return await _ask(step, "create-name", texts.ASK_LIST_NAME)

    async def _show_similar(self, step: WaterfallStepContext) -> DialogTurnResult:
        words = str(step.result).strip()
        step.values["name"] = words
        final = self._create.final_name(words)
        note = texts.name_with_policy(final, words)
        if note:
            await step.context.send_activity(MessageFactory.text(note.strip()))
        similar = self._create.similar(words)
        if not similar:
            return await step.next(True)
        shown = [(s.display_name, s.address) for s in similar]
        await step.context.send_activity(MessageFactory.text(texts.similar_lists(shown)))
        return await step.prompt(
            "create-anyway",
            PromptOptions(
                prompt=MessageFactory.text(texts.CREATE_ANYWAY),
                retry_prompt=MessageFactory.text(texts.CONFIRM_RETRY),
            ),
        )

    async def _ask_domain(self, step: WaterfallStepContext) -> DialogTurnResult:
        if step.result is not True:
            await step.context.send_activity(MessageFactory.text(texts.CREATE_NOT_NEEDED))
            return await step.end_dialog()
        domains = await self._create.domains()
        if len(domains) == 1:
            return await step.next(domains[0])
        return await _ask(step, "create-domain", texts.ask_domain(domains))

    async def _ask_alias(self, step: WaterfallStepContext) -> DialogTurnResult:
        step.values["domain"] = str(step.result)
        suggested = suggest_alias(step.values["name"])
        return await step.prompt(
            "create-alias",
            PromptOptions(
                prompt=MessageFactory.text(texts.ask_alias(f"{suggested}@{step.result}")),
                validations={"suggested": suggested, "domain": str(step.result)},
            ),
        )

    async def _ask_description(self, step: WaterfallStepContext) -> DialogTurnResult:
        step.values["alias"] = step.result["alias"]
        step.values["domain"] = step.result["domain"]
        return await step.prompt(
            "create-description",
            PromptOptions(
                prompt=MessageFactory.text(texts.ASK_DESCRIPTION),
                validations={"purpose": step.values["purpose"]},
            ),
        )

    async def _ask_owners(self, step: WaterfallStepContext) -> DialogTurnResult:
        step.values["description"] = str(step.result)
        requester = Person.model_validate(step.values["requester"])
        return await step.prompt(
            "create-people",
            PromptOptions(
                prompt=MessageFactory.text(texts.ask_owners(requester.display_name)),
                validations={"requester": requester.object_id},
            ),
        )

    async def _ask_join_rule(self, step: WaterfallStepContext) -> DialogTurnResult:
        step.values["owners"] = [step.values["requester"], *(step.result or [])]
        return await step.prompt(
            "create-join-rule",
            PromptOptions(
                prompt=MessageFactory.text(texts.ASK_JOIN_RULE),
                retry_prompt=MessageFactory.text(texts.PICK_RETRY),
                choices=[Choice(texts.JOIN_RULE_OPEN), Choice(texts.JOIN_RULE_APPROVAL)],
                style=ListStyle.hero_card,
            ),
        )

    async def _ask_members(self, step: WaterfallStepContext) -> DialogTurnResult:
        picked = step.result
        open_list = isinstance(picked, FoundChoice) and picked.index == 0
        rule = Restriction.OPEN if open_list else Restriction.APPROVAL_REQUIRED
        step.values["join_rule"] = rule.value
        return await step.prompt(
            "create-people",
            PromptOptions(prompt=MessageFactory.text(texts.ASK_MEMBERS), validations={}),
        )

    async def _confirm(self, step: WaterfallStepContext) -> DialogTurnResult:
        step.values["members"] = list(step.result or [])
        spec = self._create.plan(_draft(step.values))
        summary = texts.create_summary(spec)
        if len(spec.owners) < 2:
            summary = f"{summary}\n\n{texts.ONE_OWNER_WARNING}"
        await step.context.send_activity(MessageFactory.text(summary))
        return await step.prompt(
            "create-confirm",
            PromptOptions(
                prompt=MessageFactory.text(texts.confirm_create(texts.CREATION_APPROVERS)),
                retry_prompt=MessageFactory.text(texts.CONFIRM_RETRY),
            ),
        )

    async def _submit(self, step: WaterfallStepContext) -> DialogTurnResult:
        if step.result is not True:
            await step.context.send_activity(MessageFactory.text(texts.CREATE_NOT_SENT))
            return await step.end_dialog()
        requester = Person.model_validate(step.values["requester"])
        outcome = await self._create.submit(requester, _draft(step.values), step.values["purpose"])
        await step.context.send_activity(MessageFactory.text(texts.create_outcome_text(outcome)))
        return await step.end_dialog(outcome.request.id if outcome.request else None)

    # Validators: each says what is wrong itself, so the prompt does not repeat its question --

    async def _name_valid(self, prompt: PromptValidatorContext) -> bool:
        if not prompt.recognized.succeeded:
            return False
        problem = await self._create.check_name(str(prompt.recognized.value))
        return await _verdict(prompt, _said(problem))

    async def _domain_valid(self, prompt: PromptValidatorContext) -> bool:
        if not prompt.recognized.succeeded:
            return False
        domains = await self._create.domains()
        answer = str(prompt.recognized.value)
        domain = pick_domain(answer, domains)
        if domain is None:
            problem = await self._create.check_address("x", answer.strip().lstrip("@"))
            return await _verdict(prompt, _said(problem))
        prompt.recognized.value = domain
        return True

    async def _alias_valid(self, prompt: PromptValidatorContext) -> bool:
        if not prompt.recognized.succeeded:
            return False
        hints: dict[str, str] = prompt.options.validations
        answer = str(prompt.recognized.value).strip()
        if answer.casefold() in _KEEP_SUGGESTION:
            answer = hints["suggested"]
        # Someone may type the whole address: then its domain is the one they mean.
        alias, at, domain = answer.rpartition("@") if "@" in answer else (answer, "", "")
        domain = domain if at else hints["domain"]
        problem = await self._create.check_alias(alias)
        if problem is None:
            problem = await self._create.check_address(alias, domain)
        if problem is not None:
            return await _verdict(prompt, texts.problem_text(problem))
        domains = await self._create.domains()
        prompt.recognized.value = {"alias": alias, "domain": pick_domain(domain, domains)}
        return True

    async def _description_valid(self, prompt: PromptValidatorContext) -> bool:
        if not prompt.recognized.succeeded:
            return False
        answer = str(prompt.recognized.value).strip()
        if answer.casefold() in _SAME:
            answer = prompt.options.validations["purpose"]
        problem = self._create.check_description(answer)
        if problem is not None:
            return await _verdict(prompt, texts.problem_text(problem))
        prompt.recognized.value = answer
        return True

    async def _people_valid(self, prompt: PromptValidatorContext) -> bool:
        """Names or addresses, comma separated, each naming exactly one person; "no": none."""
        if not prompt.recognized.succeeded:
            return False
        answer = str(prompt.recognized.value).strip()
        if answer.casefold() in texts.NO_ONE:
            prompt.recognized.value = []
            return True
        leave_out = prompt.options.validations.get("requester", "")
        chosen: dict[str, dict[str, Any]] = {}
        for query in (q for q in _SEPARATORS.split(answer) if q):
            found = await self._create.find_people(query, PEOPLE_MATCHES)
            exact = [p for p in found if query.casefold() in _names_of(p)]
            if len(found) != 1 and len(exact) == 1:
                found = exact
            if not found:
                return await _verdict(prompt, texts.person_not_found(query))
            if len(found) > 1:
                return await _verdict(prompt, texts.person_ambiguous(query, found))
            if found[0].object_id != leave_out:
                chosen.setdefault(found[0].object_id, found[0].model_dump())
        prompt.recognized.value = list(chosen.values())
        return True


async def _ask(step: WaterfallStepContext, dialog_id: str, text: str) -> DialogTurnResult:
    return await step.prompt(dialog_id, PromptOptions(prompt=MessageFactory.text(text)))


async def _purpose_given(prompt: PromptValidatorContext) -> bool:
    text = str(prompt.recognized.value or "").strip() if prompt.recognized.succeeded else ""
    if not text:
        return False  # the question is asked again
    prompt.recognized.value = text[:MAX_PURPOSE_LENGTH]
    return True


async def _verdict(prompt: PromptValidatorContext, problem: str | None) -> bool:
    """True when there is no problem; otherwise say it (so the prompt does not re-ask)."""
    if not problem:
        return True
    await prompt.context.send_activity(MessageFactory.text(problem))
    return False


def _said(problem: ValidationProblem | None) -> str | None:
    return None if problem is None else texts.problem_text(problem)


def _names_of(person: Person) -> set[str]:
    return {person.display_name.casefold(), person.address.casefold()}


def _draft(values: dict[str, Any]) -> Draft:
    return Draft(
        name=values["name"],
        alias=values["alias"],
        domain=values["domain"],
        description=values["description"],
        owners=tuple(Person.model_validate(p) for p in values["owners"]),
        members=tuple(Person.model_validate(p) for p in values["members"]),
        join_restriction=Restriction(values["join_rule"]),
    )
