"""bot/schema_codec.py gives msrest's own JSON and models or nothing: it is compared with msrest
itself over the activities dlbot sends and receives, and over generated models and JSON."""

from __future__ import annotations

import copy
import json
import pickle
from datetime import UTC, datetime, timedelta, timezone
from functools import cache, partial
from typing import Any, cast

import pytest
from botbuilder.core import MessageFactory, TurnContext
from botbuilder.dialogs.choices import ChoiceFactory
from botbuilder.schema import (
    ActionTypes,
    Activity,
    ActivityTypes,
    CardAction,
    ChannelAccount,
    ConversationParameters,
    InputHints,
    Mention,
    TokenExchangeState,
    teams,
)
from botframework.connector.auth import MicrosoftAppCredentials  # type: ignore[import-untyped]
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from msrest.serialization import Model, Serializer

from bot.cards.approval import approval_card, message_card
from bot.cards.my_requests import my_requests_card
from bot.connector_pool import _new_client
from bot.notifier import card_activity
from bot.schema_codec import SchemaCodec
from skills.my_requests import RequestsOverview
from tests.bot.test_cards import request
from tests.playground.doubles import teams_activity

MODELS = Activity._infer_class_models()
codec = SchemaCodec(MODELS)
SERVICE = "https://smba.trafficmanager.net/emea/"
SCHEMA_CLASSES: list[Any] = [
    c
    for c in [*MODELS.values(), *vars(teams).values()]
    if isinstance(c, type) and issubclass(c, Model)
]
CORE_CLASSES: list[Any] = [c for c in SCHEMA_CLASSES if MODELS.get(c.__name__) is c]
STRAY = ChannelAccount(id="29:stray")
# Generated runs: deterministic in CI, a few seconds each (no timing checks: 2 CPUs are shared).
GENERATED = settings(max_examples=600, derandomize=True, database=None, deadline=None)
GENERATED = settings(GENERATED, suppress_health_check=[HealthCheck.too_slow])


def msrest_body(model: Any, data_type: str = "Activity") -> Any:
    serializer = Serializer(MODELS)  # type: ignore[no-untyped-call]
    serializer.client_side_validation = False  # as the kept connector clients run it
    # body() rewrites its input.
    return serializer.body(copy.deepcopy(model), data_type)  # type: ignore[no-untyped-call]


def instance(cls: Any, values: dict[str, Any]) -> Any:
    # Not through __init__: some teams classes' constructors cannot be called bare.
    model = cls.__new__(cls)
    model.additional_properties = {}
    for attribute in cls._attribute_map:
        setattr(model, attribute, values.get(attribute))
    return model


def same_or_refused(planned: Any, msrest: Any) -> None:
    """The contract: the codec's answer is msrest's, or None; None whenever msrest fails."""
    try:
        expected = msrest()
    except Exception:  # noqa: BLE001 - whatever msrest refuses, the codec must refuse too
        assert planned is None
        return
    if planned is not None:
        assert shape(planned) == shape(expected)
        if isinstance(planned, dict):  # a body: the same keys in the same order too
            assert json.dumps(planned) == json.dumps(expected)


def shape(value: Any) -> Any:
    """`value` with each leaf's type beside it: == (and msrest's Model.__eq__) takes 1, 1.0 and
    True for one another."""
    if isinstance(value, Model):
        return type(value), shape(vars(value))
    if isinstance(value, dict):
        return {key: shape(element) for key, element in value.items()}
    if isinstance(value, list):
        return [shape(element) for element in value]
    return type(value), value


# Encoding: what dlbot sends ----------------------------------------------------------------------


def addressed(activity: Activity, activity_id: str | None = None, **incoming: Any) -> Activity:
    """`activity` as the bot sends it in answer to an incoming one (an update when it has an id)."""
    activity.id = activity_id
    received = Activity.deserialize(teams_activity(SERVICE, **incoming))
    reference = TurnContext.get_conversation_reference(received)
    return TurnContext.apply_conversation_reference(activity, reference)


