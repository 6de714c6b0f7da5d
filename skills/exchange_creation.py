"""skills.create_dl's CreationDirectory over the Exchange Online client.

Calls per question: accepted domains, 1 Get-AcceptedDomain (once per process, see CreateList);
holders, 1 Get-Recipient whatever is asked (one OPATH -or over the Name, DisplayName, Alias and
address asked about); people, 1 Get-Recipient.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from approvals.models import Person
from exchange import filters
from exchange.client import ExchangeClient
from exchange.errors import AmbiguousIdentity, ObjectNotFound
from exchange.models import Recipient
from skills.create_dl import Holders

# Who can own or belong to a list and be found by name in the chat.
PEOPLE_TYPES = ("UserMailbox", "MailUser")
# Enough rows to name a holder of each of the three things asked about, and then some.
_HOLDER_ROWS = 10


class ExchangeCreationDirectory:
    def __init__(self, client: ExchangeClient) -> None:
        self._client = client

    async def accepted_domains(self) -> tuple[str, ...]:
        domains = await self._client.get_accepted_domains()
        ordered = sorted(domains, key=lambda d: (not d.default, d.domain_name.casefold()))
        return tuple(d.domain_name for d in ordered)

    async def holders(self, *, name: str, alias: str, address: str) -> Holders:
        clauses = []
        if name:
            clauses += [filters.eq("Name", name), filters.eq("DisplayName", name)]
        if alias:
            clauses.append(filters.eq("Alias", alias))
        if address:
            # EmailAddresses holds every proxy address: a secondary one is taken too.
            clauses.append(filters.eq("EmailAddresses", f"smtp:{address}"))
        if not clauses:
            return Holders()
        rows = await self._client.find_recipients(
            opath_filter=filters.any_of(*clauses), result_size=_HOLDER_ROWS
        )
        name_holder = _first(rows, lambda r: _same(r.name, name) or _same(r.display_name, name))
        alias_holder = _first(rows, lambda r: _same(r.alias, alias))
        # Recipient leaves EmailAddresses out: a row that holds neither the name nor the alias
        # was found by the address.
        address_holder = _first(
            rows,
            lambda r: (
                bool(address)
                and (
                    _same(r.primary_smtp_address, address)
                    or not (
                        _same(r.name, name) or _same(r.display_name, name) or _same(r.alias, alias)
                    )
                )
            ),
        )
        return Holders(name=name_holder, alias=alias_holder, address=address_holder)

    async def find_people(self, query: str, limit: int) -> list[Person]:
        if "@" in query:
            try:
                rows = [await self._client.get_recipient(query)]
            except (ObjectNotFound, AmbiguousIdentity):
                return []
        else:
            rows = await self._client.find_recipients(
                anr=query, recipient_type_details=PEOPLE_TYPES, result_size=limit
            )
        return [
            Person(
                object_id=r.external_directory_object_id,
                display_name=r.display_name or r.name,
                address=r.primary_smtp_address,
            )
            for r in rows
            if r.recipient_type_details in PEOPLE_TYPES and r.external_directory_object_id
        ][:limit]


def _same(value: str, wanted: str) -> bool:
    return bool(wanted) and value.casefold() == wanted.casefold()


def _first(rows: list[Recipient], matches: Callable[[Recipient], bool]) -> str:
    row = next((r for r in rows if matches(r)), None)
    return "" if row is None else (row.display_name or row.name)


if TYPE_CHECKING:  # mypy proves the adapter satisfies the port
    from skills.create_dl import CreationDirectory

    def _conforms(client: ExchangeClient) -> CreationDirectory:
        return ExchangeCreationDirectory(client)
