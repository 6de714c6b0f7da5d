"""InMemoryListDirectory answers as ExchangeListDirectory does, so dialog tests can trust it."""

from __future__ import annotations

from skills.memory_directory import MAX_NESTING_DEPTH, InMemoryListDirectory
from skills.ports import Membership, MembershipKind
from tests.skills.factories import ALEX, demo_list, demo_lists, demo_people, make_list

BOB = "00000000-0000-4000-8000-00000000000b"


async def test_a_list_is_found_by_object_id_or_any_address_in_any_case() -> None:
    payroll = make_list("payroll", other_addresses=("salaries@contoso.com",))
    directory = InMemoryListDirectory([payroll])

    assert await directory.get_list(payroll.object_id) == payroll
    assert await directory.get_list("PAYROLL@contoso.com") == payroll
    assert await directory.get_list("salaries@contoso.com") == payroll
    assert await directory.get_list("payroll") is None  # an alias is not an identity here


async def test_membership_is_direct_nested_or_none() -> None:
    outer, inner = (
        make_list("outer", display_name="Outer"),
        make_list("inner", display_name="Inner"),
    )
    directory = InMemoryListDirectory([outer, inner])
    directory.add_member(outer.object_id, inner.object_id)
    directory.add_member(inner.object_id, ALEX)
    directory.add_member(outer.object_id, BOB)

    assert await directory.membership(outer, BOB) == Membership(MembershipKind.DIRECT)
    assert await directory.membership(outer, ALEX) == Membership(MembershipKind.NESTED, ("Inner",))
    assert (await directory.membership(inner, BOB)).kind is MembershipKind.NONE


async def test_nesting_is_followed_as_deep_as_exchange_is_and_no_deeper() -> None:
    chain = [make_list(f"level-{n}", display_name=f"L{n}") for n in range(MAX_NESTING_DEPTH + 2)]
    directory = InMemoryListDirectory(chain)
    for parent, child in zip(chain, chain[1:], strict=False):
        directory.add_member(parent.object_id, child.object_id)
    directory.add_member(chain[MAX_NESTING_DEPTH].object_id, ALEX)
    directory.add_member(chain[MAX_NESTING_DEPTH + 1].object_id, BOB)

    alex = await directory.membership(chain[0], ALEX)

    assert alex == Membership(MembershipKind.NESTED, ("L1", "L2", "L3"))
    assert (await directory.membership(chain[0], BOB)).kind is MembershipKind.NONE


async def test_lists_nesting_each_other_do_not_loop() -> None:
    a, b = make_list("a"), make_list("b")
    directory = InMemoryListDirectory([a, b])
    directory.add_member(a.object_id, b.object_id)
    directory.add_member(b.object_id, a.object_id)

    assert (await directory.membership(a, ALEX)).kind is MembershipKind.NONE


async def test_a_removed_member_is_no_longer_one() -> None:
    directory = InMemoryListDirectory([demo_list("marketing")])
    directory.add_member(demo_list("marketing").object_id, ALEX)

    directory.remove_member(demo_list("marketing").object_id, ALEX)

    assert (await directory.membership(demo_list("marketing"), ALEX)).kind is MembershipKind.NONE


async def test_people_are_found_by_object_id() -> None:
    directory = InMemoryListDirectory(people=demo_people())

    person = await directory.person(ALEX)

    assert person is not None and person.display_name == "Alex Wilber"
    assert await directory.person(BOB) is None


async def test_all_lists_come_a_page_at_a_time() -> None:
    directory = InMemoryListDirectory(demo_lists(), page_size=5)

    pages = [page async for page in directory.all_lists()]

    assert all(len(page) <= 5 for page in pages)
    assert [item for page in pages for item in page] == demo_lists()
