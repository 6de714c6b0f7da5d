"""What the IT admin decides about self-service, as plain data and small pure functions.

The defaults are design.md's "Policy defaults": Closed lists go to their owners, a person
asking for approval says why, nothing is blocked. bot/ builds a Policy from its settings.
"""

from __future__ import annotations

import fnmatch
import re
import unicodedata
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from skills.ports import DirectoryList


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class BlockRule(_Frozen):
    """Lists nobody may ask to join through the bot, and what people are told instead."""

    # An address or an fnmatch pattern: "payroll@contoso.com", "*-all@contoso.com", "exec-*".
    # Matched case-insensitively against the primary and every secondary address; a pattern
    # without "@" matches the address's local part, so "exec-*" covers every domain.
    pattern: str = Field(min_length=1)
    message: str = ""  # the admin's words, shown as they are


class ClosedLists(StrEnum):
    APPROVE = "approve"  # owners approve, as for ApprovalRequired (the default)
    REFUSE = "refuse"  # only an owner changes a Closed list, outside the bot


class Policy(_Frozen):
    blocked: tuple[BlockRule, ...] = ()
    closed_lists: ClosedLists = ClosedLists.APPROVE
    # Whether a request that needs approval must say why; a list joined at once never asks.
    require_justification: bool = True
    max_justification_length: int = Field(default=500, ge=1)
    # Who approves when a list has no usable owner; resolved to people by approvals.
    fallback_approvers: tuple[str, ...] = ()

    def block_rule(self, group: DirectoryList) -> BlockRule | None:
        """The first rule that covers any of the list's addresses, if one does."""
        return next((rule for rule in self.blocked if rule_covers(rule, group)), None)


def rule_covers(rule: BlockRule, group: DirectoryList) -> bool:
    pattern = rule.pattern.strip().casefold()
    for address in (group.address, *group.other_addresses):
        address = address.casefold()
        candidate = address if "@" in pattern else address.partition("@")[0]
        if fnmatch.fnmatchcase(candidate, pattern):
            return True
    return False


class JustificationProblem(StrEnum):
    MISSING = "missing"
    TOO_LONG = "too_long"


# Bidirectional overrides can make an approver read a justification backwards.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def clean_justification(text: str) -> str:
    """The text as an approver will read it: control characters gone, ends trimmed.

    Other format characters stay: the zero-width joiner holds emoji such as 👩‍💻 together.
    """
    kept = "".join(
        ch
        for ch in text
        if ch in "\n\t" or (unicodedata.category(ch) != "Cc" and ch not in _BIDI_CONTROLS)
    )
    return kept.strip()


def justification_problem(
    policy: Policy, text: str, *, approval_needed: bool
) -> JustificationProblem | None:
    """What is wrong with a (cleaned) justification under the policy, if anything."""
    if len(text) > policy.max_justification_length:
        return JustificationProblem.TOO_LONG
    if approval_needed and policy.require_justification and not text:
        return JustificationProblem.MISSING
    return None


class CreationApprovers(StrEnum):
    IT_GROUP = "it_group"  # the configured creation approvers (addresses of people or groups)
    MANAGER = "manager"  # the requester's manager (Get-User Manager); the approvers if none


class NamingPolicy(_Frozen):
    """The tenant's group naming policy, as the admin configured it for dlbot to show and check.

    Exchange applies its own policy to the display name as it creates the list; dlbot applies
    the same rules first so the requester and the approvers see the exact final name, and a
    blocked word is refused in the chat rather than by Exchange after approval. dlbot never
    passes IgnoreNamingPolicy.
    """

    prefix: str = ""
    suffix: str = ""
    blocked_words: tuple[str, ...] = ()

    def final_name(self, words: str) -> str:
        return f"{self.prefix}{words}{self.suffix}"

    def blocked_word(self, text: str) -> str | None:
        """The first blocked word that stands as a word of `text` (case-insensitive)."""
        for word in self.blocked_words:
            if word and _word_pattern(word).search(text):
                return word
        return None


def _word_pattern(word: str) -> re.Pattern[str]:
    # A word is delimited by anything but a letter or digit, so "ceo" blocks "CEO office" and
    # "the-ceo" but not "Ceolin".
    return re.compile(rf"(?<![^\W_]){re.escape(word)}(?![^\W_])", re.IGNORECASE)


class CreationPolicy(_Frozen):
    naming: NamingPolicy = NamingPolicy()
    approvers: CreationApprovers = CreationApprovers.IT_GROUP
    # Addresses of people or groups who approve new lists (the IT group); also the fallback
    # when the requester has no manager.
    approver_addresses: tuple[str, ...] = ()
    # False: RequireSenderAuthenticationEnabled on every new list (only colleagues can mail it).
    allow_outside_senders: bool = False
    max_description_length: int = Field(default=1024, ge=1)