def _everything_at_once() -> Activity:
    return Activity(
        type=ActivityTypes.message,  # an enum where a string is declared
        timestamp=datetime(2026, 11, 24, 12, 0, 0, 123456, tzinfo=UTC),
        local_timestamp=datetime(2026, 11, 24, 13, 0, tzinfo=timezone(timedelta(hours=1))),
        text="<at>Megan</at> please look",
        entities=[
            Mention(mentioned=ChannelAccount(id="29:megan", name="Megan"), text="<at>Megan</at>"),
        ],
        channel_data={"tenant": {"id": "t"}, "notification": {"alert": True}, "n": [1, 2.5]},
        value={"rows": [[1, None], {"a": None, "b": [True, "x"]}], "empty": {}, "none": None},
    )


def _teams_channel_data() -> Activity:
    activity = MessageFactory.text("hello team")
    activity.channel_data = teams.TeamsChannelData(
        channel=teams.ChannelInfo(id="19:general@thread.tacv2", name="General"),
        team=teams.TeamInfo(id="19:team@thread.tacv2", name="Finance"),
        tenant=teams.TenantInfo(id="tenant-1"),
        notification=teams.NotificationInfo(alert=True),
        event_type="teamMemberAdded",
    )
    activity.value = {"team": teams.TeamInfo(id="team"), "list": [teams.TenantInfo(id="t"), None]}
    return activity


OUTGOING = {
    "text": lambda: MessageFactory.text("Which list?", input_hint=InputHints.expecting_input),
    "choice-prompt hero card": lambda: ChoiceFactory.hero_card(
        ["Finance EMEA", "Finance APAC"], "Which one did you mean?"
    ),
    "suggested actions": lambda: MessageFactory.suggested_actions(
        [CardAction(type=ActionTypes.im_back, title="Yes", value="yes")], text="Send it?"
    ),
    "approval card": lambda: card_activity(approval_card(request(), actionable=True), "x"),
    "my requests card": lambda: card_activity(
        my_requests_card(RequestsOverview((request(),), ())), "Your requests"
    ),
    "message card": lambda: card_activity(message_card("Approved by Megan."), "Approved"),
    "reply in a channel": lambda: addressed(
        MessageFactory.text("Done: you are now a member of Finance EMEA."),
        conversation_id="19:abc@thread.tacv2;messageid=1",
        conversation_type="channel",
    ),
    "card update": lambda: addressed(
        card_activity(approval_card(request(), actionable=False), "Finance EMEA"), "1:card"
    ),
    "enum, dates, mention, nested value": _everything_at_once,
    "teams channel data": _teams_channel_data,
    # bot/messenger.py opens a chat with these; the connector writes them the same way.
    "new chat parameters": lambda: ConversationParameters(
        is_group=False,
        bot=ChannelAccount(id="28:dlbot"),
        members=[ChannelAccount(id="29:alex", aad_object_id="alex")],
        tenant_id="tenant-1",
        channel_data={"tenant": {"id": "tenant-1"}},
        activity=MessageFactory.text("hello"),
    ),
}


@pytest.mark.parametrize("build", OUTGOING.values(), ids=OUTGOING.keys())
def test_every_activity_dlbot_sends_is_encoded_exactly_as_msrest_encodes_it(build: Any) -> None:
    activity = build()
    before = pickle.dumps(activity)
    planned = codec.encode_body(activity, type(activity).__name__)
    assert planned is not None
    assert pickle.dumps(activity) == before
    same_or_refused(planned, lambda: msrest_body(activity, type(activity).__name__))


# Every class, every attribute set --------------------------------------------------------------


def filled_value(type_name: Any, name: str, depth: int) -> Any:
    basic = {"str": name, "bool": True, "int": len(name), "float": 0.5, "object": {name: [1, None]}}
    basic["iso-8601"] = datetime(2026, 11, 24, 12, 0, 0, 250000, tzinfo=UTC)
    if not isinstance(type_name, str) or type_name in basic:
        return basic.get(type_name)
    if type_name[0] in "[{":
        inner = filled_value(type_name[1:-1], name, depth)
        return [inner] if type_name[0] == "[" else {name: inner}
    cls = MODELS.get(type_name) or getattr(teams, type_name, None)
    return filled(cls, depth + 1) if cls is not None and depth < 2 else None


