"""A ListDirectory held in memory: the test fake for the use cases and for the bot's dialogs.

It answers the way ExchangeListDirectory does (identity by object id or any address, membership
direct or through member groups up to the same depth), so a dialog test written against it
behaves like the bot against Exchange.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import TYPE_CHECKING

from approvals.models import Person
from skills.ports import DirectoryList, Membership, MembershipKind

# The same bound ExchangeListDirectory walks: a list nested deeper does not count.
MAX_NESTING_DEPTH = 3


class InMemoryListDirectory:
    """Lists, people and memberships set up by a test; read through the ListDirectory port."""

    def __init__(
        self,
        lists: Iterable[DirectoryList] = (),
        people: Iterable[Person] = (),
        *,
        page_size: int = 100,
    ) -> None:
        self._lists: dict[str, DirectoryList] = {}
        self._people: dict[str, Person] = {}
        # list object id -> object ids of its direct members (people and lists alike)
        self._members: dict[str, set[str]] = {}
        self._page_size = page_size
        self.reads = 0  # how many port calls were made, to prove what a use case re-reads
        for directory_list in lists:
            self.add_list(directory_list)
        for person in people:
            self.add_person(person)

    # Setting up ------------------------------------------------------------------------------

    def add_list(self, directory_list: DirectoryList, *, members: Iterable[str] = ()) -> None:
        """Add or replace a list; `members` are object ids of people or of other lists."""
        self._lists[directory_list.object_id] = directory_list
        self._members.setdefault(directory_list.object_id, set()).update(members)

    def remove_list(self, object_id: str) -> None:
        self._lists.pop(object_id, None)
        self._members.pop(object_id, None)

    def add_person(self, person: Person) -> None:
        self._people[person.object_id] = person

    def add_member(self, list_object_id: str, member_object_id: str) -> None:
        self._members.setdefault(list_object_id, set()).add(member_object_id)

    def remove_member(self, list_object_id: str, member_object_id: str) -> None:
        self._members.get(list_object_id, set()).discard(member_object_id)

    # The ListDirectory port ------------------------------------------------------------------

    async def get_list(self, identity: str) -> DirectoryList | None:
        self.reads += 1
        if identity in self._lists:
            return self._lists[identity]
        wanted = identity.strip().casefold()
        for candidate in self._lists.values():
            addresses = (candidate.address, *candidate.other_addresses)
            if wanted in (a.casefold() for a in addresses):
                return candidate
        return None

    async def membership(self, group: DirectoryList, person_object_id: str) -> Membership:
        self.reads += 1
        direct = self._members.get(group.object_id, set())
        if person_object_id in direct:
            return Membership(MembershipKind.DIRECT)
        # Breadth first, as Exchange is walked: the shortest path through member groups wins.
        seen = {group.object_id}
        frontier: list[tuple[str, tuple[str, ...]]] = [(group.object_id, ())]
        for _ in range(MAX_NESTING_DEPTH):
            next_frontier: list[tuple[str, tuple[str, ...]]] = []
            for parent, path in frontier:
                for child_id in sorted(self._members.get(parent, set())):
                    child = self._lists.get(child_id)
                    if child is None or child_id in seen:
                        continue
                    seen.add(child_id)
                    via = (*path, child.display_name)
                    if person_object_id in self._members.get(child_id, set()):
                        return Membership(MembershipKind.NESTED, via)
                    next_frontier.append((child_id, via))
            frontier = next_frontier
        return Membership(MembershipKind.NONE)

    async def person(self, object_id: str) -> Person | None:
        self.reads += 1
        return self._people.get(object_id)

    async def all_lists(self) -> AsyncIterator[list[DirectoryList]]:
        every = list(self._lists.values())
        for start in range(0, len(every), self._page_size):
            yield every[start : start + self._page_size]


if TYPE_CHECKING:  # mypy proves the fake fits the port
    from skills.ports import ListDirectory

    _directory: ListDirectory = InMemoryListDirectory()
