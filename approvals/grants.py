"""Time-boxed membership: a grant says who is on which list until when, and what happens then.

A grant is made when a JOIN with `membership_days` completes (approvals.grant_service), keyed
by that request's id, and lives through renewals until its end:

    ACTIVE ──prompt (ends_at - 7 days, ends_at - 1 day, once each per term)──> ACTIVE
       │  ──prompt_failed (Teams unreachable: counted; given up after N)─────> ACTIVE
       │  ──renew (a new term: ends_at moves on, generation + 1)──────────────> ACTIVE
       ├──claim_end (ends_at reached)──> ENDING ──ended──> ENDED      (removed from the list)
       │                                    ├──end_failed──> END_FAILED (Exchange refused)
       │                                    └──kept──> KEPT  (an admin cancelled the removal)
       └──ended (the member left by themselves first)────────> ENDED
    KEPT ──ended (they left later, or a removal in flight when cancelled went through)──> ENDED

Every step is a pure function returning the grant with `version + 1`; the store keeps it only if
the stored version is still the one it was made from, so each step happens once across workers.
The timers of one term carry its `generation`: a renewal starts a new term, and the timers of
the old one find a newer generation and do nothing (cheaper than chasing them down in saq).
"""

from __future__ import annotations

import fnmatch
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

from approvals.errors import ApprovalError
from approvals.models import ListRef, Person

# Renewal prompts, in days before the end (issue 9): a week to ask the owners, a day as the last
# call. A term shorter than a prompt's lead time has no such prompt.
PROMPT_DAYS_BEFORE = (7, 1)

# How long a term may be at most, whatever is asked or configured: keeps dates sane and
# `timedelta` arithmetic far from its limits (ten years).
MAX_TERM_DAYS = 3650


class GrantStatus(StrEnum):
    ACTIVE = "active"
    ENDING = "ending"  # its time ran out: the removal is queued or running
    ENDED = "ended"  # removed (or left by themselves)
    END_FAILED = "end_failed"  # Exchange refused the removal (e.g. synced from on-premises)
    # An admin cancelled the removal (`dlbot requests cancel`): a member for good, no end date.
    KEPT = "kept"


