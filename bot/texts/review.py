"""Owner access reviews: the review card's words."""

from __future__ import annotations

from approvals.models import Person
from approvals.reviews import Review
from bot.texts.common import day

REVIEW_KEEP = "Keep"
REVIEW_REMOVE = "Remove"
REVIEW_PREVIOUS = "Previous"
REVIEW_NEXT = "Next"
REVIEW_KEEP_ALL = "Keep all"
REVIEW_FINISH = "Finish review"
REVIEW_NOT_A_REVIEWER = (
    "Only the list's current owners (or, once a review is overdue, the fallback approvers) "
    "can review its members."
)
REVIEW_UNKNOWN = "I can't find that review any more."
REVIEW_LIST_GONE = (
    "This list no longer exists in Exchange, so there is nothing left to review. "
    "Its review closes by itself."
)


def review_heading(review: Review) -> str:
    return f"Access review: {review.group.display_name}"


def review_intro(review: Review, *, reminder: bool) -> str:
    who = (
        "every member of the list"
        if review.all_members
        else f"the people I added to {review.group.address}"
    )
    nudge = "Reminder: this review is still waiting for you. " if reminder else ""
    return (
        f"{nudge}Please check {who} ({len(review.members)}). Choose **Keep** or **Remove** "
        "for each, then **Finish review**: anyone you don't choose for stays. **Keep all** "
        "keeps everyone."
    )


def review_page(page: int, pages: int) -> str:
    return f"Page {page + 1} of {pages}"


def review_member_label(member: Person) -> str:
    return f"{member.display_name} ({member.address})" if member.address else member.display_name


def review_outcome(review: Review) -> str:
    if review.closed_unanswered:
        return _closed_outcome(review)
    by = review.completed_by.display_name if review.completed_by else "the owners"
    removed = len(review.to_remove())
    when = day(review.completed_at) if review.completed_at else ""
    if not removed:
        return f"Review finished by {by} on {when}: everyone stays."
    people = "person" if removed == 1 else "people"
    return (
        f"Review finished by {by} on {when}: {review.kept()} stay, {removed} {people} "
        "being removed."
    )


def _closed_outcome(review: Review) -> str:
    when = day(review.completed_at) if review.completed_at else ""
    removed = len(review.to_remove())
    if not removed:
        return (
            f"This review closed on {when} without an answer, so nothing changes: everyone "
            "stays on the list."
        )
    people = "person" if removed == 1 else "people"
    return (
        f"This review closed on {when} without an answer for everyone: the {removed} {people} "
        f"marked Remove before then {'is' if removed == 1 else 'are'} being removed, and the "
        f"other {review.kept()} stay."
    )


def review_closed_message(review: Review) -> str:
    """The one message the fallback approvers and admins get when a review closes unanswered."""
    group = review.group
    removed = len(review.to_remove())
    changes = (
        "Nobody was removed: everyone stays on the list."
        if not removed
        else f"Only the {removed} removal{'' if removed == 1 else 's'} chosen before then "
        "will be carried out; everyone else stays."
    )
    # The reminder and the escalation can each be switched off: name only those that happened.
    happened = (("the reminder", review.reminded_at), ("the escalation", review.escalated_at))
    steps = " and ".join(step for step, at in happened if at is not None)
    return (
        f"The access review of {group.display_name} ({group.address}) closed unanswered: "
        f"nobody finished it {f'after {steps}' if steps else 'in time'}. {changes}"
    )
