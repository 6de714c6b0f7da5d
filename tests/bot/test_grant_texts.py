"""What a member reads about a time-limited membership: the grant's own message replaces the
plain "you're now a member" (it has the end date), and times read like a person says them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from approvals import grants
from approvals.models import ApprovalRequest, Execution, RequestKind, RequestStatus
from approvals.ports import NoticeKind
from bot import texts
from tests.approvals import demo

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def done(kind: RequestKind, outcome: str = "added", **changes: Any) -> ApprovalRequest:
    return ApprovalRequest(
        id="req12345678",
        kind=kind,
        status=RequestStatus.COMPLETED,
        requester=demo.ALEX,
        group=demo.FINANCE_EMEA,
        execution=Execution(outcome=outcome),
        created_at=NOW,
        updated_at=NOW,
        **changes,
    )


def test_a_time_limited_join_done_leaves_the_telling_to_the_grant() -> None:
    assert texts.notice(NoticeKind.COMPLETED, done(RequestKind.JOIN, membership_days=30)) is None
    assert texts.notice(NoticeKind.COMPLETED, done(RequestKind.JOIN)) is not None


def test_already_a_member_for_good_is_told_so_even_when_a_time_was_asked() -> None:
    request = done(RequestKind.JOIN, "already_member", membership_days=30)
    assert "already were" in (texts.notice(NoticeKind.COMPLETED, request) or "")


def test_the_removal_at_the_end_is_told_by_the_grant_not_as_a_leave() -> None:
    ending = done(RequestKind.LEAVE, "removed", grant_id="req00000001")
    assert texts.notice(NoticeKind.COMPLETED, ending) is None
    assert texts.notice(NoticeKind.FAILED, ending) is None


@pytest.mark.parametrize(
    ("days", "said"),
    [
        (1, "for 1 day"),
        (7, "for 1 week"),
        (14, "for 2 weeks"),
        (30, "for 30 days"),
        (365, "for 1 year"),
        (730, "for 2 years"),
        (90, "for 90 days"),
    ],
)
def test_a_term_reads_in_days_weeks_or_years(days: int, said: str) -> None:
    assert texts.for_days(days) == said


def test_the_member_is_told_the_end_date_and_when_they_will_be_asked() -> None:
    grant = grants.new_grant(
        grant_id="req12345678", member=demo.ALEX, group=demo.FINANCE_EMEA, days=30, now=NOW
    )
    said = texts.granted_text(grant, renewed=False)
    assert "until Wed 01 Apr 2026" in said and "a week before" in said
    assert texts.renewal_heading(grant, 1).endswith("ends tomorrow")
    assert texts.grant_line(grant) == ("Finance EMEA", "Ends on Wed 01 Apr 2026.")


def test_a_cancelled_removal_is_told_by_the_grant_as_staying_a_member_for_good() -> None:
    cancelled = done(RequestKind.LEAVE, "", grant_id="req00000001").model_copy(
        update={"status": RequestStatus.CANCELLED}
    )
    assert texts.notice(NoticeKind.CANCELLED, cancelled) is None
    own = cancelled.model_copy(update={"grant_id": ""})
    assert texts.notice(NoticeKind.CANCELLED, own) is not None

    grant = grants.new_grant(
        grant_id="req12345678", member=demo.ALEX, group=demo.FINANCE_EMEA, days=30, now=NOW
    )
    ending = grants.claim_end(grant, generation=0, now=grant.ends_at)
    asked = grants.ending_by(ending, request_id="req00000001")
    kept = grants.kept(asked, request_id="req00000001", now=grant.ends_at)
    said = texts.grant_ended(kept, failed=False)
    assert "stay a member" in said and "no end date" in said and "taken you off" not in said
    assert texts.grant_line(kept) == (
        "Finance EMEA",
        "No end date: an IT admin stopped the removal.",
    )
    assert "nothing to renew" in texts.renew_too_late(kept)
