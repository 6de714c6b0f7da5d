"""Finding a list from what a person types: an in-memory index, searched in well under 5 ms.

Everything a search needs is computed when a list is added: its words (skills.text), the
posting set of every word (word -> list slots), a sorted vocabulary for prefixes, and the
one-deletion neighbourhood of every word for typos. A search then touches only the words typed
and set operations run in C: it never loops over all lists.

How a query is answered, best first:
1. an address (primary or secondary) names that list alone, hidden or not;
2. the whole name, display name, alias or address local part, however it is spelt;
3. lists holding every word typed, each word as itself, as the start of a word ("fin"), or
   with one typo ("finanse"); filler words ("the", "list", "dl", "team" ...) count only as a
   bonus, so "the finance emea list" finds finance-emea and "leadership team" still prefers
   Leadership Team;
4. when a query of several words has too few such lists, those holding all words but one.
Ties go to the list with the shorter name: "Finance EMEA" before "Finance EMEA Controllers".

Hidden lists (HiddenFromAddressListsEnabled) are only ever found by their exact address.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable

from skills.ports import DirectoryList
from skills.search_tables import (
    FILLER_WORDS,
    ListMatch,
    MatchReason,
    SearchTables,
    address_key,
)

__all__ = ["FILLER_WORDS", "ListIndex", "ListMatch", "MatchReason"]


class ListIndex:
    """The searchable directory. Synchronous and cheap to query; rebuilt wholesale on sync."""

    def __init__(self, lists: Iterable[DirectoryList] = ()) -> None:
        self._tables = SearchTables(lists)
        # While a rebuild runs in a thread, changes made meanwhile are replayed onto its result.
        self._journal: list[Callable[[SearchTables], None]] | None = None
        self._rebuilding = asyncio.Lock()

    def __len__(self) -> int:
        return len(self._tables.slot_of)

    def search(self, query: str, limit: int = 5) -> list[ListMatch]:
        return self._tables.search(query, limit)

    def by_address(self, address: str) -> DirectoryList | None:
        """The list with this primary or secondary address, hidden lists included."""
        slot = self._tables.addresses.get(address_key(address))
        return self._tables.lists[slot] if slot is not None else None

    def get(self, object_id: str) -> DirectoryList | None:
        slot = self._tables.slot_of.get(object_id)
        return self._tables.lists[slot] if slot is not None else None

    def upsert(self, directory_list: DirectoryList) -> None:
        """Add or replace a list; it is searchable as soon as this returns."""
        self._apply(lambda tables: tables.upsert(directory_list))

    def remove(self, object_id: str) -> None:
        self._apply(lambda tables: tables.remove(object_id))

    def replace_all(self, lists: Iterable[DirectoryList]) -> None:
        """Swap in a new directory at once (blocks for a second or two per 100,000 lists)."""
        self._tables = SearchTables(lists)

    async def rebuild(self, lists: Iterable[DirectoryList]) -> None:
        """Swap in a new directory built in a worker thread, so chats are answered meanwhile.

        Searches see the old directory until the new one is complete; lists upserted or
        removed during the build are applied to the new one too.
        """
        async with self._rebuilding:  # one journal at a time
            journal: list[Callable[[SearchTables], None]] = []
            self._journal = journal
            try:
                tables = await asyncio.to_thread(SearchTables, lists)
            finally:
                self._journal = None
            for change in journal:
                change(tables)
            self._tables = tables

    def _apply(self, change: Callable[[SearchTables], None]) -> None:
        change(self._tables)
        if self._journal is not None:
            self._journal.append(change)
