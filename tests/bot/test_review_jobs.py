"""The daily access review job: one cron job keyed by name (so one run a day across workers)
that runs the review start, and none at all when reviews are off; and when DLBOT_REVIEW_CLOSE_DAYS
closes an unanswered review."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from approvals.ports import JobName
from bot.jobs import RETRY_PLANS, REVIEWS_FUNCTION, job_key, review_jobs
from bot.settings import Settings


async def test_reviews_on_give_one_daily_cron_job_that_runs_the_start() -> None:
    runs: list[str] = []

    async def start_due() -> int:
        runs.append("started")
        return 3

    [job] = review_jobs(every_days=90, start_due=start_due)

    assert job.function.__name__ == REVIEWS_FUNCTION
    assert job.cron.split()[2:] == ["*", "*", "*"]  # every day
    assert await job.function({}) == 3
    assert runs == ["started"]


async def test_reviews_off_give_no_cron_job() -> None:
    async def start_due() -> int:
        raise AssertionError("never run")

    assert review_jobs(every_days=0, start_due=start_due) == []


def test_an_unanswered_review_closes_a_week_after_its_escalation_by_default() -> None:
    policy = Settings(_env_file=None).review_policy()

    assert policy.close_after == timedelta(days=7)
    assert policy.close_at == timedelta(days=14)  # escalated after 7 days, closed 7 later


def test_close_days_count_from_the_start_when_escalation_is_off_and_zero_never_closes() -> None:
    no_escalation = Settings(_env_file=None, review_escalate_days=0, review_close_days=10)
    never = Settings(_env_file=None, review_close_days=0)

    assert no_escalation.review_policy().close_at == timedelta(days=10)
    assert never.review_policy().close_after is None and never.review_policy().close_at is None


def test_a_negative_close_days_is_refused() -> None:
    with pytest.raises(ValidationError):
        Settings(_env_file=None, review_close_days=-1)


@pytest.mark.parametrize("days", ["inf", "1e10"])
def test_close_days_beyond_any_date_are_refused_as_a_setting_not_at_start(days: str) -> None:
    with pytest.raises(ValidationError):
        Settings(_env_file=None, review_close_days=days)


def test_the_close_job_is_keyed_per_review_so_it_is_queued_once() -> None:
    assert job_key(JobName.REVIEW_CLOSE, "rev1") == job_key(JobName.REVIEW_CLOSE, "rev1")
    assert job_key(JobName.REVIEW_CLOSE, "rev1") != job_key(JobName.REVIEW_CLOSE, "rev2")
    assert RETRY_PLANS[JobName.REVIEW_CLOSE].retries > 1


def test_the_close_job_is_keyed_by_its_due_second_so_new_close_days_make_a_new_job() -> None:
    due = job_key(JobName.REVIEW_CLOSE, "rev1", 1_800_000_000)
    assert due == job_key(JobName.REVIEW_CLOSE, "rev1", 1_800_000_000)
    assert due != job_key(JobName.REVIEW_CLOSE, "rev1", 1_800_259_200)
    assert due != job_key(JobName.REVIEW_CLOSE, "rev1")  # the sweep's, queued at once
