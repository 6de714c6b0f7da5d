"""The pure parts of time-boxed membership: a grant's steps and the admin's maximum per list."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from approvals import grants
from approvals.grants import GrantNotActive, GrantStatus, MembershipRules
from tests.approvals import demo

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def a_grant(days: int = 30) -> grants.Grant:
    return grants.new_grant(
        grant_id="req1", member=demo.ALEX, group=demo.FINANCE_EMEA, days=days, now=NOW
    )


def test_a_new_grant_ends_its_term_after_the_days_granted() -> None:
    grant = a_grant(30)
    assert grant.ends_at == NOW + timedelta(days=30)
    assert grant.status is GrantStatus.ACTIVE and grant.generation == 0


def test_each_renewal_prompt_happens_once_per_term() -> None:
    prompted = grants.prompt(a_grant(), days_before=7, generation=0)
    assert prompted.prompted == (7,) and prompted.version == 1
    with pytest.raises(GrantNotActive):
        grants.prompt(prompted, days_before=7, generation=0)


def test_a_timer_of_an_older_term_does_nothing() -> None:
    renewed = grants.renew(a_grant(), days=30, now=NOW + timedelta(days=25))
    with pytest.raises(GrantNotActive):
        grants.prompt(renewed, days_before=1, generation=0)
    with pytest.raises(GrantNotActive):
        grants.claim_end(renewed, generation=0, now=NOW + timedelta(days=31))


def test_renewing_early_counts_the_new_term_from_the_end_of_the_current_one() -> None:
    renewed = grants.renew(a_grant(), days=30, now=NOW + timedelta(days=23))
    assert renewed.ends_at == NOW + timedelta(days=60)
    assert renewed.generation == 1 and renewed.prompted == () and renewed.renewals == 1


def test_a_renewal_never_goes_past_the_admins_cap_nor_shortens_the_current_term() -> None:
    now = NOW + timedelta(days=23)
    capped = grants.renew(a_grant(), days=30, now=now, cap=now + timedelta(days=20))
    assert capped.ends_at == now + timedelta(days=20)
    kept = grants.renew(a_grant(), days=30, now=now, cap=now + timedelta(days=1))
    assert kept.ends_at == NOW + timedelta(days=30)


def test_the_end_is_claimed_once_and_only_when_due() -> None:
    grant = a_grant()
    with pytest.raises(GrantNotActive):
        grants.claim_end(grant, generation=0, now=NOW + timedelta(days=29))
    ending = grants.claim_end(grant, generation=0, now=NOW + timedelta(days=30))
    assert ending.status is GrantStatus.ENDING and ending.awaits_end
    with pytest.raises(GrantNotActive):
        grants.claim_end(ending, generation=0, now=NOW + timedelta(days=30))
    asked = grants.ending_by(ending, request_id="leave1")
    assert asked.awaits_end  # until the removal is final and settles it
    with pytest.raises(GrantNotActive):
        grants.ending_by(asked, request_id="leave2")
    assert grants.ended(asked, now=NOW).status is GrantStatus.ENDED
    assert grants.ended(asked, now=NOW, failed=True).status is GrantStatus.END_FAILED


def test_a_prompt_not_delivered_is_counted_and_given_up_after_the_last_attempt() -> None:
    grant = a_grant()
    for _ in range(2):
        grant = grants.prompt_failed(grant, days_before=7, generation=0, max_attempts=3)
    assert grant.prompt_failures == (7, 7) and grant.may_prompt(days_before=7, generation=0)
    given_up = grants.prompt_failed(grant, days_before=7, generation=0, max_attempts=3)
    assert given_up.undelivered == (7,)
    assert not given_up.may_prompt(days_before=7, generation=0)
    assert given_up.may_prompt(days_before=1, generation=0)
    with pytest.raises(GrantNotActive):
        grants.prompt(given_up, days_before=7, generation=0)
    renewed = grants.renew(given_up, days=30, now=NOW)
    assert renewed.prompt_failures == () and renewed.undelivered == ()


def test_a_cancelled_removal_keeps_the_member_for_good_and_nothing_ends_it_after() -> None:
    ending = grants.claim_end(a_grant(), generation=0, now=NOW + timedelta(days=30))
    asked = grants.ending_by(ending, request_id="leave1")
    with pytest.raises(GrantNotActive):
        grants.kept(asked, request_id="someone-elses-leave", now=NOW)
    kept = grants.kept(asked, request_id="leave1", now=NOW + timedelta(days=30))
    assert kept.status is GrantStatus.KEPT and not kept.awaits_end
    for step in (
        lambda: grants.ended(kept, now=NOW, failed=True),
        lambda: grants.claim_end(kept, generation=0, now=NOW + timedelta(days=60)),
        lambda: grants.renew(kept, days=30, now=NOW),
        lambda: grants.kept(kept, request_id="leave1", now=NOW),
    ):
        with pytest.raises(GrantNotActive):
            step()


def test_a_kept_member_who_is_off_the_list_after_all_ends_the_grant() -> None:
    ending = grants.claim_end(a_grant(), generation=0, now=NOW + timedelta(days=30))
    kept = grants.kept(grants.ending_by(ending, request_id="leave1"), request_id="leave1", now=NOW)
    left = grants.ended(kept, now=NOW + timedelta(days=40))
    assert left.status is GrantStatus.ENDED and left.ended_at == NOW + timedelta(days=40)
    assert not left.awaits_end


def test_a_removal_that_ended_without_removing_anyone_is_asked_for_again() -> None:
    ending = grants.claim_end(a_grant(), generation=0, now=NOW + timedelta(days=30))
    asked = grants.ending_by(ending, request_id="leave1")
    with pytest.raises(GrantNotActive):
        grants.end_request_lost(asked, request_id="leave2")
    lost = grants.end_request_lost(asked, request_id="leave1")
    assert lost.status is GrantStatus.ENDING and lost.end_request_id == ""
    assert grants.ending_by(lost, request_id="leave3").end_request_id == "leave3"


def test_an_ended_grant_cannot_be_renewed() -> None:
    ended = grants.ended(a_grant(), now=NOW)
    with pytest.raises(GrantNotActive):
        grants.renew(ended, days=30, now=NOW)


def test_a_grant_lasts_at_least_a_day() -> None:
    with pytest.raises(ValueError, match="at least one day"):
        a_grant(0)


def test_the_admins_rules_match_address_local_part_or_display_name_first_match_wins() -> None:
    rules = MembershipRules.parse("finance-*=90, Finance EMEA=10, *=365")
    assert rules.max_days(demo.FINANCE_EMEA) == 90
    assert rules.max_days(demo.SALES_TEAM) == 365
    assert MembershipRules.parse("").max_days(demo.FINANCE_EMEA) is None


def test_the_admins_maximum_applies_when_nothing_was_asked_and_caps_a_longer_ask() -> None:
    rules = MembershipRules.parse("finance-*=90")
    assert rules.days_for(demo.FINANCE_EMEA, None) == 90
    assert rules.days_for(demo.FINANCE_EMEA, 400) == 90
    assert rules.days_for(demo.FINANCE_EMEA, 30) == 30
    assert rules.days_for(demo.SALES_TEAM, None) is None
    assert rules.days_for(demo.SALES_TEAM, 30) == 30


@pytest.mark.parametrize("text", ["proj-*", "proj-*=", "=30", "proj-*=0", "proj-*=ten"])
def test_a_malformed_rule_is_refused_naming_the_part(text: str) -> None:
    with pytest.raises(ValueError, match="proj|=30"):
        MembershipRules.parse(f"ok=1, {text}")
