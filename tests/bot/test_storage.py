"""RedisStorage against a real redis-server, mirroring the SDK's own storage test suite
(botbuilder-testing's StorageBaseTests), plus the e_tag checks Python's copy of that suite had
to leave out, and concurrency across clients."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as redis
from botbuilder.core import ConversationState, MessageFactory, StoreItem, TurnContext
from botbuilder.core.adapters import TestAdapter
from botbuilder.dialogs import (
    Dialog,
    DialogSet,
    DialogTurnStatus,
    PromptOptions,
    PromptValidatorContext,
    TextPrompt,
    WaterfallDialog,
    WaterfallStepContext,
)

from bot.storage import ETagConflict, RedisStorage


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[redis.Redis]:
    connection = redis.Redis.from_url(redis_url)
    yield connection
    await connection.aclose()


@pytest.fixture
def storage(client: redis.Redis) -> RedisStorage:
    return RedisStorage(client)


# The SDK's suite ---------------------------------------------------------------------------------


async def test_reading_an_unknown_key_gives_an_empty_result(storage: RedisStorage) -> None:
    assert await storage.read(["unknown"]) == {}


async def test_reading_without_keys_is_refused(storage: RedisStorage) -> None:
    with pytest.raises(ValueError, match="Keys are required when reading"):
        await storage.read(None)


async def test_writing_nothing_is_refused(storage: RedisStorage) -> None:
    with pytest.raises(ValueError, match="Changes are required when writing"):
        await storage.write(None)


async def test_writing_no_items_does_nothing(storage: RedisStorage, client: redis.Redis) -> None:
    await storage.write([])  # the SDK's suite passes a list
    await storage.write({})
    assert await client.dbsize() == 0


async def test_created_items_read_back_with_an_e_tag(storage: RedisStorage) -> None:
    items = {"createPoco": {"id": 1}, "createPocoStoreItem": {"id": 2, "e_tag": "*"}}
    await storage.write(items)
    read = await storage.read(items.keys())
    assert read["createPoco"]["id"] == 1
    assert read["createPocoStoreItem"]["id"] == 2
    assert read["createPoco"]["e_tag"]
    assert read["createPocoStoreItem"]["e_tag"]


async def test_crazy_keys_work(storage: RedisStorage) -> None:
    key = '!@#$%^&*()_+??><":QASD~`'
    await storage.write({key: {"id": 1}})
    assert (await storage.read([key]))[key]["id"] == 1


async def test_update_follows_the_sdk_suite(storage: RedisStorage) -> None:
    await storage.write(
        {"pocoItem": {"id": 1, "count": 1}, "pocoStoreItem": {"id": 1, "count": 1, "e_tag": "*"}}
    )
    loaded = await storage.read(["pocoItem", "pocoStoreItem"])
    poco, store_item = loaded["pocoItem"], loaded["pocoStoreItem"]
    poco["e_tag"] = None
    assert store_item["e_tag"] is not None
    poco["count"] += 1
    store_item["count"] += 1
    await storage.write(loaded)
    reloaded = await storage.read(loaded.keys())
    assert reloaded["pocoItem"]["count"] == 2
    assert reloaded["pocoStoreItem"]["count"] == 2

    # No e_tag (None): an unconditional write succeeds even though the item changed.
    poco["count"] = 123
    await storage.write({"pocoItem": poco})
    # The old e_tag: refused (the assertion the Python suite had to leave out).
    store_item["count"] = 123
    with pytest.raises(ETagConflict):
        await storage.write({"pocoStoreItem": store_item})
    reloaded = await storage.read(["pocoItem", "pocoStoreItem"])
    assert reloaded["pocoItem"]["count"] == 123
    assert reloaded["pocoStoreItem"]["count"] == 2

    # The wildcard e_tag overwrites.
    reloaded["pocoItem"]["count"] = 100
    reloaded["pocoStoreItem"]["count"] = 100
    reloaded["pocoStoreItem"]["e_tag"] = "*"
    await storage.write(reloaded)
    final = await storage.read(["pocoItem", "pocoStoreItem"])
    assert final["pocoItem"]["count"] == 100
    assert final["pocoStoreItem"]["count"] == 100

    # An empty e_tag is an error, and changes nothing.
    final["pocoStoreItem"]["e_tag"] = ""
    final["pocoStoreItem"]["count"] = 5
    with pytest.raises(ValueError, match="e_tag is empty"):
        await storage.write({"pocoStoreItem": final["pocoStoreItem"]})
    assert (await storage.read(["pocoStoreItem"]))["pocoStoreItem"]["count"] == 100


async def test_a_deleted_item_reads_as_absent(storage: RedisStorage) -> None:
    await storage.write({"delete1": {"id": 1, "count": 1, "e_tag": "*"}})
    read = await storage.read(["delete1"])
    assert read["delete1"]["e_tag"] and read["delete1"]["count"] == 1
    await storage.delete(["delete1"])
    assert await storage.read(["delete1"]) == {}


async def test_deleting_an_unknown_key_is_fine(storage: RedisStorage) -> None:
    await storage.delete(["unknown_key"])


async def test_batches_are_written_read_and_deleted(storage: RedisStorage) -> None:
    await storage.write({"batch1": {"count": 10}, "batch2": {"count": 20}, "batch3": {"count": 30}})
    result = await storage.read(["batch1", "batch2", "batch3"])
    assert [result[key]["count"] for key in ("batch1", "batch2", "batch3")] == [10, 20, 30]
    await storage.delete(["batch1", "batch2", "batch3"])
    assert await storage.read(["batch1", "batch2", "batch3"]) == {}


async def test_a_waterfall_dialog_proceeds_with_its_state_in_redis(storage: RedisStorage) -> None:
    # The SDK suite's dialog test: DialogState and DialogInstance objects must round-trip.
    convo_state = ConversationState(storage)
    dialogs = DialogSet(convo_state.create_property("dialogState"))

    async def exec_test(turn_context: TurnContext) -> None:
        dialog_context = await dialogs.create_context(turn_context)
        await dialog_context.continue_dialog()
        if not turn_context.responded:
            await dialog_context.begin_dialog(WaterfallDialog.__name__)
        await convo_state.save_changes(turn_context)

    async def validator(prompt_context: PromptValidatorContext) -> bool:
        attempts = prompt_context.options.number_of_attempts
        if len(prompt_context.recognized.value) > 3:
            await prompt_context.context.send_activity(
                MessageFactory.text(f"You got it at the {attempts}rd try!")
            )
            return True
        await prompt_context.context.send_activity(
            MessageFactory.text(f"Please send a name that is longer than 3 characters. {attempts}")
        )
        return False

    async def step_1(step: WaterfallStepContext) -> DialogTurnStatus:
        assert isinstance(step.active_dialog.state["stepIndex"], int)
        await step.context.send_activity("step1")
        return Dialog.end_of_turn

    async def step_2(step: WaterfallStepContext) -> Any:
        assert isinstance(step.active_dialog.state["stepIndex"], int)
        return await step.prompt(
            TextPrompt.__name__, PromptOptions(prompt=MessageFactory.text("Please type your name"))
        )

    async def step_3(step: WaterfallStepContext) -> DialogTurnStatus:
        assert isinstance(step.active_dialog.state["stepIndex"], int)
        await step.context.send_activity("step3")
        return Dialog.end_of_turn

    dialogs.add(WaterfallDialog(WaterfallDialog.__name__, [step_1, step_2, step_3]))
    dialogs.add(TextPrompt(TextPrompt.__name__, validator))
    adapter = TestAdapter(exec_test)

    step = await adapter.send("hello")
    step = await step.assert_reply("step1")
    step = await step.send("hello")
    step = await step.assert_reply("Please type your name")
    for attempt in range(3):
        step = await step.send("hi")
        step = await step.assert_reply(
            f"Please send a name that is longer than 3 characters. {attempt}"
        )
    step = await step.send("Kyle")
    step = await step.assert_reply("You got it at the 3rd try!")
    await step.assert_reply("step3")


# Beyond the suite -----------------------------------------------------------------------------


class Counter(StoreItem):  # type: ignore[misc]
    pass


async def test_store_item_objects_round_trip_with_their_e_tag(storage: RedisStorage) -> None:
    await storage.write({"counter": Counter(count=3, e_tag="*")})
    read = (await storage.read(["counter"]))["counter"]
    assert isinstance(read, Counter)
    assert read.count == 3 and read.e_tag not in (None, "*")
    read.count = 4
    await storage.write({"counter": read})
    with pytest.raises(ETagConflict):
        await storage.write({"counter": read})  # as in the SDK: the caller's e_tag is now stale


async def test_a_stale_e_tag_of_a_deleted_item_is_refused(storage: RedisStorage) -> None:
    await storage.write({"item": {"count": 1}})
    item = (await storage.read(["item"]))["item"]
    await storage.delete(["item"])
    with pytest.raises(ETagConflict):
        await storage.write({"item": item})
    assert await storage.read(["item"]) == {}


async def test_the_e_tag_is_kept_beside_the_document_not_in_it(
    storage: RedisStorage, client: redis.Redis
) -> None:
    await storage.write({"item": {"count": 1, "e_tag": "*"}})
    document = await client.hget("dlbot:state:item", "doc")
    assert document is not None and b"e_tag" not in document


async def test_of_many_writers_holding_the_same_e_tag_exactly_one_wins(
    redis_url: str, storage: RedisStorage
) -> None:
    await storage.write({"item": {"count": 0}})
    # Ten bot processes (ten clients) read the same version, then all try to save.
    clients = [redis.Redis.from_url(redis_url) for _ in range(10)]
    try:
        storages = [RedisStorage(c) for c in clients]
        reads = [(await s.read(["item"]))["item"] for s in storages]
        for number, item in enumerate(reads):
            item["count"] = number + 1

        async def save(s: RedisStorage, item: dict[str, Any]) -> bool:
            try:
                await s.write({"item": item})
            except ETagConflict:
                return False
            return True

        outcomes = await asyncio.gather(*(save(s, i) for s, i in zip(storages, reads, strict=True)))
    finally:
        for c in clients:
            await c.aclose()
    assert outcomes.count(True) == 1
    winner = outcomes.index(True) + 1
    assert (await storage.read(["item"]))["item"]["count"] == winner


async def test_items_can_be_given_a_lifetime(client: redis.Redis) -> None:
    storage = RedisStorage(client, ttl_seconds=60)
    await storage.write({"item": {"count": 1}})
    assert 0 < await client.pttl("dlbot:state:item") <= 60_000


async def test_without_a_lifetime_items_stay(storage: RedisStorage, client: redis.Redis) -> None:
    await storage.write({"item": {"count": 1}})
    assert await client.pttl("dlbot:state:item") == -1


# The state read with the turn lock (bot/app.py) ---------------------------------------------------


def test_the_conversation_state_key_is_the_one_the_sdk_uses() -> None:
    from botbuilder.schema import Activity, ChannelAccount, ConversationAccount

    from bot.storage import conversation_state_key

    activity = Activity(
        type="message",
        channel_id="msteams",
        conversation=ConversationAccount(id="a:1/x"),
        from_property=ChannelAccount(id="29:someone"),
    )
    context = TurnContext(TestAdapter(), activity)
    sdk_key = ConversationState(RedisStorage.__new__(RedisStorage)).get_storage_key(context)
    assert conversation_state_key("msteams", "a:1/x") == sdk_key


async def _row_of(client: redis.Redis, storage: RedisStorage, key: str) -> list[Any]:
    hash_key, fields = storage.fields_of(key)
    return list(await client.hmget(hash_key, list(fields)))


async def test_every_read_of_a_preloaded_item_takes_the_preload_not_redis(
    storage: RedisStorage, client: redis.Redis
) -> None:
    await storage.write({"conv": {"count": 1}})
    row = await _row_of(client, storage, "conv")
    await client.hset(storage.fields_of("conv")[0], "doc", "not a document")  # not asked again
    with storage.preloaded("conv", row):
        first = await storage.read(["conv", "other"])
        first["conv"]["count"] = 9  # each read gives a fresh copy, as Redis would
        second = await storage.read(["conv"])
    assert "other" not in first
    assert second["conv"]["count"] == 1
    assert second["conv"]["e_tag"] == first["conv"]["e_tag"]


async def test_a_preloaded_absent_item_stays_absent_for_every_read_of_the_turn(
    storage: RedisStorage, client: redis.Redis
) -> None:
    row = await _row_of(client, storage, "conv")
    await client.hset(storage.fields_of("conv")[0], "doc", "not a document")
    with storage.preloaded("conv", row):
        assert await storage.read(["conv"]) == {}
        assert await storage.read(["conv"]) == {}


async def test_a_preloaded_absent_item_reads_as_absent(
    storage: RedisStorage, client: redis.Redis
) -> None:
    row = await _row_of(client, storage, "conv")
    with storage.preloaded("conv", row):
        assert await storage.read(["conv"]) == {}


async def test_a_write_or_delete_drops_the_preload(
    storage: RedisStorage, client: redis.Redis
) -> None:
    await storage.write({"conv": {"count": 1}})
    row = await _row_of(client, storage, "conv")
    with storage.preloaded("conv", row):
        await storage.write({"conv": {"count": 5}})
        assert (await storage.read(["conv"]))["conv"]["count"] == 5
    with storage.preloaded("conv", row):
        await storage.delete(["conv"])
        assert await storage.read(["conv"]) == {}


async def test_a_preload_serves_only_its_own_storage_and_key_inside_its_block(
    storage: RedisStorage, client: redis.Redis
) -> None:
    await storage.write({"conv": {"count": 1}, "other": {"count": 7}})
    row = await _row_of(client, storage, "conv")
    await storage.write({"conv": {"count": 2}})
    another = RedisStorage(client)
    with storage.preloaded("other", row):
        assert (await storage.read(["other"]))["other"]["count"] == 1
    with storage.preloaded("conv", row):
        assert (await another.read(["conv"]))["conv"]["count"] == 2
    assert (await storage.read(["conv"]))["conv"]["count"] == 2  # the block is over
