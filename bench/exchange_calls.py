"""Exchange calls per "add me" request, end to end, counted in the sandbox's own request log.

One request runs through the real parts: the bot (DlBot, the join dialog, botbuilder's
TestAdapter standing in for Teams), the search index and people snapshot filled by a sync
beforehand, JoinList over the real Exchange directory, the real approval service with the
real owner resolution (OwnerApprovers over ExchangeOwnerDirectory), and the real membership
writer; requests and jobs live in the approvals' in-memory store and queue (Redis is not what
is counted). Every Exchange call is a real HTTPS POST to the sandbox; a call is one
client-request-id in its log (pages and retries of one call share it).

Phases: preview (first message: search, pick, preview), submit (reason and "yes"), cards (the
job that posts the owners' cards), decision (an owner approves), worker (the job that writes to
Exchange and tells the requester). Approver resolution (`current_approvers`: the list's
ManagedBy read live and resolved to people) is counted apart: it is the price of the rule that
owners are read live, at preview, when the request is stored, and at every decision.

    .venv/bin/python bench/exchange_calls.py

The minimum, and why (bench/README.md says the same):
    1 Get-DistributionGroup at the preview: the list read live once. The synced snapshot may be
      12 hours old, and its MemberJoinRestriction is what lets an add skip the owners.
    1 Get-Recipient at the preview: "already a member?" (the person's row) and the list's
      member groups (for membership through a nested list) in one filter.
    1 Add-DistributionGroupMember by the worker.
    0 for the person (the people snapshot), the search (the list index), and the submit: what
      the preview read moments ago is carried in the dialog's state; a change in that minute
      fails the write with a clear reason, and "already a member" counts as done.
"""

from __future__ import annotations

import asyncio
import sys
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import SecretStr

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from botbuilder.core import ConversationState, MemoryStorage  # noqa: E402
from botbuilder.core.adapters import TestAdapter  # noqa: E402
from botbuilder.schema import Activity, ChannelAccount, ConversationAccount  # noqa: E402

from approvals.approvers import OwnerApprovers  # noqa: E402
from approvals.audit import InMemoryAudit  # noqa: E402
from approvals.exchange_adapters import (  # noqa: E402
    ExchangeMembershipWriter,
    ExchangeOwnerDirectory,
)
from approvals.models import ApprovalRequest, ListRef  # noqa: E402
from approvals.ports import ApproverSet  # noqa: E402
from approvals.service import ApprovalService  # noqa: E402
from approvals.store import InMemoryRequestStore  # noqa: E402
from approvals.testing import InMemoryJobQueue, InMemoryNotifier  # noqa: E402
from bot.dialogs.join_dialog import JoinDialog, JoinDialogServices  # noqa: E402
from bot.handler import DlBot  # noqa: E402
from exchange.client import ExchangeClient  # noqa: E402
from exchange.config import ExchangeConfig  # noqa: E402
from exchange.sandbox.state import LoggedRequest  # noqa: E402
from skills.exchange_directory import ExchangeListDirectory  # noqa: E402
from skills.find_dl import ListIndex  # noqa: E402
from skills.join_dl import JoinList  # noqa: E402
from skills.memory_directory import InMemoryListDirectory  # noqa: E402
from skills.policies import Policy  # noqa: E402

PHASES = ("preview", "submit", "jobs after submit", "decision", "jobs after decision")
APPROVERS = "approver resolution"


@dataclass(frozen=True)
class Scenario:
    name: str
    requester: str  # an address; the object id comes from the people snapshot
    say: tuple[str, ...]  # the requester's messages, in order
    approver: str | None  # who approves, when someone must


SCENARIOS = (
    Scenario(
        "ApprovalRequired, owned by people",
        "alexw@contoso.com",
        ("add me to finance-emea@contoso.com", "I moved to the EMEA finance team", "yes"),
        "meganb@contoso.com",
    ),
    Scenario("Open", "alexw@contoso.com", ("add me to book-club@contoso.com", "yes"), None),
    Scenario(
        "ApprovalRequired, owned by a group",
        "alexw@contoso.com",
        ("add me to it-announcements@contoso.com", "I run the service desk rota", "yes"),
        "adelev@contoso.com",
    ),
    Scenario("already a member", "alexw@contoso.com", ("add me to marketing@contoso.com",), None),
)


