"""The SDK speed fixes change nothing the SDK decides: which responses msrest retries, and
when a turn's state is written back."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botbuilder.core import ConversationState, MemoryStorage, TurnContext
from botbuilder.core.adapters import TestAdapter
from botbuilder.core.bot_state import CachedBotState
from botbuilder.dialogs.choices import Choice, ChoiceRecognizers, Tokenizer
from botbuilder.schema import Activity, ChannelAccount, ConversationAccount
from hypothesis import given, settings
from hypothesis import strategies as st
from msrest.universal_http.requests import ClientRetryPolicy

from bot import sdk_fixes
from bot.adapter import create_adapter
from bot.health import Metrics
from bot.settings import Settings

METHODS = ("GET", "HEAD", "PUT", "POST", "PATCH", "DELETE", "OPTIONS", "TRACE")


class _StockPolicy(ClientRetryPolicy):  # type: ignore[misc]
    """The policy exactly as msrest ships it: safe codes as the original list."""

    safe_codes = sdk_fixes.STOCK_SAFE_CODES


def test_the_stock_safe_codes_are_msrests_own_list() -> None:
    # Pins what the comparison below compares against: msrest 0.7.1's definition.
    assert isinstance(sdk_fixes.STOCK_SAFE_CODES, list)
    assert sdk_fixes.STOCK_SAFE_CODES == [i for i in range(500) if i != 408] + [501, 505]


def test_creating_the_adapter_applies_the_fix() -> None:
    create_adapter(Settings(_env_file=None, redis_url="redis://127.0.0.1:1/0"), Metrics())
    assert sdk_fixes.applied()
    assert ClientRetryPolicy.safe_codes == frozenset(sdk_fixes.STOCK_SAFE_CODES)


def test_the_fixed_policy_retries_the_same_codes_in_the_same_order() -> None:
    sdk_fixes.apply()
    fixed, stock = ClientRetryPolicy(), _StockPolicy()
    assert fixed.policy.status_forcelist == stock.policy.status_forcelist
    assert (fixed.retries, fixed.backoff_factor, fixed.max_backoff) == (
        stock.retries,
        stock.backoff_factor,
        stock.max_backoff,
    )


def test_every_status_code_and_method_gets_the_same_retry_decision() -> None:
    sdk_fixes.apply()
    fixed, stock = ClientRetryPolicy().policy, _StockPolicy().policy
    for method in METHODS:
        for code in range(-1, 1001):
            for retry_after in (False, True):
                assert fixed.is_retry(method, code, retry_after) == stock.is_retry(
                    method, code, retry_after
                ), (method, code, retry_after)


def test_applying_twice_changes_nothing() -> None:
    sdk_fixes.apply()
    before = ClientRetryPolicy.safe_codes
    sdk_fixes.apply()
    assert ClientRetryPolicy.safe_codes is before
    assert all((code in before) == (code in sdk_fixes.STOCK_SAFE_CODES) for code in range(1000))


# The state fingerprint ----------------------------------------------------------------------


class _Step:
    """Stands for the SDK's dialog objects in state: plain classes with attributes."""

    def __init__(self, name: str, values: dict[str, Any]) -> None:
        self.name = name
        self.values = values


json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=6), children, max_size=4)
        | st.builds(_Step, st.text(max_size=6), st.dictionaries(st.text(max_size=4), children))
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(json_like, json_like)
def test_the_fingerprint_tells_apart_any_two_states_the_sdks_hash_tells_apart(
    first: Any, second: Any
) -> None:
    def stock(value: Any) -> Any:
        return sdk_fixes.STOCK_COMPUTE_HASH(None, value)

    def fixed(value: Any) -> Any:
        return sdk_fixes.state_fingerprint(None, value)

    if stock(first) != stock(second):
        assert fixed(first) != fixed(second)
    assert fixed(first) == fixed(first)


def test_state_pickle_refuses_gets_the_sdks_own_hash() -> None:
    state = {"callback": lambda: None}
    assert sdk_fixes.state_fingerprint(None, state) == sdk_fixes.STOCK_COMPUTE_HASH(None, state)


class _CountingStorage(MemoryStorage):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    async def write(self, changes: dict[str, Any]) -> None:
        self.writes += 1
        await super().write(changes)


async def _writes_per_turn(turns: list[Callable[[Any], None]]) -> list[int]:
    """Runs each turn's change to the state (a dialog-like object in a dict) through
    ConversationState and says how many writes each caused."""
    storage = _CountingStorage()
    state = ConversationState(storage)
    accessor = state.create_property("DialogState")
    counts = []
    for change in turns:
        context = TurnContext(
            TestAdapter(),
            Activity(
                type="message",
                channel_id="msteams",
                conversation=ConversationAccount(id="a:state"),
                from_property=ChannelAccount(id="29:someone"),
                recipient=ChannelAccount(id="28:bot"),
            ),
        )
        value = await accessor.get(context, lambda: {"stack": [_Step("join", {"n": 0})]})
        change(value)
        before = storage.writes
        await state.save_changes(context)
        counts.append(storage.writes - before)
    return counts


def _unchanged(value: Any) -> None:
    pass


def _deep_change(value: Any) -> None:
    value["stack"][0].values["n"] += 1


def _new_key(value: Any) -> None:
    value["stack"][0].values["list_id"] = "abc"


