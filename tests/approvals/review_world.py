"""The approval workflow with owner access reviews on in-memory fakes: the clock moves, due jobs
run (the reviews' too), and every review card posted or redrawn is recorded."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from approvals.models import Approver, CardRef, ListRef, Person, RequestKind
from approvals.ports import ApproverSet, JobName
from approvals.review_service import ListFacts, ReviewPolicy, ReviewService
from approvals.review_store import InMemoryReviewStore, ReviewStore
from approvals.reviews import Review
from approvals.service import ApprovalService
from approvals.testing import InMemoryJobQueue, StaticApprovers
from exchange.errors import ObjectNotFound
from tests.approvals import demo
from tests.approvals.conftest import Harness


@dataclass
class ReviewCards:
    """ReviewNotifier that records each card: (reviewer, review as posted, reminder), each
    redraw, and who was told of each review closed unanswered."""

    unreachable: set[str] = field(default_factory=set)
    posted: list[tuple[str, Review, bool]] = field(default_factory=list)
    redrawn: list[tuple[CardRef, Review]] = field(default_factory=list)
    closed: list[tuple[Review, tuple[str, ...]]] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    async def send_review(
        self, reviewer: Approver, review: Review, *, reminder: bool = False
    ) -> CardRef | None:
        if reviewer.object_id in self.unreachable:
            return None
        self.posted.append((reviewer.object_id, review, reminder))
        return CardRef(
            approver_id=reviewer.object_id,
            conversation_id=f"conversation-{reviewer.object_id}",
            activity_id=f"review-{next(self._ids)}",
            reminder=reminder,
        )

    async def update_review(self, card: CardRef, review: Review) -> None:
        self.redrawn.append((card, review))

    async def review_closed(self, review: Review, tell: tuple[Approver, ...]) -> None:
        self.closed.append((review, tuple(a.object_id for a in tell)))

    def last_drawn(self) -> dict[str, Review]:
        """Each posted card's latest redraw, by card (conversation, activity) id."""
        return {f"{c.conversation_id}/{c.activity_id}": r for c, r in self.redrawn}

    def to(self) -> list[tuple[str, bool]]:
        """(reviewer, reminder) of every card posted, in order."""
        return [(who, reminder) for who, _, reminder in self.posted]


@dataclass
class ListFactsFake:
    """ReviewListFacts from dicts: dir-synced lists, and every direct member per list."""

    dir_synced: set[str] = field(default_factory=set)
    members: dict[str, list[Person]] = field(default_factory=dict)

    async def list_facts(self, group: ListRef) -> ListFacts:
        return ListFacts(dir_synced=group.object_id in self.dir_synced, depart_restriction="Closed")

    async def direct_members(self, group: ListRef) -> list[Person]:
        return list(self.members.get(group.object_id, []))


@dataclass
class DeletedLists(StaticApprovers):
    """Exchange as it answers for a list deleted meanwhile: Get-DistributionGroup finds none."""

    deleted: set[str] = field(default_factory=set)

    async def current_approvers(self, group: ListRef) -> ApproverSet:
        if group.object_id in self.deleted:
            raise ObjectNotFound(
                f"The operation couldn't be performed because object '{group.address}' "
                "couldn't be found.",
                cmdlet="Get-DistributionGroup",
                status=404,
                exception_type="ManagementObjectNotFoundException",
            )
        return await super().current_approvers(group)


@dataclass
class ReviewWorld(Harness):
    policy: ReviewPolicy = field(default_factory=ReviewPolicy)
    review_store: ReviewStore = field(default_factory=InMemoryReviewStore)
    cards: ReviewCards = field(default_factory=ReviewCards)
    facts: ListFactsFake = field(default_factory=ListFactsFake)

    def __post_init__(self) -> None:
        self.jobs = InMemoryJobQueue(clock=self.clock)
        self._service = ApprovalService(
            store=self.store,
            approvers=self.approvers,
            notifier=self.notifier,
            jobs=self.jobs,
            writer=self.writer,
            audit=self.audit,
            clock=self.clock,
        )
        self.reviews = ReviewService(
            store=self.review_store,
            approvals=self._service,
            approvers=self.approvers,
            jobs=self.jobs,
            notifier=self.cards,
            audit=self.audit,
            facts=self.facts,
            policy=self.policy,
            clock=self.clock,
        )

    @property
    def service(self) -> ApprovalService:
        return self._service

    async def run_jobs(self) -> None:
        await self.jobs.run_all(
            self._service,
            more={
                JobName.REVIEW_CARDS: self.reviews.deliver_cards,
                JobName.REVIEW_UPDATE: self.reviews.update_cards,
                JobName.REVIEW_REMIND: self.reviews.remind,
                JobName.REVIEW_ESCALATE: self.reviews.escalate,
                JobName.REVIEW_REMOVE: self.reviews.remove,
                JobName.REVIEW_CLOSE: self.reviews.close,
            },
        )

    async def after(self, **delta: float) -> None:
        self.clock.advance(**delta)
        await self.run_jobs()

    def lists_can_be_deleted(self) -> DeletedLists:
        """From now on the review service reads owners as Exchange answers them, including for
        lists deleted meanwhile (add their ids to the returned `deleted`)."""
        approvers = DeletedLists(owners=self.approvers.owners, fallback=self.approvers.fallback)
        self.approvers = approvers
        self.reviews._approvers = approvers  # noqa: SLF001 - the source the world's service reads
        return approvers

    async def added(self, *people: Person, group: ListRef = demo.FINANCE_EMEA) -> None:
        """Each person joins the list through the bot (open list: added at once)."""
        for person in people:
            await self._service.submit(
                kind=RequestKind.JOIN, requester=person, group=group, auto_approved="open list"
            )
        await self.run_jobs()

    def members(self, group: ListRef = demo.FINANCE_EMEA) -> set[str]:
        return self.writer.members.get(group.object_id, set())