@dataclass
class Count:
    """Logical calls (client-request-ids) per phase and cmdlet; approver resolution apart."""

    calls: dict[str, Counter[str]] = field(default_factory=dict)

    def add(self, phase: str, cmdlet: str) -> None:
        self.calls.setdefault(phase, Counter())[cmdlet] += 1

    def total(self, phase: str | None = None) -> int:
        if phase is not None:
            return sum(self.calls.get(phase, Counter()).values())
        return sum(self.total(p) for p in PHASES)

    def approver_resolution(self) -> int:
        return self.total(APPROVERS)


class CountingApprovers:
    """OwnerApprovers, marking the Exchange calls made while resolving approvers."""

    def __init__(self, inner: OwnerApprovers, log: CallLog) -> None:
        self._inner = inner
        self._log = log

    def fallback_approvers(self) -> ApproverSet:
        return self._inner.fallback_approvers()

    async def current_approvers(self, group: ListRef) -> ApproverSet:
        with self._log.resolving():
            return await self._inner.current_approvers(group)


class CallLog:
    """Reads the sandbox's request log: each new client-request-id is one call."""

    def __init__(self, requests: list[LoggedRequest]) -> None:
        self._requests = requests
        self._seen = len(requests)
        self._ids: set[str | None] = set()
        self._resolving = 0
        self.count = Count()
        self._phase = "setup"

    def resolving(self) -> _Resolving:
        return _Resolving(self)

    def take(self) -> None:
        """Book every request since the last take to the current phase (or approvers)."""
        new = self._requests[self._seen :]
        self._seen = len(self._requests)
        for entry in new:
            if entry.client_request_id in self._ids:
                continue  # a page or retry of a call already counted
            self._ids.add(entry.client_request_id)
            phase = APPROVERS if self._resolving else self._phase
            self.count.add(phase, entry.cmdlet or entry.x_cmdlet_name or "?")

    async def phase(self, name: str, work: Callable[[], Awaitable[Any]]) -> Any:
        self.take()
        self._phase = name
        try:
            return await work()
        finally:
            self.take()


class _Resolving:
    def __init__(self, log: CallLog) -> None:
        self._log = log

    def __enter__(self) -> None:
        self._log.take()
        self._log._resolving += 1

    def __exit__(self, *exc: object) -> None:
        self._log.take()
        self._log._resolving -= 1


@dataclass
class Flow:
    """The product wired as `dlbot serve` wires it, minus Redis and Teams."""

    client: ExchangeClient
    log: CallLog
    people: InMemoryListDirectory
    service: ApprovalService
    jobs: InMemoryJobQueue
    notifier: InMemoryNotifier
    bot: DlBot


async def build(client: ExchangeClient, requests: list[LoggedRequest]) -> Flow:
    log = CallLog(requests)
    directory = ExchangeListDirectory(client)
    # The syncs that run on a schedule, not per request: the list index and people snapshot.
    lists = [item async for page in directory.all_lists() for item in page]
    people = InMemoryListDirectory(
        people=[record.person() async for page in directory.all_people() for record in page]
    )
    approvers = CountingApprovers(OwnerApprovers(ExchangeOwnerDirectory(client), ()), log)
    jobs = InMemoryJobQueue()
    notifier = InMemoryNotifier()
    service = ApprovalService(
        store=InMemoryRequestStore(),
        approvers=approvers,
        notifier=notifier,
        jobs=jobs,
        writer=ExchangeMembershipWriter(client),
        audit=InMemoryAudit(),
    )
    join = JoinList(directory, service, approvers, Policy())
    bot = DlBot(
        conversation_state=ConversationState(MemoryStorage()),
        join_dialog=JoinDialog(JoinDialogServices(join=join, index=ListIndex(lists))),
        people=people,
        approvals=service,
    )
    log.take()  # the syncs are not part of any request
    return Flow(client, log, people, service, jobs, notifier, bot)