def filled(cls: Any, depth: int = 0) -> Any:
    """Every attribute set, each string to its own name: two attributes cannot look alike."""
    values = {a: filled_value(d["type"], a, depth) for a, d in cls._attribute_map.items()}
    return instance(cls, values)


@pytest.mark.parametrize("cls", SCHEMA_CLASSES, ids=lambda cls: cls.__name__)
def test_every_schema_class_filled_in_encodes_and_decodes_as_msrest_does(cls: Any) -> None:
    model = filled(cls)
    planned = codec.encode_body(model, "Activity")
    # Left to msrest, rightly: an attribute typed by a class object rather than a name; two
    # attributes on one key (TokenExchangeState: msrest writes the first of them).
    assert planned is not None or cls in (teams.MessagingExtensionResponse, TokenExchangeState)
    same_or_refused(planned, lambda: msrest_body(model))
    # Read back in its own namespace, as msrest's cls.deserialize does.
    body = msrest_body(model)
    decoded = SchemaCodec(cls._infer_class_models()).decode(cls, copy.deepcopy(body))
    same_or_refused(decoded, lambda: cls.deserialize(copy.deepcopy(body)))


# Values of other types than declared: msrest converts (an int to "1"), builds (a dict into a
# model) or refuses each in its own way, and the codec must do the same or leave it to msrest.
ODD_VALUES = [0, 1, 1.5, True, "7", ActivityTypes.message, datetime(2026, 11, 24), b"x", STRAY]
ODD_VALUES += [("a",), (STRAY,), ["a"], [STRAY], [None], {"id": "x"}, {1: "v"}, {"k": STRAY}]
ODD_JSON = [0, 1, 1.5, True, "7", "2026-11-24T12:00:00.1234567+01:00", ["a"], [{"id": "x"}]]
ODD_JSON += [[None], {"id": "x"}, {"k": [1]}, None]


@pytest.mark.parametrize("cls", SCHEMA_CLASSES, ids=lambda cls: cls.__name__)
def test_an_odd_value_in_any_attribute_is_coded_as_msrest_does_or_left_to_it(cls: Any) -> None:
    for attribute in cls._attribute_map:
        for odd in ODD_VALUES:
            model = filled(cls, depth=1)
            setattr(model, attribute, odd)
            same_or_refused(codec.encode_body(model, "Activity"), partial(msrest_body, model))
    body = msrest_body(filled(cls, depth=1))
    local = SchemaCodec(cls._infer_class_models())
    for key in [desc["key"] for desc in cls._attribute_map.values()]:
        for odd in ODD_JSON:
            data = body | {key: odd}
            same_or_refused(local.decode(cls, data), partial(cls.deserialize, copy.deepcopy(data)))


# Decoding: what Teams sends ---------------------------------------------------------------------

CLIENT_INFO = {"type": "clientInfo", "locale": "en-US", "country": "US", "platform": "Web"}
INCOMING = {
    "message": dict(
        entities=[CLIENT_INFO | {"timezone": "Europe/Berlin"}],
        timestamp="2026-11-24T12:00:00.1234567Z",
        localTimestamp="2026-11-24T13:00:00.1234567+01:00",
        localTimezone="Europe/Berlin",
        textFormat="plain",
        attachments=[{"contentType": "text/html", "content": "<div>join finance</div>"}],
    ),
    "mention in a channel": dict(
        text="<at>dlbot</at> join finance",
        conversation_id="19:abc@thread.tacv2;messageid=1",
        conversation_type="channel",
        entities=[{"type": "mention", "text": "<at>dlbot</at>", "mentioned": {"id": "28:b"}}],
        channelData={
            "tenant": {"id": "t"},
            "team": {"id": "19:team@thread.tacv2", "name": "Finance", "aadGroupId": "g"},
            "channel": {"id": "19:abc@thread.tacv2", "name": "General"},
            "teamsTeamId": "19:team@thread.tacv2",
        },
    ),
    "bot added": dict(
        type="conversationUpdate",
        text=None,
        membersAdded=[{"id": "28:dlbot-test"}, {"id": "29:alex", "aadObjectId": "alex"}],
        channelData={"tenant": {"id": "t"}, "eventType": "teamMemberAdded"},
    ),
    "installed": dict(type="installationUpdate", text=None, action="add"),
    "card click": dict(
        type="invoke",
        text=None,
        name="adaptiveCard/action",
        replyToId="1:card",
        value={
            "action": {"type": "Action.Execute", "verb": "approve", "data": {"requestId": "r1"}},
            "trigger": "manual",
        },
    ),
    "reaction": dict(
        type="messageReaction", text=None, replyToId="1:x", reactionsAdded=[{"type": "like"}]
    ),
    "unknown extra keys": dict(
        rawTimestamp="2026-11-24T12:00:00.123Z", aadGroupId=None, future={"a": [1, {"b": 2}]}
    ),
}


