"""skills.create_dl's CreationDirectory in memory: the test double, and a reference for what
the Exchange one must answer (case-insensitive names, aliases and addresses)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from approvals.models import Person
from skills.create_dl import Holders
from skills.ports import DirectoryList


@dataclass(frozen=True)
class Recipient:
    name: str
    display_name: str
    alias: str
    addresses: tuple[str, ...]


class InMemoryCreationDirectory:
    def __init__(
        self,
        domains: tuple[str, ...],
        *,
        lists: Iterable[DirectoryList] = (),
        people: Iterable[Person] = (),
    ) -> None:
        self._domains = domains
        self._people = list(people)
        self.recipients: list[Recipient] = []
        for item in lists:
            self.add(item.name, item.display_name, item.alias, item.address, *item.other_addresses)
        for person in self._people:
            alias = person.address.partition("@")[0]
            self.add(person.display_name, person.display_name, alias, person.address)

    def add(self, name: str, display_name: str, alias: str, *addresses: str) -> None:
        """A recipient that now holds this name, alias and these addresses."""
        self.recipients.append(Recipient(name, display_name, alias, addresses))

    async def accepted_domains(self) -> tuple[str, ...]:
        return self._domains

    async def holders(self, *, name: str, alias: str, address: str) -> Holders:
        def first(matches: list[Recipient]) -> str:
            return matches[0].display_name if matches else ""

        name_k, alias_k, address_k = name.casefold(), alias.casefold(), address.casefold()
        return Holders(
            name=first(
                [
                    r
                    for r in self.recipients
                    if name_k and name_k in (r.name.casefold(), r.display_name.casefold())
                ]
            ),
            alias=first([r for r in self.recipients if alias_k and r.alias.casefold() == alias_k]),
            address=first(
                [
                    r
                    for r in self.recipients
                    if address_k and address_k in (a.casefold() for a in r.addresses)
                ]
            ),
        )

    async def find_people(self, query: str, limit: int) -> list[Person]:
        wanted = query.casefold()
        if "@" in wanted:
            return [p for p in self._people if p.address.casefold() == wanted][:limit]
        return [
            p
            for p in self._people
            if any(w.startswith(wanted) for w in (p.display_name.casefold(), *_words(p)))
        ][:limit]


def _words(person: Person) -> list[str]:
    return person.display_name.casefold().split()


if TYPE_CHECKING:  # mypy proves the double satisfies the port
    from skills.create_dl import CreationDirectory

    def _conforms(directory: InMemoryCreationDirectory) -> CreationDirectory:
        return directory
