"""The state codec against jsonpickle: every state the dialogs keep, and the values around it."""

from __future__ import annotations

import datetime
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import jsonpickle  # type: ignore[import-untyped]
import pytest
import redis.asyncio as redis
from botbuilder.core import MemoryStorage
from botbuilder.dialogs.choices import ListStyle
from botbuilder.schema import Activity, ActivityTypes

from bot import state_codec
from bot.storage import RedisStorage
from tests.bot.dialogs import day_two_world
from tests.bot.dialogs import test_create_dialog as create_world
from tests.bot.dialogs import test_join_dialog as join_world


def _as_jsonpickle_sees_it(value: Any) -> str:
    # Without references, so a value shared by two paths compares equal to two equal copies.
    return str(jsonpickle.encode(value, keys=True, make_refs=False))


def _assert_round_trips_as_jsonpickle_does(value: Any) -> None:
    through_codec = state_codec.decode(state_codec.encode(value))
    through_jsonpickle = jsonpickle.decode(jsonpickle.encode(value, keys=True), keys=True)
    assert _as_jsonpickle_sees_it(through_codec) == _as_jsonpickle_sees_it(through_jsonpickle)
    assert state_codec.encode(through_codec) == state_codec.encode(value)


@pytest.fixture
def kept_states(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every conversation state the dialog worlds write (they keep it in MemoryStorage)."""
    written: list[Any] = []
    write = MemoryStorage.write

    async def recording_write(self: MemoryStorage, changes: dict[str, Any]) -> None:
        written.extend(
            {key: value for key, value in item.items() if key != "e_tag"}
            for item in changes.values()
        )
        await write(self, changes)

    monkeypatch.setattr(MemoryStorage, "write", recording_write)
    return written


Say = Callable[[str], Awaitable[list[str]]]


async def _converse(say: Say, *lines: str) -> None:
    for line in lines:
        await say(line)


async def test_every_state_the_join_leave_and_create_dialogs_keep_round_trips_as_jsonpickle(
    kept_states: list[Any],
) -> None:
    join = join_world.make_world()
    await _converse(join.say, "eng", "blorp", "2", "I need the design reviews", "no")
    await _converse(join.say, "pls add me to finance emea", "I moved to EMEA finance", "yes")
    leave = day_two_world.make_world()
    await _converse(leave.say, "pls take me off the marketing list", "1", "yes")
    create = create_world.make_world()
    await _converse(
        create.say, "create a DL for the Q3 launch", "Q3 Launch Team", "1", "ok", "same",
        "Megan Bowen", "2", "Lee Gu, diegos@contoso.com", "yes",
    )  # fmt: skip

    assert len(kept_states) >= 15
    choice = "botbuilder.dialogs.choices.choice:Choice"
    assert any(choice in state_codec.encode(state) for state in kept_states), "no choice prompt"
    for state in kept_states:
        _assert_round_trips_as_jsonpickle_does(state)


@pytest.mark.parametrize(
    "value",
    [
        {"text": "plain", "n": 1, "x": 1.5, "yes": True, "none": None, "list": [1, "a", None]},
        {1: "int key", (2, "b"): "tuple key", None: "none key"},
        {"~dlbot": "a value under the codec's own tag", "other": {"~dlbot": 1}},
        ("a", ("nested", 1), []),
        {"style": ListStyle.hero_card, "type": ActivityTypes.message},
        Activity(type="message", text="hi", attachments=[], channel_data={"k": [1, 2]}),
    ],
    ids=["json", "keys", "tag", "tuples", "enums", "activity"],
)
def test_values_beyond_plain_json_round_trip_as_jsonpickle(value: Any) -> None:
    _assert_round_trips_as_jsonpickle_does(value)


class _NotOurs:
    def __init__(self) -> None:
        self.value = 1


@pytest.mark.parametrize(
    "value",
    [
        {"when": datetime.datetime(2026, 11, 25, tzinfo=datetime.UTC)},
        {"object": _NotOurs()},
        {"set": {1, 2}},
        {"bytes": b"raw"},
    ],
    ids=["datetime", "test class", "set", "bytes"],
)
def test_what_the_codec_does_not_store_is_refused_for_jsonpickle(value: Any) -> None:
    with pytest.raises(state_codec.Unsupported):
        state_codec.encode(value)


def test_a_cycle_is_refused_for_jsonpickle() -> None:
    looped: list[Any] = []
    looped.append(looped)
    with pytest.raises(state_codec.Unsupported):
        state_codec.encode({"loop": looped})


def test_a_document_naming_a_class_outside_the_codecs_packages_is_refused() -> None:
    document = '{"~dlbot":"object","class":"os:PathLike","attributes":{}}'
    with pytest.raises(ValueError, match="outside the codec's packages"):
        state_codec.decode(document)


@pytest.fixture
async def storage(redis_url: str) -> AsyncIterator[RedisStorage]:
    client = redis.Redis.from_url(redis_url)
    yield RedisStorage(client)
    await client.aclose()


async def test_a_value_the_codec_refuses_is_stored_by_jsonpickle_and_reads_back(
    storage: RedisStorage,
) -> None:
    when = datetime.datetime(2026, 11, 25, 3, 30, tzinfo=datetime.UTC)
    await storage.write({"item": {"when": when, "tags": {"a"}}})
    item = (await storage.read(["item"]))["item"]
    assert item["when"] == when and item["tags"] == {"a"}


async def test_a_document_jsonpickle_wrote_before_the_codec_still_reads(
    storage: RedisStorage, redis_url: str
) -> None:
    old = {"DialogState": {"style": ListStyle.hero_card, "stack": [("a", 1)]}}
    client = redis.Redis.from_url(redis_url)
    try:
        await client.hset(
            "dlbot:state:old", mapping={"e_tag": "t1", "doc": jsonpickle.encode(old, keys=True)}
        )
    finally:
        await client.aclose()
    item = (await storage.read(["old"]))["old"]
    assert item == {**old, "e_tag": "t1"}
