"""Owner access reviews: every so often the owners of a list say, per member, keep or remove.

A review is a snapshot of the members to look at (those the bot added, or every direct member
when the admin asks for that), taken when it starts, and the decisions made on it:

    OPEN ──decide (some members; all decided → completes)───────────> OPEN | COMPLETED
      │  ──finish (an owner submits; undecided members are kept)────> COMPLETED
      │  ──remind (once) / escalate (once: fallback approvers asked)─> OPEN
      │  ──close (nobody finished in time: undecided members stay)───> CLOSED
      └──────────────────────────────────────────────────────────────> COMPLETED
    COMPLETED | CLOSED ──removing (the LEAVE asked for one removed member, once each)──> same
    CLOSED (to announce) ──close_announced (everyone told, the audit written)──> CLOSED

The close and what follows it (the removal and redraw jobs queued, the people told, the audit)
are not one write: the close notes on the review that it is still to be announced, so a run
that failed after closing (Teams throttled) is retried rather than finding the review closed
and stopping.

Every step is a pure function returning the review with `version + 1`; the store keeps it only
if the stored version is still the one it was made from, so each step happens once across
workers and the first owner to finish wins (or the close, when nobody does). Members are
addressed by their place in the snapshot (it never changes), which keeps the paged card small.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

from approvals.errors import ApprovalError
from approvals.models import Approver, CardRef, ListRef, Person


class ReviewStatus(StrEnum):
    OPEN = "open"
    COMPLETED = "completed"  # an owner (or fallback approver) finished it
    # Nobody finished it in time: what was decided is carried out, everyone else stays. A bot
    # that writes to the directory removes people only on a person's decision, never by default.
    CLOSED = "closed"


class Choice(StrEnum):
    KEEP = "keep"
    REMOVE = "remove"


class MemberDecision(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    index: int  # the member's place in Review.members
    choice: Choice
    by: str  # the object id of the owner who chose


class Review(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    version: int = 0
    group: ListRef
    reviewers: tuple[Approver, ...]  # who was asked (owners; fallback approvers once escalated)
    members: tuple[Person, ...]
    all_members: bool = False  # every direct member, not only those the bot added
    decisions: tuple[MemberDecision, ...] = ()
    status: ReviewStatus = ReviewStatus.OPEN
    started_at: datetime
    completed_at: datetime | None = None  # when it ended: finished, or closed unanswered
    completed_by: Person | None = None  # None when it closed unanswered
    reminded_at: datetime | None = None
    escalated_at: datetime | None = None
    cards: tuple[CardRef, ...] = ()
    # Indexes of removed members whose LEAVE was asked for, and those requests' ids.
    removal_requests: tuple[tuple[int, str], ...] = ()
    # Closed unanswered, and nobody told yet. False by default: a review closed before this
    # was kept had its close announced in the same run.
    close_to_announce: bool = False

    @property
    def is_open(self) -> bool:
        return self.status is ReviewStatus.OPEN

    @property
    def closed_unanswered(self) -> bool:
        return self.status is ReviewStatus.CLOSED

    def choices(self) -> dict[int, Choice]:
        return {d.index: d.choice for d in self.decisions}

    def to_remove(self) -> list[int]:
        """The members to take off the list, once the review is complete (or closed)."""
        return sorted(i for i, c in self.choices().items() if c is Choice.REMOVE)

    def kept(self) -> int:
        return len(self.members) - len(self.to_remove())

    def pending_removals(self) -> list[int]:
        asked = {i for i, _ in self.removal_requests}
        return [i for i in self.to_remove() if i not in asked]

    @property
    def unfinished(self) -> bool:
        """Still open, or a step after its end not yet done: removals not asked for, a close
        not announced (the sweeper's: the job doing it may have been lost)."""
        return self.is_open or bool(self.pending_removals()) or self.close_to_announce

    def reviewer(self, object_id: str) -> Approver | None:
        return next((r for r in self.reviewers if r.object_id == object_id), None)


class ReviewClosed(ApprovalError):
    """The review is complete or closed (or never was open for this step): nothing more to
    decide."""

    def __init__(self, review: Review) -> None:
        super().__init__(f"review {review.id} is {review.status.value}")
        self.review = review


class ReviewConflict(ApprovalError):
    """The review changed since it was read (compare-and-set lost)."""

    def __init__(self, review_id: str) -> None:
        super().__init__(f"review {review_id} changed meanwhile")
        self.review_id = review_id


class NotAReviewer(ApprovalError):
    """Someone who does not own the list (now) tried to decide on its review."""

    def __init__(self, actor: Person) -> None:
        super().__init__(f"{actor.object_id} may not review this list")
        self.actor = actor


def new_review(
    *,
    review_id: str,
    group: ListRef,
    reviewers: tuple[Approver, ...],
    members: tuple[Person, ...],
    now: datetime,
    all_members: bool = False,
) -> Review:
    return Review(
        id=review_id,
        group=group,
        reviewers=reviewers,
        members=members,
        all_members=all_members,
        started_at=now,
    )


def _next(review: Review, **changes: Any) -> Review:
    return review.model_copy(update={**changes, "version": review.version + 1})


def _open(review: Review) -> None:
    if not review.is_open:
        raise ReviewClosed(review)


def decide(
    review: Review, *, actor: Person, choices: Mapping[int, Choice], now: datetime
) -> Review:
    """Record `actor`'s choices (a later choice for a member replaces an earlier one); the
    review completes once every member has one. Indexes outside the snapshot are ignored:
    they come from card data."""
    _open(review)
    merged = {d.index: d for d in review.decisions}
    for index, choice in choices.items():
        if 0 <= index < len(review.members):
            merged[index] = MemberDecision(index=index, choice=choice, by=actor.object_id)
    decisions = tuple(merged[i] for i in sorted(merged))
    if len(decisions) == len(review.members):
        return _completed(review, decisions, actor, now)
    return _next(review, decisions=decisions)


def finish(review: Review, *, actor: Person, now: datetime) -> Review:
    """An owner submits the review: every member without a choice is kept."""
    _open(review)
    decided = {d.index: d for d in review.decisions}
    for index in range(len(review.members)):
        if index not in decided:
            decided[index] = MemberDecision(index=index, choice=Choice.KEEP, by=actor.object_id)
    return _completed(review, tuple(decided[i] for i in sorted(decided)), actor, now)


def keep_all(review: Review, *, actor: Person, now: datetime) -> Review:
    """Every member stays, whatever was chosen before: the review is complete."""
    _open(review)
    everyone = tuple(
        MemberDecision(index=i, choice=Choice.KEEP, by=actor.object_id)
        for i in range(len(review.members))
    )
    return _completed(review, everyone, actor, now)


def _completed(
    review: Review, decisions: tuple[MemberDecision, ...], actor: Person, now: datetime
) -> Review:
    return _next(
        review,
        decisions=decisions,
        status=ReviewStatus.COMPLETED,
        completed_at=now,
        completed_by=actor,
    )


def remind(review: Review, *, now: datetime) -> Review:
    _open(review)
    if review.reminded_at is not None:
        raise ReviewClosed(review)
    return _next(review, reminded_at=now)


def escalate(review: Review, *, fallback: tuple[Approver, ...], now: datetime) -> Review:
    """The fallback approvers join the reviewers (once)."""
    _open(review)
    if review.escalated_at is not None:
        raise ReviewClosed(review)
    known = {r.object_id for r in review.reviewers}
    added = tuple(f for f in fallback if f.object_id not in known)
    return _next(review, reviewers=(*review.reviewers, *added), escalated_at=now)


def close_unanswered(review: Review, *, now: datetime) -> Review:
    """Nobody finished the review in time: it ends, keeping its decisions (the removals among
    them are carried out) and every member nobody decided on."""
    _open(review)
    return _next(review, status=ReviewStatus.CLOSED, completed_at=now, close_to_announce=True)


def close_announced(review: Review) -> Review:
    """Everyone was told the review closed unanswered, and the audit says so (once)."""
    if not review.close_to_announce:
        raise ReviewClosed(review)
    return _next(review, close_to_announce=False)


def with_card(review: Review, card: CardRef) -> Review:
    """Remember where a reviewer's card was posted (a reminder's beside the first)."""
    return _next(review, cards=(*review.cards, card))


def removing(review: Review, *, index: int, request_id: str) -> Review:
    """The LEAVE that removes member `index` was asked for (once)."""
    if review.is_open or index not in review.to_remove():
        raise ReviewClosed(review)
    if any(i == index for i, _ in review.removal_requests):
        raise ReviewClosed(review)
    return _next(review, removal_requests=(*review.removal_requests, (index, request_id)))