async def test_conversation_state_writes_exactly_when_the_sdk_would(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    turns = [_unchanged, _unchanged, _deep_change, _unchanged, _new_key, _deep_change, _unchanged]
    monkeypatch.setattr(CachedBotState, "compute_hash", sdk_fixes.STOCK_COMPUTE_HASH)
    stock = await _writes_per_turn(turns)
    monkeypatch.setattr(CachedBotState, "compute_hash", sdk_fixes.state_fingerprint)
    fixed = await _writes_per_turn(turns)
    assert fixed == stock
    assert stock == [1, 0, 1, 0, 1, 1, 0]


# The choice tokenizer -----------------------------------------------------------------------


def _spelled(tokens: list[Any]) -> list[tuple[int, int, str, str]]:
    return [(t.start, t.end, t.text, t.normalized) for t in tokens]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40), st.sampled_from([None, "en-us", "de-de"]))
def test_the_remembered_tokenizer_gives_the_sdks_tokens_first_and_every_time(
    text: str, locale: str | None
) -> None:
    stock = _spelled(sdk_fixes.STOCK_TOKENIZER(text, locale))
    assert _spelled(sdk_fixes.remembered_tokenizer(text, locale)) == stock
    assert _spelled(sdk_fixes.remembered_tokenizer(text, locale)) == stock


def test_each_caller_gets_a_list_of_its_own() -> None:
    first = sdk_fixes.remembered_tokenizer("Finance EMEA (finance-emea@contoso.com)")
    first.clear()
    assert len(sdk_fixes.remembered_tokenizer("Finance EMEA (finance-emea@contoso.com)")) > 3


def test_a_choice_prompt_recognizes_answers_as_with_the_sdks_tokenizer() -> None:
    labels = ["Finance EMEA (finance-emea@contoso.com)", "Finance US", "None of these"]
    choices = [Choice(label) for label in labels]
    answers = ["none of these", "2", "finance emea", "the us one", "Finance US", "emea", "blorp"]

    def found(answer: str) -> list[tuple[int, float, str]]:
        results = ChoiceRecognizers.recognize_choices(answer, choices)
        return [(r.resolution.index, r.resolution.score, r.text) for r in results]

    Tokenizer.default_tokenizer = staticmethod(sdk_fixes.STOCK_TOKENIZER)
    try:
        stock = [found(answer) for answer in answers]
    finally:
        sdk_fixes.fix_choice_tokenizer()
    assert [found(answer) for answer in answers] == stock
    assert stock[0] and stock[4] and not stock[-1]


# The copy of each outgoing activity ------------------------------------------------------------


def _outgoing_activities() -> list[Activity]:
    from botbuilder.core import CardFactory, MessageFactory
    from botbuilder.dialogs.choices import ChoiceFactory

    choices = [Choice(f"Finance EMEA {n}") for n in range(5)] + [Choice("None of these")]
    card = CardFactory.adaptive_card(
        {"type": "AdaptiveCard", "body": [{"type": "TextBlock", "text": "Approve?"}]}
    )
    with_card = MessageFactory.attachment(card)
    with_card.channel_data = {"notification": {"alert": True}, "nested": [{"a": [1, 2]}]}
    return [
        ChoiceFactory.hero_card(choices, "Which list did you mean?"),
        ChoiceFactory.suggested_action(choices, "Which one?"),
        MessageFactory.text("Done: you are now a member."),
        with_card,
    ]


def _containers(value: Any, seen: dict[int, Any]) -> dict[int, Any]:
    """Every mutable object reachable from `value`, by id (enum members are constants)."""
    from enum import Enum

    if isinstance(value, Enum | type):
        return seen
    if isinstance(value, dict | list) or hasattr(value, "__dict__"):
        if id(value) in seen:
            return seen
        seen[id(value)] = value
        children = (
            value.values()
            if isinstance(value, dict)
            else value
            if isinstance(value, list)
            else vars(value).values()
        )
        for child in children:
            _containers(child, seen)
    return seen


@pytest.mark.parametrize("activity", _outgoing_activities(), ids=lambda a: str(a.text or a.type))
def test_the_activity_copy_is_the_sdks_deep_copy_and_shares_nothing(activity: Activity) -> None:
    import copy

    ours = sdk_fixes.activity_copy(activity)
    assert ours.serialize() == copy.deepcopy(activity).serialize()
    assert type(ours) is type(activity)
    shared = set(_containers(ours, {})) & set(_containers(activity, {}))
    assert not shared


def test_what_pickle_refuses_is_deep_copied_as_before() -> None:
    from botbuilder.core import MessageFactory

    activity = MessageFactory.text("hello")
    activity.channel_data = {"callback": lambda: None, "items": [1, 2]}
    ours = sdk_fixes.activity_copy(activity)
    assert ours.channel_data["items"] == [1, 2]
    assert ours.channel_data["items"] is not activity.channel_data["items"]
    assert ours.channel_data["callback"] is activity.channel_data["callback"]  # as deepcopy


async def test_sending_through_the_sdk_leaves_the_callers_activity_as_it_was() -> None:
    from botbuilder.core import MessageFactory
    from botbuilder.core import turn_context as sdk_turn_context

    sdk_fixes.apply()
    assert sdk_turn_context.deepcopy is sdk_fixes.activity_copy
    [choice_card, *_] = _outgoing_activities()
    before = choice_card.serialize()
    adapter = TestAdapter()
    incoming = MessageFactory.text("finance emea")
    incoming.channel_id, incoming.conversation = "msteams", ConversationAccount(id="a:1")
    incoming.from_property, incoming.recipient = ChannelAccount(id="29:x"), ChannelAccount(id="b")
    context = TurnContext(adapter, incoming)
    await context.send_activity(choice_card)
    assert choice_card.serialize() == before  # no conversation, ids or hint added to it
    [sent] = adapter.activity_buffer
    assert sent.conversation.id == "a:1"
    assert sent.attachments[0].content.buttons[0].title == "Finance EMEA 0"
