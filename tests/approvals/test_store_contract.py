"""The RequestStore contract, run against every backend: in memory, and a real redis-server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import redis.asyncio as redis

from approvals import state
from approvals.errors import ConcurrentUpdate, RequestNotFound
from approvals.models import (
    ApprovalRequest,
    CardRef,
    ListRef,
    Person,
    RequestKind,
    RequestStatus,
)
from approvals.redis_store import RedisRequestStore
from approvals.store import InMemoryRequestStore, RequestStore
from tests.approvals import demo

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[RequestStore]:
    if request.param == "memory":
        yield InMemoryRequestStore()
        return
    client = redis.Redis.from_url(request.getfixturevalue("redis_url"))
    try:
        yield RedisRequestStore(client)
    finally:
        await client.aclose()


def ask(
    requester: Person = demo.ALEX,
    group: ListRef = demo.FINANCE_EMEA,
    kind: RequestKind = RequestKind.JOIN,
    at: datetime = T0,
) -> ApprovalRequest:
    return state.new_request(
        kind=kind,
        requester=requester,
        group=group,
        now=at,
        approvers=(demo.approver(demo.MEGAN), demo.approver(demo.LEE)),
    )


def deny(request: ApprovalRequest) -> ApprovalRequest:
    return state.decide(
        request,
        actor=demo.MEGAN,
        approve=False,
        approver_ids={demo.MEGAN.object_id},
        now=request.created_at,
    )


async def test_a_created_request_can_be_read_back_by_id(store: RequestStore) -> None:
    request = ask()
    stored, created = await store.create(request)
    assert created and stored == request
    assert await store.get(request.id) == request


async def test_every_field_survives_the_round_trip(store: RequestStore) -> None:
    request = ask(requester=demo.person("a1", "Zoë 🎉 O'Brien", "zoe@contoso.com"))
    await store.create(request)
    card = CardRef(approver_id=demo.MEGAN.object_id, conversation_id="a:1", activity_id="1|2")
    richer = state.decide(
        state.add_card(request, card, now=T0 + timedelta(seconds=1)),
        actor=demo.MEGAN,
        approve=True,
        approver_ids={demo.MEGAN.object_id},
        now=T0 + timedelta(seconds=2),
        reason="bienvenue « Zoë »",
    )
    richer = state.complete(richer, outcome="added", exchange_request_id="x-1", now=T0)

    await store.replace(richer, 0)

    assert await store.get(request.id) == richer


async def test_an_unknown_or_malformed_id_reads_as_none(store: RequestStore) -> None:
    assert await store.get("AAAAAAAAAAAAAAAA") is None
    assert await store.get("no such {id}") is None


async def test_a_second_open_request_for_the_same_list_returns_the_first(
    store: RequestStore,
) -> None:
    first, _ = await store.create(ask())
    second = ask(at=T0 + timedelta(minutes=5))

    stored, created = await store.create(second)

    assert not created and stored == first
    assert await store.get(second.id) is None
    assert [r.id for r in await store.requests_of(demo.ALEX.object_id)] == [first.id]


async def test_an_approved_request_still_counts_as_open(store: RequestStore) -> None:
    first, _ = await store.create(ask())
    approved = state.decide(
        first, actor=demo.LEE, approve=True, approver_ids={demo.LEE.object_id}, now=T0
    )
    await store.replace(approved, 0)

    stored, created = await store.create(ask())

    assert not created and stored == approved


@pytest.mark.parametrize(
    "other",
    [
        ask(requester=demo.JOHN),
        ask(group=demo.SALES_TEAM),
        ask(kind=RequestKind.LEAVE),
    ],
    ids=["another person", "another list", "another kind"],
)
async def test_open_requests_of_another_person_list_or_kind_are_separate(
    store: RequestStore, other: ApprovalRequest
) -> None:
    await store.create(ask())
    assert (await store.create(other))[1]


async def test_once_the_open_request_is_final_a_new_one_can_be_made(store: RequestStore) -> None:
    first, _ = await store.create(ask())
    await store.replace(deny(first), 0)

    second, created = await store.create(ask())

    assert created and second.id != first.id
    assert (
        await store.open_request(demo.ALEX.object_id, demo.FINANCE_EMEA.object_id, RequestKind.JOIN)
        == second
    )


async def test_open_request_finds_the_open_one_and_forgets_it_once_final(
    store: RequestStore,
) -> None:
    finding = (demo.ALEX.object_id, demo.FINANCE_EMEA.object_id, RequestKind.JOIN)
    assert await store.open_request(*finding) is None
    first, _ = await store.create(ask())
    assert await store.open_request(*finding) == first

    await store.replace(deny(first), 0)

    assert await store.open_request(*finding) is None
    assert (
        await store.open_request(
            demo.ALEX.object_id, demo.FINANCE_EMEA.object_id, RequestKind.LEAVE
        )
        is None
    )


async def test_replace_stores_the_next_version(store: RequestStore) -> None:
    first, _ = await store.create(ask())
    denied = deny(first)
    assert await store.replace(denied, 0) == denied
    assert await store.get(first.id) == denied


async def test_replace_from_a_stale_version_is_refused_and_changes_nothing(
    store: RequestStore,
) -> None:
    first, _ = await store.create(ask())
    await store.replace(state.add_card(first, _card("a"), now=T0), 0)

    with pytest.raises(ConcurrentUpdate):
        await store.replace(deny(first), 0)

    stored = await store.get(first.id)
    assert stored is not None and stored.status is RequestStatus.PENDING and stored.version == 1


async def test_replace_of_a_request_never_created_is_not_found(store: RequestStore) -> None:
    with pytest.raises(RequestNotFound):
        await store.replace(deny(ask()), 0)


async def test_of_fifty_concurrent_replaces_from_one_version_exactly_one_wins(
    store: RequestStore,
) -> None:
    first, _ = await store.create(ask())
    attempts = [state.add_card(first, _card(str(n)), now=T0) for n in range(50)]

    results = await asyncio.gather(*(store.replace(a, 0) for a in attempts), return_exceptions=True)

    winners = [r for r in results if isinstance(r, ApprovalRequest)]
    assert len(winners) == 1
    assert all(isinstance(r, ConcurrentUpdate) for r in results if r not in winners)
    assert await store.get(first.id) == winners[0]


async def test_twenty_concurrent_asks_for_one_list_make_one_request(store: RequestStore) -> None:
    asks = [ask(at=T0 + timedelta(seconds=n)) for n in range(20)]

    results = await asyncio.gather(*(store.create(a) for a in asks))

    assert sum(created for _, created in results) == 1
    assert len({stored.id for stored, _ in results}) == 1
    assert len(await store.requests_of(demo.ALEX.object_id)) == 1


async def test_requests_of_lists_newest_first_up_to_the_limit(store: RequestStore) -> None:
    made = []
    for n, group in enumerate([demo.FINANCE_EMEA, demo.SALES_TEAM, demo.PROJECT_ATLAS]):
        request, _ = await store.create(ask(group=group, at=T0 + timedelta(minutes=n)))
        made.append(request.id)
    await store.create(ask(requester=demo.JOHN))

    assert [r.id for r in await store.requests_of(demo.ALEX.object_id)] == made[::-1]
    assert [r.id for r in await store.requests_of(demo.ALEX.object_id, limit=2)] == made[:0:-1]
    assert await store.requests_of(demo.ALEX.object_id, limit=0) == []
    assert await store.requests_of(demo.PATTI.object_id) == []


async def test_requests_of_keeps_final_requests_as_they_are_now(store: RequestStore) -> None:
    first, _ = await store.create(ask())
    denied = await store.replace(deny(first), 0)
    assert await store.requests_of(demo.ALEX.object_id) == [denied]


async def test_a_request_that_is_not_open_cannot_be_created(store: RequestStore) -> None:
    with pytest.raises(ValueError):
        await store.create(ask().model_copy(update={"status": RequestStatus.DENIED}))


# Open requests, for the sweep of lost jobs ----------------------------------------------------


async def test_open_requests_lists_those_unchanged_since_the_cutoff_oldest_first(
    store: RequestStore,
) -> None:
    made = [
        (await store.create(ask(group=group, at=T0 + timedelta(minutes=n))))[0]
        for n, group in enumerate([demo.FINANCE_EMEA, demo.SALES_TEAM, demo.PROJECT_ATLAS])
    ]

    listed = await store.open_requests(T0 + timedelta(minutes=2), limit=10)

    assert listed == made[:2]


async def test_open_requests_returns_at_most_the_limit(store: RequestStore) -> None:
    for n, group in enumerate([demo.FINANCE_EMEA, demo.SALES_TEAM, demo.PROJECT_ATLAS]):
        await store.create(ask(group=group, at=T0 + timedelta(minutes=n)))
    later = T0 + timedelta(hours=1)

    assert [r.group for r in await store.open_requests(later, limit=2)] == [
        demo.FINANCE_EMEA,
        demo.SALES_TEAM,
    ]
    assert await store.open_requests(later, limit=0) == []


async def test_open_requests_orders_requests_changed_at_the_same_instant_by_id(
    store: RequestStore,
) -> None:
    for group in [demo.FINANCE_EMEA, demo.SALES_TEAM, demo.PROJECT_ATLAS]:
        await store.create(ask(group=group))

    listed = await store.open_requests(T0 + timedelta(seconds=1), limit=10)

    assert [r.id for r in listed] == sorted(r.id for r in listed) and len(listed) == 3


async def test_open_requests_lists_a_request_as_it_is_now_and_by_its_last_change(
    store: RequestStore,
) -> None:
    first, _ = await store.create(ask())
    approved = await store.replace(
        state.decide(
            first,
            actor=demo.LEE,
            approve=True,
            approver_ids={demo.LEE.object_id},
            now=T0 + timedelta(minutes=5),
        ),
        0,
    )

    assert await store.open_requests(T0 + timedelta(minutes=1), limit=10) == []
    assert await store.open_requests(T0 + timedelta(minutes=6), limit=10) == [approved]


async def test_a_final_request_is_no_longer_an_open_one(store: RequestStore) -> None:
    first, _ = await store.create(ask())
    await store.replace(deny(first), 0)
    assert await store.open_requests(T0 + timedelta(hours=1), limit=10) == []


async def test_losers_of_concurrent_asks_are_not_listed_as_open(store: RequestStore) -> None:
    results = await asyncio.gather(*(store.create(ask()) for _ in range(20)))

    [(winner, _)] = [result for result in results if result[1]]
    assert await store.open_requests(T0 + timedelta(seconds=1), limit=50) == [winner]


async def test_a_request_set_aside_is_left_out_until_it_changes(store: RequestStore) -> None:
    first, _ = await store.create(ask())
    other, _ = await store.create(ask(group=demo.SALES_TEAM))
    later = T0 + timedelta(hours=1)

    await store.set_aside(first.id, first.version)

    assert await store.open_requests(later, limit=10) == [other]
    carded = await store.replace(
        state.add_card(first, _card("a"), now=T0 + timedelta(minutes=1)), 0
    )
    assert await store.open_requests(later, limit=10) == [other, carded]


async def test_setting_aside_a_version_the_request_is_past_leaves_it_listed(
    store: RequestStore,
) -> None:
    first, _ = await store.create(ask())
    carded = await store.replace(state.add_card(first, _card("a"), now=T0), 0)

    await store.set_aside(first.id, 0)

    assert await store.open_requests(T0 + timedelta(hours=1), limit=10) == [carded]


async def test_setting_aside_a_final_or_unknown_request_changes_nothing(
    store: RequestStore,
) -> None:
    first, _ = await store.create(ask())
    denied = await store.replace(deny(first), 0)

    await store.set_aside(first.id, denied.version)
    await store.set_aside("NoSuchRequest000", 0)

    assert await store.get(first.id) == denied
    assert await store.open_requests(T0 + timedelta(hours=1), limit=10) == []


def _card(activity: str) -> CardRef:
    return CardRef(approver_id=demo.MEGAN.object_id, conversation_id="c", activity_id=activity)


# Everyone's requests, for admins (`dlbot requests list`) ----------------------------------------


async def test_recent_lists_every_requesters_requests_newest_first(store: RequestStore) -> None:
    oldest, _ = await store.create(ask(demo.ALEX, at=T0))
    middle, _ = await store.create(ask(demo.GRADY, at=T0 + timedelta(minutes=1)))
    newest, _ = await store.create(ask(demo.ALEX, demo.PROJECT_ATLAS, at=T0 + timedelta(hours=1)))

    listed = await store.recent(10)

    assert [r.id for r in listed] == [newest.id, middle.id, oldest.id]


async def test_recent_keeps_final_requests_and_can_filter_by_status(store: RequestStore) -> None:
    denied, _ = await store.create(ask(demo.ALEX, at=T0))
    await store.replace(deny(denied), 0)
    waiting, _ = await store.create(ask(demo.GRADY, at=T0 + timedelta(minutes=1)))

    everything = await store.recent(10)
    only_open = await store.recent(10, {RequestStatus.PENDING, RequestStatus.APPROVED})

    assert [(r.id, r.status) for r in everything] == [
        (waiting.id, RequestStatus.PENDING),
        (denied.id, RequestStatus.DENIED),
    ]
    assert [r.id for r in only_open] == [waiting.id]


async def test_recent_stops_at_the_limit(store: RequestStore) -> None:
    created = [
        (await store.create(ask(demo.person(f"p{i}", f"P{i}", ""), at=T0 + timedelta(seconds=i))))[
            0
        ]
        for i in range(5)
    ]

    assert [r.id for r in await store.recent(2)] == [created[4].id, created[3].id]
    assert await store.recent(0) == []


async def test_recent_leaves_out_a_second_ask_that_returned_the_first(
    store: RequestStore,
) -> None:
    first, _ = await store.create(ask())
    await store.create(ask(at=T0 + timedelta(minutes=5)))

    assert [r.id for r in await store.recent(10)] == [first.id]


async def test_recent_pages_through_more_requests_than_one_read(store: RequestStore) -> None:
    # 130 > the Redis store's page of 100 ids; the filter keeps every 10th, so the store must
    # read past its first page to fill the limit.
    made = []
    for i in range(130):
        request, _ = await store.create(
            ask(demo.person(f"p{i}", f"P{i}", ""), at=T0 + timedelta(seconds=i))
        )
        if i % 10 == 0:
            request = deny(request)
            await store.replace(request, 0)
        made.append(request)

    denied = await store.recent(20, {RequestStatus.DENIED})

    assert [r.id for r in denied] == [
        r.id for r in reversed(made) if r.status is RequestStatus.DENIED
    ]
