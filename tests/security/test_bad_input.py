"""Issue 8, item 5: bad input, generated (hypothesis). Activity payloads, card action data, and
list names with quotes, OPATH fragments, emoji, right-to-left text and 10 KB strings: never a
500, never a stack trace to a person, and every filter sent to Exchange keeps its values whole
(checked on the sandbox's request log by the sandbox's own OPATH tokenizer).

The sandbox tenant gets lists named to break out of an OPATH string before the bot starts, so
the bot's searches, membership checks and owner lookups build filters from those names. The
examples are drawn deterministically (derandomize) so CI runs the same ones every time; the
edge's fixed bad-input cases (not JSON, too large, not an activity) are in tests/bot/test_app.py.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from approvals.models import RequestKind, RequestStatus
from exchange.sandbox.opath import tokenize
from exchange.sandbox.server import ThreadedSandbox
from skills.exchange_directory import NESTABLE_GROUP_TYPES, PERSON_TYPES
from tests.approvals import demo
from tests.exchange.conftest import DEMO_APP_ID
from tests.reliability.world import World, replies, world, world_settings

ALEX, MEGAN, PATTI = demo.ALEX, demo.MEGAN, demo.PATTI
EXAMPLES = 100
T = TypeVar("T")

# Names that end an OPATH string early if a quote is not doubled (the typographic quotes count
# too), or read in another direction, or are not text a keyboard makes.
HOSTILE_NAMES = (
    "O'Brien's list",
    "x' -or Name -like '*",
    "a) -or (Name -like '*",
    "Finance’s ‘EMEA’ list",
    "🎉 Party 🎉",
    "قائمة المالية",
    "\u202eevil list",
)
HOSTILE_TEXT = (
    *HOSTILE_NAMES,
    "' -or Name -like '*",
    "'' -or ''='",
    "$(Remove-DistributionGroup x)",
    '"; Remove-Item *',
    "{{7*7}}",
    "\x00\x1b[31m",
    "x" * 10_240,
    "🎉" * 2_600,
)
# What a person reads that would mean a crash reached them.
CRASH_MARKS = ("Traceback", 'File "', "Exception:", "Error:", "\\n  at ")


def _hostile_lists(sandbox: ThreadedSandbox) -> None:
    for name in HOSTILE_NAMES:
        sandbox.server.tenant.execute(
            "New-DistributionGroup",
            {
                "Name": name,
                "ManagedBy": [MEGAN.address],
                "MemberJoinRestriction": "ApprovalRequired",
            },
            app_id=DEMO_APP_ID,
        )


@pytest.fixture
async def product(redis_url: str, sandbox: ThreadedSandbox) -> AsyncIterator[World]:
    _hostile_lists(sandbox)  # before the bot starts, so its index holds them
    async with world(world_settings(redis_url, sandbox), sandbox, worker=False) as running:
        await running.install(ALEX, PATTI)
        yield running


def _examples(strategy: st.SearchStrategy[T], check: Callable[[T], Awaitable[None]]) -> Any:
    """Run `check` on drawn examples, on this event loop, from hypothesis in a worker thread
    (hypothesis drives plain functions; the product lives on this loop)."""
    loop = asyncio.get_running_loop()

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(strategy)
    def run(example: T) -> None:
        asyncio.run_coroutine_threadsafe(check(example), loop).result(timeout=60)

    return asyncio.to_thread(run)


def _no_crash_shown(world: World, seen: int, answer: Any = None) -> None:
    shown = replies(world.connector.sent()[seen:]) + [json.dumps(answer)]
    for text in shown:
        assert not any(mark in text for mark in CRASH_MARKS), text[:500]


nasty_text = st.one_of(st.sampled_from(HOSTILE_TEXT), st.text(max_size=200))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | nasty_text,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)


async def test_generated_activity_payloads_never_get_a_500_or_show_a_crash(
    product: World,
) -> None:
    fields = ("type", "text", "name", "value", "from", "conversation", "channelData", "entities")
    fields += ("attachments", "recipient", "locale", "replyToId", "timestamp", "membersAdded")
    changes = st.dictionaries(st.sampled_from(fields), json_values, min_size=1, max_size=4)
    statuses: list[int] = []

    async def check(change: dict[str, Any]) -> None:
        activity = product.activity(ALEX, conversation_id=f"a:fuzz-{uuid.uuid4().hex}")
        activity.update(change)
        seen = len(product.connector.sent())
        status, answer = await product.post(activity)
        statuses.append(status)
        assert status < 500, (status, answer)
        _no_crash_shown(product, seen, answer)

    await _examples(changes, check)
    assert len(statuses) == EXAMPLES
    assert product.dlbot.edge.metrics.turn_errors == 0  # not even an apology was needed


async def test_generated_card_action_data_never_decides_nor_crashes(product: World) -> None:
    pending = await product.dlbot.approvals.submit(
        kind=RequestKind.JOIN, requester=ALEX, group=demo.FINANCE_EMEA, justification="x"
    )
    request_id = pending.request.id
    verbs = st.one_of(st.sampled_from(["approve", "deny", "refresh", "withdraw"]), json_values)
    data = st.one_of(
        json_values,
        st.fixed_dictionaries(
            {"requestId": st.one_of(st.just(request_id), nasty_text), "reason": json_values}
        ),
    )
    action = st.fixed_dictionaries(
        {"type": st.sampled_from(["Action.Execute", "Action.Submit"]) | json_values},
        optional={"verb": verbs, "data": data},
    )
    values = st.one_of(st.fixed_dictionaries({"action": action}), json_values)

    async def check(value: Any) -> None:
        # Patti owns nothing; the requester Alex may not decide either.
        for who in (PATTI, ALEX):
            activity = product.activity(who, type="invoke", name="adaptiveCard/action", text=None)
            activity["value"] = value
            status, answer = await product.post(activity)
            assert status < 500, (status, answer)
            assert "Approved by" not in json.dumps(answer) and "Declined by" not in json.dumps(
                answer
            )
            _no_crash_shown(product, len(product.connector.sent()), answer)

    await _examples(values, check)
    assert product.dlbot.edge.metrics.turn_errors == 0
    still = await product.dlbot.approvals.get(request_id)
    assert still.status in (RequestStatus.PENDING, RequestStatus.CANCELLED)  # Alex may withdraw
    assert product.writes() == 0


def _tenant_values(sandbox: ThreadedSandbox) -> set[str]:
    """Every whole value the bot may rightly put in a filter: the tenant's own names, DNs,
    ids and addresses, and the recipient types it asks about."""
    tenant = sandbox.server.tenant
    values = {*NESTABLE_GROUP_TYPES, *PERSON_TYPES}
    for recipient in tenant.recipients():
        values.add(tenant.distinguished_name(recipient))
        for name in ("guid", "external_id", "name", "display_name", "alias", "primary_smtp"):
            value = getattr(recipient, name, None)
            if isinstance(value, str):
                values.add(value)
    return values


async def test_hostile_list_names_are_searched_safely_and_every_filter_keeps_its_values(
    product: World, sandbox: ThreadedSandbox
) -> None:
    ways = ("add me to {}", "join {}", "{}", "add me to {} please", "leave {}")
    messages = st.builds(
        lambda way, what: way.format(what), st.sampled_from(ways), nasty_text
    ) | st.sampled_from([f"add me to {name}" for name in HOSTILE_NAMES])

    async def check(text: str) -> None:
        activity = product.activity(ALEX, text=text, conversation_id=f"a:fuzz-{uuid.uuid4().hex}")
        seen = len(product.connector.sent())
        status, answer = await product.post(activity)
        assert status == 201, (status, answer)
        said = replies(product.connector.sent()[seen:])
        assert said, "the person got no answer"
        # Alex is on none of these lists: a filter broken open would match him anyway.
        assert not any("already a member" in line for line in said), said
        _no_crash_shown(product, seen)

    await _examples(messages, check)
    assert product.dlbot.edge.metrics.turn_errors == 0

    allowed = _tenant_values(sandbox)
    filters = [
        r.parameters["Filter"]
        for r in sandbox.requests
        if r.parameters and isinstance(r.parameters.get("Filter"), str)
    ]
    values = [t.text for f in filters for t in tokenize(f) if t.kind == "string"]
    assert values, "no filter reached Exchange: the test proved nothing"
    broken = [v for v in values if v not in allowed and v.rstrip("*") not in allowed]
    assert broken == []
    hostile_dns = {v for v in values if any(name in v for name in HOSTILE_NAMES)}
    assert len(hostile_dns) >= 3, "the hostile names never reached a filter"
