"""JoinList on the in-memory directory: every decision, and what submit stores for each."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field

import pytest

from approvals.models import Person, RequestKind
from approvals.testing import StaticApprovers
from skills.errors import InvalidJustification
from skills.join_dl import (
    AddNow,
    AddNowReason,
    AlreadyMember,
    AlreadyMemberNested,
    AlreadyRequested,
    DecisionKind,
    Instead,
    JoinList,
    NeedsApproval,
    Previewed,
    RefusalReason,
    Refused,
)
from skills.memory_directory import InMemoryListDirectory
from skills.policies import BlockRule, ClosedLists, JustificationProblem, Policy
from skills.ports import DirectoryList, Restriction
from tests.skills.factories import (
    ADELE,
    ALEX,
    DIEGO,
    HENRIETTA,
    LEE,
    MEGAN,
    PATTI,
    approver,
    demo_approvers,
    demo_list,
    demo_lists,
    demo_people,
    demo_person,
)
from tests.skills.fakes import FakeApprovals


def demo_directory() -> InMemoryListDirectory:
    directory = InMemoryListDirectory(demo_lists(), demo_people())
    ids = {item.name: item.object_id for item in demo_lists()}
    directory.add_member(ids["marketing"], ALEX)
    directory.add_member(ids["finance-emea"], LEE)
    directory.add_member(ids["engineering-all"], ids["engineering-platform"])
    directory.add_member(ids["engineering-platform"], HENRIETTA)
    return directory


@dataclass
class World:
    directory: InMemoryListDirectory = field(default_factory=demo_directory)
    approvals: FakeApprovals = field(default_factory=FakeApprovals)
    approvers: StaticApprovers = field(default_factory=demo_approvers)
    policy: Policy = field(default_factory=Policy)

    @property
    def join(self) -> JoinList:
        return JoinList(self.directory, self.approvals, self.approvers, self.policy)

    def change(self, name: str, **fields: object) -> DirectoryList:
        changed = dataclasses.replace(demo_list(name), **fields)  # type: ignore[arg-type]
        self.directory.add_list(changed)
        return changed


@pytest.fixture
def world() -> World:
    return World()


def alex() -> Person:
    return demo_person(ALEX)


# Each decision --------------------------------------------------------------------------------


async def test_an_unknown_list_is_refused_as_not_found(world: World) -> None:
    preview = await world.join.preview(alex(), "no-such-list@contoso.com")

    assert preview.list is None
    assert preview.decision == Refused(RefusalReason.NOT_FOUND, Instead.CHECK_THE_NAME)


async def test_a_list_is_found_by_object_id_or_address(world: World) -> None:
    by_id = await world.join.preview(alex(), demo_list("finance-emea").object_id)
    by_address = await world.join.preview(alex(), "Finance-EMEA@contoso.com")

    assert by_id.list == by_address.list == demo_list("finance-emea")


async def test_a_room_list_is_refused_with_the_room_finder_instead(world: World) -> None:
    preview = await world.join.preview(alex(), "building1-rooms@contoso.com")

    assert preview.decision == Refused(RefusalReason.ROOM_LIST, Instead.USE_ROOM_FINDER)


async def test_a_dynamic_list_is_refused_saying_membership_follows_the_profile(
    world: World,
) -> None:
    preview = await world.join.preview(alex(), "sales-all@contoso.com")

    assert preview.decision == Refused(RefusalReason.DYNAMIC_LIST, Instead.UPDATE_PROFILE)


async def test_a_direct_member_is_already_a_member(world: World) -> None:
    preview = await world.join.preview(alex(), "marketing@contoso.com")

    assert preview.decision == AlreadyMember()
    assert preview.decision.kind is DecisionKind.ALREADY_MEMBER


async def test_a_member_through_a_nested_list_is_told_which(world: World) -> None:
    preview = await world.join.preview(demo_person(HENRIETTA), "engineering@contoso.com")

    assert preview.decision == AlreadyMemberNested(("Engineering Platform",))


async def test_a_blocked_list_is_refused_with_the_admins_message(world: World) -> None:
    world.policy = Policy(
        blocked=(BlockRule(pattern="all-*@contoso.com", message="Ask HR to join All Staff."),)
    )

    preview = await world.join.preview(alex(), "all-staff@contoso.com")

    assert preview.decision == Refused(
        RefusalReason.BLOCKED, Instead.FOLLOW_ADMIN_MESSAGE, "Ask HR to join All Staff."
    )


async def test_a_member_of_a_blocked_list_hears_they_are_a_member(world: World) -> None:
    world.policy = Policy(blocked=(BlockRule(pattern="marketing@*", message="no"),))

    preview = await world.join.preview(alex(), "marketing@contoso.com")

    assert preview.decision == AlreadyMember()


async def test_a_dir_synced_list_is_refused_naming_its_owners(world: World) -> None:
    preview = await world.join.preview(alex(), "onprem-engineering@contoso.com")

    assert preview.decision == Refused(RefusalReason.DIR_SYNCED, Instead.ASK_ONPREM_ADMIN)
    assert preview.owners == ("Grady Archie",)


async def test_an_open_request_is_returned_instead_of_a_second(world: World) -> None:
    earlier = world.approvals.put_open(alex(), demo_list("finance-emea").ref)

    preview = await world.join.preview(alex(), "finance-emea@contoso.com")

    assert preview.decision == AlreadyRequested(earlier)


async def test_an_open_request_for_another_list_does_not_count(world: World) -> None:
    world.approvals.put_open(alex(), demo_list("leadership-team").ref)

    preview = await world.join.preview(alex(), "finance-emea@contoso.com")

    assert preview.decision.kind is DecisionKind.NEEDS_APPROVAL


async def test_an_owner_is_added_at_once_as_nobody_approves_their_own_request(
    world: World,
) -> None:
    preview = await world.join.preview(demo_person(MEGAN), "finance-emea@contoso.com")

    assert preview.decision == AddNow(AddNowReason.REQUESTER_OWNS_LIST)
    assert preview.owners == ("Megan Bowen", "Lee Gu")


async def test_a_member_of_an_owner_group_owns_the_list(world: World) -> None:
    preview = await world.join.preview(demo_person(ADELE), "it-announcements@contoso.com")

    assert preview.decision == AddNow(AddNowReason.REQUESTER_OWNS_LIST)


async def test_an_owner_of_an_open_list_is_added_as_its_owner(world: World) -> None:
    preview = await world.join.preview(demo_person(DIEGO), "book-club@contoso.com")

    assert preview.decision == AddNow(AddNowReason.REQUESTER_OWNS_LIST)


async def test_anyone_is_added_to_an_open_list_at_once(world: World) -> None:
    preview = await world.join.preview(alex(), "book-club@contoso.com")

    assert preview.decision == AddNow(AddNowReason.OPEN_LIST)
    assert preview.owners == ("Diego Siciliani",)


async def test_an_approval_required_list_asks_its_owners(world: World) -> None:
    preview = await world.join.preview(alex(), "finance-emea@contoso.com")

    assert preview.decision == NeedsApproval(
        approvers=(approver(MEGAN), approver(LEE)),
        orphaned=False,
        justification_required=True,
        max_justification_length=500,
    )
    assert preview.owners == ("Megan Bowen", "Lee Gu")


async def test_a_closed_list_asks_its_owners_by_default(world: World) -> None:
    preview = await world.join.preview(alex(), "leadership@contoso.com")

    assert isinstance(preview.decision, NeedsApproval)
    assert preview.decision.approvers == (approver(PATTI),)


async def test_a_closed_list_is_refused_when_the_policy_says_so(world: World) -> None:
    world.policy = Policy(closed_lists=ClosedLists.REFUSE)

    preview = await world.join.preview(alex(), "leadership@contoso.com")

    assert preview.decision == Refused(RefusalReason.CLOSED_BY_POLICY, Instead.ASK_OWNERS)
    assert preview.owners == ("Patti Fernandez",)


async def test_refusing_closed_lists_leaves_approval_required_lists_alone(world: World) -> None:
    world.policy = Policy(closed_lists=ClosedLists.REFUSE)

    preview = await world.join.preview(alex(), "finance-emea@contoso.com")

    assert preview.decision.kind is DecisionKind.NEEDS_APPROVAL


async def test_a_closed_security_group_asks_its_owners(world: World) -> None:
    preview = await world.join.preview(alex(), "it-admins@contoso.com")

    assert isinstance(preview.decision, NeedsApproval)
    assert [a.display_name for a in preview.decision.approvers] == ["Adele Vance"]


async def test_an_orphaned_list_asks_the_fallback_approvers(world: World) -> None:
    preview = await world.join.preview(alex(), "former-interns@contoso.com")

    assert isinstance(preview.decision, NeedsApproval)
    assert preview.decision.orphaned
    assert preview.owners == ("Adele Vance", "Nestor Wilke")


async def test_a_fallback_approver_asking_is_no_owner_and_not_asked_themselves(
    world: World,
) -> None:
    preview = await world.join.preview(demo_person(ADELE), "former-interns@contoso.com")

    assert isinstance(preview.decision, NeedsApproval)
    assert preview.owners == ("Nestor Wilke",)


async def test_the_justification_requirement_follows_the_policy(world: World) -> None:
    world.policy = Policy(require_justification=False, max_justification_length=80)

    preview = await world.join.preview(alex(), "finance-emea@contoso.com")

    assert isinstance(preview.decision, NeedsApproval)
    assert not preview.decision.justification_required
    assert preview.decision.max_justification_length == 80


async def test_a_hidden_list_named_by_address_can_be_asked_for(world: World) -> None:
    preview = await world.join.preview(alex(), "exec-assistants@contoso.com")

    assert preview.decision.kind is DecisionKind.NEEDS_APPROVAL


async def test_a_preview_reads_live_and_stores_nothing(world: World) -> None:
    await world.join.preview(alex(), "finance-emea@contoso.com")
    world.change("finance-emea", join_restriction=Restriction.OPEN)

    preview = await world.join.preview(alex(), "finance-emea@contoso.com")

    assert preview.decision == AddNow(AddNowReason.OPEN_LIST)
    assert world.approvals.calls == []


# Submitting -----------------------------------------------------------------------------------


async def test_submitting_a_list_needing_approval_stores_a_pending_request(world: World) -> None:
    outcome = await world.join.submit(alex(), "finance-emea@contoso.com", "  Q3 budget\x07 ")

    (call,) = world.approvals.calls
    assert (call.kind, call.requester, call.group) == (
        RequestKind.JOIN,
        alex(),
        demo_list("finance-emea").ref,
    )
    assert (call.justification, call.auto_approved) == ("Q3 budget", "")
    assert outcome.decision.kind is DecisionKind.NEEDS_APPROVAL
    assert outcome.created and outcome.request is not None
    assert outcome.request.justification == "Q3 budget"


@pytest.mark.parametrize(
    ("who", "address", "why"),
    [
        (ALEX, "book-club@contoso.com", "open list"),
        (MEGAN, "finance-emea@contoso.com", "requester owns the list"),
    ],
)
async def test_a_join_needing_no_approval_is_submitted_approved_with_the_reason(
    world: World, who: str, address: str, why: str
) -> None:
    outcome = await world.join.submit(demo_person(who), address)

    assert [c.auto_approved for c in world.approvals.calls] == [why]
    assert outcome.decision.kind is DecisionKind.ADD_NOW
    assert outcome.created


@pytest.mark.parametrize("justification", ["", "   ", "\n\t"])
async def test_a_request_needing_approval_must_say_why(world: World, justification: str) -> None:
    with pytest.raises(InvalidJustification) as raised:
        await world.join.submit(alex(), "finance-emea@contoso.com", justification)

    assert raised.value.problem is JustificationProblem.MISSING
    assert world.approvals.calls == []


async def test_a_justification_may_be_left_out_when_the_policy_allows(world: World) -> None:
    world.policy = Policy(require_justification=False)

    outcome = await world.join.submit(alex(), "finance-emea@contoso.com")

    assert outcome.created


async def test_a_justification_longer_than_the_policy_allows_is_refused(world: World) -> None:
    world.policy = Policy(max_justification_length=10)

    with pytest.raises(InvalidJustification) as raised:
        await world.join.submit(alex(), "book-club@contoso.com", "x" * 11)

    assert (raised.value.problem, raised.value.max_length) == (JustificationProblem.TOO_LONG, 10)


async def test_joining_an_open_list_needs_no_justification(world: World) -> None:
    outcome = await world.join.submit(alex(), "book-club@contoso.com")

    assert outcome.created


@pytest.mark.parametrize(
    ("who", "address"),
    [
        (ALEX, "marketing@contoso.com"),
        (HENRIETTA, "engineering@contoso.com"),
        (ALEX, "sales-all@contoso.com"),
        (ALEX, "building1-rooms@contoso.com"),
        (ALEX, "onprem-engineering@contoso.com"),
        (ALEX, "nothing@contoso.com"),
    ],
)
async def test_nothing_is_submitted_when_the_answer_is_no_or_already(
    world: World, who: str, address: str
) -> None:
    outcome = await world.join.submit(demo_person(who), address, "please")

    assert (outcome.request, outcome.created) == (None, False)
    assert world.approvals.calls == []


async def test_asking_again_returns_the_open_request(world: World) -> None:
    first = await world.join.submit(alex(), "finance-emea@contoso.com", "Q3 budget")

    second = await world.join.submit(alex(), "finance-emea@contoso.com", "again")

    assert second.decision == AlreadyRequested(first.request)  # type: ignore[arg-type]
    assert (second.request, second.created) == (first.request, False)
    assert len(world.approvals.calls) == 1


async def test_a_request_stored_by_a_racing_ask_comes_back_as_already_requested(
    world: World,
) -> None:
    world.approvals.race = True

    outcome = await world.join.submit(alex(), "finance-emea@contoso.com", "Q3 budget")

    assert isinstance(outcome.decision, AlreadyRequested)
    assert outcome.request == outcome.decision.request
    assert not outcome.created


async def test_submit_decides_again_on_what_changed_since_the_preview(world: World) -> None:
    preview = await world.join.preview(alex(), "finance-emea@contoso.com")
    world.change("finance-emea", dir_synced=True)

    outcome = await world.join.submit(alex(), "finance-emea@contoso.com", "Q3 budget")

    assert preview.decision.kind is DecisionKind.NEEDS_APPROVAL
    assert outcome.decision == Refused(RefusalReason.DIR_SYNCED, Instead.ASK_ONPREM_ADMIN)
    assert world.approvals.calls == []


async def test_a_list_that_opened_since_the_preview_is_joined_at_once(world: World) -> None:
    await world.join.preview(alex(), "finance-emea@contoso.com")
    world.change("finance-emea", join_restriction=Restriction.OPEN)

    outcome = await world.join.submit(alex(), "finance-emea@contoso.com")

    assert outcome.decision == AddNow(AddNowReason.OPEN_LIST)
    assert [c.auto_approved for c in world.approvals.calls] == ["open list"]


async def test_the_outcome_carries_the_fresh_preview(world: World) -> None:
    outcome = await world.join.submit(alex(), "finance-emea@contoso.com", "Q3 budget")

    assert outcome.preview.list == demo_list("finance-emea")
    assert outcome.preview.owners == ("Megan Bowen", "Lee Gu")


# Submitting what a preview read (Previewed, kept by the dialog) --------------------------------


async def test_a_submit_after_a_preview_reads_neither_the_list_nor_the_membership_again(
    world: World,
) -> None:
    preview = await world.join.preview(alex(), "finance-emea@contoso.com")
    previewed = preview.previewed()
    assert previewed is not None
    reads = world.directory.reads

    outcome = await world.join.submit(
        alex(), "finance-emea@contoso.com", "Q3 budget", previewed=previewed
    )

    assert world.directory.reads == reads
    assert outcome.created and outcome.decision.kind is DecisionKind.NEEDS_APPROVAL
    assert outcome.preview.list == demo_list("finance-emea")


async def test_a_previewed_open_list_is_joined_at_once_without_asking_for_owners(
    world: World,
) -> None:
    previewed = (await world.join.preview(alex(), "book-club@contoso.com")).previewed()
    asked_before = world.approvers.calls

    outcome = await world.join.submit(alex(), "book-club@contoso.com", previewed=previewed)

    assert outcome.decision == AddNow(AddNowReason.OPEN_LIST)
    assert [c.auto_approved for c in world.approvals.calls] == ["open list"]
    assert world.approvers.calls == asked_before


async def test_an_owner_who_left_since_the_preview_is_asked_to_wait_for_approval(
    world: World,
) -> None:
    megan = demo_person(MEGAN)
    previewed = (await world.join.preview(megan, "finance-emea@contoso.com")).previewed()
    assert previewed is not None and previewed.add_now is AddNowReason.REQUESTER_OWNS_LIST
    finance = demo_list("finance-emea").object_id
    world.approvers.owners[finance] = (approver(LEE),)

    outcome = await world.join.submit(
        megan, "finance-emea@contoso.com", "still need it", previewed=previewed
    )

    assert isinstance(outcome.decision, NeedsApproval)
    assert [c.auto_approved for c in world.approvals.calls] == [""]


async def test_an_open_request_made_since_the_preview_is_returned_instead_of_a_second(
    world: World,
) -> None:
    previewed = (await world.join.preview(alex(), "finance-emea@contoso.com")).previewed()
    first = world.approvals.put_open(alex(), demo_list("finance-emea").ref)

    outcome = await world.join.submit(
        alex(), "finance-emea@contoso.com", "again", previewed=previewed
    )

    assert outcome.decision == AlreadyRequested(first)
    assert world.approvals.calls == []


async def test_a_preview_of_another_list_is_not_taken_for_this_one(world: World) -> None:
    previewed = (await world.join.preview(alex(), "book-club@contoso.com")).previewed()

    outcome = await world.join.submit(
        alex(), "finance-emea@contoso.com", "Q3 budget", previewed=previewed
    )

    assert outcome.decision.kind is DecisionKind.NEEDS_APPROVAL
    assert world.approvals.calls[0].group == demo_list("finance-emea").ref


async def test_nothing_to_submit_gives_no_previewed(world: World) -> None:
    member = await world.join.preview(alex(), "marketing@contoso.com")
    unknown = await world.join.preview(alex(), "nothing@contoso.com")

    assert member.previewed() is None and unknown.previewed() is None


@pytest.mark.parametrize("address", ["finance-emea@contoso.com", "book-club@contoso.com"])
async def test_previewed_survives_the_json_of_the_dialog_state(world: World, address: str) -> None:
    previewed = (await world.join.preview(demo_person(MEGAN), address)).previewed()
    assert previewed is not None

    again = Previewed.from_json(json.loads(json.dumps(previewed.to_json())))

    assert again == previewed
