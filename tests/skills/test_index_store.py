"""The directory snapshot in a real Redis, and the sync that fills it and the index."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator, Iterator

import pytest
from redis.asyncio import Redis

from skills.exchange_directory import ExchangeListDirectory
from skills.find_dl import ListIndex
from skills.index_store import (
    CHUNK_SIZE,
    PREFIX,
    ListSnapshotStore,
    SnapshotError,
    follow_index,
    refresh_index,
    restore_index,
)
from skills.memory_directory import InMemoryListDirectory
from skills.ports import DirectoryList, ListKind, Restriction
from tests.skills.factories import demo_list, demo_lists, make_list


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
def store(redis: Redis) -> ListSnapshotStore:
    return ListSnapshotStore(redis)


def by_id(lists: list[DirectoryList]) -> dict[str, DirectoryList]:
    return {item.object_id: item for item in lists}


async def test_there_is_nothing_to_load_before_the_first_sync(store: ListSnapshotStore) -> None:
    assert await store.load() == []
    assert await store.load_snapshot() is None


async def test_a_saved_snapshot_loads_back_field_for_field(store: ListSnapshotStore) -> None:
    zurich = dataclasses.replace(
        demo_list("Zürich-Team"),
        owners=("6b65a6a4-8b81-48f6-b38a-088ca65ed389",),
        other_addresses=("zurich-team@contoso.onmicrosoft.com",),
        distinguished_name="CN=Zürich-Team,OU=contoso.onmicrosoft.com",
    )
    lists = [zurich, *demo_lists()[:5], demo_list("exec-assistants")]

    await store.save(lists)

    assert by_id(await store.load()) == by_id(lists)


async def test_a_large_snapshot_is_stored_in_bounded_chunks(
    store: ListSnapshotStore, redis: Redis
) -> None:
    lists = [make_list(f"list-{n}") for n in range(2 * CHUNK_SIZE + 1)]

    cursor = await store.save(lists)

    assert await redis.llen(f"{PREFIX}:v:{cursor.version}") == 3  # type: ignore[misc]
    assert by_id(await store.load()) == by_id(lists)


async def test_a_new_snapshot_replaces_the_old_one_whole(
    store: ListSnapshotStore, redis: Redis
) -> None:
    first = await store.save([make_list("old-a"), make_list("old-b")])

    second = await store.save([make_list("new")])

    assert [item.name for item in await store.load()] == ["new"]
    # The old version lingers for replicas still reading it, then expires; the new one stays.
    assert 0 < await redis.ttl(f"{PREFIX}:v:{first.version}") <= 600
    assert await redis.ttl(f"{PREFIX}:v:{second.version}") == -1


async def test_a_save_that_fails_midway_leaves_the_old_snapshot_in_place(
    store: ListSnapshotStore, redis: Redis
) -> None:
    await store.save([make_list("kept")])

    def broken() -> Iterator[DirectoryList]:
        yield from (make_list(f"partial-{n}") for n in range(CHUNK_SIZE * 30))
        raise RuntimeError("Exchange went away")

    with pytest.raises(RuntimeError):
        await store.save(broken())

    assert [item.name for item in await store.load()] == ["kept"]
    partial = [k for k in await redis.keys(f"{PREFIX}:v:*") if await redis.ttl(k) > 0]
    assert partial  # the half-written version expires by itself


async def test_an_upserted_list_is_part_of_the_snapshot(store: ListSnapshotStore) -> None:
    await store.save(demo_lists())
    created = make_list("q3-launch")
    renamed = dataclasses.replace(demo_list("book-club"), display_name="Readers")

    await store.upsert(created)
    await store.upsert(renamed)

    loaded = by_id(await store.load())
    assert loaded[created.object_id] == created
    assert loaded[renamed.object_id].display_name == "Readers"
    assert len(loaded) == len(demo_lists()) + 1


async def test_a_removed_list_leaves_the_snapshot(store: ListSnapshotStore) -> None:
    await store.save(demo_lists())

    await store.remove(demo_list("book-club").object_id)

    assert demo_list("book-club").object_id not in by_id(await store.load())


async def test_a_change_made_while_a_sync_read_the_directory_survives_the_save(
    store: ListSnapshotStore,
) -> None:
    await store.save([make_list("before")])
    mark = await store.mark()
    created = make_list("created-during-sync")
    await store.upsert(created)  # another replica, while Exchange is being paged

    await store.save([make_list("before"), make_list("synced")], since=mark)

    assert {i.name for i in await store.load()} == {"before", "synced", "created-during-sync"}


async def test_changes_made_before_the_sync_began_are_not_replayed_over_it(
    store: ListSnapshotStore,
) -> None:
    await store.save([make_list("a")])
    await store.upsert(make_list("deleted-in-exchange-since"))

    await store.save([make_list("a")])  # Exchange no longer has it

    assert [i.name for i in await store.load()] == ["a"]


async def test_a_replica_reads_only_what_changed_since_its_cursor(
    store: ListSnapshotStore,
) -> None:
    await store.save(demo_lists())
    snapshot = await store.load_snapshot()
    assert snapshot is not None
    created, gone = make_list("q3-launch"), demo_list("book-club").object_id

    await store.upsert(created)
    await store.remove(gone)
    changes = await store.changes_since(snapshot.cursor)

    assert changes is not None
    assert (changes.upserted, changes.removed) == ([created], [gone])
    later = await store.changes_since(changes.cursor)
    assert later is not None and (later.upserted, later.removed) == ([], [])


async def test_a_replica_behind_a_newer_sync_is_told_to_reload(store: ListSnapshotStore) -> None:
    old = await store.save([make_list("a")])

    await store.save([make_list("b")])

    assert await store.changes_since(old) is None


async def test_a_snapshot_of_another_format_is_refused(
    store: ListSnapshotStore, redis: Redis
) -> None:
    await redis.set(f"{PREFIX}:current", json.dumps({"format": 99, "version": "x"}))

    with pytest.raises(SnapshotError):
        await store.load()


async def test_an_unreadable_list_record_is_refused(store: ListSnapshotStore, redis: Redis) -> None:
    cursor = await store.save([make_list("a")])
    damaged = json.dumps([{"name": "no id"}])
    await redis.rpush(f"{PREFIX}:v:{cursor.version}", damaged)  # type: ignore[misc]

    with pytest.raises(SnapshotError):
        await store.load()


# Filling the index ----------------------------------------------------------------------------


async def test_a_refresh_pages_every_list_into_the_snapshot_and_the_index(
    store: ListSnapshotStore,
) -> None:
    directory = InMemoryListDirectory(demo_lists(), page_size=4)
    index = ListIndex()

    count = await refresh_index(directory, store, index)

    assert count == len(demo_lists()) == len(index)
    assert by_id(await store.load()) == by_id(demo_lists())
    assert index.search("finance emea")[0].list.name == "finance-emea"


async def test_a_refresh_drops_lists_that_are_gone_from_the_directory(
    store: ListSnapshotStore,
) -> None:
    directory = InMemoryListDirectory(demo_lists())
    index = ListIndex()
    await refresh_index(directory, store, index)

    directory.remove_list(demo_list("book-club").object_id)
    await refresh_index(directory, store, index)

    assert index.get(demo_list("book-club").object_id) is None
    assert demo_list("book-club").object_id not in by_id(await store.load())


async def test_a_replica_starts_from_the_snapshot_without_the_directory(
    store: ListSnapshotStore,
) -> None:
    await refresh_index(InMemoryListDirectory(demo_lists()), store, ListIndex())
    replica = ListIndex()

    cursor = await restore_index(store, replica)

    assert cursor is not None and len(replica) == len(demo_lists())


async def test_a_replica_follows_lists_created_elsewhere_and_new_syncs(
    store: ListSnapshotStore,
) -> None:
    directory = InMemoryListDirectory(demo_lists())
    await refresh_index(directory, store, ListIndex())
    replica = ListIndex()
    cursor = await restore_index(store, replica)

    created = make_list("q3-launch", display_name="Q3 Launch")
    await store.upsert(created)  # another replica created it
    cursor = await follow_index(store, replica, cursor)
    assert replica.search("q3 launch")[0].list == created

    directory.add_list(make_list("from-next-sync"))
    await refresh_index(directory, store, ListIndex())  # the sync runs elsewhere
    await follow_index(store, replica, cursor)
    assert replica.get(make_list("from-next-sync").object_id) is not None
    assert replica.get(created.object_id) is None  # the sync's directory never had it


async def test_a_replica_without_a_snapshot_stays_empty(store: ListSnapshotStore) -> None:
    index = ListIndex([make_list("x")])

    assert await follow_index(store, index, None) is None
    assert len(index) == 1  # nothing to load: what it had stays


async def test_a_refresh_from_exchange_fills_redis_and_the_index(
    store: ListSnapshotStore, directory: ExchangeListDirectory
) -> None:
    index = ListIndex()

    count = await refresh_index(directory, store, index)

    loaded = by_id(await store.load())
    assert count == len(demo_lists()) == len(loaded)
    kinds = {item.kind for item in loaded.values()}
    assert kinds == set(ListKind)
    assert all(
        item.distinguished_name for item in loaded.values() if item.kind is not ListKind.DYNAMIC
    )
    assert "exec-assistants" not in [m.list.name for m in index.search("executive assistants")]
    assert index.search("exec-assistants@contoso.com")[0].list.hidden
    leadership = index.by_address("leadership@contoso.com")
    assert leadership is not None and leadership.join_restriction is Restriction.CLOSED
