"""The daily access review job: one cron job keyed by name (so one run a day across workers)
that runs the review start, and none at all when reviews are off."""

from __future__ import annotations

from bot.jobs import REVIEWS_FUNCTION, review_jobs


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