def _containers(value: Any, found: list[Any]) -> list[Any]:
    if isinstance(value, Model):
        for attribute, element in vars(value).items():
            # msrest hands back unknown keys' values themselves; the codec does the same.
            if attribute != "additional_properties":
                _containers(element, found)
    elif isinstance(value, dict | list):
        found.append(value)
        for element in value.values() if isinstance(value, dict) else value:
            _containers(element, found)
    return found


@pytest.mark.parametrize("fields", INCOMING.values(), ids=INCOMING.keys())
def test_every_activity_teams_sends_is_decoded_exactly_as_msrest_decodes_it(
    fields: dict[str, Any],
) -> None:
    data = teams_activity(SERVICE, **fields)
    snapshot = copy.deepcopy(data)
    planned = codec.decode(Activity, data)
    assert planned is not None
    assert data == snapshot
    same_or_refused(planned, lambda: Activity.deserialize(copy.deepcopy(data)))
    # A handler changing what it was given must not change the request body (nor the reverse).
    inputs = {id(container) for container in _containers(data, [])}
    assert not [c for c in _containers(planned, []) if id(c) in inputs]
    planned.channel_data["tenant"]["id"] = "changed"
    assert data == snapshot


# Generated: model trees and JSON, walked from the classes' attribute maps ----------------------

ENUMS = st.sampled_from([ActivityTypes.message, InputHints.accepting_input, ActionTypes.im_back])
DATES = st.datetimes(
    datetime(1, 1, 2), datetime(9999, 12, 30), timezones=st.sampled_from([None, UTC])
)
TEAMS_TIMES = ["2026-11-24T12:00:00.1234567Z", "2026-11-24T13:00:00.12+01:00", "24 Nov 2026"]
ISO_TEXT = DATES.map(datetime.isoformat) | st.sampled_from(TEAMS_TIMES) | st.text(max_size=6)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)
# Activity half the time, any class the other half.
ACTIVITY = st.just(cast(Any, Activity))
# What a careless caller might put anywhere: msrest converts or refuses each its own way.
WRONG = st.integers() | st.text(max_size=4) | st.floats(allow_nan=False) | ENUMS | DATES
WRONG |= st.sampled_from([True, ("a",), (STRAY,), {"k": 1}, {1: "v"}, {"id": "x"}, b"x", STRAY])


@cache
def tree(cls: Any, depth: int, wrong: bool, as_json: bool) -> st.SearchStrategy[Any]:
    """A `cls` (or its JSON, with keys the schema does not know too), each value of its declared
    type or, when `wrong`, now and then of any other: wrong everywhere, almost every tree would
    be left to msrest."""
    values = {
        desc["key"] if as_json else attribute: value(desc["type"], depth, wrong, as_json)
        for attribute, desc in cls._attribute_map.items()
    }
    present = st.fixed_dictionaries({}, optional=values)
    if as_json:
        extra = st.dictionaries(st.text(max_size=4), JSON, max_size=2)
        return st.tuples(extra, present).map(lambda pair: pair[0] | pair[1])
    return present.map(lambda values: instance(cls, values))


@cache
def value(type_name: Any, depth: int, wrong: bool, as_json: bool) -> st.SearchStrategy[Any]:
    declared = declared_value(type_name, depth, wrong, as_json)
    if not wrong:
        return declared
    # Rarely wrong: in a tree with many wrong values, the codec's first refusal hides the rest.
    other: st.SearchStrategy[Any] = JSON if as_json else WRONG
    return st.integers(0, 7).flatmap(lambda n: other if n == 0 else declared)


