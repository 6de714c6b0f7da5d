"""ListIndex: finding the list a person means from what they type on a phone."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections.abc import Iterator

import pytest

from exchange.sandbox.generate import generate_tenant
from skills.find_dl import ListIndex, MatchReason
from skills.ports import DirectoryList, ListKind
from tests.skills.factories import demo_list, demo_lists, list_from_tenant_group, make_list


@pytest.fixture
def index() -> ListIndex:
    return ListIndex(demo_lists())


def names(index: ListIndex, query: str, limit: int = 5) -> list[str]:
    return [match.list.name for match in index.search(query, limit)]


# Exact matches --------------------------------------------------------------------------------


def test_an_exact_address_finds_that_list_alone(index: ListIndex) -> None:
    (match,) = index.search("finance-emea@contoso.com")

    assert match.list.name == "finance-emea"
    assert (match.why, match.score) == (MatchReason.ADDRESS, 1.0)


@pytest.mark.parametrize(
    "query",
    [
        "FINANCE-EMEA@CONTOSO.COM",
        "<finance-emea@contoso.com>",
        "mailto:finance-emea@contoso.com",
        "add me to finance-emea@contoso.com please",
    ],
)
def test_an_address_is_found_however_it_is_written(index: ListIndex, query: str) -> None:
    assert names(index, query) == ["finance-emea"]


def test_a_secondary_address_finds_the_list() -> None:
    index = ListIndex([make_list("payroll", other_addresses=("salaries@contoso.com",))])

    assert names(index, "salaries@contoso.com") == ["payroll"]


def test_an_unknown_address_falls_back_to_its_local_part(index: ListIndex) -> None:
    assert names(index, "finance-emea@contoso.co")[0] == "finance-emea"


def test_the_whole_name_comes_before_longer_names_sharing_its_words() -> None:
    index = ListIndex(
        [
            make_list("finance-emea-controllers", display_name="Finance EMEA Controllers"),
            make_list("finance-emea-all", display_name="Finance EMEA all"),
            make_list("finance-emea", display_name="Finance EMEA"),
        ]
    )

    first, *rest = index.search("finance emea")

    assert (first.list.name, first.why) == ("finance-emea", MatchReason.NAME)
    assert first.score > max(m.score for m in rest)
    assert len(rest) == 2  # the whole-name match is not offered twice
    assert {m.list.name for m in rest} == {"finance-emea-controllers", "finance-emea-all"}


def test_an_alias_typed_exactly_is_a_whole_name_match(index: ListIndex) -> None:
    first = index.search("zurich-team")[0]

    assert (first.list.name, first.why) == ("Zürich-Team", MatchReason.NAME)


# Forgiving how people type --------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    ["finance emea", "Finance-EMEA", "FINANCE_EMEA", "  finance   emea ", "finance.emea"],
)
def test_case_and_separators_do_not_matter(index: ListIndex, query: str) -> None:
    assert names(index, query)[0] == "finance-emea"


@pytest.mark.parametrize("query", ["zurich", "Zürich", "ZURICH TEAM", "zürich team 🎉"])
def test_accents_and_symbols_do_not_matter(index: ListIndex, query: str) -> None:
    assert names(index, query)[0] == "Zürich-Team"


def test_a_name_with_accents_is_found_by_one_typed_without() -> None:
    index = ListIndex([make_list("soren-fans", display_name="Søren Kierkegaard Fans")])

    assert names(index, "soren kierkegaard") == ["soren-fans"]


@pytest.mark.parametrize(
    "query",
    [
        "the finance emea list",
        "finance emea dl",
        "finance emea distribution list",
        "please add me to the finance emea group",
    ],
)
def test_filler_words_are_ignored(index: ListIndex, query: str) -> None:
    assert names(index, query)[0] == "finance-emea"


def test_a_filler_word_that_is_part_of_a_name_still_helps() -> None:
    # "team" is filler, yet Leadership Team holds it: it wins over a list without it that
    # would otherwise come first (a shorter name).
    index = ListIndex(
        [
            make_list("leadership-team", display_name="Leadership Team"),
            make_list("leadership-x", display_name="Leadership X"),
        ]
    )

    assert names(index, "leadership") == ["leadership-x", "leadership-team"]
    assert names(index, "leadership team please") == ["leadership-team", "leadership-x"]


def test_a_query_of_filler_words_only_searches_for_them(index: ListIndex) -> None:
    assert "sales-team" in names(index, "team", limit=10)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("finanse emea", "finance-emea"),  # a letter replaced
        ("finace emea", "finance-emea"),  # a letter missing
        ("finnance emea", "finance-emea"),  # a letter too many
        ("finance emae", "finance-emea"),  # two letters swapped
        ("markting", "marketing"),
        ("enginering platform", "engineering-platform"),
    ],
)
def test_small_typos_are_forgiven(index: ListIndex, query: str, expected: str) -> None:
    first = index.search(query)[0]

    assert first.list.name == expected
    assert first.why is MatchReason.TYPO


def test_words_under_four_letters_are_not_typo_matched(index: ListIndex) -> None:
    # "xt" is one letter from "it", "vpx" from "vpn": too short to guess what was meant
    assert index.search("xt") == index.search("vpx") == []
    assert names(index, "vpns") == ["vpn-users"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("fin emea", "finance-emea"),
        ("eng plat", "engineering-platform"),
        ("leader", "leadership-team"),
    ],
)
def test_the_start_of_a_word_is_enough(index: ListIndex, query: str, expected: str) -> None:
    first = index.search(query)[0]

    assert first.list.name == expected
    assert first.why is MatchReason.PREFIX


def test_whole_words_rank_above_prefixes() -> None:
    index = ListIndex(
        [
            make_list("salesforce-admins", display_name="Salesforce admins"),
            make_list("sales-uk-and-ireland", display_name="Sales UK and Ireland"),
        ]
    )

    matches = index.search("sales")

    assert [m.list.name for m in matches] == ["sales-uk-and-ireland", "salesforce-admins"]
    assert [m.why for m in matches] == [MatchReason.WORDS, MatchReason.PREFIX]
    assert matches[0].score > matches[1].score


def test_prefixes_rank_above_typos() -> None:
    index = ListIndex(
        [
            make_list("card-games", display_name="Card games"),  # "cart" one letter off
            make_list("cartography", display_name="Cartography and maps club"),
        ]
    )

    matches = index.search("cart")

    assert [m.list.name for m in matches] == ["cartography", "card-games"]
    assert [m.why for m in matches] == [MatchReason.PREFIX, MatchReason.TYPO]
    assert matches[0].score > matches[1].score


def test_two_typed_words_can_be_one_word_of_the_name() -> None:
    index = ListIndex([make_list("bookclub-emea", display_name="Bookclub EMEA")])

    assert names(index, "book club") == ["bookclub-emea"]


def test_one_typed_word_can_be_two_words_of_the_name(index: ListIndex) -> None:
    assert names(index, "bookclub")[0] == "book-club"


def test_all_words_but_one_are_offered_when_nothing_has_every_word(index: ListIndex) -> None:
    first = index.search("finance emea payroll")[0]

    assert (first.list.name, first.why) == ("finance-emea", MatchReason.SOME_WORDS)
    assert first.score < 0.5


def test_a_match_says_which_words_of_the_list_matched(index: ListIndex) -> None:
    first = index.search("fin emea")[0]

    assert set(first.words) == {"finance", "emea"}


def test_nothing_is_found_for_words_no_list_has(index: ListIndex) -> None:
    assert index.search("quarterly zeppelin") == []


@pytest.mark.parametrize("query", ["", "   ", "🎉", "-_-"])
def test_an_empty_query_finds_nothing(index: ListIndex, query: str) -> None:
    assert index.search(query) == []


def test_the_limit_is_respected(index: ListIndex) -> None:
    assert len(index.search("en", limit=3)) == 3
    assert len(index.search("en", limit=2)) == 2
    assert len(index.search("engineering", limit=1)) == 1
    assert index.search("engineering", limit=0) == []


def test_equal_matches_come_shortest_name_first_and_always_in_the_same_order() -> None:
    lists = [make_list(f"sales-{n}", display_name=f"Sales {'x' * n}") for n in (5, 1, 3)]
    forward, backward = ListIndex(lists), ListIndex(reversed(lists))

    assert names(forward, "sales") == names(backward, "sales") == ["sales-1", "sales-3", "sales-5"]


# Hidden, dynamic and room lists ---------------------------------------------------------------


@pytest.mark.parametrize(
    "query", ["exec-assistants", "executive assistants", "exec", "Executive", "executiv assistants"]
)
def test_a_hidden_list_is_never_found_by_name(index: ListIndex, query: str) -> None:
    assert "exec-assistants" not in names(index, query, limit=50)


def test_a_hidden_list_is_found_by_its_exact_address(index: ListIndex) -> None:
    assert names(index, "exec-assistants@contoso.com") == ["exec-assistants"]
    assert index.by_address("Exec-Assistants@contoso.com") == demo_list("exec-assistants")


def test_dynamic_and_room_lists_are_found_so_the_bot_can_say_why_not(index: ListIndex) -> None:
    dynamic = index.search("sales dynamic")[0].list
    room = index.search("building 1 rooms")[0].list

    assert (dynamic.kind, room.kind) == (ListKind.DYNAMIC, ListKind.ROOM)


# Keeping the index current --------------------------------------------------------------------


def test_an_upserted_list_is_searchable_at_once(index: ListIndex) -> None:
    created = make_list("q3-launch", display_name="Q3 Launch")

    index.upsert(created)

    assert names(index, "q3 launch") == ["q3-launch"]
    assert index.get(created.object_id) == created
    assert index.by_address("q3-launch@contoso.com") == created


def test_an_upserted_list_ranks_by_its_name_like_the_others() -> None:
    index = ListIndex([make_list("sales-long", display_name="Sales long name")])

    index.upsert(make_list("sales", display_name="Sales"))

    assert names(index, "sales") == ["sales", "sales-long"]


def test_a_renamed_list_is_found_by_its_new_name_only(index: ListIndex) -> None:
    old = demo_list("book-club")

    index.upsert(dataclasses.replace(old, display_name="Reading Circle", name="reading-circle"))

    assert "book-club" not in names(index, "book club") + names(index, "reading circle")
    assert names(index, "reading circle") == ["reading-circle"]


def test_an_address_change_frees_the_old_address(index: ListIndex) -> None:
    old = demo_list("book-club")

    index.upsert(dataclasses.replace(old, address="readers@contoso.com", other_addresses=()))

    assert index.by_address("book-club@contoso.com") is None
    assert index.by_address("readers@contoso.com") is not None


def test_a_list_that_becomes_hidden_drops_out_of_search(index: ListIndex) -> None:
    index.upsert(dataclasses.replace(demo_list("book-club"), hidden=True))

    assert "book-club" not in names(index, "book club")
    assert index.by_address("book-club@contoso.com") is not None


def test_a_removed_list_is_gone_everywhere(index: ListIndex) -> None:
    gone = demo_list("finance-emea")

    index.remove(gone.object_id)
    index.remove(gone.object_id)  # twice is harmless

    assert "finance-emea" not in names(index, "finance emea")
    assert index.get(gone.object_id) is None
    assert index.by_address(gone.address) is None
    assert len(index) == len(demo_lists()) - 1


def test_words_of_a_removed_list_no_longer_match_by_prefix_or_typo() -> None:
    index = ListIndex([make_list("zeppelin", display_name="Zeppelin")])

    index.remove(make_list("zeppelin").object_id)

    assert index.search("zepp") == index.search("zeppelim") == []


def test_replace_all_swaps_the_whole_directory(index: ListIndex) -> None:
    index.replace_all([make_list("only-one")])

    assert (len(index), names(index, "finance emea")) == (1, [])


async def test_a_rebuild_keeps_lists_upserted_while_it_ran() -> None:
    index = ListIndex([make_list("old-list")])
    release = threading.Event()
    slow = _SlowLists([make_list("synced-list")], release)

    rebuilding = asyncio.create_task(index.rebuild(slow))
    await asyncio.sleep(0)
    index.upsert(make_list("created-meanwhile"))
    assert names(index, "old list") == ["old-list"]  # searches use the old index meanwhile
    release.set()
    await rebuilding

    assert names(index, "synced list") == ["synced-list"]
    assert names(index, "created meanwhile") == ["created-meanwhile"]
    assert names(index, "old list") == []


class _SlowLists:
    """Lists whose iteration waits for a signal, so a test can act while a rebuild runs."""

    def __init__(self, lists: list[DirectoryList], release: threading.Event) -> None:
        self._lists, self._release = lists, release

    def __iter__(self) -> Iterator[DirectoryList]:
        assert self._release.wait(timeout=10)
        return iter(self._lists)


# A tenant of 100,000 lists --------------------------------------------------------------------


@pytest.fixture(scope="module")
def big() -> tuple[ListIndex, list[DirectoryList]]:
    lists = [list_from_tenant_group(g) for g in generate_tenant(100_000, 50, seed=7)["groups"]]
    return ListIndex(lists), lists


@pytest.mark.slow
def test_every_visible_list_of_a_huge_tenant_is_found_first_by_its_display_name(
    big: tuple[ListIndex, list[DirectoryList]],
) -> None:
    index, lists = big
    for item in lists[::997]:
        matches = index.search(item.display_name)
        if item.hidden:
            assert item not in [m.list for m in matches]
        else:
            assert (matches[0].list, matches[0].why) == (item, MatchReason.NAME)


@pytest.mark.slow
def test_every_list_of_a_huge_tenant_is_found_by_its_address(
    big: tuple[ListIndex, list[DirectoryList]],
) -> None:
    index, lists = big
    for item in lists[::501]:
        assert [m.list for m in index.search(item.address.upper())] == [item]


@pytest.mark.slow
def test_word_searches_in_a_huge_tenant_return_lists_holding_every_word(
    big: tuple[ListIndex, list[DirectoryList]],
) -> None:
    index, lists = big
    expected = {i.object_id for i in lists if i.name.startswith("finance-emea-") and not i.hidden}

    found = index.search("finanse emea", limit=len(expected))
    more = index.search("finanse emea", limit=len(expected) + 1)

    assert {m.list.object_id for m in found} == expected
    assert {m.why for m in found} == {MatchReason.TYPO}
    assert more[-1].why is MatchReason.SOME_WORDS  # then lists with "emea" alone
    assert not any(m.list.hidden for m in index.search("finance", limit=100_000))


@pytest.mark.slow
def test_a_list_upserted_into_a_huge_tenant_beats_longer_names(
    big: tuple[ListIndex, list[DirectoryList]],
) -> None:
    index, _ = big
    created = make_list("finance-emea-new", display_name="Finance EMEA")

    index.upsert(created)
    try:
        assert index.search("fin emea")[0].list == created
    finally:
        index.remove(created.object_id)
