"""The composition root: every part of dlbot built from Settings, opened and closed in one place.

`dlbot serve` and `dlbot worker` both run inside `running(settings)`; they differ only in what
they start on top (the aiohttp app, the saq worker, or both).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from botbuilder.core import ConversationState
from saq import Queue, Worker

from approvals.approvers import OwnerApprovers
from approvals.audit import RedisStreamAudit
from approvals.creation import CreationApproverMode, CreationApprovers, ExchangeCreatorDirectory
from approvals.exchange_adapters import ExchangeMembershipWriter, ExchangeOwnerDirectory
from approvals.grant_service import GrantService
from approvals.grant_store import RedisGrantStore
from approvals.models import Approver
from approvals.ports import JobName
from approvals.redis_store import RedisRequestStore
from approvals.redraws import RedisRedrawLedger
from approvals.review_exchange import ExchangeReviewFacts
from approvals.review_service import ReviewService
from approvals.review_store import RedisReviewStore
from approvals.service import ApprovalService
from bot.app import EdgeServices, build_services
from bot.audit_retention import retention_jobs
from bot.dialogs.create_dialog import CreateDialog, CreateDialogServices
from bot.dialogs.join_dialog import JoinDialog, JoinDialogServices
from bot.dialogs.leave_dialog import LeaveDialog, LeaveDialogServices
from bot.grant_notifier import TeamsGrantNotifier
from bot.handler import DlBot
from bot.health import passing_for
from bot.jobs import (
    QUEUE_NAME,
    JobBody,
    SaqJobQueue,
    job_functions,
    review_jobs,
    sweep_job,
    sync_jobs,
)
from bot.metrics import RecordingAudit, WorkflowMetrics
from bot.notifier import TeamsNotifier
from bot.review_notifier import TeamsReviewNotifier
from bot.settings import Settings
from exchange.client import ExchangeClient
from exchange.errors import ExchangeError
from skills.create_dl import CreateList, NewListIndexer
from skills.exchange_creation import ExchangeCreationDirectory
from skills.exchange_directory import ExchangeListDirectory
from skills.find_dl import ListIndex
from skills.index_store import (
    ListSnapshotStore,
    follow_index,
    refresh_index,
    restore_index,
    sync_lists,
)
from skills.join_dl import JoinList
from skills.leave_dl import LeaveList
from skills.people_store import CachedPersonDirectory, PersonSnapshotStore, refresh_people
from skills.renew_membership import RenewMembership

log = logging.getLogger(__name__)

# How often a replica picks up lists other replicas (or the sync) changed.
INDEX_FOLLOW_SECONDS = 5.0


@dataclass
class Dlbot:
    settings: Settings
    edge: EdgeServices
    exchange: ExchangeClient
    queue: Queue
    directory: ExchangeListDirectory
    index: ListIndex
    snapshots: ListSnapshotStore
    people_snapshots: PersonSnapshotStore
    people: CachedPersonDirectory  # who is writing: the snapshot, Exchange on a miss
    approvals: ApprovalService
    join: JoinList
    bot: DlBot
    grants: GrantService  # time-limited memberships: their prompts and ends
    reviews: ReviewService  # owner access reviews: their cards, timers and removals

    def job_bodies(self) -> dict[JobName, JobBody]:
        return {
            JobName.DELIVER_CARDS: self.approvals.deliver_cards,
            JobName.EXECUTE: self.approvals.execute,
            JobName.UPDATE_CARDS: self.approvals.update_cards,
            JobName.REMIND: self.approvals.lifecycle.remind,
            JobName.ESCALATE: self.approvals.lifecycle.escalate,
            JobName.EXPIRE: self.approvals.lifecycle.expire,
            JobName.GRANT_PROMPT: self.grants.prompt,
            JobName.GRANT_END: self.grants.end,
            JobName.REVIEW_CARDS: self.reviews.deliver_cards,
            JobName.REVIEW_UPDATE: self.reviews.update_cards,
            JobName.REVIEW_REMIND: self.reviews.remind,
            JobName.REVIEW_ESCALATE: self.reviews.escalate,
            JobName.REVIEW_REMOVE: self.reviews.remove,
            JobName.REVIEW_CLOSE: self.reviews.close,
        }

    async def sweep(self) -> int:
        """The per-minute sweep: requests' lost jobs, then time-limited memberships past their
        end whose end job was lost."""
        return (
            await self.approvals.resume_stalled()
            + await self.grants.resume_overdue()
            + await self.reviews.resume_stalled()
        )

    async def correlation_of(self, request_id: str) -> str:
        """The correlation id a request was asked under, for its jobs' log lines. A grant's
        jobs ("<grant id>.<term>...") log under the join that made the grant."""
        return (await self.approvals.get(request_id.partition(".")[0])).correlation_id

    async def sync_lists(self) -> int:
        """Every list from Exchange into the snapshot; this and every other replica load it
        through follow_index (the periodic sync, and `dlbot sync`)."""
        return await sync_lists(self.directory, self.snapshots)

    async def sync_people(self) -> int:
        return await refresh_people(self.directory, self.people_snapshots)

    def worker(self, *, concurrency: int = 10) -> Worker[Any]:
        def bodies(ctx: dict[str, Any]) -> dict[JobName, JobBody]:
            return self.job_bodies()

        worker: Worker[Any] = Worker(
            self.queue,
            job_functions(bodies, self.correlation_of),
            # A bot or worker that dies between storing a request and queueing its job leaves
            # the request with no job; this sweep, in every worker and run by one each minute
            # (saq keys the cron job), queues the lost job again (see resume_stalled).
            # The directory syncs, keyed the same way: one run per schedule across workers.
            cron_jobs=[
                sweep_job(self.sweep),
                *sync_jobs(
                    lists_hours=self.settings.sync_lists_hours,
                    people_hours=self.settings.sync_people_hours,
                    sync_lists=self.sync_lists,
                    sync_people=self.sync_people,
                ),
                # Audit retention, daily when DLBOT_AUDIT_RETENTION_DAYS is set (none otherwise).
                *retention_jobs(self.settings, self.edge.redis),
                # Access reviews, daily unless DLBOT_REVIEW_EVERY_DAYS is 0.
                *review_jobs(
                    every_days=self.settings.review_every_days,
                    start_due=self.reviews.start_due,
                ),
            ],
            concurrency=concurrency,
        )
        # saq's start() takes over SIGINT/SIGTERM, which would leave the rest of the process
        # (web server, sandbox, Playgrounds) running after Ctrl-C; run.until_stopped owns them.
        worker.SIGNALS = []
        return worker


async def _fallback_approvers(
    client: ExchangeClient, addresses: tuple[str, ...]
) -> tuple[Approver, ...]:
    approvers = []
    for address in addresses:
        try:
            recipient = await client.get_recipient(address)
        except ExchangeError as exc:
            log.error("fallback approver %s cannot be resolved and is left out: %s", address, exc)
            continue
        approvers.append(
            Approver(
                object_id=recipient.external_directory_object_id,
                display_name=recipient.display_name,
                address=recipient.primary_smtp_address,
                via="fallback",
            )
        )
    if not approvers:
        log.warning("no fallback approvers: requests for ownerless lists will wait for none")
    return tuple(approvers)


async def _load_index(dlbot: Dlbot) -> None:
    cursor = await restore_index(dlbot.snapshots, dlbot.index)
    if cursor is None:
        # The first process to start on an empty Redis reads every list from Exchange once;
        # everyone after it loads the snapshot it leaves.
        count = await refresh_index(dlbot.directory, dlbot.snapshots, dlbot.index)
        log.info("directory index built from Exchange: %d lists", count)
    else:
        log.info("directory index loaded from Redis: %d lists", len(dlbot.index))
    if await dlbot.people_snapshots.count() is None:
        # Likewise for people: without a snapshot every message and card click would ask
        # Exchange who is writing until the first scheduled people sync.
        people = await dlbot.sync_people()
        log.info("people snapshot built from Exchange: %d people", people)


async def _follow(dlbot: Dlbot) -> None:
    cursor = None
    while True:
        await asyncio.sleep(INDEX_FOLLOW_SECONDS)
        try:
            cursor = await follow_index(dlbot.snapshots, dlbot.index, cursor)
        except Exception:  # noqa: BLE001 - a failed refresh must not end the loop
            log.exception("following the directory index failed; retrying")


@contextlib.asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[Dlbot]:
    edge = build_services(settings)
    exchange = ExchangeClient(settings.exchange(), observer=edge.metrics.exchange)
    queue = Queue.from_url(settings.redis_url, name=QUEUE_NAME)
    store = RedisRequestStore(edge.redis)
    # Requests by state, times to decision and execution, queue depth: kept in Redis, so every
    # replica's /metrics shows the same (bot/metrics.py).
    workflow = WorkflowMetrics(edge.redis, store, queue)
    edge.metrics.collectors["workflow"] = workflow.render
    follower: asyncio.Task[None] | None = None
    try:
        owners = OwnerApprovers(
            ExchangeOwnerDirectory(exchange),
            await _fallback_approvers(exchange, settings.fallback_approver_addresses()),
        )
        index = ListIndex()
        snapshots = ListSnapshotStore(edge.redis)
        creation = settings.creation_policy()
        creation_directory = ExchangeCreationDirectory(exchange)
        approvals = ApprovalService(
            store=store,
            approvers=owners,
            notifier=TeamsNotifier(
                edge.messenger,
                teams_users=edge.references,
                admin_object_ids=settings.admin_alert_object_ids(),
            ),
            jobs=SaqJobQueue(queue),
            writer=ExchangeMembershipWriter(exchange),
            audit=RecordingAudit(RedisStreamAudit(edge.redis), workflow),
            timings=settings.pending_timings(),
            creation_approvers=CreationApprovers(
                ExchangeCreatorDirectory(exchange),
                mode=CreationApproverMode(creation.approvers.value),
                approver_identities=creation.approver_addresses,
                fallback=owners.fallback_approvers().approvers,
            ),
            # A list made is indexed here at once, and by every other replica within seconds.
            new_lists=NewListIndexer(creation_directory, snapshots, index, creation),
            membership_rules=settings.membership_rules(),
            # Shared by every bot and worker: the sweep redraws cards a dead process left stale.
            redraws=RedisRedrawLedger(edge.redis),
        )
        # Time-limited memberships (README "Time-boxed membership"): attaches itself to the
        # approvals, which tell it of every membership change made or refused.
        grants = GrantService(
            store=RedisGrantStore(edge.redis),
            approvals=approvals,
            jobs=SaqJobQueue(queue),
            notifier=TeamsGrantNotifier(edge.messenger),
            audit=RecordingAudit(RedisStreamAudit(edge.redis), workflow),
            rules=settings.membership_rules(),
        )
        # Owner access reviews (README "Access reviews"): attach themselves to the approvals
        # too, to learn whom the bot adds to each list.
        reviews = ReviewService(
            store=RedisReviewStore(edge.redis),
            approvals=approvals,
            approvers=owners,
            jobs=SaqJobQueue(queue),
            # The admins hear of a review closed unanswered, beside the fallback approvers.
            notifier=TeamsReviewNotifier(
                edge.messenger, admin_object_ids=settings.admin_alert_object_ids()
            ),
            audit=RecordingAudit(RedisStreamAudit(edge.redis), workflow),
            facts=ExchangeReviewFacts(exchange),
            policy=settings.review_policy(),
        )
        directory = ExchangeListDirectory(exchange)
        people_snapshots = PersonSnapshotStore(edge.redis)
        people = CachedPersonDirectory(people_snapshots, directory)
        join = JoinList(directory, approvals, owners, settings.policy())
        bot = DlBot(
            conversation_state=ConversationState(edge.storage),
            join_dialog=JoinDialog(JoinDialogServices(join=join, index=index)),
            # Who is writing, from the people snapshot: no Exchange call per turn or card
            # click once synced; someone newer than the last sync is read live.
            people=people,
            approvals=approvals,
            leave_dialog=LeaveDialog(
                LeaveDialogServices(leave=LeaveList(directory, approvals, owners), index=index)
            ),
            create_dialog=CreateDialog(
                CreateDialogServices(
                    create=CreateList(creation_directory, index, approvals, creation)
                )
            ),
            renewals=RenewMembership(directory, owners, grants),
            grants=grants,
            reviews=reviews,
        )
        dlbot = Dlbot(
            settings=settings,
            edge=edge,
            exchange=exchange,
            queue=queue,
            directory=directory,
            index=index,
            snapshots=snapshots,
            people_snapshots=people_snapshots,
            people=people,
            approvals=approvals,
            join=join,
            bot=bot,
            grants=grants,
            reviews=reviews,
        )

        async def exchange_answers() -> None:
            # A token alone would pass while Exchange is down (it is cached for an hour), so
            # the smallest real call: the token, Exchange, and the app's role all answer.
            await exchange.get_accepted_domains()

        # Probes come every few seconds from every replica; one call per half minute will do.
        edge.readiness_checks["exchange"] = passing_for(exchange_answers, seconds=30.0)
        await _load_index(dlbot)
        follower = asyncio.create_task(_follow(dlbot), name="dlbot-index-follow")
        yield dlbot
    finally:
        if follower is not None:
            follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await follower
        await queue.disconnect()
        await exchange.aclose()