class Grant(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str  # the JOIN request that first granted it
    version: int = 0
    member: Person
    group: ListRef
    days: int  # the length of a term; a renewal asks for the same
    started_at: datetime
    ends_at: datetime
    generation: int = 0  # the term: bumped by each renewal
    prompted: tuple[int, ...] = ()  # PROMPT_DAYS_BEFORE delivered in this term
    # One entry (its PROMPT_DAYS_BEFORE) per failed delivery of a prompt in this term, and the
    # prompts given up on after too many: both reset by a renewal, like `prompted`.
    prompt_failures: tuple[int, ...] = ()
    undelivered: tuple[int, ...] = ()
    status: GrantStatus = GrantStatus.ACTIVE
    renewals: int = 0
    renewal_request_id: str = ""  # the last JOIN asking the owners to renew
    end_request_id: str = ""  # the LEAVE that removes the member
    ended_at: datetime | None = None

    @property
    def is_active(self) -> bool:
        return self.status is GrantStatus.ACTIVE

    @property
    def awaits_end(self) -> bool:
        """Its end job must still run: active, or ending (the job asks for the removal, or
        settles the grant once that request is final, whichever hook was missed). The store
        indexes these by end time for the sweeper."""
        return self.status in (GrantStatus.ACTIVE, GrantStatus.ENDING)

    @property
    def is_final(self) -> bool:
        """Nothing more happens to it: ended, failed to end (the admins remove by hand), or
        kept for good."""
        return self.status in (GrantStatus.ENDED, GrantStatus.END_FAILED, GrantStatus.KEPT)

    def may_prompt(self, *, days_before: int, generation: int) -> bool:
        """Whether the prompt `days_before` of term `generation` is still to be delivered."""
        return (
            self.is_active
            and self.generation == generation
            and days_before not in self.prompted
            and days_before not in self.undelivered
        )


class GrantNotActive(ApprovalError):
    """The grant ended (or is ending): nothing to renew or prompt."""

    def __init__(self, grant: Grant) -> None:
        super().__init__(f"grant {grant.id} is {grant.status.value}")
        self.grant = grant


class GrantConflict(ApprovalError):
    """The grant changed since it was read (compare-and-set lost)."""

    def __init__(self, grant_id: str) -> None:
        super().__init__(f"grant {grant_id} changed meanwhile")
        self.grant_id = grant_id


class NotTheMember(ApprovalError):
    """Someone other than the member tried to renew their membership."""

    def __init__(self, actor: Person) -> None:
        super().__init__(f"{actor.object_id} is not the member of this grant")
        self.actor = actor


def new_grant(*, grant_id: str, member: Person, group: ListRef, days: int, now: datetime) -> Grant:
    days = _term(days)
    return Grant(
        id=grant_id,
        member=member,
        group=group,
        days=days,
        started_at=now,
        ends_at=now + timedelta(days=days),
    )


def _next(grant: Grant, **changes: Any) -> Grant:
    return grant.model_copy(update={**changes, "version": grant.version + 1})


def _term(days: int) -> int:
    if days < 1:
        raise ValueError("a time-boxed membership lasts at least one day")
    return min(days, MAX_TERM_DAYS)


def prompt(grant: Grant, *, days_before: int, generation: int) -> Grant:
    """Record that the member was asked to renew, `days_before` the end of this term, once."""
    if not grant.may_prompt(days_before=days_before, generation=generation):
        raise GrantNotActive(grant)
    return _next(grant, prompted=(*grant.prompted, days_before))


def prompt_failed(grant: Grant, *, days_before: int, generation: int, max_attempts: int) -> Grant:
    """Record a failed delivery of a prompt; the `max_attempts`-th failure gives it up (it is
    then `undelivered`, and no later run sends it)."""
    if not grant.may_prompt(days_before=days_before, generation=generation):
        raise GrantNotActive(grant)
    failures = (*grant.prompt_failures, days_before)
    undelivered = grant.undelivered
    if failures.count(days_before) >= max_attempts:
        undelivered = (*undelivered, days_before)
    return _next(grant, prompt_failures=failures, undelivered=undelivered)


def renew(grant: Grant, *, days: int, now: datetime, cap: datetime | None = None) -> Grant:
    """A new term of `days`, counted from the end of this one (renewing early loses nothing),
    at most up to `cap` (the admin's maximum from now); the old term's timers stop mattering."""
    if not grant.is_active:
        raise GrantNotActive(grant)
    ends_at = max(grant.ends_at, now) + timedelta(days=_term(days))
    if cap is not None:
        ends_at = min(ends_at, cap)
    return _next(
        grant,
        days=_term(days),
        ends_at=max(ends_at, grant.ends_at),
        generation=grant.generation + 1,
        prompted=(),
        prompt_failures=(),
        undelivered=(),
        renewals=grant.renewals + 1,
        renewal_request_id="",
    )


def asked_to_renew(grant: Grant, *, request_id: str) -> Grant:
    if not grant.is_active:
        raise GrantNotActive(grant)
    return _next(grant, renewal_request_id=request_id)


def claim_end(grant: Grant, *, generation: int, now: datetime) -> Grant:
    """ACTIVE → ENDING, by the timer of the current term once its time has come."""
    if not grant.is_active or grant.generation != generation or grant.ends_at > now:
        raise GrantNotActive(grant)
    return _next(grant, status=GrantStatus.ENDING)


def ending_by(grant: Grant, *, request_id: str) -> Grant:
    """Which LEAVE request removes the member (recorded once)."""
    if grant.status is not GrantStatus.ENDING or grant.end_request_id:
        raise GrantNotActive(grant)
    return _next(grant, end_request_id=request_id)


def end_request_lost(grant: Grant, *, request_id: str) -> Grant:
    """The LEAVE recorded as the removal ended without removing anyone and without an admin
    saying so (denied or expired): ENDING again with no removal asked for, to ask anew."""
    if grant.status is not GrantStatus.ENDING or grant.end_request_id != request_id:
        raise GrantNotActive(grant)
    return _next(grant, end_request_id="")


def kept(grant: Grant, *, request_id: str, now: datetime) -> Grant:
    """ENDING → KEPT: an admin cancelled `request_id`, the LEAVE recorded as removing the
    member, so they stay a member, for good."""
    if grant.status is not GrantStatus.ENDING or grant.end_request_id != request_id:
        raise GrantNotActive(grant)
    return _next(grant, status=GrantStatus.KEPT, ended_at=now)


def ended(grant: Grant, *, now: datetime, failed: bool = False) -> Grant:
    """ACTIVE or ENDING → ENDED (or END_FAILED when Exchange refused the removal); KEPT →
    ENDED once the member is off the list after all (a kept member is a member like any)."""
    if grant.status not in (GrantStatus.ACTIVE, GrantStatus.ENDING, GrantStatus.KEPT):
        raise GrantNotActive(grant)
    if failed and grant.status is GrantStatus.KEPT:
        raise GrantNotActive(grant)  # a removal that failed leaves a kept member kept
    status = GrantStatus.END_FAILED if failed else GrantStatus.ENDED
    return _next(grant, status=status, ended_at=now)


class MembershipRules:
    """The admin's maximum membership per list pattern (DLBOT_MEMBERSHIP_MAX_DAYS), e.g.
    "proj-*=90, temp-*@contoso.com=30": a pattern matches a list's address, or the part before
    the @, or its display name (any case, shell wildcards); the first match wins. A JOIN to such
    a list is time-boxed even when nobody asked for a time, and never for longer."""

    def __init__(self, rules: tuple[tuple[str, int], ...] = ()) -> None:
        for pattern, days in rules:
            if not pattern or days < 1:
                raise ValueError(f"not a membership rule: {pattern!r}={days}")
        self.rules = tuple((pattern.casefold(), days) for pattern, days in rules)

    @classmethod
    def parse(cls, text: str) -> MembershipRules:
        """From "pattern=days, pattern=days"; ValueError naming the part that is wrong."""
        rules: list[tuple[str, int]] = []
        for part in text.split(","):
            if not part.strip():
                continue
            pattern, sep, days = part.partition("=")
            if not sep or not pattern.strip() or not days.strip().isdigit():
                raise ValueError(f"expected pattern=days, got {part.strip()!r}")
            if int(days) < 1:
                raise ValueError(f"days must be at least 1 in {part.strip()!r}")
            rules.append((pattern.strip(), min(int(days), MAX_TERM_DAYS)))
        return cls(tuple(rules))

    def max_days(self, group: ListRef) -> int | None:
        address = group.address.casefold()
        names = (address, address.partition("@")[0], group.display_name.casefold())
        for pattern, days in self.rules:
            if any(fnmatch.fnmatchcase(name, pattern) for name in names):
                return days
        return None

    def days_for(self, group: ListRef, asked: int | None) -> int | None:
        """How long a membership of `group` lasts: what was asked, at most the admin's maximum;
        the maximum itself when nothing was asked; None (for good) when neither applies."""
        limit = self.max_days(group)
        if asked is not None:
            asked = _term(asked)
        if limit is None:
            return asked
        return limit if asked is None else min(asked, limit)