def declared_value(
    type_name: Any, depth: int, wrong: bool, as_json: bool
) -> st.SearchStrategy[Any]:
    if not isinstance(type_name, str):  # one teams attribute names its class, not its name
        return st.none()
    basic: dict[str, st.SearchStrategy[Any]] = {"bool": st.booleans(), "int": st.integers()}
    basic["long"] = st.integers()
    basic |= {"float": st.floats(allow_nan=False) | st.integers()}
    basic |= {"str": st.text(max_size=6) | (st.nothing() if as_json else ENUMS)}
    basic |= {"iso-8601": ISO_TEXT if as_json else DATES}
    # The codec leaves bytes to msrest: only where values may be wrong anyway.
    as_bytes = st.text(max_size=4) if as_json else st.binary(max_size=4)
    basic["bytearray"] = as_bytes if wrong else st.none()
    if type_name in basic:
        return basic[type_name]
    if type_name == "object":
        if as_json or depth >= 2:
            return JSON
        models = st.sampled_from(SCHEMA_CLASSES).flatmap(lambda c: tree(c, depth + 1, wrong, False))
        return JSON | models | st.lists(models, max_size=2)
    if type_name[0] in "[{":
        inner = st.none() | value(type_name[1:-1], depth, wrong, as_json)
        if type_name[0] == "[":
            return st.lists(inner, max_size=2)
        return st.dictionaries(st.text(max_size=3), inner, max_size=2)
    cls = MODELS.get(type_name) or getattr(teams, type_name, None)
    return st.none() if cls is None or depth >= 2 else tree(cls, depth + 1, wrong, as_json)


@GENERATED
@given(
    (ACTIVITY | st.sampled_from(SCHEMA_CLASSES)).flatmap(
        lambda cls: st.booleans().flatmap(lambda wrong: tree(cls, 0, wrong, as_json=False))
    )
)
def test_a_generated_model_is_encoded_as_msrest_encodes_it_or_left_to_msrest(model: Any) -> None:
    before = pickle.dumps(model)
    planned = codec.encode_body(model, "Activity")
    assert pickle.dumps(model) == before, "encode_body changed its input"
    event(f"codec {'refused' if planned is None else 'encoded'}")  # --hypothesis-show-statistics
    same_or_refused(planned, lambda: msrest_body(model))


@GENERATED
@given(
    (ACTIVITY | st.sampled_from(CORE_CLASSES)).flatmap(
        lambda cls: st.tuples(st.just(cls), st.booleans().flatmap(lambda w: tree(cls, 0, w, True)))
    )
)
def test_generated_json_is_decoded_as_msrest_decodes_it_or_left_to_msrest(
    cls_and_data: tuple[Any, dict[str, Any]],
) -> None:
    cls, data = cls_and_data
    snapshot = copy.deepcopy(data)
    planned = codec.decode(cls, data)
    assert data == snapshot, "decode changed its input"
    event(f"codec {'refused' if planned is None else 'decoded'}")
    same_or_refused(planned, lambda: cls.deserialize(copy.deepcopy(data)))


# The kept connector clients --------------------------------------------------------------------


def test_kept_clients_write_activities_through_the_codec_and_dicts_through_msrest() -> None:
    client = _new_client(MicrosoftAppCredentials(None, None), "https://smba.example/")
    serializer = client.conversations._serialize
    activity = card_activity(approval_card(request(), actionable=True), "Finance EMEA")
    attachments = activity.attachments
    assert serializer.body(activity, "Activity") == codec.encode_body(activity, "Activity")
    # msrest's body() replaces every list of models it passes; the codec touches nothing, so
    # this tells which of the two wrote the body.
    assert activity.attachments is attachments
    Serializer(MODELS).body(activity, "Activity")  # type: ignore[no-untyped-call]
    assert activity.attachments is not attachments

    body = {"type": "message", "text": "hi", "from": {"id": "28:dlbot"}}
    assert codec.encode_body(body, "Activity") is None
    assert serializer.body(copy.deepcopy(body), "Activity") == msrest_body(body)
