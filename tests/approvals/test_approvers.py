"""Owners become approvers: people kept, groups expanded (bounded, cycle-safe), the disabled
dropped, duplicates removed, and the fallback approvers when nobody is left."""

from __future__ import annotations

from approvals.approvers import OwnerApprovers, as_fallback
from approvals.models import Approver, Person
from approvals.ports import ApproverSet, DirectoryEntry
from approvals.testing import InMemoryOwnerDirectory
from tests.approvals import demo

LIST = demo.FINANCE_EMEA
FALLBACK = (demo.approver(demo.PATTI, "owner"), demo.approver(demo.DIEGO, "owner"))


def entry(who: Person, *, disabled: bool = False) -> DirectoryEntry:
    return DirectoryEntry(who.object_id, who.display_name, who.address, disabled=disabled)


def group(object_id: str, name: str, *, disabled: bool = False) -> DirectoryEntry:
    return DirectoryEntry(
        object_id, name, f"{object_id}@contoso.com", is_group=True, disabled=disabled
    )


def source(
    owners: list[DirectoryEntry],
    members: dict[str, list[DirectoryEntry]] | None = None,
    max_group_depth: int = 2,
) -> tuple[OwnerApprovers, InMemoryOwnerDirectory]:
    directory = InMemoryOwnerDirectory(owners_of={LIST.object_id: owners}, members_of=members or {})
    return OwnerApprovers(directory, FALLBACK, max_group_depth=max_group_depth), directory


def ids(found: ApproverSet) -> list[str]:
    return [a.display_name for a in found.approvers]


def vias(found: ApproverSet) -> list[tuple[str, str]]:
    return [(a.display_name, a.via) for a in found.approvers]


async def test_owners_who_are_people_approve_in_managed_by_order() -> None:
    approvers, _ = source([entry(demo.MEGAN), entry(demo.LEE)])
    found = await approvers.current_approvers(LIST)
    assert vias(found) == [("Megan Bowen", "owner"), ("Lee Gu", "owner")]
    assert not found.orphaned
    assert found.approvers[0] == Approver(**demo.MEGAN.model_dump(), via="owner")


async def test_an_owner_group_stands_for_its_members_named_by_the_group() -> None:
    approvers, _ = source(
        [group("g1", "IT Admins")], {"g1": [entry(demo.ADELE), entry(demo.GRADY)]}
    )
    found = await approvers.current_approvers(LIST)
    assert vias(found) == [
        ("Adele Vance", "owner group IT Admins"),
        ("Grady Archie", "owner group IT Admins"),
    ]


async def test_a_group_inside_an_owner_group_is_expanded_to_the_depth_allowed() -> None:
    members = {
        "g1": [entry(demo.ADELE), group("g2", "On-call")],
        "g2": [entry(demo.GRADY), group("g3", "Too deep")],
        "g3": [entry(demo.JOHN)],
    }
    approvers, _ = source([group("g1", "IT Admins")], members)
    found = await approvers.current_approvers(LIST)
    assert vias(found) == [
        ("Adele Vance", "owner group IT Admins"),
        ("Grady Archie", "owner group IT Admins"),
    ]


async def test_a_depth_of_one_expands_only_the_owner_groups_themselves() -> None:
    members = {"g1": [entry(demo.ADELE), group("g2", "On-call")], "g2": [entry(demo.GRADY)]}
    approvers, _ = source([group("g1", "IT Admins")], members, max_group_depth=1)
    assert ids(await approvers.current_approvers(LIST)) == ["Adele Vance"]


async def test_owner_groups_that_contain_each_other_are_each_read_once() -> None:
    members = {
        "g1": [entry(demo.ADELE), group("g2", "B")],
        "g2": [entry(demo.GRADY), group("g1", "A")],
    }
    approvers, directory = source([group("g1", "A"), group("g2", "B")], members, max_group_depth=9)
    found = await approvers.current_approvers(LIST)
    assert ids(found) == ["Adele Vance", "Grady Archie"]
    assert sorted(directory.calls) == ["members g1", "members g2", f"owners {LIST.object_id}"]


async def test_disabled_owners_and_disabled_group_members_are_dropped() -> None:
    approvers, _ = source(
        [entry(demo.JONI, disabled=True), entry(demo.MEGAN), group("g1", "IT Admins")],
        {"g1": [entry(demo.ADELE, disabled=True), entry(demo.GRADY)]},
    )
    assert ids(await approvers.current_approvers(LIST)) == ["Megan Bowen", "Grady Archie"]


async def test_someone_who_owns_directly_and_through_a_group_is_asked_once_as_owner() -> None:
    approvers, _ = source(
        [group("g1", "IT Admins"), entry(demo.ADELE)],
        {"g1": [entry(demo.ADELE), entry(demo.GRADY)]},
    )
    found = await approvers.current_approvers(LIST)
    assert vias(found) == [("Adele Vance", "owner"), ("Grady Archie", "owner group IT Admins")]


async def test_a_list_without_owners_is_orphaned_and_goes_to_the_fallback_approvers() -> None:
    approvers, _ = source([])
    found = await approvers.current_approvers(LIST)
    assert found.orphaned
    assert vias(found) == [("Patti Fernandez", "fallback"), ("Diego Siciliani", "fallback")]


async def test_a_list_whose_only_owner_is_disabled_is_orphaned() -> None:
    approvers, _ = source([entry(demo.JONI, disabled=True)])
    found = await approvers.current_approvers(LIST)
    assert found.orphaned and ids(found) == ["Patti Fernandez", "Diego Siciliani"]


async def test_an_owner_group_with_nobody_usable_in_it_orphans_the_list() -> None:
    approvers, _ = source(
        [group("g1", "Empty"), group("g2", "Gone", disabled=True)],
        {"g1": [entry(demo.JONI, disabled=True)], "g2": [entry(demo.ADELE)]},
    )
    assert (await approvers.current_approvers(LIST)).orphaned


async def test_the_fallback_approvers_come_with_every_answer() -> None:
    approvers, _ = source([entry(demo.MEGAN)])
    found = await approvers.current_approvers(LIST)
    assert [a.display_name for a in found.fallback] == ["Patti Fernandez", "Diego Siciliani"]
    assert all(a.via == "fallback" for a in found.fallback)


async def test_fallback_approvers_alone_are_an_orphaned_set() -> None:
    approvers, directory = source([entry(demo.MEGAN)])
    found = approvers.fallback_approvers()
    assert found.orphaned and found.approvers == found.fallback == as_fallback(FALLBACK)
    assert directory.calls == []


def test_configured_fallback_approvers_are_marked_and_deduplicated() -> None:
    marked = as_fallback([*FALLBACK, demo.approver(demo.PATTI, "someone")])
    assert [(a.display_name, a.via) for a in marked] == [
        ("Patti Fernandez", "fallback"),
        ("Diego Siciliani", "fallback"),
    ]
