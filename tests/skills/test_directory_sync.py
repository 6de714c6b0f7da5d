"""The directory sync: lists streamed into their snapshot, people into theirs, and `person()`
answered from Redis with Exchange only on a miss. Real Redis, real sandbox tenant."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from approvals.models import Person
from skills.exchange_directory import ExchangeListDirectory
from skills.find_dl import ListIndex
from skills.index_store import (
    CHUNK_SIZE,
    CHUNKS_PER_ROUND_TRIP,
    ListSnapshotStore,
    follow_index,
    restore_index,
    sync_lists,
)
from skills.memory_directory import InMemoryListDirectory
from skills.people_store import (
    POINTER_FRESH_SECONDS,
    CachedPersonDirectory,
    PersonRecord,
    PersonSnapshotStore,
    refresh_people,
)
from skills.people_store import (
    PREFIX as PEOPLE_PREFIX,
)
from skills.ports import DirectoryList
from tests.skills.conftest import CallCounter
from tests.skills.factories import ALEX, MEGAN, demo_lists, make_list

JONI = "371ecd7b-27cd-4130-8722-9389571aa876"  # account disabled
SHARED_MAILBOX = "759cde66-bacf-43d0-8b1f-9163ce9ff57f"
SERVICE_ACCOUNT = "e2acf72f-9e57-4f7a-a0ee-89aed453dd32"  # a User without a mailbox


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
def lists_store(redis: Redis) -> ListSnapshotStore:
    return ListSnapshotStore(redis)


@pytest.fixture
def people_store(redis: Redis) -> PersonSnapshotStore:
    return PersonSnapshotStore(redis)


def by_id(lists: list[DirectoryList]) -> dict[str, DirectoryList]:
    return {item.object_id: item for item in lists}


class People:
    """A people source made to order, one page per list given."""

    def __init__(self, *pages: list[PersonRecord], fail_after: int | None = None) -> None:
        self._pages = pages
        self._fail_after = fail_after

    async def all_people(self) -> AsyncIterator[list[PersonRecord]]:
        for number, page in enumerate(self._pages):
            if number == self._fail_after:
                raise RuntimeError("Exchange went away")
            yield page


def record(object_id: str, name: str) -> PersonRecord:
    return PersonRecord(object_id=object_id, display_name=name, recipient_type="UserMailbox")


# Lists -----------------------------------------------------------------------------------------


async def test_a_list_sync_from_exchange_fills_the_snapshot_a_replica_then_loads(
    lists_store: ListSnapshotStore, directory: ExchangeListDirectory
) -> None:
    count = await sync_lists(directory, lists_store)

    index = ListIndex()
    assert await restore_index(lists_store, index) is not None
    assert count == len(demo_lists()) == len(index)
    assert index.search("finance emea")[0].list.name == "finance-emea"


async def test_a_list_sync_reports_each_page_as_it_is_read(
    lists_store: ListSnapshotStore,
) -> None:
    pages: list[int] = []

    await sync_lists(
        InMemoryListDirectory(demo_lists(), page_size=4), lists_store, progress=pages.append
    )

    assert sum(pages) == len(demo_lists()) and max(pages) == 4


async def test_a_streamed_snapshot_larger_than_one_round_trip_loads_back_whole(
    lists_store: ListSnapshotStore, redis: Redis
) -> None:
    lists = [make_list(f"list-{n}") for n in range(CHUNK_SIZE * CHUNKS_PER_ROUND_TRIP + 7)]

    count = await sync_lists(InMemoryListDirectory(lists, page_size=1000), lists_store)

    assert count == len(lists)
    assert by_id(await lists_store.load()) == by_id(lists)


async def test_a_list_sync_that_fails_midway_leaves_the_old_snapshot_in_place(
    lists_store: ListSnapshotStore,
) -> None:
    await lists_store.save([make_list("kept")])

    class Failing(InMemoryListDirectory):
        async def all_lists(self) -> AsyncIterator[list[DirectoryList]]:
            yield [make_list(f"partial-{n}") for n in range(CHUNK_SIZE * CHUNKS_PER_ROUND_TRIP)]
            raise RuntimeError("Exchange went away")

    with pytest.raises(RuntimeError):
        await sync_lists(Failing([]), lists_store)

    assert [item.name for item in await lists_store.load()] == ["kept"]


async def test_a_replica_following_the_store_picks_up_a_new_list_sync(
    lists_store: ListSnapshotStore,
) -> None:
    index = ListIndex()
    await lists_store.save([make_list("old")])
    cursor = await restore_index(lists_store, index)

    await sync_lists(InMemoryListDirectory([make_list("new")]), lists_store)
    await follow_index(lists_store, index, cursor)

    assert [m.list.name for m in index.search("new")] == ["new"]
    assert index.search("old") == []


async def test_a_list_created_during_a_sync_survives_it(
    lists_store: ListSnapshotStore,
) -> None:
    class CreatesWhileRead(InMemoryListDirectory):
        async def all_lists(self) -> AsyncIterator[list[DirectoryList]]:
            await lists_store.upsert(make_list("made-by-the-bot"))
            yield [make_list("from-exchange")]

    await sync_lists(CreatesWhileRead([]), lists_store)

    assert {item.name for item in await lists_store.load()} == {"made-by-the-bot", "from-exchange"}


# People ----------------------------------------------------------------------------------------


async def test_a_people_sync_stores_every_user_of_the_tenant_with_its_facts(
    people_store: PersonSnapshotStore, directory: ExchangeListDirectory
) -> None:
    count = await refresh_people(directory, people_store)

    alex = await people_store.get(ALEX)
    assert count == await people_store.count() and count > 5000
    assert alex is not None
    assert (alex.display_name, alex.address, alex.recipient_type, alex.disabled) == (
        "Alex Wilber",
        "alexw@contoso.com",
        "UserMailbox",
        False,
    )
    assert alex.upn.endswith("@contoso.com") and "nestor" in alex.manager.casefold()
    joni = await people_store.get(JONI)
    assert joni is not None and joni.disabled


async def test_a_people_sync_writes_page_by_page(
    people_store: PersonSnapshotStore, directory: ExchangeListDirectory
) -> None:
    pages: list[int] = []

    await refresh_people(directory, people_store, progress=pages.append)

    assert len(pages) > 1 and max(pages) <= 1000


async def test_a_new_people_sync_replaces_the_old_one_whole(
    people_store: PersonSnapshotStore, redis: Redis
) -> None:
    await refresh_people(People([record(ALEX, "Alex")]), people_store)
    old_versions = await redis.keys(f"{PEOPLE_PREFIX}:v:*")

    await refresh_people(People([record(MEGAN, "Megan")]), people_store)

    assert await people_store.get(ALEX) is None
    assert await people_store.get(MEGAN) == record(MEGAN, "Megan")
    (old,) = old_versions
    assert 0 < await redis.ttl(old) <= 600  # replicas reading it finish, then it goes


async def test_a_person_lookup_reads_the_pointer_once_while_it_is_fresh(redis: Redis) -> None:
    await refresh_people(People([record(ALEX, "Alex")]), PersonSnapshotStore(redis))
    # Another process (it never saw the pointer), its clock standing still: always fresh.
    replica = PersonSnapshotStore(redis, clock=lambda: 100.0)
    await redis.config_resetstat()

    for _ in range(3):
        assert await replica.get(ALEX) == record(ALEX, "Alex")

    stats = await redis.info("commandstats")
    assert stats["cmdstat_get"]["calls"] == 1
    assert stats["cmdstat_hget"]["calls"] == 3


async def test_a_replica_reads_another_processs_sync_once_its_pointer_is_stale(
    redis: Redis,
) -> None:
    now = [100.0]
    replica = PersonSnapshotStore(redis, clock=lambda: now[0])
    await refresh_people(People([record(ALEX, "Alex")]), PersonSnapshotStore(redis))
    assert await replica.get(ALEX) == record(ALEX, "Alex")

    await refresh_people(People([record(ALEX, "Alex Wilber")]), PersonSnapshotStore(redis))
    now[0] += POINTER_FRESH_SECONDS / 2
    # One sync behind, the replica reads the old version, whole and still there.
    assert await replica.get(ALEX) == record(ALEX, "Alex")
    now[0] += POINTER_FRESH_SECONDS
    assert await replica.get(ALEX) == record(ALEX, "Alex Wilber")


async def test_a_people_sync_that_fails_midway_leaves_the_old_snapshot_in_place(
    people_store: PersonSnapshotStore,
) -> None:
    await refresh_people(People([record(ALEX, "Alex")]), people_store)

    with pytest.raises(RuntimeError):
        await refresh_people(People([record(MEGAN, "Megan")], [], fail_after=1), people_store)

    assert await people_store.get(ALEX) == record(ALEX, "Alex")
    assert await people_store.get(MEGAN) is None


async def test_a_person_is_found_whatever_the_case_of_the_id(
    people_store: PersonSnapshotStore,
) -> None:
    await refresh_people(People([record(ALEX, "Alex")]), people_store)

    assert await people_store.get(ALEX.upper()) == record(ALEX, "Alex")


# person() over the snapshot ----------------------------------------------------------------------


async def test_a_person_lookup_after_a_sync_makes_no_exchange_call(
    people_store: PersonSnapshotStore,
    directory: ExchangeListDirectory,
    exchange_calls: CallCounter,
) -> None:
    await refresh_people(directory, people_store)
    people = CachedPersonDirectory(people_store, directory)
    exchange_calls()

    alex = await people.person(ALEX)

    assert exchange_calls() == 0
    assert alex == await directory.person(ALEX)  # what the live read says, field for field


async def test_a_person_missing_from_the_snapshot_is_read_from_exchange(
    people_store: PersonSnapshotStore,
    directory: ExchangeListDirectory,
    exchange_calls: CallCounter,
) -> None:
    await refresh_people(People([record(MEGAN, "Megan")]), people_store)
    people = CachedPersonDirectory(people_store, directory)
    exchange_calls()

    alex = await people.person(ALEX)

    assert alex == Person(object_id=ALEX, display_name="Alex Wilber", address="alexw@contoso.com")
    assert exchange_calls() == 1


async def test_before_any_people_sync_every_lookup_is_read_from_exchange(
    people_store: PersonSnapshotStore,
    directory: ExchangeListDirectory,
    exchange_calls: CallCounter,
) -> None:
    people = CachedPersonDirectory(people_store, directory)
    exchange_calls()

    assert await people.person(MEGAN) is not None
    assert exchange_calls() == 1


async def test_a_synced_shared_mailbox_is_not_a_person_and_costs_no_exchange_call(
    people_store: PersonSnapshotStore,
    directory: ExchangeListDirectory,
    exchange_calls: CallCounter,
) -> None:
    await refresh_people(directory, people_store)
    people = CachedPersonDirectory(people_store, directory)
    exchange_calls()

    assert await people.person(SHARED_MAILBOX) is None
    assert await directory.person(SHARED_MAILBOX) is None  # the live read agrees
    assert exchange_calls() == 1  # the live read's only


async def test_a_synced_account_without_a_mailbox_is_a_person_without_an_address(
    people_store: PersonSnapshotStore, directory: ExchangeListDirectory
) -> None:
    await refresh_people(directory, people_store)

    found = await CachedPersonDirectory(people_store, directory).person(SERVICE_ACCOUNT)

    assert found == await directory.person(SERVICE_ACCOUNT)
    assert found is not None and found.address == ""


async def test_when_redis_fails_the_lookup_is_read_from_exchange(
    directory: ExchangeListDirectory,
) -> None:
    unreachable = Redis.from_url("redis://127.0.0.1:1/0")
    try:
        people = CachedPersonDirectory(PersonSnapshotStore(unreachable), directory)

        assert await people.person(ALEX) == await directory.person(ALEX)
    finally:
        await unreachable.aclose()