async def run_scenario(flow: Flow, scenario: Scenario, people: dict[str, str]) -> Count:
    """One request from first message to membership; the calls it made, by phase."""
    log = flow.log
    log.count = Count()
    requester = people[scenario.requester.casefold()]
    template = Activity(
        channel_id="msteams",
        service_url="https://test.invalid",
        from_property=ChannelAccount(id=f"29:{requester}", name="someone", aad_object_id=requester),
        recipient=ChannelAccount(id="28:bot", name="dlbot"),
        conversation=ConversationAccount(id=f"a:{requester}", conversation_type="personal"),
    )
    adapter = TestAdapter(flow.bot.on_turn, template)
    first, *rest = scenario.say
    await log.phase("preview", lambda: adapter.receive_activity(first))
    for text in rest:
        await log.phase("submit", lambda text=text: adapter.receive_activity(text))  # type: ignore[misc]
    mine = await flow.service.requests_of(requester)
    request: ApprovalRequest | None = mine[0] if mine else None
    if request is None:
        return log.count
    await log.phase("jobs after submit", lambda: flow.jobs.run_all(flow.service))
    if scenario.approver is not None:
        approver_id = people[scenario.approver.casefold()]
        approver = await flow.people.person(approver_id)
        assert approver is not None
        await log.phase("decision", lambda: flow.service.decide(request.id, approver, approve=True))
    await log.phase("jobs after decision", lambda: flow.jobs.run_all(flow.service))
    done = await flow.service.get(request.id)
    if done.status.value != "completed":
        raise SystemExit(f"{scenario.name}: the request ended {done.status.value}")
    return log.count


def config_for(sandbox: Any) -> ExchangeConfig:
    app = sandbox.demo_app
    assert app is not None and app.secrets, "the demo tenant registers an app with a secret"
    return ExchangeConfig(
        base_url=sandbox.base_url,
        authority_host=sandbox.base_url,
        tenant=sandbox.tenant_id,
        client_id=app.client_id,
        client_secret=SecretStr(app.secrets[0]),
        ca_file=sandbox.ca_file,
    )


async def measure(client: ExchangeClient, requests: list[LoggedRequest]) -> dict[str, Count]:
    """Every scenario on the tenant `client` reaches, whose request log is `requests`."""
    people_by_address = {
        (user.windows_email_address or user.user_principal_name).casefold(): (
            user.external_directory_object_id
        )
        async for page in client.iter_users()
        for user in page
        if user.external_directory_object_id
    }
    flow = await build(client, requests)
    return {s.name: await run_scenario(flow, s, people_by_address) for s in SCENARIOS}


def _table(results: dict[str, Count], tokens: int) -> str:
    rows = [
        "| request | " + " | ".join(PHASES) + " | **add-me total** | approver resolution |",
        "|---|" + "---|" * (len(PHASES) + 2),
    ]
    for name, count in results.items():
        cells = []
        for phase in PHASES:
            calls = count.calls.get(phase, Counter())
            cells.append(", ".join(f"{n} {c}" for c, n in sorted(calls.items())) or "0")
        resolving = count.calls.get(APPROVERS, Counter())
        detail = ", ".join(f"{n} {c}" for c, n in sorted(resolving.items()))
        rows.append(
            f"| {name} | " + " | ".join(cells) + f" | **{count.total()}** | "
            f"{count.approver_resolution()}{f' ({detail})' if detail else ''} |"
        )
    rows.append("")
    calls = sum(c.total() + c.approver_resolution() for c in results.values())
    rows.append(
        f"tokens fetched from the token endpoint for these {calls} calls (and the syncs before "
        f"them), bot and worker sharing one client: {tokens}"
    )
    return "\n".join(rows)


async def _main() -> int:
    from exchange.sandbox.server import ThreadedSandbox

    with ThreadedSandbox() as sandbox:
        config = config_for(sandbox)
        tokens_before = sandbox.tokens_issued
        # One client for the bot and the worker, as `dlbot serve` runs them in one process.
        async with ExchangeClient(config) as client:
            results = await measure(client, sandbox.server.requests)
        tokens = sandbox.tokens_issued - tokens_before
    print(_table(results, tokens))
    worst = max(count.total() for count in results.values())
    return 0 if worst <= 3 and tokens == 1 else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(_main()))
