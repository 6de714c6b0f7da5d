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
from approvals.exchange_adapters import ExchangeMembershipWriter, ExchangeOwnerDirectory
from approvals.models import Approver
from approvals.ports import JobName
from approvals.redis_store import RedisRequestStore
from approvals.service import ApprovalService
from bot.app import EdgeServices, build_services
from bot.dialogs.join_dialog import JoinDialog, JoinDialogServices
from bot.handler import DlBot
from bot.jobs import QUEUE_NAME, JobBody, SaqJobQueue, job_functions, sweep_job, sync_jobs
from bot.notifier import TeamsNotifier
from bot.settings import Settings
from exchange.client import ExchangeClient
from exchange.errors import ExchangeError
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
from skills.people_store import CachedPersonDirectory, PersonSnapshotStore, refresh_people

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

    def job_bodies(self) -> dict[JobName, JobBody]:
        return {
            JobName.DELIVER_CARDS: self.approvals.deliver_cards,
            JobName.EXECUTE: self.approvals.execute,
            JobName.UPDATE_CARDS: self.approvals.update_cards,
        }

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
            job_functions(bodies),
            # A bot or worker that dies between storing a request and queueing its job leaves
            # the request with no job; this sweep, in every worker and run by one each minute
            # (saq keys the cron job), queues the lost job again (see resume_stalled).
            # The directory syncs, keyed the same way: one run per schedule across workers.
            cron_jobs=[
                sweep_job(self.approvals.resume_stalled),
                *sync_jobs(
                    lists_hours=self.settings.sync_lists_hours,
                    people_hours=self.settings.sync_people_hours,
                    sync_lists=self.sync_lists,
                    sync_people=self.sync_people,
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
    exchange = ExchangeClient(settings.exchange())
    queue = Queue.from_url(settings.redis_url, name=QUEUE_NAME)
    follower: asyncio.Task[None] | None = None
    try:
        owners = OwnerApprovers(
            ExchangeOwnerDirectory(exchange),
            await _fallback_approvers(exchange, settings.fallback_approver_addresses()),
        )
        approvals = ApprovalService(
            store=RedisRequestStore(edge.redis),
            approvers=owners,
            notifier=TeamsNotifier(
                edge.messenger,
                teams_users=edge.references,
                admin_object_ids=settings.admin_alert_object_ids(),
            ),
            jobs=SaqJobQueue(queue),
            writer=ExchangeMembershipWriter(exchange),
            audit=RedisStreamAudit(edge.redis),
        )
        directory = ExchangeListDirectory(exchange)
        people_snapshots = PersonSnapshotStore(edge.redis)
        people = CachedPersonDirectory(people_snapshots, directory)
        index = ListIndex()
        join = JoinList(directory, approvals, owners, settings.policy())
        bot = DlBot(
            conversation_state=ConversationState(edge.storage),
            join_dialog=JoinDialog(JoinDialogServices(join=join, index=index)),
            # Who is writing, from the people snapshot: no Exchange call per turn or card
            # click once synced; someone newer than the last sync is read live.
            people=people,
            approvals=approvals,
        )
        dlbot = Dlbot(
            settings=settings,
            edge=edge,
            exchange=exchange,
            queue=queue,
            directory=directory,
            index=index,
            snapshots=ListSnapshotStore(edge.redis),
            people_snapshots=people_snapshots,
            people=people,
            approvals=approvals,
            join=join,
            bot=bot,
        )

        async def exchange_token() -> None:
            # The cached token makes this free while it is valid; when it is not, this is the
            # same fetch the next Exchange call would need, so a failure here is a real one.
            await exchange.tokens.token()

        edge.readiness_checks["exchange"] = exchange_token
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
